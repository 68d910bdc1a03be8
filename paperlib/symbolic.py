r"""Symbolic (sympy) derivations of the geometry a feature map induces on input space.

The chapters display these expressions, and the tests check the numerical modules against them. Results are
exact sympy expressions; the exceptions are :func:`check_cauchy_binet_numeric` and :func:`shallow_lambdify`
(numpy float64) and explicit activations evaluated at a numeric point (50 significant digits).

Conventions (the same as the rest of :mod:`paperlib`):

- Shallow network: :math:`\Phi_j(x) = \phi(z_j)/\sqrt{n}`, :math:`z_j = w_j\cdot x + b_j`, ``W`` of shape
  ``(n, d)`` and ``b`` of shape ``(n,)``. Symbols: :math:`w_{j\mu}`, :math:`b_j`, :math:`x_\mu` (real). A
  *generic* activation is :class:`PhiDerivative` (``PhiDerivative(k, z)`` is :math:`\phi^{(k)}(z)`), and its values
  :math:`a_j = \phi'(z_j)`, :math:`c_j = \phi''(z_j)`, :math:`e_j = \phi'''(z_j)` are independent symbols.
- Pullback metric :math:`g = J^T J`.
- Curvature: :math:`\Gamma^\rho_{\mu\nu} = \tfrac12 g^{\rho\sigma}(\partial_\mu g_{\sigma\nu} + \partial_\nu
  g_{\sigma\mu} - \partial_\sigma g_{\mu\nu})`, :math:`R^\rho{}_{\sigma\mu\nu} = \partial_\mu\Gamma^\rho_{\nu\sigma}
  - \partial_\nu\Gamma^\rho_{\mu\sigma} + \Gamma^\rho_{\mu\lambda}\Gamma^\lambda_{\nu\sigma}
  - \Gamma^\rho_{\nu\lambda}\Gamma^\lambda_{\mu\sigma}`, :math:`R_{\mu\nu} = R^\rho{}_{\mu\rho\nu}`,
  :math:`R = g^{\mu\nu}R_{\mu\nu}`; a round sphere of radius :math:`r` has :math:`R = +2/r^2`.
- Infinite width: :math:`w \sim N(0, \sigma^2 I_d)`, :math:`b \sim N(0, \zeta^2)`, :math:`s = |x|^2`.
"""

from __future__ import annotations

import functools
import itertools
import random
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import numpy as np
import sympy as sp
import torch
from sympy.core.function import ArgumentIndexError

from . import activations
from ._checks import check_int

__all__ = [
    "s",
    "sigma",
    "zeta",
    "coordinates",
    "jacobian",
    "pullback_metric",
    "volume_element",
    "kernel_metric",
    "PhiDerivative",
    "generic_to_symbols",
    "ShallowSymbols",
    "shallow_symbols",
    "shallow_map",
    "shallow_metric",
    "cauchy_binet_det",
    "prove_cauchy_binet",
    "check_cauchy_binet_numeric",
    "evaluate",
    "shallow_lambdify",
    "evaluate_shallow",
    "christoffel",
    "riemann",
    "ricci_tensor",
    "ricci_scalar",
    "gaussian_mean",
    "InfiniteWidthMetric",
    "infinite_width_metric_erf",
    "rotation_invariant_metric",
    "rotation_invariant_volume",
    "rotation_invariant_ricci",
    "prove_rotation_invariant_ricci",
    "erf_ricci_scalar",
    "check_erf_ricci",
    "shallow_ricci_scalar",
    "shallow_ricci_scalar_2d",
    "shallow_ricci_closed_form_2d",
    "shallow_ricci_tensor_formula",
    "prove_shallow_ricci_2d",
    "random_shallow_point",
]

#: :math:`s = |x|^2`, the argument of rotation-invariant metrics.
s = sp.Symbol("s", nonnegative=True)
#: The weight scale, :math:`w \sim N(0, \sigma^2 I)`.
sigma = sp.Symbol("sigma", positive=True)
#: The bias scale, :math:`b \sim N(0, \zeta^2)` (``.subs(zeta, 0)`` gives the bias-free network).
zeta = sp.Symbol("zeta", positive=True)

_DIGITS = 50  # significant digits of explicit-activation values at a numeric point
_t = sp.Symbol("t", real=True)  # dummy argument of phi
_z = sp.Symbol("z", real=True)  # pre-activation in Gaussian integrals
_q = sp.Symbol("q", positive=True)  # its variance


# --------------------------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------------------------


def _check_activation(activation: object) -> str | None:
    if activation is None:
        return None
    return activations.check_name(activation)  # type: ignore[arg-type]


def _check_coords(coords: object, name: str = "coords") -> list[sp.Symbol]:
    if isinstance(coords, sp.MatrixBase):
        coords = list(coords)
    if not isinstance(coords, (list, tuple)):
        raise TypeError(f"{name} must be a list of sympy Symbols; got {type(coords).__name__}")
    if len(coords) == 0:
        raise ValueError(f"{name} must not be empty")
    for c in coords:
        if not isinstance(c, sp.Symbol):
            raise TypeError(f"{name} must contain sympy Symbols only; got {c!r} ({type(c).__name__})")
    if len(set(coords)) != len(coords):
        raise ValueError(f"{name} must not repeat a symbol; got {coords}")
    return list(coords)


def _check_expr(expr: object, name: str) -> sp.Expr:
    try:
        out = sp.sympify(expr, strict=True)
    except (sp.SympifyError, TypeError) as exc:
        raise TypeError(f"{name} must be a sympy expression; got {type(expr).__name__}") from exc
    if not isinstance(out, sp.Expr):
        raise TypeError(f"{name} must be a scalar sympy expression; got {type(out).__name__}")
    return out


def _check_metric(g: object, coords: list[sp.Symbol] | None = None, name: str = "g") -> sp.Matrix:
    if not isinstance(g, sp.MatrixBase):
        raise TypeError(f"{name} must be a square sympy Matrix; got {type(g).__name__}")
    if g.rows != g.cols or g.rows == 0:
        raise ValueError(f"{name} must be a non-empty square Matrix; got shape {g.shape}")
    if coords is not None and g.rows != len(coords):
        raise ValueError(f"{name} is {g.rows}x{g.cols} but coords has {len(coords)} symbols")
    if not g.is_symmetric(simplify=False) and not all(
        sp.simplify(g[i, j] - g[j, i]) == 0 for i in range(g.rows) for j in range(i)
    ):
        raise ValueError(f"{name} must be symmetric")
    return sp.Matrix(g)


def _tidy(expr: sp.Expr) -> sp.Expr:
    """Cheap canonical form: ``cancel`` for rational functions, ``simplify`` otherwise."""
    expr = sp.sympify(expr)
    if expr.is_number and expr.is_rational:
        return expr
    if expr.is_rational_function():
        return sp.factor(sp.cancel(expr))
    return sp.simplify(expr)


# --------------------------------------------------------------------------------------------------------------
# 1. pullback metric, volume element, kernel form
# --------------------------------------------------------------------------------------------------------------


def coordinates(d: int, name: str = "x") -> list[sp.Symbol]:
    r"""Real coordinate symbols :math:`x_1, \dots, x_d` (``name_1 .. name_d``); a list of length ``d``."""
    check_int(d, "d", min=1)
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty string; got {name!r}")
    return [sp.Symbol(f"{name}_{mu}", real=True) for mu in range(1, d + 1)]


def jacobian(Phi: Sequence[sp.Expr] | sp.Matrix, coords: Sequence[sp.Symbol]) -> sp.Matrix:
    r"""Jacobian :math:`J_{j\mu} = \partial \Phi_j / \partial x_\mu`, a Matrix of shape ``(len(Phi), len(coords))``."""
    coords = _check_coords(coords)
    if isinstance(Phi, sp.MatrixBase):
        comps = list(Phi)
    elif isinstance(Phi, (list, tuple)):
        comps = list(Phi)
    else:
        raise TypeError(f"Phi must be a sympy Matrix or a list of expressions; got {type(Phi).__name__}")
    if not comps:
        raise ValueError("Phi must have at least one component")
    comps = [_check_expr(c, "Phi") for c in comps]
    return sp.Matrix(comps).jacobian(coords)


def pullback_metric(
    Phi: Sequence[sp.Expr] | sp.Matrix, coords: Sequence[sp.Symbol], *, simplify: bool = True
) -> sp.Matrix:
    r"""Pullback of the flat metric by :math:`\Phi`: :math:`g_{\mu\nu} = \partial_\mu\Phi\cdot\partial_\nu\Phi`,
    i.e. :math:`g = J^T J`.

    Args:
        Phi: the components :math:`\Phi_1..\Phi_n` (list or Matrix of sympy expressions).
        coords: the coordinate symbols :math:`x_1..x_d`.
        simplify: simplify each entry (``sympy.simplify``).

    Returns:
        The ``(d, d)`` symmetric Matrix ``g``.
    """
    J = jacobian(Phi, coords)
    g = J.T * J
    return g.applyfunc(sp.simplify) if simplify else g


