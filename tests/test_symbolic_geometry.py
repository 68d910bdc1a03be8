"""Tests of paperlib.symbolic.geometry: pullback metric, volume element, kernel form, evaluation and curvature."""

from __future__ import annotations

import pytest
import sympy as sp
import torch

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
# pullback metric, volume element, kernel form, evaluation
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
# curvature
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
