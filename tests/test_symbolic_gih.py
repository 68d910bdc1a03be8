"""Tests of paperlib.symbolic.gih: exact Gaussian expectations and the average geometry of a linear model
(Movahedi et al., arXiv 2410.12025)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

from paperlib import symbolic as S


def test_linear_gaussian_expectation_known_moments():
    w1, w2 = sp.symbols("w_1 w_2", real=True)
    a = sp.Symbol("a", real=True)
    E = lambda e: S.gaussian_expectation(e, [w1, w2], S.sigma)  # noqa: E731
    assert E(w1**4) == 3 * S.sigma**4
    assert E(w1**6) == 15 * S.sigma**6
    assert E(w1**2 * w2**2) == S.sigma**4
    assert E(w1 * w2) == 0
    assert E(w1**3) == 0
    assert E(w1**3 * w2) == 0
    assert E(sp.Integer(7)) == 7
    assert E(a * (w1 + w2 + 1) ** 2) == sp.expand(a * (2 * S.sigma**2 + 1))  # coefficients may hold symbols
    M = S.gaussian_expectation(sp.Matrix([[w1**2, w1 * w2], [w1 * w2, w2**2]]), sp.Matrix([w1, w2]), S.sigma)
    assert M == S.sigma**2 * sp.eye(2)


@pytest.mark.parametrize("d, n", [(1, 1), (2, 2), (3, 2), (2, 4)])
def test_linear_average_geometry_exact(d, n):
    geo = S.linear_average_geometry(d, n)
    assert geo.w.shape == (d, 1) and geo.X.shape == (n, d) and geo.y.shape == (n, 1)
    assert geo.G.shape == geo.S.shape == geo.Delta0.shape == (d, d)
    assert geo.sigma is S.sigma and S.sigma.is_positive and S.sigma.is_real
    assert geo.G == geo.sigma**2 * sp.eye(d)
    assert sp.simplify(geo.S - geo.X.T * geo.X) == sp.zeros(d, d)
    assert sp.simplify(geo.constant + 2 / geo.sigma**2) == 0
    assert sp.simplify(geo.Delta0 - geo.constant * geo.G * geo.S * geo.G) == sp.zeros(d, d)
    assert sp.simplify(geo.Delta0 + 2 * geo.sigma**2 * geo.S) == sp.zeros(d, d)
    assert not geo.Delta0.free_symbols & set(geo.y)  # label terms X^T y w^T average out (E[w] = 0)
    assert geo.Delta0.free_symbols == set(geo.X) | {geo.sigma}


def test_linear_average_geometry_monte_carlo():
    d, n, s_num, N = 3, 4, 0.7, 200_000
    geo = S.linear_average_geometry(d, n)
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(n, d)), rng.normal(size=n)
    subs = {geo.sigma: s_num, **dict(zip(geo.X, X.ravel())), **dict(zip(geo.y, y))}
    exact = np.array(geo.Delta0.xreplace(subs).evalf(), dtype=np.float64)
    w = rng.normal(scale=s_num, size=(N, d))
    w_dot = -(w @ X.T - y) @ X  # -grad_w L for each sample, written independently of the sympy derivation
    samples = w_dot[:, :, None] * w[:, None, :] + w[:, :, None] * w_dot[:, None, :]
    mean, se = samples.mean(axis=0), samples.std(axis=0, ddof=1) / math.sqrt(N)
    assert np.all(se > 0)
    assert np.all(np.abs(mean - exact) <= 5 * se), (mean - exact) / se


def test_linear_average_geometry_bad_inputs():
    w = sp.Symbol("w", real=True)
    with pytest.raises(ValueError, match="d"):
        S.linear_average_geometry(0, 2)
    with pytest.raises(ValueError, match="n"):
        S.linear_average_geometry(2, 0)
    with pytest.raises(TypeError, match="d"):
        S.linear_average_geometry(2.0, 2)
    for bad in (sp.exp(w), 1 / w, sp.sqrt(w), sp.Abs(w) * w):
        with pytest.raises(ValueError, match="expr"):
            S.gaussian_expectation(bad, [w], S.sigma)
    with pytest.raises(ValueError, match="expr"):
        S.gaussian_expectation(sp.Matrix([w**2, sp.sin(w)]), [w], S.sigma)
    with pytest.raises(TypeError, match="expr"):
        S.gaussian_expectation("w**2", [w], S.sigma)
    with pytest.raises(TypeError, match="variables"):
        S.gaussian_expectation(w**2, ["w"], S.sigma)
    with pytest.raises(ValueError, match="variables"):
        S.gaussian_expectation(w**2, [w, w], S.sigma)
    with pytest.raises(ValueError, match="sigma"):
        S.gaussian_expectation(w**2, [w], -1)
    with pytest.raises(ValueError, match="sigma"):
        S.gaussian_expectation(w**2, [w], w)