def _sign_on_domain(expr: sp.Expr, domain: Mapping[sp.Symbol, sp.Set]) -> int:
    """+1 / -1 if ``expr`` is provably positive / negative on the (one-variable) domain, else 0."""
    free = expr.free_symbols
    if len(free) != 1:
        return 0
    (v,) = free
    if v not in domain:
        return 0
    try:
        if sp.solveset(expr <= 0, v, domain[v]) is sp.S.EmptySet:
            return 1
        if sp.solveset(expr >= 0, v, domain[v]) is sp.S.EmptySet:
            return -1
    except (NotImplementedError, ValueError, TypeError):
        return 0
    return 0


def volume_element(g: sp.Matrix, domain: Mapping[sp.Symbol, sp.Set] | None = None) -> sp.Expr:
    r"""Riemannian volume element :math:`\sqrt{\det g}`, simplified.

    Symbol assumptions are used (e.g. ``r = Symbol('r', positive=True)``). For a coordinate range that sympy
    assumptions cannot express, pass ``domain``: e.g. ``{theta: Interval.open(0, pi)}`` lets
    :math:`|\sin\theta|` become :math:`\sin\theta`, so the sphere chart gives :math:`r^2\sin\theta` exactly.

    Args:
        g: a square sympy Matrix.
        domain: optional map from a symbol to the sympy Set it ranges over.

    Returns:
        A scalar sympy expression.
    """
    g = _check_metric(g)
    domain = {} if domain is None else domain
    if not isinstance(domain, Mapping):
        raise TypeError(f"domain must be a mapping Symbol -> sympy Set; got {type(domain).__name__}")
    for k, v in domain.items():
        if not isinstance(k, sp.Symbol) or not isinstance(v, sp.Set):
            raise TypeError(f"domain must map sympy Symbols to sympy Sets; got {k!r}: {v!r}")
    det = sp.factor(sp.simplify(g.det()))
    vol = sp.simplify(sp.sqrt(det))
    abs_terms = {a: _sign_on_domain(a.args[0], domain) for a in vol.atoms(sp.Abs)}
    vol = vol.xreplace({a: sgn * a.args[0] for a, sgn in abs_terms.items() if sgn})
    return sp.simplify(vol)


def kernel_metric(
    k: sp.Expr, x: Sequence[sp.Symbol], y: Sequence[sp.Symbol], *, simplify: bool = True
) -> sp.Matrix:
    r"""Kernel form of the metric: :math:`g_{\mu\nu}(x) = [\partial_{x_\mu}\partial_{y_\nu} k(x, y)]_{y=x}`.

    For :math:`k(x, y) = \Phi(x)\cdot\Phi(y)` this equals :math:`J^T J`.

    Args:
        k: the kernel, an expression in the symbols ``x`` and ``y``.
        x, y: two lists of ``d`` distinct symbols.

    Returns:
        The ``(d, d)`` Matrix, as a function of ``x``.
    """
    k = _check_expr(k, "k")
    x = _check_coords(x, "x")
    y = _check_coords(y, "y")
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length; got {len(x)} and {len(y)}")
    if set(x) & set(y):
        raise ValueError("x and y must be disjoint sets of symbols")
    on_diag = dict(zip(y, x))
    g = sp.Matrix(len(x), len(x), lambda m, n: sp.diff(k, x[m], y[n]).xreplace(on_diag))
    return g.applyfunc(sp.simplify) if simplify else g


# --------------------------------------------------------------------------------------------------------------
# 2. shallow networks
# --------------------------------------------------------------------------------------------------------------


class ShallowSymbols(NamedTuple):
    r"""Symbols of a shallow network of input dimension ``d`` and width ``n`` (all real).

    ``W`` (n, d): :math:`w_{j\mu}`; ``b`` (n, 1): :math:`b_j`; ``x`` (d, 1): :math:`x_\mu`;
    ``a`` (n, 1): :math:`a_j`, standing for :math:`\phi'(z_j)`; ``c`` (n, 1): :math:`c_j`, standing for
    :math:`\phi''(z_j)`; ``e`` (n, 1): :math:`e_j`, standing for :math:`\phi'''(z_j)`.
    """

    W: sp.Matrix
    b: sp.Matrix
    x: sp.Matrix
    a: sp.Matrix
    c: sp.Matrix
    e: sp.Matrix

    @property
    def z(self) -> sp.Matrix:
        r"""Pre-activations :math:`z = W x + b`, shape (n, 1)."""
        return self.W * self.x + self.b


def shallow_symbols(d: int, n: int) -> ShallowSymbols:
    r"""The symbols :math:`w_{j\mu}, b_j, x_\mu, a_j, c_j, e_j` of a width-``n`` network on :math:`\mathbb R^d`
    (indices from 1; see :class:`ShallowSymbols`)."""
    check_int(d, "d", min=1)
    check_int(n, "n", min=1)
    sep = "," if max(n, d) >= 10 else ""
    W = sp.Matrix(n, d, lambda j, m: sp.Symbol(f"w_{{{j + 1}{sep}{m + 1}}}", real=True))

    def col(name: str, size: int) -> sp.Matrix:
        return sp.Matrix([sp.Symbol(f"{name}_{i}", real=True) for i in range(1, size + 1)])

    return ShallowSymbols(W, col("b", n), col("x", d), col("a", n), col("c", n), col("e", n))


class PhiDerivative(sp.Function):
    r""":math:`\phi^{(k)}(z)` of a generic (undefined) activation :math:`\phi`: ``PhiDerivative(k, z)``, k >= 0.

    Its derivative in ``z`` is ``PhiDerivative(k + 1, z)``, so sympy's chain rule differentiates
    :math:`\phi(w\cdot x + b)` in :math:`x`; LaTeX prints it as :math:`\phi, \phi', \phi'', \phi'''`.
    """

    nargs = 2

    def fdiff(self, argindex: int = 2) -> sp.Expr:
        if argindex != 2:
            raise ArgumentIndexError(self, argindex)
        k, z = self.args
        return PhiDerivative(k + 1, z)

    def _latex(self, printer: object, exp: str | None = None) -> str:
        k, z = self.args
        primes = {0: "", 1: "'", 2: "''", 3: "'''"}.get(int(k), f"^{{({k})}}")
        tex = rf"\phi{primes}\left({printer._print(z)}\right)"  # type: ignore[attr-defined]
        return tex if exp is None else rf"\left({tex}\right)^{{{exp}}}"


def _phi_derivative(activation: str | None, order: int, z: sp.Expr) -> sp.Expr:
    r""":math:`\phi^{(order)}(z)`: explicit for a named activation, ``PhiDerivative(order, z)`` for ``None``."""
    if activation is None:
        return PhiDerivative(order, z)
    return sp.diff(activations.sympy_function(activation)(_t), _t, order).subs(_t, z)


def generic_to_symbols(expr: sp.Expr | sp.Matrix, d: int, n: int) -> sp.Expr | sp.Matrix:
    r"""Replace :math:`\phi'(z_j), \phi''(z_j), \phi'''(z_j)` (``PhiDerivative(k, z_j)``, k = 1, 2, 3) in ``expr``
    by the symbols :math:`a_j, c_j, e_j` of ``shallow_symbols(d, n)``; returns the same kind of object."""
    if not isinstance(expr, (sp.Expr, sp.MatrixBase)):
        raise TypeError(f"expr must be a sympy expression or Matrix; got {type(expr).__name__}")
    return expr.xreplace(_generic_table(d, n))


@functools.lru_cache(maxsize=32)
def _generic_table(d: int, n: int) -> dict:
    S = shallow_symbols(d, n)
    return {PhiDerivative(k, S.z[j]): col[j] for k, col in ((1, S.a), (2, S.c), (3, S.e)) for j in range(n)}


def shallow_map(d: int, n: int, activation: str | None = None) -> sp.Matrix:
    r"""The shallow feature map :math:`\Phi_j(x) = \phi(w_j\cdot x + b_j)/\sqrt n`, a Matrix of shape (n, 1).

    ``activation=None`` uses a generic :math:`\phi` (:class:`PhiDerivative` of order 0); otherwise a name from
    :data:`paperlib.activations.NAMES` (``"erf"`` is :math:`\operatorname{erf}(z)`).
    """
    check_int(d, "d", min=1)
    check_int(n, "n", min=1)
    act = _check_activation(activation)
    S = shallow_symbols(d, n)
    return sp.Matrix([_phi_derivative(act, 0, zj) / sp.sqrt(n) for zj in S.z])


def _derivative_values(S: ShallowSymbols, activation: str | None, order: int) -> list[sp.Expr]:
    if activation is None:
        return list((S.a, S.c, S.e)[order - 1])
    return [_phi_derivative(activation, order, zj) for zj in S.z]


def shallow_metric(d: int, n: int, activation: str | None = None) -> sp.Matrix:
    r"""Shallow-network metric :math:`g_{\mu\nu} = \frac1n\sum_j \phi'(z_j)^2\, w_{j\mu} w_{j\nu}`.

    With ``activation=None`` the values :math:`\phi'(z_j)` are the independent symbols :math:`a_j` (any
    activation); with a name they are explicit functions of :math:`x`. Returns a (d, d) Matrix.
    """
    check_int(d, "d", min=1)
    check_int(n, "n", min=1)
    act = _check_activation(activation)
    S = shallow_symbols(d, n)
    a = _derivative_values(S, act, 1)
    g = sp.zeros(d, d)
    for j in range(n):
        wj = S.W[j, :].T
        g += a[j] ** 2 * (wj * wj.T)
    return g / n


