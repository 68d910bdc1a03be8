r"""Shallow networks :math:`\Phi_j(x) = \phi(w_j\cdot x + b_j)/\sqrt n` in sympy: symbols, map, metric, Cauchy--Binet
determinant, numerical evaluation and the Ricci scalar (the symbolic counterpart of :mod:`paperlib.shallow`).

A *generic* activation is :class:`PhiDerivative`; its derivative values :math:`a_j, c_j, e_j` are the independent
symbols of :class:`ShallowSymbols`. The Ricci scalar is computed by the Christoffel route of
:mod:`paperlib.symbolic.geometry` on the jets of the metric (exact cancellation in a polynomial ring) and compared
with the reference's closed form in d = 2 and its any-d tensor formula.
"""

from __future__ import annotations

import functools
import itertools
import random
from collections.abc import Callable, Mapping
from typing import NamedTuple

import numpy as np
import sympy as sp
from sympy.core.function import ArgumentIndexError

from .. import activations
from .._checks import check_int
from ._common import _DIGITS, _check_activation, _t, _torch_erf
from .geometry import _curvature_from_jets, _Jets, _jets, _map_jets, _ricci_scalar_fraction

__all__ = ["PhiDerivative", "generic_to_symbols", "ShallowSymbols", "shallow_symbols", "shallow_map",
           "shallow_metric", "cauchy_binet_det", "prove_cauchy_binet", "check_cauchy_binet_numeric",
           "shallow_lambdify", "evaluate_shallow", "shallow_ricci_scalar", "shallow_ricci_scalar_2d",
           "shallow_ricci_closed_form_2d", "shallow_ricci_tensor_formula", "prove_shallow_ricci_2d",
           "random_shallow_point"]


# --------------------------------------------------------------------------------------------------------------
# symbols, map, metric, Cauchy-Binet determinant, numerical evaluation
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
# curvature
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
