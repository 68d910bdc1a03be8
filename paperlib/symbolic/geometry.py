r"""Pullback metric, volume element, kernel form and curvature of a metric given in coordinates (sympy).

The symbolic counterpart of :mod:`paperlib.geometry`: :math:`g = J^T J` for a map :math:`\Phi` of the coordinates,
:math:`\sqrt{\det g}`, the kernel form :math:`\partial_x\partial_y k`, Christoffel symbols, Riemann and Ricci
tensors and the Ricci scalar (conventions in :mod:`paperlib.symbolic`), and :func:`evaluate` to compare a result with
the numerical modules. Curvature is computed from the jets :math:`g, \partial g, \partial\partial g` with ring
operations only (numerators over powers of :math:`\det g`), so the same code serves sympy expressions, values at a
point and exact polynomial-ring identities (:mod:`paperlib.symbolic.shallow`, :mod:`paperlib.symbolic.infinite`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import numpy as np
import sympy as sp
import torch

from .._checks import check_int
from ._common import _check_coords, _check_expr, _check_metric, _tidy, _torch_erf

__all__ = ["coordinates", "jacobian", "pullback_metric", "volume_element", "kernel_metric", "evaluate",
           "christoffel", "riemann", "ricci_tensor", "ricci_scalar"]


# --------------------------------------------------------------------------------------------------------------
# pullback metric, volume element, kernel form, numerical evaluation
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


# --------------------------------------------------------------------------------------------------------------
# curvature
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
