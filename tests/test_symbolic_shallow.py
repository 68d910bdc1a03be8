"""Tests of paperlib.symbolic.shallow: the shallow-network metric, Cauchy-Binet, numerical evaluation and the
Ricci scalar (Christoffel route against the reference's closed forms)."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
import torch

from paperlib import activations
from paperlib import symbolic as S

r = sp.Symbol("r", positive=True)


# ----------------------------------------------------------------------------------------------------------------
# metric, Cauchy-Binet, numeric evaluation
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [3, 4])
def test_cauchy_binet_proof_d2(n):
    assert S.prove_cauchy_binet(2, n)


def test_cauchy_binet_proof_d3_n4():
    assert S.prove_cauchy_binet(3, 4)


def test_cauchy_binet_is_not_trivially_true():
    # a wrong normalisation (n^{-d+1}) must not pass the same expansion
    d, n = 2, 3
    g = S.shallow_metric(d, n)
    assert sp.expand(g.det() - n * S.cauchy_binet_det(d, n)) != 0


@pytest.mark.parametrize("n", [4, 5])
def test_cauchy_binet_numeric_d3(n):
    assert S.check_cauchy_binet_numeric(3, n, seed=n) <= 1e-12


def test_cauchy_binet_d2_reference_form_and_rank_deficiency():
    n = 4
    W, a = S.shallow_symbols(2, n).W, S.shallow_symbols(2, n).a
    m = lambda j, k: W[j, 0] * W[k, 1] - W[j, 1] * W[k, 0]  # noqa: E731
    ref = sum(a[j] ** 2 * a[k] ** 2 * m(j, k) ** 2 for j in range(n) for k in range(n)) / (2 * n**2)
    assert sp.expand(ref - S.cauchy_binet_det(2, n)) == 0
    assert S.cauchy_binet_det(3, 2) == 0  # n < d: rank deficient
    assert sp.expand(S.shallow_metric(3, 2).det()) == 0


def test_shallow_metric_equals_pullback_of_the_map():
    d, n = 2, 2
    for activation in ("sigmoid", "erf", "gelu"):
        g = S.pullback_metric(S.shallow_map(d, n, activation), S.coordinates(d), simplify=False)
        assert (g - S.shallow_metric(d, n, activation)).applyfunc(sp.expand) == sp.zeros(d, d)


@pytest.mark.parametrize("activation", ["linear", "relu", "tanh", "erf", "sigmoid", "gelu", "softplus"])
def test_lambdified_metric_matches_numpy(activation):
    d, n, B = 2, 3, 5
    rng = np.random.default_rng(0)
    W, b, x = rng.standard_normal((n, d)), rng.standard_normal(n), rng.standard_normal((B, d))
    g = S.evaluate_shallow(S.shallow_metric(d, n, activation), W, b, x)
    z = torch.as_tensor(x @ W.T + b)
    dphi = activations.derivatives(activation, z, order=1)[1].numpy()
    ref = np.einsum("bj,jm,jn->bmn", dphi**2, W, W) / n
    assert g.shape == (B, d, d)
    np.testing.assert_allclose(g, ref, rtol=1e-12, atol=1e-14)
    det = S.evaluate_shallow(S.cauchy_binet_det(d, n, activation), W, b, x)
    assert det.shape == (B,)
    np.testing.assert_allclose(det, np.linalg.det(ref), rtol=1e-10)
    # a single point gives unbatched shapes
    assert S.evaluate_shallow(S.shallow_metric(d, n, activation), W, b, x[0]).shape == (d, d)


def test_lambdify_generic_activation_uses_a():
    d, n = 2, 3
    rng = np.random.default_rng(1)
    W, b, x, a = rng.standard_normal((n, d)), rng.standard_normal(n), rng.standard_normal(d), rng.standard_normal(n)
    g = S.shallow_lambdify(S.shallow_metric(d, n), d, n)(W, b, x, a=a)
    np.testing.assert_allclose(g, np.einsum("j,jm,jn->mn", a**2, W, W) / n, rtol=1e-13)


# ----------------------------------------------------------------------------------------------------------------
# curvature
# ----------------------------------------------------------------------------------------------------------------


def test_shallow_ricci_vanishes_for_two_units():
    assert S.shallow_ricci_scalar_2d(2) == 0
    assert S.shallow_ricci_closed_form_2d(2) == 0
    assert S.shallow_ricci_scalar_2d(2, "tanh") == 0


def test_shallow_ricci_closed_form_proof_n3():
    assert S.prove_shallow_ricci_2d(3)
    R = S.shallow_ricci_scalar_2d(3)
    assert R != 0
    assert R.free_symbols <= set(S.shallow_symbols(2, 3).W) | set(S.shallow_symbols(2, 3).a) | set(
        S.shallow_symbols(2, 3).c
    )  # phi''' cancels; x and b enter only through phi'(z), phi''(z)


def test_shallow_ricci_closed_form_proof_n4():
    assert S.prove_shallow_ricci_2d(4)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_shallow_ricci_closed_form_at_rational_points(seed):
    pt = S.random_shallow_point(2, 3, seed)
    value = S.shallow_ricci_scalar_2d(3, at=pt)
    assert value.is_Rational and value != 0
    assert value == S.shallow_ricci_closed_form_2d(3).subs(pt)


def test_shallow_ricci_erf_explicit():
    pt = S.random_shallow_point(2, 3, 5, derivatives=False)
    christoffel_route = S.shallow_ricci_scalar_2d(3, "erf", at=pt)
    closed = S.shallow_ricci_closed_form_2d(3, "erf").subs(pt)
    assert abs(sp.N(christoffel_route - closed, 40)) < 1e-30 * abs(sp.N(closed, 40))
    # and the direct route: sympy differentiates the explicit erf metric in x (values at 50 digits)
    g = S.shallow_metric(2, 3, "erf")
    at = {k: sp.Float(v, 50) for k, v in pt.items()}
    direct = S.ricci_scalar(g, S.coordinates(2), at=at, simplify=False)
    assert abs(sp.N(direct - closed, 40)) < 1e-30 * abs(sp.N(closed, 40))


def test_shallow_ricci_tensor_formula_d3():
    pt = S.random_shallow_point(3, 4, 0)
    assert S.shallow_ricci_scalar(3, 4, at=pt) == S.shallow_ricci_tensor_formula(3, 4, at=pt)
    pt2 = S.random_shallow_point(2, 3, 7)
    assert S.shallow_ricci_tensor_formula(2, 3, at=pt2) == S.shallow_ricci_closed_form_2d(3).subs(pt2)


# ----------------------------------------------------------------------------------------------------------------
# bad input
# ----------------------------------------------------------------------------------------------------------------


def test_bad_inputs():
    with pytest.raises(ValueError, match="d"):
        S.shallow_metric(0, 3)
    with pytest.raises(TypeError, match="n"):
        S.shallow_metric(2, 2.5)
    with pytest.raises(ValueError, match="activation"):
        S.shallow_map(2, 2, "swish")
    with pytest.raises(TypeError, match="activation"):
        S.shallow_metric(2, 2, 3)
    with pytest.raises(ValueError, match="d"):
        S.prove_cauchy_binet(5, 9)
    with pytest.raises(ValueError, match="n"):
        S.check_cauchy_binet_numeric(3, 2)
    with pytest.raises(ValueError, match="W"):
        S.evaluate_shallow(S.shallow_metric(2, 3), np.zeros((3,)), np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match="x"):
        S.evaluate_shallow(S.shallow_metric(2, 3, "tanh"), np.zeros((3, 2)), np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="a is required"):
        S.evaluate_shallow(S.shallow_metric(2, 3), np.zeros((3, 2)), np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match="expr"):
        S.shallow_lambdify(S.shallow_metric(2, 3) * r, 2, 3)
    with pytest.raises(ValueError, match="at"):
        S.shallow_ricci_scalar_2d(3, "erf", at={S.shallow_symbols(2, 3).W[0, 0]: 1})
    with pytest.raises(ValueError, match="at"):
        S.shallow_ricci_scalar_2d(3, at={r: 1})
    with pytest.raises(TypeError, match="seed"):
        S.random_shallow_point(2, 3, seed=1.5)
