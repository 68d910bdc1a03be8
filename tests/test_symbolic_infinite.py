"""Tests of paperlib.symbolic.infinite: the infinite-width erf metric, rotation-invariant metrics and their Ricci
scalar."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

from paperlib import symbolic as S


def is_zero(expr: sp.Expr) -> bool:
    return sp.simplify(expr) == 0


@pytest.mark.parametrize("d", [2, 3])
def test_rotation_invariant_ricci_formula_proof(d):
    assert S.prove_rotation_invariant_ricci(d)


def test_erf_infinite_width_metric_closed_form():
    s, sg, zt = S.s, S.sigma, S.zeta
    res = S.infinite_width_metric_erf()
    Q = 1 + 2 * zt**2 + 2 * sg**2 * s
    assert is_zero(res.F - 2 / (sp.pi * sp.sqrt(1 + 2 * sp.Symbol("q", positive=True))))
    assert is_zero(res.exp_omega - 2 * sg**2 / (sp.pi * sp.sqrt(Q)))
    assert is_zero(res.omega_prime + sg**2 / Q)
    assert is_zero(res.B - 2 * res.omega_prime * res.A)  # g = e^Omega (delta + 2 Omega' x x^T)
    assert res.metric is None
    # plain erf(z) = the scaled one with sigma^2 -> 2 sigma^2, zeta^2 -> 2 zeta^2
    plain = S.infinite_width_metric_erf(plain=True)
    scale = {sg: sp.sqrt(2) * sg, zt: sp.sqrt(2) * zt}
    assert is_zero(plain.A - res.A.subs(scale)) and is_zero(plain.B - res.B.subs(scale))


def test_erf_gaussian_mean_against_quadrature():
    res = S.infinite_width_metric_erf()
    z, w = np.polynomial.hermite_e.hermegauss(200)
    for q in (0.3, 1.0, 4.0):
        dphi = math.sqrt(2 / math.pi) * np.exp(-q * z**2 / 2)  # d/dz erf(z/sqrt 2) at sqrt(q) z
        F_quad = np.sum(w * dphi**2) / math.sqrt(2 * math.pi)
        assert float(res.F.subs(sp.Symbol("q", positive=True), q)) == pytest.approx(F_quad, rel=1e-12)


def test_erf_infinite_width_metric_monte_carlo():
    """E[phi'(z)^2 w w^T] by sampling (independent of the sympy derivation)."""
    rng = np.random.default_rng(0)
    sg, zt, x = 1.3, 0.6, np.array([0.7, -0.4])
    N = 400_000
    w = sg * rng.standard_normal((N, 2))
    b = zt * rng.standard_normal(N)
    dphi2 = (2 / math.pi) * np.exp(-((w @ x + b) ** 2))
    mc = np.einsum("i,im,in->mn", dphi2, w, w) / N
    res = S.infinite_width_metric_erf(2)
    vals = {S.sigma: sg, S.zeta: zt, **dict(zip(S.coordinates(2), x))}
    g = np.array(res.metric.subs(vals).evalf(), dtype=float)
    np.testing.assert_allclose(mc, g, atol=0.01 * np.abs(g).max())


def test_erf_volume_element():
    d = 2
    res = S.infinite_width_metric_erf(d)
    sx = sum(xi**2 for xi in S.coordinates(d))
    sg, zt = S.sigma, S.zeta
    ref = (2 * sg**2 / sp.pi) ** sp.Rational(d, 2) * sp.sqrt(1 + 2 * zt**2) / (
        1 + 2 * zt**2 + 2 * sg**2 * sx
    ) ** sp.Rational(d + 2, 4)
    assert is_zero(S.volume_element(res.metric) - ref)
    assert is_zero(S.rotation_invariant_volume(sp.log(res.A), d).subs(S.s, sx) - ref)


@pytest.mark.parametrize("d", [2, 3])
def test_erf_infinite_width_ricci(d):
    assert S.check_erf_ricci(d)


def test_erf_infinite_width_ricci_plain_and_negative():
    assert S.check_erf_ricci(2, plain=True, points=2)
    R = S.erf_ricci_scalar(3)
    assert R.subs({S.s: 1, S.sigma: 1, S.zeta: 1}) < 0  # negatively curved away from the origin
    assert R.subs(S.s, 0) == 0


def test_flat_rotation_invariant_metric():
    # Omega constant (ReLU/linear): flat
    g = S.rotation_invariant_metric(sp.Integer(3), sp.Integer(0), 2)
    assert S.ricci_scalar(g, S.coordinates(2)) == 0


# ----------------------------------------------------------------------------------------------------------------
# bad input
# ----------------------------------------------------------------------------------------------------------------


def test_bad_inputs():
    with pytest.raises(TypeError, match="A"):
        S.rotation_invariant_metric("not an expression", 0, 2)
    with pytest.raises(ValueError, match="d"):
        S.prove_rotation_invariant_ricci(1)
    with pytest.raises(TypeError, match="plain"):
        S.infinite_width_metric_erf(plain="yes")