def cauchy_binet_det(d: int, n: int, activation: str | None = None) -> sp.Expr:
    r"""Cauchy–Binet form of the determinant of the shallow metric:

    .. math:: \det g = n^{-d}\sum_{j_1<\dots<j_d}\Big(\prod_k \phi'(z_{j_k})^2\Big)\det[w_{j_1},\dots,w_{j_d}]^2 .

    Zero when ``n < d`` (rank deficiency). ``activation`` as in :func:`shallow_metric`. Returns a scalar.
    """
    check_int(d, "d", min=1)
    check_int(n, "n", min=1)
    act = _check_activation(activation)
    S = shallow_symbols(d, n)
    a = _derivative_values(S, act, 1)
    total = sp.Integer(0)
    for combo in itertools.combinations(range(n), d):
        minor = S.W.extract(list(combo), list(range(d))).det()
        total += sp.Mul(*[a[j] ** 2 for j in combo]) * minor**2
    return total / sp.Integer(n) ** d


def prove_cauchy_binet(d: int, n: int) -> bool:
    r"""Symbolic proof for generic :math:`a_j = \phi'(z_j)`: ``expand(det(J^T J) - cauchy_binet) == 0``.

    Polynomial identity in :math:`w_{j\mu}, a_j`; fast for ``d = 2`` (any small ``n``) and ``d = 3, n <= 4``.
    """
    check_int(d, "d", min=1)
    check_int(n, "n", min=1)
    if d > 4 or n > 8:
        raise ValueError(f"prove_cauchy_binet is for small problems (d <= 4, n <= 8); got d={d}, n={n}")
    g = shallow_metric(d, n)
    return sp.expand(g.det(method="berkowitz") - cauchy_binet_det(d, n)) == 0


def check_cauchy_binet_numeric(d: int, n: int, seed: int = 0, trials: int = 16) -> float:
    r"""Largest relative difference :math:`|\det g - \mathrm{CB}|/|\mathrm{CB}|` over ``trials`` random draws of
    :math:`W, a` (standard normal, float64), with ``g`` and CB from :func:`shallow_metric` and
    :func:`cauchy_binet_det` (generic activation) evaluated by :func:`shallow_lambdify`."""
    check_int(d, "d", min=1)
    check_int(n, "n", min=1)
    check_int(trials, "trials", min=1)
    check_int(seed, "seed")
    if n < d:
        raise ValueError(f"n must be >= d for a non-degenerate metric; got d={d}, n={n}")
    rng = np.random.default_rng(seed)
    metric = shallow_lambdify(shallow_metric(d, n), d, n)
    cb_det = shallow_lambdify(cauchy_binet_det(d, n), d, n)
    worst = 0.0
    for _ in range(trials):  # a handful of independent (W, b, x, a) draws
        W, b, x, a = (rng.standard_normal(shape) for shape in ((n, d), (n,), (d,), (n,)))
        det = float(np.linalg.det(metric(W, b, x, a=a)))
        cb = float(cb_det(W, b, x, a=a))
        worst = max(worst, abs(det - cb) / abs(cb))
    return worst


