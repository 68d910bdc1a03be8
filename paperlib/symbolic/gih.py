r"""Average geometry of a linear model and its evolution at initialisation, exactly (Movahedi et al., arXiv
2410.12025): exact Gaussian expectations of polynomials (Isserlis/Wick) and :func:`linear_average_geometry`, the
exact reference for the estimates of :mod:`paperlib.gih`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import sympy as sp

from .._checks import check_int
from ._common import _check_coords, _check_expr
from .geometry import coordinates
from .infinite import sigma

__all__ = ["gaussian_expectation", "LinearAverageGeometry", "linear_average_geometry"]


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
