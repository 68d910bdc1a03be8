r"""The infinite-width (random-weight) geometry in sympy: Gaussian means, the expected metric of an erf network, and
the volume element and Ricci scalar of rotation-invariant metrics (the symbolic counterpart of
:mod:`paperlib.infinite`).

Weights :math:`w \sim N(0, \sigma^2 I_d)`, biases :math:`b \sim N(0, \zeta^2)`, :math:`s = |x|^2`: the symbols
:data:`s`, :data:`sigma` and :data:`zeta` (re-exported by :mod:`paperlib.symbolic`).
"""

from __future__ import annotations

import functools
import random
from collections.abc import Sequence
from typing import NamedTuple

import sympy as sp

from .._checks import check_int
from ._common import _check_expr, _t
from .geometry import _curvature_from_jets, _jets, _map_jets, _ricci_scalar_fraction, coordinates

__all__ = ["s", "sigma", "zeta", "gaussian_mean", "InfiniteWidthMetric", "infinite_width_metric_erf",
           "rotation_invariant_metric", "rotation_invariant_volume", "rotation_invariant_ricci",
           "prove_rotation_invariant_ricci", "erf_ricci_scalar", "check_erf_ricci"]

#: :math:`s = |x|^2`, the argument of rotation-invariant metrics.
s = sp.Symbol("s", nonnegative=True)
#: The weight scale, :math:`w \sim N(0, \sigma^2 I)`.
sigma = sp.Symbol("sigma", positive=True)
#: The bias scale, :math:`b \sim N(0, \zeta^2)` (``.subs(zeta, 0)`` gives the bias-free network).
zeta = sp.Symbol("zeta", positive=True)

_z = sp.Symbol("z", real=True)  # pre-activation in Gaussian integrals
_q = sp.Symbol("q", positive=True)  # its variance


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
