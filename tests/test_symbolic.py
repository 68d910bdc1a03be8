"""Tests of paperlib.symbolic: the sympy derivations behind the book's geometry chapters."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
import torch

from paperlib import activations
from paperlib import symbolic as S

r = sp.Symbol("r", positive=True)
th = sp.Symbol("theta", real=True)
ph = sp.Symbol("phi", real=True)
chi = sp.Symbol("chi", real=True)


def is_zero(expr: sp.Expr) -> bool:
    return sp.simplify(expr) == 0


def sphere_metric_2d() -> sp.Matrix:
    return sp.diag(r**2, r**2 * sp.sin(th) ** 2)


# ----------------------------------------------------------------------------------------------------------------
# 1. pullback metric, volume element, kernel form
# ----------------------------------------------------------------------------------------------------------------


def test_polar_coordinates():
    g = S.pullback_metric([r * sp.cos(th), r * sp.sin(th)], [r, th])
    assert g == sp.diag(1, r**2)
    assert S.volume_element(g) == r


def test_sphere_embedding_volume_element():
    Phi = [r * sp.sin(th) * sp.cos(ph), r * sp.sin(th) * sp.sin(ph), r * sp.cos(th)]
    g = S.pullback_metric(Phi, [r, th, ph])
    assert g == sp.diag(1, r**2, r**2 * sp.sin(th) ** 2)
    # without the range of theta sympy can only say |sin theta| ...
    assert S.volume_element(g) == r**2 * sp.Abs(sp.sin(th))
    # ... with 0 < theta < pi it is exactly r^2 sin(theta)
    assert S.volume_element(g, {th: sp.Interval.open(0, sp.pi)}) == r**2 * sp.sin(th)


def test_kernel_form_equals_jacobian_form_for_a_shallow_net():
    d, n = 2, 2
    x = S.coordinates(d)
    y = S.coordinates(d, "y")
    for activation in ("tanh", None):
        Phi = S.shallow_map(d, n, activation)
        k = (Phi.T * Phi.xreplace(dict(zip(x, y))))[0, 0]
        g_kernel = S.kernel_metric(k, x, y, simplify=False)
        g_jac = S.pullback_metric(Phi, x, simplify=False)
        assert (g_kernel - g_jac).applyfunc(sp.expand) == sp.zeros(d, d)
        # both equal the closed form (1/n) sum_j phi'(z_j)^2 w_j w_j^T
        closed = S.shallow_metric(d, n, activation)
        if activation is None:
            g_jac = S.generic_to_symbols(g_jac, d, n)
        assert (g_jac - closed).applyfunc(sp.expand) == sp.zeros(d, d)


def test_kernel_metric_of_linear_kernel_is_identity():
    x, y = S.coordinates(3), S.coordinates(3, "y")
    k = sum(a * b for a, b in zip(x, y))
    assert S.kernel_metric(k, x, y) == sp.eye(3)


# ----------------------------------------------------------------------------------------------------------------
# 2. shallow networks: metric, Cauchy-Binet, numeric evaluation
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
# 3. curvature
# ----------------------------------------------------------------------------------------------------------------


def test_sphere_ricci_scalar_and_christoffels():
    g = sphere_metric_2d()
    assert S.ricci_scalar(g, [th, ph]) == 2 / r**2
    G = S.christoffel(g, [th, ph])
    assert is_zero(G[0, 1, 1] + sp.sin(th) * sp.cos(th))  # Gamma^theta_{phi phi}
    assert is_zero(G[1, 0, 1] - sp.cos(th) / sp.sin(th))  # Gamma^phi_{theta phi}
    assert G[0, 0, 0] == 0 and G[1, 1, 1] == 0
    Rm = S.riemann(g, [th, ph])
    assert is_zero(Rm[0, 1, 0, 1] - sp.sin(th) ** 2)  # R^theta_{phi theta phi}
    assert is_zero(Rm[0, 1, 0, 1] + Rm[0, 1, 1, 0])  # antisymmetry in the last pair
    assert (S.ricci_tensor(g, [th, ph]) - g / r**2).applyfunc(sp.simplify) == sp.zeros(2, 2)


def test_sphere_ricci_scalar_at_a_point():
    assert S.ricci_scalar(sphere_metric_2d(), [th, ph], at={th: sp.pi / 3, ph: 1}) == 2 / r**2


def test_hyperbolic_plane_and_flat_polar():
    x = sp.Symbol("x", real=True)
    y = sp.Symbol("y", positive=True)
    assert S.ricci_scalar(sp.diag(1 / y**2, 1 / y**2), [x, y]) == -2
    # Poincare disk, curvature -1 as well
    u, v = sp.symbols("u v", real=True)
    conf = 4 / (1 - u**2 - v**2) ** 2
    assert is_zero(S.ricci_scalar(sp.diag(conf, conf), [u, v]) + 2)
    assert S.ricci_scalar(sp.diag(1, r**2), [r, th]) == 0


def test_three_sphere():
    g = sp.diag(r**2, r**2 * sp.sin(chi) ** 2, r**2 * sp.sin(chi) ** 2 * sp.sin(th) ** 2)
    assert S.ricci_scalar(g, [chi, th, ph]) == 6 / r**2


def test_paraboloid_non_diagonal_metric():
    # graph z = x^2 + y^2: Gaussian curvature K = 4/(1 + 4x^2 + 4y^2)^2, R = 2K
    x, y = S.coordinates(2)
    g = S.pullback_metric([x, y, x**2 + y**2], [x, y])
    assert not g.is_diagonal()
    assert is_zero(S.ricci_scalar(g, [x, y]) - 8 / (1 + 4 * x**2 + 4 * y**2) ** 2)


# ----------------------------------------------------------------------------------------------------------------
# 4. infinite width
# ----------------------------------------------------------------------------------------------------------------


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
# 5. shallow-network curvature
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
    x = S.coordinates(2)
    with pytest.raises(TypeError, match="Phi"):
        S.pullback_metric(3, x)
    with pytest.raises(TypeError, match="coords"):
        S.pullback_metric([x[0] ** 2], ["x"])
    with pytest.raises(ValueError, match="coords"):
        S.pullback_metric([x[0]], [x[0], x[0]])
    with pytest.raises(TypeError, match="g"):
        S.volume_element([[1, 0], [0, 1]])
    with pytest.raises(ValueError, match="g"):
        S.ricci_scalar(sp.Matrix([[1, 0, 0], [0, 1, 0]]), x)
    with pytest.raises(ValueError, match="coords"):
        S.ricci_scalar(sp.eye(3), x)
    with pytest.raises(ValueError, match="symmetric"):
        S.ricci_scalar(sp.Matrix([[1, x[0]], [0, 1]]), x)
    with pytest.raises(ValueError, match="at"):
        S.ricci_scalar(sphere_metric_2d(), [th, ph], at={th: 1})
    with pytest.raises(ValueError, match="degenerate"):
        S.ricci_scalar(sp.Matrix([[1, 1], [1, 1]]), x)
    with pytest.raises(TypeError, match="at"):
        S.ricci_scalar(sp.eye(2), x, at=[1, 2])
    with pytest.raises(TypeError, match="domain"):
        S.volume_element(sp.eye(2), domain=[th])
    with pytest.raises(ValueError, match="x and y"):
        S.kernel_metric(x[0], x, S.coordinates(3, "y"))
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
    with pytest.raises(TypeError, match="A"):
        S.rotation_invariant_metric("not an expression", 0, 2)
    with pytest.raises(ValueError, match="d"):
        S.prove_rotation_invariant_ricci(1)
    with pytest.raises(ValueError, match="at"):
        S.shallow_ricci_scalar_2d(3, "erf", at={S.shallow_symbols(2, 3).W[0, 0]: 1})
    with pytest.raises(ValueError, match="at"):
        S.shallow_ricci_scalar_2d(3, at={r: 1})
    with pytest.raises(TypeError, match="plain"):
        S.infinite_width_metric_erf(plain="yes")
    with pytest.raises(TypeError, match="seed"):
        S.random_shallow_point(2, 3, seed=1.5)


def test_evaluate_broadcasts_constant_entries():


    r, th = sp.symbols("r theta", positive=True)
    g = sp.diag(1, r**2)
    pts = torch.tensor([[1.0, 0.3], [2.0, 0.1], [3.0, 2.0]], dtype=torch.float64)
    got = S.evaluate(g, [r, th], pts)
    assert got.shape == (3, 2, 2)
    assert torch.equal(got[:, 0, 0], torch.ones(3, dtype=torch.float64))
    assert torch.equal(got[:, 1, 1], pts[:, 0] ** 2)
    assert torch.allclose(S.evaluate(r * sp.sin(th), [r, th], pts), pts[:, 0] * torch.sin(pts[:, 1]))
    with pytest.raises(ValueError, match="points"):
        S.evaluate(g, [r, th], pts[:, :1])
    with pytest.raises(ValueError, match="coords"):
        S.evaluate(g, [th], pts[:, :1])


# ----------------------------------------------------------------------------------------------------------------
# 6. average geometry of a linear model (Movahedi et al., arXiv 2410.12025)
# ----------------------------------------------------------------------------------------------------------------


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
