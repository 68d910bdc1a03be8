"""Shared helpers of :mod:`paperlib.symbolic`: argument checks, the cheap canonical form ``_tidy``, the precision
of explicit activations at numeric points and the torch-backed ``erf`` used when expressions are lambdified."""

from __future__ import annotations

import sympy as sp
import torch

from .. import activations

_DIGITS = 50  # significant digits of explicit-activation values at a numeric point
_t = sp.Symbol("t", real=True)  # dummy argument of phi


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


def _torch_erf(v: object) -> object:
    """``erf`` for ``sympy.lambdify``: numpy has none, so torch's (float64) is used."""
    return torch.special.erf(torch.as_tensor(v, dtype=torch.float64)).numpy()