def evaluate(expr: sp.Expr | sp.MatrixBase, coords: Sequence[sp.Symbol], points: object) -> torch.Tensor:
    r"""Evaluate a symbolic expression or Matrix in the coordinates ``coords`` at a batch of points.

    Args:
        expr: a scalar sympy expression or a Matrix whose free symbols are among ``coords``.
        coords: the ``k`` coordinate symbols, in the order of the columns of ``points``.
        points: ``(B, k)`` tensor or array of numbers.

    Returns:
        float64 tensor of shape ``(B,)`` for a scalar, ``(B, *expr.shape)`` for a Matrix; constant entries are
        broadcast over the batch.
    """
    coords = _check_coords(coords)
    if not isinstance(expr, (sp.Expr, sp.MatrixBase)):
        raise TypeError(f"expr must be a sympy expression or Matrix; got {type(expr).__name__}")
    extra = expr.free_symbols - set(coords)
    if extra:
        raise ValueError(f"expr has symbols not in coords: {sorted(map(str, extra))}")
    pts = np.asarray(points.detach().cpu() if isinstance(points, torch.Tensor) else points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != len(coords):
        raise ValueError(f"points must have shape (B, {len(coords)}); got {pts.shape}")
    entries = list(expr) if isinstance(expr, sp.MatrixBase) else [expr]
    fn = sp.lambdify(coords, entries, modules=[{"erf": _torch_erf}, "numpy"])
    values = np.broadcast_arrays(*[np.asarray(v, dtype=np.float64) for v in fn(*pts.T)], np.empty(len(pts)))[:-1]
    out = torch.as_tensor(np.stack(values, axis=-1))
    return out.reshape(len(pts), *expr.shape) if isinstance(expr, sp.MatrixBase) else out.reshape(len(pts))


def _torch_erf(v: object) -> object:
    return torch.special.erf(torch.as_tensor(v, dtype=torch.float64)).numpy()


@functools.lru_cache(maxsize=128)
def _lambdify_cached(expr: sp.Basic, d: int, n: int) -> Callable[..., list]:
    S = shallow_symbols(d, n)
    args = [*S.W, *S.b, *S.x, *S.a, *S.c]
    entries = list(expr) if isinstance(expr, sp.MatrixBase) else [expr]
    return sp.lambdify(args, entries, modules=[{"erf": _torch_erf}, "numpy"])


def shallow_lambdify(expr: sp.Expr | sp.Matrix, d: int, n: int) -> Callable[..., np.ndarray]:
    r"""Compile a symbolic shallow-network expression (scalar or Matrix) in :math:`W, b, x, a, c` to numpy.

    Returns ``f(W, b, x, a=None, c=None) -> ndarray`` with ``W`` (n, d), ``b`` (n,), ``x`` (d,) or (B, d),
    ``a``/``c`` (the values :math:`\phi'(z_j)`, :math:`\phi''(z_j)` of a generic activation) (n,) or (B, n);
    output float64 of shape ``(B?, *expr.shape)`` (scalar expressions: ``(B?,)``).
    """
    check_int(d, "d", min=1)
    check_int(n, "n", min=1)
    if not isinstance(expr, (sp.Expr, sp.MatrixBase)):
        raise TypeError(f"expr must be a sympy expression or Matrix; got {type(expr).__name__}")
    S = shallow_symbols(d, n)
    expr = sp.ImmutableMatrix(expr) if isinstance(expr, sp.MatrixBase) else expr
    known = {*S.W, *S.b, *S.x, *S.a, *S.c}
    unknown = expr.free_symbols - known
    if unknown:
        raise ValueError(f"expr has symbols other than the d={d}, n={n} shallow symbols: {sorted(map(str, unknown))}")
    needs_a = bool(expr.free_symbols & set(S.a))
    needs_c = bool(expr.free_symbols & set(S.c))
    f = _lambdify_cached(expr, d, n)
    shape = expr.shape if isinstance(expr, sp.MatrixBase) else ()

    def evaluate(W: np.ndarray, b: np.ndarray, x: np.ndarray, a: np.ndarray | None = None,
                 c: np.ndarray | None = None) -> np.ndarray:
        W = np.asarray(W, dtype=np.float64)
        b = np.asarray(b, dtype=np.float64)
        x = np.asarray(x, dtype=np.float64)
        if W.shape != (n, d):
            raise ValueError(f"W must have shape ({n}, {d}); got {W.shape}")
        if b.shape != (n,):
            raise ValueError(f"b must have shape ({n},); got {b.shape}")
        if x.ndim not in (1, 2) or x.shape[-1] != d:
            raise ValueError(f"x must have shape ({d},) or (B, {d}); got {x.shape}")
        cols = []
        for name, val, needed in (("a", a, needs_a), ("c", c, needs_c)):
            if val is None:
                if needed:
                    raise ValueError(f"{name} is required: expr depends on the generic symbols {name}_j")
                val = np.full(n, np.nan)
            val = np.asarray(val, dtype=np.float64)
            if val.ndim not in (1, 2) or val.shape[-1] != n:
                raise ValueError(f"{name} must have shape ({n},) or (B, {n}); got {val.shape}")
            cols.append(val)
        out = f(*W.ravel(), *b, *np.moveaxis(x, -1, 0), *np.moveaxis(cols[0], -1, 0),
                *np.moveaxis(cols[1], -1, 0))
        batch = np.broadcast_shapes(x.shape[:-1], cols[0].shape[:-1], cols[1].shape[:-1])
        out = np.stack([np.broadcast_to(np.asarray(o, dtype=np.float64), batch) for o in out], axis=-1)
        return out.reshape(batch + shape)

    return evaluate


def evaluate_shallow(expr: sp.Expr | sp.Matrix, W: np.ndarray, b: np.ndarray, x: np.ndarray, *,
                     a: np.ndarray | None = None, c: np.ndarray | None = None) -> np.ndarray:
    """Evaluate a symbolic shallow-network expression at numbers: ``shallow_lambdify(expr, d, n)(W, b, x, a, c)``
    with ``(n, d) = W.shape``. See :func:`shallow_lambdify` for shapes."""
    W = np.asarray(W)
    if W.ndim != 2:
        raise ValueError(f"W must have shape (n, d); got {W.shape}")
    n, d = W.shape
    return shallow_lambdify(expr, d, n)(W, b, x, a=a, c=c)


# --------------------------------------------------------------------------------------------------------------
# 3. curvature
# --------------------------------------------------------------------------------------------------------------


class _Jets(NamedTuple):
    g: sp.Matrix
    dg: list[sp.Matrix]  # dg[l] = d_l g
    ddg: list[list[sp.Matrix]]  # ddg[l][m] = d_l d_m g


def _jets(g: sp.Matrix, coords: list[sp.Symbol]) -> _Jets:
    dg = [g.diff(c) for c in coords]
    ddg = [[dg[l].diff(c) for c in coords] for l in range(len(coords))]
    return _Jets(g, dg, ddg)


def _map_jets(j: _Jets, fn: Callable[[sp.Expr], sp.Expr]) -> _Jets:
    return _Jets(j.g.applyfunc(fn), [m.applyfunc(fn) for m in j.dg], [[m.applyfunc(fn) for m in row] for row in j.ddg])


class _Curvature(NamedTuple):
    gamma: list  # gamma[rho][mu][nu]
    riemann: list  # riemann[rho][sigma][mu][nu]
    ricci: sp.Matrix
    scalar: sp.Expr


def _det(M: list) -> object:
    """Determinant by cofactor expansion (d <= 4): works for any commutative ring elements."""
    if len(M) == 1:
        return M[0][0]
    total = 0
    for k in range(len(M)):
        minor = [row[:k] + row[k + 1:] for row in M[1:]]
        total = total + (-1) ** k * M[0][k] * _det(minor)
    return total


def _adjugate(M: list) -> list:
    d = len(M)
    if d == 1:
        return [[1 + 0 * M[0][0]]]
    cof = [[(-1) ** (i + k) * _det([row[:k] + row[k + 1:] for r, row in enumerate(M) if r != i]) for k in range(d)]
           for i in range(d)]
    return [[cof[k][i] for k in range(d)] for i in range(d)]  # transpose


def _curvature_numerators(g: list, dg: list, ddg: list) -> dict:
    r"""Curvature as numerators over powers of :math:`D = \det g`, using only ring operations (+, -, *).

    With :math:`g^{-1} = \mathrm{adj}(g)/D`: :math:`\Gamma = \Gamma_n/D`; :math:`\partial_\lambda g^{-1} =
    -\mathrm{adj}\,\partial_\lambda g\,\mathrm{adj}/D^2`, so :math:`\partial\Gamma`, Riemann and Ricci are
    numerators over :math:`D^2` and :math:`R` over :math:`D^3`. Works for sympy expressions and for elements of
    a polynomial ring (fast exact identities).
    """
    d = len(g)
    R = range(d)
    D = _det(g)
    adj = _adjugate(g)

    def matmul(A: list, B: list) -> list:
        return [[sum((A[i][k] * B[k][j] for k in R), 0 * D) for j in R] for i in R]

    # Christoffel symbols of the first kind: G1[s][m][n] = Gamma_{s m n}; dG1[l][s][m][n] = d_l Gamma_{s m n}
    G1 = [[[(dg[m][s_][n] + dg[n][s_][m] - dg[s_][m][n]) / 2 for n in R] for m in R] for s_ in R]
    dG1 = [[[[(ddg[l][m][s_][n] + ddg[l][n][s_][m] - ddg[l][s_][m][n]) / 2 for n in R] for m in R] for s_ in R]
           for l in R]
    Gn = [[[sum((adj[r][s_] * G1[s_][m][n] for s_ in R), 0 * D) for n in R] for m in R] for r in R]
    adg = [matmul(matmul(adj, dg[l]), adj) for l in R]
    dGn = [[[[sum((-adg[l][r][s_] * G1[s_][m][n] + D * adj[r][s_] * dG1[l][s_][m][n] for s_ in R), 0 * D)
              for n in R] for m in R] for r in R] for l in R]
    Rn = [[[[dGn[m][r][n][sg] - dGn[n][r][m][sg]
             + sum((Gn[r][m][lam] * Gn[lam][n][sg] - Gn[r][n][lam] * Gn[lam][m][sg] for lam in R), 0 * D)
             for n in R] for m in R] for sg in R] for r in R]
    Ricn = [[sum((Rn[r][sg][r][n] for r in R), 0 * D) for n in R] for sg in R]
    Rsn = sum((adj[m][n] * Ricn[m][n] for m in R for n in R), 0 * D)
    return {"D": D, "Gn": Gn, "Rn": Rn, "Ricn": Ricn, "Rsn": Rsn}


def _curvature_from_jets(j: _Jets, tidy: Callable[[sp.Expr], sp.Expr] | None) -> _Curvature:
    r"""All curvature from :math:`g, \partial g, \partial\partial g` (sympy expressions, at a point or not)."""
    keep = tidy or (lambda e: e)
    num = _curvature_numerators(j.g.tolist(), [m.tolist() for m in j.dg], [[m.tolist() for m in row] for row in j.ddg])
    D = num["D"]
    if D.is_number and D == 0:
        raise ValueError("g is degenerate (det g = 0), so its curvature is undefined")
    d = j.g.rows
    R = range(d)
    gamma = [[[keep(num["Gn"][r][m][n] / D) for n in R] for m in R] for r in R]
    riem = [[[[keep(num["Rn"][r][sg][m][n] / D**2) for n in R] for m in R] for sg in R] for r in R]
    ricci = sp.Matrix(d, d, lambda sg, n: keep(num["Ricn"][sg][n] / D**2))
    return _Curvature(gamma, riem, ricci, keep(num["Rsn"] / D**3))


def _ricci_scalar_fraction(j: _Jets, gens: Sequence[sp.Symbol]) -> tuple[object, object]:
    r"""Ricci scalar as (numerator, denominator) in the polynomial ring :math:`\mathbb Q[gens]` (the jets must be
    polynomials in ``gens``); :math:`R = N / D^3`."""
    Rg = sp.polys.rings.PolyRing(list(gens), sp.QQ, sp.polys.orderings.lex)
    conv = Rg.from_expr
    g = [[conv(e) for e in row] for row in j.g.tolist()]
    dg = [[[conv(e) for e in row] for row in m.tolist()] for m in j.dg]
    ddg = [[[[conv(e) for e in row] for row in m.tolist()] for m in rowm] for rowm in j.ddg]
    num = _curvature_numerators(g, dg, ddg)
    return num["Rsn"], num["D"] ** 3


def _curvature(g: sp.Matrix, coords: Sequence[sp.Symbol], at: Mapping | None, simplify: bool) -> _Curvature:
    coords = _check_coords(coords)
    g = _check_metric(g, coords)
    j = _jets(g, coords)
    if at is not None:
        if not isinstance(at, Mapping):
            raise TypeError(f"at must be a mapping Symbol -> value; got {type(at).__name__}")
        missing = set(coords) - set(at)
        if missing:
            raise ValueError(f"at must give a value to every coordinate; missing {sorted(map(str, missing))}")
        at = {sp.sympify(k): sp.sympify(v) for k, v in at.items()}
        j = _map_jets(j, lambda e: e.xreplace(at))
    return _curvature_from_jets(j, _tidy if simplify else None)


def christoffel(g: sp.Matrix, coords: Sequence[sp.Symbol], *, at: Mapping | None = None,
                simplify: bool = True) -> sp.Array:
    r"""Christoffel symbols :math:`\Gamma^\rho_{\mu\nu} = \tfrac12 g^{\rho\sigma}(\partial_\mu g_{\sigma\nu}
    + \partial_\nu g_{\sigma\mu} - \partial_\sigma g_{\mu\nu})`.

    Args:
        g: (d, d) symmetric Matrix in the symbols ``coords``.
        coords: the d coordinate symbols.
        at: optional substitution (must fix every coordinate) applied to :math:`g` and its derivatives first,
            giving the values at one point (fast).
        simplify: simplify each component.

    Returns:
        A rank-3 sympy Array indexed ``[rho, mu, nu]``.
    """
    return sp.Array(_curvature(g, coords, at, simplify).gamma)


def riemann(g: sp.Matrix, coords: Sequence[sp.Symbol], *, at: Mapping | None = None,
            simplify: bool = True) -> sp.Array:
    r"""Riemann tensor :math:`R^\rho{}_{\sigma\mu\nu} = \partial_\mu\Gamma^\rho_{\nu\sigma}
    - \partial_\nu\Gamma^\rho_{\mu\sigma} + \Gamma^\rho_{\mu\lambda}\Gamma^\lambda_{\nu\sigma}
    - \Gamma^\rho_{\nu\lambda}\Gamma^\lambda_{\mu\sigma}`; a rank-4 Array indexed ``[rho, sigma, mu, nu]``.
    Arguments as in :func:`christoffel`."""
    return sp.Array(_curvature(g, coords, at, simplify).riemann)


def ricci_tensor(g: sp.Matrix, coords: Sequence[sp.Symbol], *, at: Mapping | None = None,
                 simplify: bool = True) -> sp.Matrix:
    r"""Ricci tensor :math:`R_{\mu\nu} = R^\rho{}_{\mu\rho\nu}`; a (d, d) Matrix. Arguments as in
    :func:`christoffel`."""
    return _curvature(g, coords, at, simplify).ricci


def ricci_scalar(g: sp.Matrix, coords: Sequence[sp.Symbol], *, at: Mapping | None = None,
                 simplify: bool = True) -> sp.Expr:
    r"""Ricci scalar :math:`R = g^{\mu\nu}R_{\mu\nu}` (round sphere of radius r: :math:`+2/r^2`); a scalar.
    Arguments as in :func:`christoffel`."""
    return _curvature(g, coords, at, simplify).scalar


# --------------------------------------------------------------------------------------------------------------
# 4. infinite width
# --------------------------------------------------------------------------------------------------------------


def gaussian_mean(expr: sp.Expr, z: sp.Symbol = _z, q: sp.Expr = _q) -> sp.Expr:
    r""":math:`\mathbb E_{z\sim N(0,q)}[f(z)] = \int f(z)\, e^{-z^2/2q}/\sqrt{2\pi q}\,dz` by ``sympy.integrate``.

    ``expr`` is :math:`f` in the symbol ``z`` (default ``Symbol('z', real=True)``); ``q`` defaults to
    ``Symbol('q', positive=True)``. Returns the simplified integral.
    """
    expr = _check_expr(expr, "expr")
    if not isinstance(z, sp.Symbol):
        raise TypeError(f"z must be a sympy Symbol; got {type(z).__name__}")
    density = sp.exp(-(z**2) / (2 * q)) / sp.sqrt(2 * sp.pi * q)
    return sp.simplify(sp.integrate(expr * density, (z, -sp.oo, sp.oo)))


class InfiniteWidthMetric(NamedTuple):
    r"""Infinite-width (expected) metric :math:`\mathbb E[g] = A(s)\,\delta + B(s)\,x x^T`, :math:`s = |x|^2`.

    ``F``: :math:`F(q) = \mathbb E_{z\sim N(0,q)}[\phi'(z)^2]` in the symbol ``q``;
    ``G``: :math:`G(q) = \mathbb E_{z\sim N(0,q)}[z^2\phi'(z)^2]`;
    ``exp_omega``: :math:`e^{\Omega(s)} = \sigma^2 F(\sigma^2 s + \zeta^2)`;
    ``omega_prime``: :math:`\Omega'(s)`;
    ``A``, ``B``: the coefficients (expressions in ``s, sigma, zeta``);
    ``metric``: the (d, d) Matrix in ``coordinates(d)``, or ``None`` when ``d`` was not given.
    """

    F: sp.Expr
    G: sp.Expr
    exp_omega: sp.Expr
    omega_prime: sp.Expr
    A: sp.Expr
    B: sp.Expr
    metric: sp.Matrix | None


@functools.lru_cache(maxsize=4)
def _erf_gaussian_means(plain: bool) -> tuple[sp.Expr, sp.Expr]:
    phi = sp.erf(_z) if plain else sp.erf(_z / sp.sqrt(2))
    f = sp.diff(phi, _z) ** 2
    return gaussian_mean(f), gaussian_mean(_z**2 * f)


def infinite_width_metric_erf(d: int | None = None, *, plain: bool = False) -> InfiniteWidthMetric:
    r"""Expected metric of an erf network with :math:`w\sim N(0,\sigma^2 I_d)`, :math:`b\sim N(0,\zeta^2)`.

    Activation :math:`\phi(z) = \operatorname{erf}(z/\sqrt2)` (``plain=True``: :math:`\operatorname{erf}(z)`, which
    equals the former with :math:`\sigma^2\to2\sigma^2`, :math:`\zeta^2\to2\zeta^2`).

    Derivation (each expectation is the same for every hidden unit, so :math:`\mathbb E[g]` does not depend on
    the width): :math:`\mathbb E[g] = \mathbb E[\phi'(z)^2 w w^T]`, :math:`z = w\cdot x + b \sim N(0, q)`,
    :math:`q = \sigma^2 s + \zeta^2`. Split :math:`w = w_\parallel \hat x + w_\perp`: :math:`w_\perp` is
    independent of :math:`z`, so its block is :math:`\sigma^2 F(q)(\delta - \hat x\hat x^T)`; and
    :math:`w_\parallel \mid z \sim N(\sigma^2|x| z/q,\ \sigma^2\zeta^2/q)`, so
    :math:`\mathbb E[\phi'^2 w_\parallel^2] = \sigma^2\zeta^2 F/q + \sigma^4 s\, G/q^2`. Hence

    .. math:: A = \sigma^2 F(q) = e^{\Omega},\qquad B = \sigma^4\,(G(q) - q F(q))/q^2 = 2\Omega' e^{\Omega},

    with :math:`F, G` computed here by ``sympy.integrate``. For :math:`\operatorname{erf}(z/\sqrt2)`:
    :math:`e^\Omega = (2\sigma^2/\pi)(1+2\zeta^2+2\sigma^2 s)^{-1/2}`,
    :math:`\Omega' = -\sigma^2/(1+2\zeta^2+2\sigma^2 s)`.

    Returns:
        :class:`InfiniteWidthMetric`; ``metric`` is the (d, d) Matrix when ``d`` is given.
    """
    if d is not None:
        check_int(d, "d", min=1)
    if not isinstance(plain, bool):
        raise TypeError(f"plain must be a bool; got {type(plain).__name__}")
    F, G = _erf_gaussian_means(plain)
    q = sigma**2 * s + zeta**2
    Fq, Gq = F.subs(_q, q), G.subs(_q, q)
    A = sp.simplify(sigma**2 * Fq)  # the w_perp block: sigma^2 F(q)
    parallel = sigma**2 * zeta**2 * Fq / q + sigma**4 * s * Gq / q**2  # E[phi'(z)^2 w_par^2]
    B = sp.simplify((parallel - A) / s)  # x x^T / s = xhat xhat^T
    omega_prime = sp.simplify(sp.diff(sp.log(A), s))
    metric = rotation_invariant_metric(A, B, d) if d is not None else None
    return InfiniteWidthMetric(F, G, A, omega_prime, A, B, metric)


def rotation_invariant_metric(A: sp.Expr, B: sp.Expr, d: int, *, s_symbol: sp.Symbol = s) -> sp.Matrix:
    r"""Rotation-invariant metric :math:`g_{\mu\nu} = A(s)\,\delta_{\mu\nu} + B(s)\,x_\mu x_\nu` with
    :math:`s = |x|^2`, in the Cartesian coordinates ``coordinates(d)``.

    ``A``, ``B`` are expressions in ``s_symbol`` (default :data:`s`), which is replaced by
    :math:`x_1^2+\dots+x_d^2`. Returns a (d, d) Matrix.
    """
    check_int(d, "d", min=1)
    A = _check_expr(A, "A")
    B = _check_expr(B, "B")
    if not isinstance(s_symbol, sp.Symbol):
        raise TypeError(f"s_symbol must be a sympy Symbol; got {type(s_symbol).__name__}")
    x = sp.Matrix(coordinates(d))
    sub = {s_symbol: sum(xi**2 for xi in x)}
    return A.subs(sub) * sp.eye(d) + B.subs(sub) * (x * x.T)


def rotation_invariant_volume(Omega: sp.Expr, d: int, *, s_symbol: sp.Symbol = s) -> sp.Expr:
    r"""Volume element of :math:`g = e^{\Omega}(\delta + 2\Omega' x x^T)`:
    :math:`\sqrt{\det g} = e^{d\Omega/2}\sqrt{1 + 2 s\Omega'}` (matrix determinant lemma), in ``s_symbol``."""
    check_int(d, "d", min=1)
    Omega = _check_expr(Omega, "Omega")
    Op = sp.diff(Omega, s_symbol)
    return sp.exp(d * Omega / 2) * sp.sqrt(1 + 2 * s_symbol * Op)


def rotation_invariant_ricci(Omega: sp.Expr, d: int, *, s_symbol: sp.Symbol = s) -> sp.Expr:
    r"""The reference's Ricci scalar of :math:`g = e^{\Omega(s)}(\delta + 2\Omega'(s) x x^T)`:

    .. math:: R = -(d-1)\,e^{-\Omega}\, s\,\Omega'\Big[\frac{4(\Omega' + s\Omega'')}{(1+2s\Omega')^2}
              + \frac{(d-2)\,\Omega'}{1+2s\Omega'}\Big].

    ``Omega`` is an expression in ``s_symbol`` (e.g. ``Function('Omega')(s)`` or an explicit one). Scalar.
    """
    check_int(d, "d", min=1)
    Omega = _check_expr(Omega, "Omega")
    O1 = sp.diff(Omega, s_symbol)
    O2 = sp.diff(Omega, s_symbol, 2)
    u = 1 + 2 * s_symbol * O1
    return -(d - 1) * sp.exp(-Omega) * s_symbol * O1 * (4 * (O1 + s_symbol * O2) / u**2 + (d - 2) * O1 / u)


def _freeze(expr: sp.Expr, f: sp.FunctionClass, points: Sequence[sp.Expr],
            names: Sequence[Sequence[sp.Symbol]]) -> sp.Expr:
    r"""Replace :math:`f^{(k)}(p_i)` (as ``f(p)``, ``Derivative`` or ``Subs``) by the symbol ``names[i][k]``."""
    table: dict[sp.Basic, sp.Symbol] = {}
    for p, syms in zip(points, names):
        for k, sym in enumerate(syms):
            obj = f(p) if k == 0 else sp.diff(f(_t), _t, k).subs(_t, p)
            table[obj] = sym
    out = expr.xreplace(table)
    leftover = [a for a in out.atoms(sp.Subs, sp.Derivative, sp.core.function.AppliedUndef)
                if a.has(f)]
    if leftover:
        raise RuntimeError(f"could not freeze {leftover}")  # internal: derivative order too high
    return out


def prove_rotation_invariant_ricci(d: int) -> bool:
    r"""Symbolic proof, for a generic function :math:`\Omega(s)`, that the Christoffel-route Ricci scalar of
    :math:`g = e^{\Omega}(\delta + 2\Omega' x x^T)` in Cartesian coordinates equals
    :func:`rotation_invariant_ricci`.

    After differentiation, :math:`\Omega, \Omega', \Omega'', \Omega'''` at :math:`s = |x|^2` are replaced by
    independent symbols, so the identity is checked as a rational-function identity (stronger than needed).
    Fast for ``d = 2, 3``.
    """
    check_int(d, "d", min=2)
    if d > 4:
        raise ValueError(f"d must be 2, 3 or 4 (the proof is symbolic); got {d}")
    Om = sp.Function("Omega")
    A = sp.exp(Om(s))
    B = 2 * sp.diff(Om(s), s) * sp.exp(Om(s))
    g = rotation_invariant_metric(A, B, d)
    x = coordinates(d)
    sx = sum(xi**2 for xi in x)
    O = sp.symbols("O0:4", real=True)
    E = sp.Symbol("E", positive=True)  # e^{Omega}
    freeze = lambda e: _freeze(e, Om, [sx], [O]).subs(sp.exp(O[0]), E)  # noqa: E731
    j = _map_jets(_jets(g, x), freeze)
    gens = [*x, *O[1:], E]
    num, den = _ricci_scalar_fraction(j, gens)
    expected = freeze(rotation_invariant_ricci(Om(s), d).subs(s, sx)).subs(sp.exp(-O[0]), 1 / E)
    e_num, e_den = sp.fraction(sp.together(expected))
    Rg = num.ring
    return num * Rg.from_expr(sp.expand(e_den)) - Rg.from_expr(sp.expand(e_num)) * den == 0


def erf_ricci_scalar(d: int, *, plain: bool = False) -> sp.Expr:
    r"""The reference's closed form for the infinite-width erf network (:math:`\phi = \operatorname{erf}(z/\sqrt2)`):

    .. math:: R = -\frac{\pi (d-1)(d+2)\,\sigma^2 s}{2(1+2\zeta^2)\sqrt{1+2\zeta^2+2\sigma^2 s}},

    an expression in ``s, sigma, zeta``; ``plain=True`` for :math:`\operatorname{erf}(z)`
    (:math:`\sigma^2\to2\sigma^2`, :math:`\zeta^2\to2\zeta^2`).
    """
    check_int(d, "d", min=1)
    if not isinstance(plain, bool):
        raise TypeError(f"plain must be a bool; got {type(plain).__name__}")
    sg2, zt2 = (2 * sigma**2, 2 * zeta**2) if plain else (sigma**2, zeta**2)
    return -sp.pi * (d - 1) * (d + 2) * sg2 * s / (2 * (1 + 2 * zt2) * sp.sqrt(1 + 2 * zt2 + 2 * sg2 * s))


def check_erf_ricci(d: int, *, plain: bool = False, points: int = 3, seed: int = 0) -> bool:
    r"""Check :func:`erf_ricci_scalar` two ways, exactly.

    1. Symbolically: :func:`rotation_invariant_ricci` with :math:`\Omega = \log A(s)` from
       :func:`infinite_width_metric_erf` simplifies to the closed form (all :math:`s, \sigma, \zeta`).
    2. Christoffel route on the Cartesian metric of :func:`infinite_width_metric_erf` at ``points`` random
       rational :math:`(x, \sigma, \zeta)`, compared exactly with the closed form there.
    """
    check_int(d, "d", min=2)
    check_int(points, "points", min=1)
    check_int(seed, "seed")
    res = infinite_width_metric_erf(d, plain=plain)
    closed = erf_ricci_scalar(d, plain=plain)
    if sp.simplify(rotation_invariant_ricci(sp.log(res.A), d) - closed) != 0:
        return False
    x = coordinates(d)
    rng = random.Random(seed)
    jets = _jets(res.metric, x)
    for _ in range(points):
        vals = {xi: sp.Rational(rng.randint(-9, 9), rng.randint(1, 5)) for xi in x}
        vals[sigma] = sp.Rational(rng.randint(1, 9), rng.randint(1, 5))
        vals[zeta] = sp.Rational(rng.randint(0, 9), rng.randint(1, 5))
        R = _curvature_from_jets(_map_jets(jets, lambda e: e.xreplace(vals)), None).scalar
        want = closed.subs({s: sum(v**2 for k, v in vals.items() if k in x), sigma: vals[sigma], zeta: vals[zeta]})
        if sp.simplify(sp.radsimp(R - want)) != 0:
            return False
    return True


# --------------------------------------------------------------------------------------------------------------
# 5. curvature of shallow networks
# --------------------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=16)
def _shallow_jets(d: int, n: int) -> tuple[_Jets, ShallowSymbols]:
    r"""Jets of :math:`g(x) = \frac1n\sum_j\phi'(z_j)^2 w_j w_j^T` with :math:`\phi'(z_j)` = ``PhiDerivative(1, z_j)``,
    differentiated in :math:`x` by sympy (chain rule through :math:`z_j`); then :math:`\phi^{(k)}(z_j)` is replaced
    by the symbol :math:`a_j, c_j, e_j` (k = 1, 2, 3): polynomials in :math:`w, a, c, e`."""
    S = shallow_symbols(d, n)
    g = sp.zeros(d, d)
    for j in range(n):
        wj = S.W[j, :].T
        g += PhiDerivative(1, S.z[j]) ** 2 * (wj * wj.T)
    jets = _jets(g / n, list(S.x))
    jets = _map_jets(jets, lambda e: sp.expand(generic_to_symbols(e, d, n)))
    if any(e.has(PhiDerivative) for m in (jets.g, *jets.dg, *[x for row in jets.ddg for x in row]) for e in m):
        raise RuntimeError("internal: a derivative of phi was not replaced")
    frozen = _Jets(sp.ImmutableMatrix(jets.g), [sp.ImmutableMatrix(m) for m in jets.dg],
                   [[sp.ImmutableMatrix(m) for m in row] for row in jets.ddg])
    return frozen, S


def _shallow_ricci_fraction(d: int, n: int, at: Mapping | None = None) -> tuple[object, object, int] | None:
    r"""Generic-activation Ricci scalar as :math:`N / D^k` in the polynomial ring over :math:`\mathbb Q` in those of
    :math:`w, a, c, e` not fixed by ``at`` (rational values), :math:`D = \det g`, with every factor :math:`D`
    dividing :math:`N` divided out (exact polynomial division). ``None`` if ``at`` fixes every generator."""
    jets, S = _shallow_jets(d, n)
    at = dict(at or {})
    gens = [v for v in (*S.W, *S.a, *S.c, *S.e) if v not in at]
    if not gens:
        return None
    if at:
        jets = _map_jets(jets, lambda e: e.xreplace(at))
    num, _ = _ricci_scalar_fraction(jets, gens)
    D = num.ring.from_expr(sp.expand(jets.g.det()))
    k = 3
    while num and k > 0:
        quo, rem = num.div(D)
        if rem:
            break
        num, k = quo, k - 1
    return num, D, (0 if not num else k)


def shallow_ricci_scalar(d: int, n: int, activation: str | None = None, *, at: Mapping | None = None,
                         simplify: bool = True) -> sp.Expr:
    r"""Ricci scalar of the shallow metric :math:`g = \frac1n\sum_j\phi'(z_j)^2 w_j w_j^T` by the Christoffel route
    (the formulas of :func:`ricci_scalar` applied to :math:`g, \partial g, \partial\partial g`).

    The metric is differentiated with :math:`\phi` an undefined function of :math:`z_j = w_j\cdot x + b_j`;
    afterwards :math:`\phi'(z_j), \phi''(z_j), \phi'''(z_j)` are written :math:`a_j, c_j, e_j` (the
    :math:`e_j` cancel). ``activation=None`` returns the result in :math:`w, a, c` (any activation); a name
    substitutes its explicit derivatives at :math:`z_j`.

    Args:
        d, n: input dimension and width.
        activation: ``None`` or a name from :data:`paperlib.activations.NAMES`.
        at: optional point, a mapping from symbols of :func:`shallow_symbols` to rational numbers (e.g. from
            :func:`random_shallow_point`); substituted before the algebra (fast). With a named activation it
            must fix ``W``, ``b`` and ``x``; the derivative values then come from the activation, evaluated to 50
            significant digits, and the result is a 50-digit Float.
        simplify: cancel exactly in a polynomial ring and return numerator / (det g)^k (without ``at``: fast for
            ``d = 2, n <= 3``). ``False`` (and no ``at``): the raw, uncancelled expression.

    Returns:
        A scalar sympy expression (a Rational at a rational point of a generic activation).
    """
    check_int(d, "d", min=1)
    check_int(n, "n", min=1)
    act = _check_activation(activation)
    S = shallow_symbols(d, n)
    fixed: dict[sp.Symbol, sp.Expr] = {}
    if at is not None:
        if not isinstance(at, Mapping):
            raise TypeError(f"at must be a mapping Symbol -> value; got {type(at).__name__}")
        known = {*S.W, *S.b, *S.x, *S.a, *S.c, *S.e}
        fixed = {sp.sympify(k): sp.nsimplify(v, rational=True) for k, v in at.items()}
        unknown = set(fixed) - known
        if unknown:
            raise ValueError(f"at has symbols that are not d={d}, n={n} shallow symbols: {sorted(map(str, unknown))}")
        if act is not None:
            missing = {*S.W, *S.b, *S.x} - set(fixed)
            if missing:
                raise ValueError(f"at must fix W, b and x for activation={act!r}; missing {sorted(map(str, missing))}")
            fixed = {k: v for k, v in fixed.items() if k not in {*S.a, *S.c, *S.e}}
    if act is not None and at is not None:  # derivative values at the point, to _DIGITS significant digits
        z = [zj.xreplace(fixed) for zj in S.z]
        fixed.update({sym: sp.N(_phi_derivative(act, order, z[j]), _DIGITS)
                      for order, col in ((1, S.a), (2, S.c), (3, S.e)) for j, sym in enumerate(col)})
        jets, _ = _shallow_jets(d, n)
        return _curvature_from_jets(_map_jets(jets, lambda e: e.xreplace(fixed)), None).scalar
    if simplify or at is not None:
        frac = _shallow_ricci_fraction(d, n, {k: v for k, v in fixed.items() if k not in {*S.b, *S.x}})
        if frac is None:  # every generator fixed: the value is a rational number
            jets, _ = _shallow_jets(d, n)
            R = _curvature_from_jets(_map_jets(jets, lambda e: e.xreplace(fixed)), None).scalar
        elif not frac[0]:
            R = sp.Integer(0)
        else:
            num, D, k = frac
            top = num.as_expr()
            top = sp.factor(top) if simplify and len(num.terms()) <= 60 else top
            R = top / (sp.factor(D.as_expr()) if simplify else D.as_expr()) ** k
    else:
        jets, _ = _shallow_jets(d, n)
        R = _curvature_from_jets(jets, None).scalar
    if act is not None:
        values = {sym: _phi_derivative(act, order, S.z[j])
                  for order, col in ((1, S.a), (2, S.c), (3, S.e)) for j, sym in enumerate(col)}
        R = R.subs(values)
    return R


def shallow_ricci_scalar_2d(n: int, activation: str | None = None, *, at: Mapping | None = None,
                            simplify: bool = True) -> sp.Expr:
    r"""Ricci scalar (:math:`R = 2K`, K the Gaussian curvature) of the d = 2 shallow metric
    :math:`g = \frac1n\sum_j\phi'(z_j)^2 w_j w_j^T` by the Christoffel route: :func:`shallow_ricci_scalar` with
    ``d = 2`` (same arguments; a scalar). Zero for ``n = 2``; equal to :func:`shallow_ricci_closed_form_2d`."""
    return shallow_ricci_scalar(2, n, activation, at=at, simplify=simplify)


def shallow_ricci_closed_form_2d(n: int, activation: str | None = None) -> sp.Expr:
    r"""The reference's closed form of the shallow-network Ricci scalar in d = 2:

    .. math:: R = -\frac{1}{n^3(\det g)^2}\sum_{i,j,k}\phi_i'^2(\phi_j'\phi_j'')(\phi_k'\phi_k'')\,
              m_{ij}\,m_{ik}\,m_{jk}^2,\qquad m_{jk} = w_{j1}w_{k2} - w_{j2}w_{k1},

    with :math:`\det g = \frac{1}{2n^2}\sum_{j,k}\phi_j'^2\phi_k'^2 m_{jk}^2`. Generic activation: in the symbols
    :math:`a_j = \phi'_j, c_j = \phi''_j, w`; otherwise explicit in :math:`x`. Scalar.
    """
    check_int(n, "n", min=1)
    act = _check_activation(activation)
    S = shallow_symbols(2, n)
    W = S.W
    m = [[W[j, 0] * W[k, 1] - W[j, 1] * W[k, 0] for k in range(n)] for j in range(n)]
    a, c = S.a, S.c
    det = sum(a[j] ** 2 * a[k] ** 2 * m[j][k] ** 2 for j in range(n) for k in range(n)) / (2 * n**2)
    total = sum(a[i] ** 2 * (a[j] * c[j]) * (a[k] * c[k]) * m[i][j] * m[i][k] * m[j][k] ** 2
                for i in range(n) for j in range(n) for k in range(n))
    R = -total / (n**3 * det**2)
    if act is not None:
        sub = {**dict(zip(a, _derivative_values(S, act, 1))), **dict(zip(c, _derivative_values(S, act, 2)))}
        R = R.subs(sub)
    return R


def shallow_ricci_tensor_formula(d: int, n: int, activation: str | None = None, *,
                                 at: Mapping | None = None) -> sp.Expr:
    r"""The reference's any-d tensor formula for the shallow-network Ricci scalar:

    .. math:: R = -\big(g^{\mu\rho}g^{\nu\sigma}g^{\lambda\kappa} - g^{\mu\sigma}g^{\nu\rho}g^{\lambda\kappa}\big)
              T_{\lambda\mu\rho}T_{\kappa\nu\sigma},\qquad
              T_{\alpha\mu\nu} = \tfrac12\partial_\alpha g_{\mu\nu} = \tfrac1n\sum_j \phi'_j\phi''_j\,
              w_{j\alpha}w_{j\mu}w_{j\nu}.

    Generic activation: in :math:`a_j, c_j, w`; else explicit in :math:`x`. ``at`` (as in
    :func:`shallow_ricci_scalar`) substitutes a point before the algebra (a named activation's derivative values
    are then evaluated to 50 significant digits). Not simplified. Scalar.
    """
    check_int(d, "d", min=1)
    check_int(n, "n", min=1)
    act = _check_activation(activation)
    S = shallow_symbols(d, n)
    a, c = _derivative_values(S, act, 1), _derivative_values(S, act, 2)
    W = S.W
    if at is not None:
        if not isinstance(at, Mapping):
            raise TypeError(f"at must be a mapping Symbol -> value; got {type(at).__name__}")
        at = {sp.sympify(k): sp.sympify(v) for k, v in at.items()}
        W = W.xreplace(at)
        a = [sp.sympify(v).xreplace(at) for v in a]
        c = [sp.sympify(v).xreplace(at) for v in c]
        if act is not None:  # explicit derivative values at the point: to _DIGITS significant digits
            a, c = [sp.N(v, _DIGITS) for v in a], [sp.N(v, _DIGITS) for v in c]
    g = sp.zeros(d, d)
    for j in range(n):
        g += a[j] ** 2 * (W[j, :].T * W[j, :])
    g = g / n
    ginv = g.adjugate() / g.det()
    R_ = range(d)
    T = [[[sum(a[j] * c[j] * W[j, al] * W[j, mu] * W[j, nu] for j in range(n)) / n for nu in R_]
          for mu in R_] for al in R_]
    # first term: g^{lk} t_l t_k with t_l = g^{mu rho} T_{l mu rho}
    t = [sum(ginv[m, r] * T[l][m][r] for m in R_ for r in R_) for l in R_]
    first = sum(ginv[l, k] * t[l] * t[k] for l in R_ for k in R_)
    # second term: T_{l mu rho} X^{l mu rho}, X^{l mu rho} = g^{l k} g^{mu sigma} g^{nu rho} T_{k nu sigma}
    X1 = [[[sum(ginv[l, k] * T[k][nu][sg] for k in R_) for sg in R_] for nu in R_] for l in R_]  # X1^l_{nu sg}
    X2 = [[[sum(ginv[m, sg] * X1[l][nu][sg] for sg in R_) for nu in R_] for m in R_] for l in R_]  # X2^{l m}_{nu}
    second = sum(T[l][m][r] * ginv[nu, r] * X2[l][m][nu] for l in R_ for m in R_ for r in R_ for nu in R_)
    return -(first - second)


def prove_shallow_ricci_2d(n: int) -> bool:
    r"""Symbolic proof, for a generic activation, that the Christoffel-route Ricci scalar in d = 2
    (:func:`shallow_ricci_scalar`) equals :func:`shallow_ricci_closed_form_2d`: with the former written
    :math:`N/D^k` and the latter num/den, :math:`N\cdot\mathrm{den} - \mathrm{num}\cdot D^k = 0` is checked in the
    polynomial ring :math:`\mathbb Q[w, a, c, e]` (n = 2: both vanish). About 0.2 s for n = 3, 2 s for n = 4.
    """
    check_int(n, "n", min=2)
    if n > 5:
        raise ValueError(f"n must be 2..5 (the proof is symbolic); got {n}")
    num, D, k = _shallow_ricci_fraction(2, n)
    c_num, c_den = sp.fraction(sp.together(shallow_ricci_closed_form_2d(n)))
    ring = D.ring
    return num * ring.from_expr(sp.expand(c_den)) - ring.from_expr(sp.expand(c_num)) * D**k == 0


def random_shallow_point(d: int, n: int, seed: int = 0, *, derivatives: bool = True) -> dict[sp.Symbol, sp.Rational]:
    r"""A random exact point for shallow-network expressions: rationals :math:`w_{j\mu}, b_j, x_\mu \in [-1, 1]`
    (so :math:`|z_j| \le d + 1` and explicit activations stay well conditioned) and, if ``derivatives``, nonzero
    rationals :math:`a_j, c_j, e_j \in [-2, 2]` (the first three derivatives of a generic activation at one
    point are independent numbers). Returns a dict Symbol -> Rational."""
    check_int(d, "d", min=1)
    check_int(n, "n", min=1)
    check_int(seed, "seed")
    rng = random.Random(seed)
    S = shallow_symbols(d, n)

    def r(scale: int, nonzero: bool = False) -> sp.Rational:
        den = rng.randint(2, 7)
        num = rng.choice([k for k in range(-scale * den, scale * den + 1) if k or not nonzero])
        return sp.Rational(num, den)

    point = {sym: r(1) for sym in [*S.W, *S.b, *S.x]}
    if derivatives:
        point.update({sym: r(2, nonzero=True) for sym in [*S.a, *S.c, *S.e]})
    return point


# --------------------------------------------------------------------------------------------------------------
# 6. average geometry of a linear model (Movahedi et al., arXiv 2410.12025)
# --------------------------------------------------------------------------------------------------------------

__all__ += ["gaussian_expectation", "LinearAverageGeometry", "linear_average_geometry"]


def _gaussian_moment(k: int, sigma: sp.Expr) -> sp.Expr:
    r""":math:`\mathbb E[w^k]` for :math:`w \sim N(0, \sigma^2)`: 0 for odd k, :math:`\sigma^k (k-1)!!` for even k."""
    return sp.S.Zero if k % 2 else sigma**k * sp.factorial2(k - 1)


def gaussian_expectation(expr: sp.Expr | sp.MatrixBase, variables: Sequence[sp.Symbol] | sp.MatrixBase,
                         sigma: sp.Expr) -> sp.Expr | sp.Matrix:
    r"""Exact :math:`\mathbb E_w[p(w)]` for :math:`w_1, \dots, w_k` i.i.d. :math:`N(0, \sigma^2)`.

    ``expr`` is a polynomial in ``variables`` (a list or column Matrix of distinct Symbols), or a Matrix of such
    polynomials (taken entry by entry); its coefficients may hold any other symbols (data, labels, ``sigma``).
    After ``sp.expand`` each monomial factorises by independence, and the Isserlis/Wick moments
    :math:`\mathbb E[w^k] = 0` (k odd), :math:`\sigma^k (k-1)!!` (k even) give
    :math:`\mathbb E[c\, w_1^{k_1}\cdots w_m^{k_m}] = c \prod_i \mathbb E[w^{k_i}]`; e.g.
    :math:`\mathbb E[w^4] = 3\sigma^4`, :math:`\mathbb E[w_1^2 w_2^2] = \sigma^4`, :math:`\mathbb E[w_1 w_2] = 0`.
    Returns an expanded scalar, or a Matrix of the same shape.

    ``TypeError`` for a non-expression or non-Symbol variables; ``ValueError`` for repeated variables, for
    ``expr`` not polynomial in them (e.g. :math:`e^{w}`, :math:`1/w`), or for ``sigma`` that depends on them or is
    known to be non-positive.
    """
    variables = _check_coords(variables, "variables")
    sigma = _check_expr(sigma, "sigma")
    if sigma.free_symbols & set(variables) or sigma.is_positive is False:
        raise ValueError(f"sigma must be positive and free of the variables; got {sigma}")
    if isinstance(expr, sp.MatrixBase):
        return sp.Matrix(expr).applyfunc(lambda e: gaussian_expectation(e, variables, sigma))
    expr = sp.expand(_check_expr(expr, "expr"))
    if not expr.is_polynomial(*variables):
        raise ValueError(f"expr must be a polynomial in the variables {variables}; got {expr}")
    poly = sp.Poly(expr, *variables)
    out = sp.S.Zero
    for monom, coeff in poly.terms():
        out += coeff * sp.Mul(*(_gaussian_moment(k, sigma) for k in monom))
    return sp.expand(out)


class LinearAverageGeometry(NamedTuple):
    r"""Average geometry of the linear model :math:`f(x) = w\cdot x`, :math:`w \sim N(0, \sigma^2 I_d)`, trained by
    gradient flow on :math:`L(w) = \tfrac12\sum_i (w\cdot x_i - y_i)^2` (see :func:`linear_average_geometry`).

    ``w`` (d, 1): :math:`w_\mu`; ``X`` (n, d): data :math:`x_{i\mu}` (row i is :math:`x_i`); ``y`` (n, 1): labels
    :math:`y_i`; ``sigma``: the weight scale (the module's positive :data:`sigma`); ``G`` (d, d):
    :math:`G = \mathbb E[w w^T] = \sigma^2 I`; ``S`` (d, d): :math:`S = X^T X = \sum_i x_i x_i^T`; ``Delta0``
    (d, d): :math:`\Delta_0 = \tfrac{d}{dt}G^t|_{t=0} = -2\sigma^2 S`; ``constant``: the scalar :math:`c` with
    :math:`\Delta_0 = c\, G S G`, i.e. :math:`-2/\sigma^2`.
    """

    w: sp.Matrix
    X: sp.Matrix
    y: sp.Matrix
    sigma: sp.Symbol
    G: sp.Matrix
    S: sp.Matrix
    Delta0: sp.Matrix
    constant: sp.Expr


def _proportionality_constant(A: sp.Matrix, B: sp.Matrix, free: set) -> sp.Expr:
    r"""The scalar :math:`c` (free only of the symbols ``free``) with :math:`A = cB`, checked entry by entry."""
    c = sp.Dummy("c")
    k = next((k for k in range(len(B)) if sp.expand(B[k]) != 0), None)
    sol = [] if k is None else sp.solve(sp.Eq(A[k], c * B[k]), c)
    if len(sol) != 1 or sol[0].free_symbols & free or sp.expand(A - sol[0] * B) != sp.zeros(*A.shape):
        raise ArithmeticError(f"no constant c with A = c B (solutions {sol})")
    return sp.factor(sol[0])


def linear_average_geometry(d: int, n: int) -> LinearAverageGeometry:
    r"""Exact average geometry of a linear model and its evolution at initialisation under gradient flow.

    Model :math:`f(x) = w\cdot x` on :math:`\mathbb R^d` with :math:`w \sim N(0, \sigma^2 I_d)`; per-network
    geometry :math:`g = \nabla_x f\,\nabla_x f^T = w w^T` and average geometry :math:`G = \mathbb E_w[g]`. Training
    data: rows :math:`x_i` of ``X`` (n, d) and labels ``y`` (n, 1); loss
    :math:`L(w) = \tfrac12\sum_{i=1}^n (w\cdot x_i - y_i)^2`; gradient flow :math:`\dot w = -\nabla_w L`
    (by ``sp.diff``). Evolution at initialisation
    :math:`\Delta_0 = \tfrac{d}{dt}G^t|_{t=0} = \mathbb E[\dot w w^T + w \dot w^T]`, both expectations exact
    (:func:`gaussian_expectation`). With :math:`S = \sum_i x_i x_i^T = X^T X` (a sum, not a mean) the result is
    :math:`G = \sigma^2 I`, :math:`\Delta_0 = -2\sigma^2 S = -\tfrac{2}{\sigma^2} G S G`: the label terms
    :math:`X^T y\, w^T` vanish since :math:`\mathbb E[w] = 0`. ``constant`` is found by ``sp.solve`` on one entry of
    :math:`\Delta_0 = c\,GSG` and verified on all (``ArithmeticError`` otherwise). Returns
    :class:`LinearAverageGeometry`. ``d, n >= 1`` (``ValueError``/``TypeError`` otherwise).
    """
    check_int(d, "d", min=1)
    check_int(n, "n", min=1)
    sep = "," if max(n, d) >= 10 else ""
    w = sp.Matrix([sp.Symbol(f"w_{m}", real=True) for m in range(1, d + 1)])
    X = sp.Matrix(n, d, lambda i, m: sp.Symbol(f"x_{{{i + 1}{sep}{m + 1}}}", real=True))
    y = sp.Matrix([sp.Symbol(f"y_{i}", real=True) for i in range(1, n + 1)])
    x = sp.Matrix(coordinates(d))
    f = (w.T * x)[0]
    grad_f = sp.Matrix([sp.diff(f, xm) for xm in x])
    G = gaussian_expectation(grad_f * grad_f.T, w, sigma)
    L = sum(((X[i, :] * w)[0] - y[i]) ** 2 for i in range(n)) / 2
    w_dot = -sp.Matrix([sp.diff(L, wm) for wm in w])
    Delta0 = gaussian_expectation(w_dot * w.T + w * w_dot.T, w, sigma)
    S_ = sp.zeros(d, d)
    for i in range(n):
        S_ += X[i, :].T * X[i, :]
    constant = _proportionality_constant(Delta0, G * S_ * G, set(X) | set(y))
    return LinearAverageGeometry(w, X, y, sigma, G, S_, Delta0, constant)
