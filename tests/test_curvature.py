"""Curvature: autodiff (Gauss and Christoffel routes) and shallow closed forms, on surfaces with known curvature.

Convention checked here: a round sphere of radius r has R = +2/r^2 (d = 2), a round 3-sphere R = 6/r^2.
"""

import inspect
import math

import mpmath
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from paperlib import activations, geometry, shallow

F64 = torch.float64
RADIUS = 1.7


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-300))


def sphere2(x: torch.Tensor) -> torch.Tensor:
    """(theta, phi) -> round sphere of radius RADIUS in R^3."""
    t, p = x.unbind(-1)
    return RADIUS * torch.stack([torch.sin(t) * torch.cos(p), torch.sin(t) * torch.sin(p), torch.cos(t)], -1)


def sphere3(x: torch.Tensor) -> torch.Tensor:
    """Hyperspherical coordinates (a, b, c) -> round 3-sphere of radius RADIUS in R^4."""
    a, b, c = x.unbind(-1)
    return RADIUS * torch.stack(
        [torch.cos(a), torch.sin(a) * torch.cos(b), torch.sin(a) * torch.sin(b) * torch.cos(c),
         torch.sin(a) * torch.sin(b) * torch.sin(c)], -1)


def stereographic3(x: torch.Tensor) -> torch.Tensor:
    """Inverse stereographic projection R^3 -> 3-sphere of radius RADIUS in R^4."""
    s = (x * x).sum(-1, keepdim=True)
    return RADIUS * torch.cat([2 * x, s - 1], -1) / (s + 1)


def graph(h):
    """(x, y) -> (x, y, h(x, y))."""
    return lambda x: torch.cat([x, h(x[:, 0], x[:, 1]).unsqueeze(-1)], -1)


def sphere_angles(batch: int, seed: int, dims: int = 2) -> torch.Tensor:
    """Angles away from the coordinate singularities (polar angles in [0.4, pi - 0.4])."""
    u = torch.rand(batch, dims, generator=gen(seed), dtype=F64)
    lo = torch.tensor([0.4] * (dims - 1) + [0.0], dtype=F64)
    span = torch.tensor([math.pi - 0.8] * (dims - 1) + [2 * math.pi], dtype=F64)
    return lo + span * u


# ------------------------------------------------------------------------------------------------------------
# known curvatures
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["gauss", "christoffel"])
def test_round_sphere_has_R_equal_2_over_r_squared(method):
    x = sphere_angles(20, 0)
    R = geometry.ricci_scalar(sphere2, x, method=method)
    assert torch.allclose(R, torch.full_like(R, 2 / RADIUS**2), rtol=1e-12, atol=0)
    # Einstein: R_{mu nu} = (d - 1) g_{mu nu} / r^2
    ric = geometry.ricci_tensor(sphere2, x, method=method)
    assert rel_err(ric, geometry.metric(sphere2, x) / RADIUS**2) < 1e-12


def test_sphere_christoffel_symbols_and_riemann_routes_agree():
    x = sphere_angles(10, 1)
    gamma = geometry.christoffel_symbols(sphere2, x)
    t = x[:, 0]
    want = torch.zeros(10, 2, 2, 2, dtype=F64)
    want[:, 0, 1, 1] = -torch.sin(t) * torch.cos(t)  # Gamma^theta_{phi phi}
    want[:, 1, 0, 1] = want[:, 1, 1, 0] = torch.cos(t) / torch.sin(t)  # Gamma^phi_{theta phi}
    assert (gamma - want).abs().max() < 1e-12
    r_gauss = geometry.riemann_tensor(sphere2, x, method="gauss")
    r_chris = geometry.riemann_tensor(sphere2, x, method="christoffel")
    assert rel_err(r_gauss, r_chris) < 1e-12
    # R^theta_{phi theta phi} = sin^2(theta) on any round sphere
    assert torch.allclose(r_gauss[:, 0, 1, 0, 1], torch.sin(t) ** 2, rtol=1e-12, atol=1e-14)
    assert torch.allclose(r_gauss, -r_gauss.transpose(-1, -2), atol=1e-14)


@pytest.mark.parametrize("method", ["gauss", "christoffel"])
def test_saddle_graph_has_negative_curvature(method):
    x = 2 * torch.randn(30, 2, generator=gen(2), dtype=F64)
    R = geometry.ricci_scalar(graph(lambda u, v: u * v), x, method=method)
    K = -1 / (1 + x[:, 0] ** 2 + x[:, 1] ** 2) ** 2
    assert rel_err(R, 2 * K) < 1e-12
    assert bool((R < 0).all())


def test_paraboloid_graph_has_positive_curvature():
    x = torch.randn(30, 2, generator=gen(3), dtype=F64)
    R = geometry.ricci_scalar(graph(lambda u, v: u * u + v * v), x)
    K = 4 / (1 + 4 * x[:, 0] ** 2 + 4 * x[:, 1] ** 2) ** 2
    assert rel_err(R, 2 * K) < 1e-12


@pytest.mark.parametrize("method", ["gauss", "christoffel"])
@pytest.mark.parametrize("chart", ["hyperspherical", "stereographic"])
def test_three_sphere_has_R_equal_6_over_r_squared(method, chart):
    if chart == "hyperspherical":
        f, x = sphere3, sphere_angles(6, 4, dims=3)
    else:
        f, x = stereographic3, torch.randn(6, 3, generator=gen(4), dtype=F64)
    R = geometry.ricci_scalar(f, x, method=method)
    assert torch.allclose(R, torch.full_like(R, 6 / RADIUS**2), rtol=1e-11, atol=0)
    ric = geometry.ricci_tensor(f, x, method=method)
    assert rel_err(ric, 2 * geometry.metric(f, x) / RADIUS**2) < 1e-11


def test_metric_function_route():
    """Metrics that are not given as pullbacks: round sphere, hyperbolic half-plane, a conformally flat 3-metric."""

    def sphere_metric(p):
        t = p[0]
        one, zero = torch.ones_like(t), torch.zeros_like(t)
        return RADIUS**2 * torch.stack([torch.stack([one, zero]), torch.stack([zero, torch.sin(t) ** 2])])

    x = sphere_angles(8, 5)
    R = geometry.ricci_scalar_of_metric(sphere_metric, x)
    assert torch.allclose(R, torch.full_like(R, 2 / RADIUS**2), rtol=1e-12, atol=0)
    assert (geometry.christoffel_symbols_of_metric(sphere_metric, x)
            - geometry.christoffel_symbols(sphere2, x)).abs().max() < 1e-12

    x = torch.rand(8, 2, generator=gen(6), dtype=F64) + torch.tensor([-0.5, 0.2], dtype=F64)
    R = geometry.ricci_scalar_of_metric(lambda p: torch.eye(2, dtype=p.dtype) / p[1] ** 2, x)  # H^2: K = -1
    assert torch.allclose(R, torch.full_like(R, -2.0), rtol=1e-12, atol=0)

    # 3-sphere in stereographic coordinates: g = 4 r^2 / (1 + |x|^2)^2 I  ->  R = 6 / r^2
    x = torch.randn(5, 3, generator=gen(7), dtype=F64)
    conformal = lambda p: 4 * RADIUS**2 / (1 + (p * p).sum()) ** 2 * torch.eye(3, dtype=p.dtype)  # noqa: E731
    assert torch.allclose(geometry.ricci_scalar_of_metric(conformal, x), torch.full((5,), 6 / RADIUS**2, dtype=F64),
                          rtol=1e-12, atol=0)
    ric = geometry.ricci_tensor_of_metric(conformal, x)
    assert ric.shape == (5, 3, 3)
    assert geometry.riemann_tensor_of_metric(conformal, x).shape == (5, 3, 3, 3, 3)


# ------------------------------------------------------------------------------------------------------------
# flat maps, piecewise-linear maps, degenerate metrics
# ------------------------------------------------------------------------------------------------------------


def test_flat_maps_have_zero_curvature():
    A = torch.randn(5, 3, generator=gen(8), dtype=F64)
    x = torch.randn(10, 3, generator=gen(9), dtype=F64)
    linear = lambda x: x @ A.T  # noqa: E731
    for method in ("gauss", "christoffel"):
        assert bool((geometry.ricci_scalar(linear, x, method=method) == 0).all())  # exact
        assert bool((geometry.riemann_tensor(linear, x, method=method) == 0).all())
    assert bool((geometry.christoffel_symbols(linear, x) == 0).all())
    # curved coordinates on flat space: polar coordinates of the plane, a cylinder
    polar = lambda x: torch.stack([x[:, 0] * torch.cos(x[:, 1]), x[:, 0] * torch.sin(x[:, 1])], -1)  # noqa: E731
    cylinder = lambda x: torch.stack([torch.cos(x[:, 0]), torch.sin(x[:, 0]), x[:, 1]], -1)  # noqa: E731
    x = torch.rand(20, 2, generator=gen(10), dtype=F64) + 0.5
    for f in (polar, cylinder):
        for method in ("gauss", "christoffel"):
            assert geometry.ricci_scalar(f, x, method=method).abs().max() < 1e-12


@pytest.mark.parametrize("activation", ["relu", "linear"])
def test_piecewise_linear_networks_give_exact_zeros_never_nan(activation):
    W, b = shallow.random_network(2, 6, seed=11)
    b = b - 3.0  # many units inactive; some points have every ReLU unit off (metric = 0)
    x = 3 * torch.randn(200, 2, generator=gen(12), dtype=F64)
    f = shallow.feature_map(W, b, activation)
    if activation == "relu":
        g = shallow.metric(W, b, x, activation)
        assert bool((torch.linalg.matrix_rank(g) < 2).any()), "test needs saturated points"
    for R in (geometry.ricci_scalar(f, x), geometry.ricci_scalar(f, x, method="christoffel"),
              *(shallow.ricci_scalar(W, b, x, activation, method=m)
                for m in ("tensor", "gauss", "closed_form_2d", "triple_sum"))):
        assert not bool(R.isnan().any())
        assert bool((R == 0).all())
    deep = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Linear(16, 16), torch.nn.ReLU())
    torch.manual_seed(0)
    R = geometry.ricci_scalar(deep, torch.randn(50, 2, generator=gen(13)), degenerate="nan")
    assert bool((R == 0).all())


def degenerate_map(x: torch.Tensor) -> torch.Tensor:
    """(x, y) -> (x, y^2, x^2 + y^3): d_y f = 0 at y = 0, so g is singular there while H is not zero."""
    return torch.stack([x[:, 0], x[:, 1] ** 2, x[:, 0] ** 2 + x[:, 1] ** 3], -1)


@pytest.mark.parametrize("method", ["gauss", "christoffel"])
def test_rank_deficient_metric_raises_or_gives_documented_nan(method):
    x = torch.tensor([[0.3, 0.7], [0.5, 0.0], [-0.2, 1.1]], dtype=F64)
    with pytest.raises(ValueError, match=r"undefined at 1 of 3 points.*x\[1\].*degenerate='nan'"):
        geometry.ricci_scalar(degenerate_map, x, method=method)
    R = geometry.ricci_scalar(degenerate_map, x, method=method, degenerate="nan")
    assert bool(R[1].isnan()) and bool(R[[0, 2]].isfinite().all())
    ric = geometry.ricci_tensor(degenerate_map, x, method=method, degenerate="nan")
    assert bool(ric[1].isnan().all()) and bool(ric[[0, 2]].isfinite().all())
    with pytest.raises(ValueError, match="rank-deficient"):
        geometry.riemann_tensor(degenerate_map, x, method=method)
    with pytest.raises(ValueError, match="rank-deficient"):
        geometry.christoffel_symbols(degenerate_map, x)
    with pytest.raises(ValueError, match="rank-deficient"):
        geometry.ricci_scalar_of_metric(lambda p: torch.diag(torch.stack([torch.ones_like(p[0]), p[1] ** 2])), x)


def test_fewer_features_than_inputs_raises():
    W, b = shallow.random_network(3, 2, seed=14)
    x = torch.randn(4, 3, generator=gen(15), dtype=F64)
    with pytest.raises(ValueError, match="n = 2 features.*d = 3"):
        geometry.ricci_scalar(shallow.feature_map(W, b, "tanh"), x)
    with pytest.raises(ValueError, match="W has n = 2 hidden units"):
        shallow.ricci_scalar(W, b, x, "tanh")


def test_saturated_shallow_network_raises_by_default_nan_on_request():
    W = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=F64)
    b = torch.zeros(3, dtype=F64)
    x = torch.tensor([[0.1, 0.2], [0.3, 40.0]], dtype=F64)  # erf units 2 and 3 saturate at the second point
    for method in ("tensor", "gauss", "closed_form_2d", "triple_sum"):
        with pytest.raises(ValueError, match="x\\[1\\]"):
            shallow.ricci_scalar(W, b, x, "erf", method=method)
        R = shallow.ricci_scalar(W, b, x, "erf", method=method, degenerate="nan")
        assert bool(R[0].isfinite()) and bool(R[1].isnan())


# ------------------------------------------------------------------------------------------------------------
# shallow closed forms vs autodiff
# ------------------------------------------------------------------------------------------------------------


def condition_number(W, b, x, activation):
    lam = torch.linalg.eigvalsh(shallow.metric(W, b, x, activation))
    return lam[:, -1] / lam[:, 0]


def close(got, want, tol, mask=None):
    """|got - want| <= tol * max(|want|, median |want|) at the masked points (floor: typical |R|)."""
    floor = want.abs().median()
    err = (got - want).abs() / torch.maximum(want.abs(), floor)
    if mask is not None:
        err = err[mask]
    return float(err.max())


@pytest.mark.parametrize("activation", ["erf", "sigmoid", "tanh"])
@pytest.mark.parametrize("d,n", [(2, 3), (2, 40), (3, 4), (3, 25)])
def test_shallow_routes_agree_with_autodiff(activation, d, n):
    W, b = shallow.random_network(d, n, seed=100 * d + n)
    x = 2 * torch.rand(200, d, generator=gen(n), dtype=F64) - 1
    auto = geometry.ricci_scalar(shallow.feature_map(W, b, activation), x, degenerate="nan")
    cond = condition_number(W, b, x, activation)
    assert bool(auto.isfinite().all())
    # compare where g is well conditioned and |R| is not tiny (errors measured against max(|R|, median |R|));
    # test_gauss_routes_are_accurate_at_badly_conditioned_points covers the rest
    well = (cond < 1e2) & (auto.abs() > 0.1 * auto.abs().median())
    assert int(well.sum()) >= 20
    methods = ["tensor", "gauss"] + (["closed_form_2d", "triple_sum"] if d == 2 else [])
    for method in methods:
        R = shallow.ricci_scalar(W, b, x, activation, method=method)
        assert close(R, auto, 1e-9, well) <= 1e-9, method
    if n <= 4:  # the Christoffel route (fourth derivatives) agrees too
        chris = geometry.ricci_scalar(shallow.feature_map(W, b, activation), x[:40], method="christoffel")
        assert close(chris, auto[:40], 1e-9, well[:40]) <= 1e-9


def mp_ricci_shallow(W, b, x, activation, dps=50):
    """Reference: the tensor formula in `dps`-digit arithmetic (mpmath), one point."""
    mpmath.mp.dps = dps
    n, d = W.shape
    Wm = [[mpmath.mpf(float(W[j, a])) for a in range(d)] for j in range(n)]
    g = mpmath.zeros(d, d)
    T = [[[mpmath.mpf(0)] * d for _ in range(d)] for _ in range(d)]
    for j in range(n):
        z = sum(Wm[j][a] * mpmath.mpf(float(x[a])) for a in range(d)) + mpmath.mpf(float(b[j]))
        assert activation == "erf"
        p1 = 2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-z * z)
        p2 = -2 * z * p1
        for m in range(d):
            for k in range(d):
                g[m, k] += p1 * p1 * Wm[j][m] * Wm[j][k] / n
                for a in range(d):
                    T[a][m][k] += p1 * p2 * Wm[j][a] * Wm[j][m] * Wm[j][k] / n
    G = g**-1
    t = [sum(G[m, k] * T[a][m][k] for m in range(d) for k in range(d)) for a in range(d)]
    Tup = sum(G[a, a2] * G[m, m2] * G[k, k2] * T[a][m][k] * T[a2][m2][k2]
              for a in range(d) for m in range(d) for k in range(d)
              for a2 in range(d) for m2 in range(d) for k2 in range(d))
    return float(Tup - sum(G[a, c] * t[a] * t[c] for a in range(d) for c in range(d)))


def test_gauss_routes_are_accurate_at_badly_conditioned_points():
    """Where g is nearly singular the tensor contraction loses digits; the Gauss routes stay accurate (50 digits)."""
    W, b = shallow.random_network(2, 3, seed=5)
    x = torch.randn(50, 2, generator=gen(1), dtype=F64)
    cond = condition_number(W, b, x, "erf")
    pick = torch.nonzero((cond > 1e3) & (cond < 1e10)).flatten()
    assert pick.numel() >= 5 and float(cond[pick].max()) > 1e6
    ref = torch.tensor([mp_ricci_shallow(W, b, x[i], "erf") for i in pick.tolist()], dtype=F64)
    auto = geometry.ricci_scalar(shallow.feature_map(W, b, "erf"), x[pick])
    closed = shallow.ricci_scalar(W, b, x[pick], "erf", method="gauss")
    assert close(auto, ref, 1e-8) <= 1e-8
    assert close(closed, ref, 1e-8) <= 1e-8
    tensor = shallow.ricci_scalar(W, b, x[pick], "erf", method="tensor")
    assert close(tensor, ref, 1e-3) <= 1e-3  # still usable for plots, but far from round-off


@pytest.mark.parametrize("activation", ["erf", "sigmoid", "tanh"])
def test_two_hidden_units_in_two_dimensions_are_flat(activation):
    x = 2 * torch.rand(100, 2, generator=gen(16), dtype=F64) - 1
    W3, b3 = shallow.random_network(2, 3, seed=17)
    typical = shallow.ricci_scalar(W3, b3, x, activation).abs().median()
    W2, b2 = W3[:2], b3[:2]
    for method, tol in (("tensor", 1e-8), ("gauss", 1e-12), ("closed_form_2d", 1e-9), ("triple_sum", 1e-12)):
        R = shallow.ricci_scalar(W2, b2, x, activation, method=method)
        assert float(R.abs().max()) <= tol * float(typical), method
    R = geometry.ricci_scalar(shallow.feature_map(W2, b2, activation), x)
    assert float(R.abs().max()) <= 1e-12 * float(typical)


def test_chunking_does_not_change_results():
    W, b = shallow.random_network(2, 30, seed=18)
    x = torch.randn(37, 2, generator=gen(19), dtype=F64)
    f = shallow.feature_map(W, b, "sigmoid")
    full = geometry.ricci_scalar(f, x, chunk_size=37)
    assert rel_err(geometry.ricci_scalar(f, x, chunk_size=5), full) < 1e-14
    assert rel_err(geometry.ricci_scalar(f, x), full) < 1e-14
    for method in ("tensor", "gauss", "closed_form_2d", "triple_sum"):
        a = shallow.ricci_scalar(W, b, x, "sigmoid", method=method)
        assert rel_err(shallow.ricci_scalar(W, b, x, "sigmoid", method=method, chunk_size=4), a) < 1e-14


def test_module_and_float32_inputs():
    torch.manual_seed(1)
    net = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 6), torch.nn.Tanh())
    x = torch.randn(6, 3, generator=gen(20))  # float32; computed in float64
    a = geometry.ricci_scalar(net, x).detach()
    assert a.dtype == F64
    assert rel_err(geometry.ricci_scalar(net, x, method="christoffel").detach(), a) < 1e-10
    assert next(net.parameters()).dtype == torch.float32


@settings(max_examples=15, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**31 - 1), angle=st.floats(0, 2 * math.pi), s1=st.floats(0.3, 3), s2=st.floats(0.3, 3))
def test_ricci_scalar_is_a_scalar_under_linear_changes_of_coordinates(seed, angle, s1, s2):
    """R of f(A u + c) at u equals R of f at x = A u + c (A = rotation times scaling)."""
    W, b = shallow.random_network(2, 6, seed=seed % 1000)
    f = shallow.feature_map(W, b, "tanh")
    rot = torch.tensor([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]], dtype=F64)
    A = rot @ torch.diag(torch.tensor([s1, s2], dtype=F64))
    c = torch.randn(2, generator=gen(seed + 1), dtype=F64)
    u = torch.randn(10, 2, generator=gen(seed + 2), dtype=F64)
    x = u @ A.T + c
    composed = lambda v: f(v @ A.T + c)  # noqa: E731
    lam_x = torch.linalg.eigvalsh(geometry.metric(f, x))
    lam_u = torch.linalg.eigvalsh(geometry.metric(composed, u))
    keep = (lam_x[:, 1] < 1e3 * lam_x[:, 0]) & (lam_u[:, 1] < 1e3 * lam_u[:, 0])
    want = geometry.ricci_scalar(f, x, degenerate="nan")
    got = geometry.ricci_scalar(composed, u, degenerate="nan")
    if bool(keep.any()):
        assert close(got, want, 1e-9, keep) <= 1e-9


# ------------------------------------------------------------------------------------------------------------
# bad input, documentation
# ------------------------------------------------------------------------------------------------------------


def test_bad_input_names_the_argument():
    x = torch.randn(4, 2, dtype=F64)
    with pytest.raises(ValueError, match="MAX_CURVATURE_DIM = 8.*paperlib.shallow.ricci_scalar"):
        geometry.ricci_scalar(lambda v: v, torch.randn(2, 9, dtype=F64))
    with pytest.raises(ValueError, match="d <= MAX_CURVATURE_DIM"):
        geometry.ricci_scalar_of_metric(lambda p: torch.eye(9, dtype=p.dtype), torch.randn(2, 9, dtype=F64))
    with pytest.raises(ValueError, match="method"):
        geometry.ricci_scalar(sphere2, x, method="finite_differences")
    with pytest.raises(ValueError, match="degenerate"):
        geometry.ricci_scalar(sphere2, x, degenerate="ignore")
    with pytest.raises(ValueError, match="chunk_size"):
        geometry.ricci_scalar(sphere2, x, chunk_size=0)
    with pytest.raises(ValueError, match="rtol"):
        geometry.ricci_scalar(sphere2, x, rtol=-1.0)
    with pytest.raises(TypeError, match="f must be"):
        geometry.ricci_scalar("sphere", x)
    with pytest.raises(TypeError, match="gfun must be"):
        geometry.ricci_scalar_of_metric(None, x)
    with pytest.raises(ValueError, match="gfun must map"):
        geometry.ricci_scalar_of_metric(lambda p: torch.eye(3, dtype=p.dtype), x)
    with pytest.raises(ValueError, match="x must have shape"):
        geometry.ricci_scalar_of_metric(lambda p: torch.eye(2, dtype=p.dtype), torch.randn(2, 2, 1, dtype=F64))
    with pytest.raises(ValueError, match="x must have a batch"):
        geometry.ricci_scalar(sphere2, torch.randn(2, dtype=F64))
    with pytest.raises(TypeError, match="x must be"):
        geometry.christoffel_symbols(sphere2, [[0.1, 0.2]])
    W, b = shallow.random_network(2, 5, seed=0)
    with pytest.raises(ValueError, match="method"):
        shallow.ricci_scalar(W, b, x, "erf", method="autodiff")
    with pytest.raises(ValueError, match="activation"):
        shallow.ricci_scalar(W, b, x, "swish")
    with pytest.raises(ValueError, match="x must have last dimension 2"):
        shallow.ricci_scalar(W, b, torch.randn(4, 3, dtype=F64), "erf")
    W3, b3 = shallow.random_network(3, 5, seed=0)
    for method in ("closed_form_2d", "triple_sum"):
        with pytest.raises(ValueError, match="needs d = 2"):
            shallow.ricci_scalar(W3, b3, torch.randn(4, 3, dtype=F64), "erf", method=method)


def test_public_functions_are_documented_and_typed():
    names = ["christoffel_symbols", "riemann_tensor", "ricci_tensor", "ricci_scalar", "christoffel_symbols_of_metric",
             "riemann_tensor_of_metric", "ricci_tensor_of_metric", "ricci_scalar_of_metric"]
    for name in names:
        assert name in geometry.__all__
    assert "ricci_scalar" in shallow.__all__ and geometry.MAX_CURVATURE_DIM == 8
    for fn in [getattr(geometry, n) for n in names] + [shallow.ricci_scalar]:
        doc = inspect.getdoc(fn)
        assert doc and "Returns:" in doc and "(B," in doc and "{args}" not in doc, fn.__name__
        hints = inspect.get_annotations(fn)
        assert "return" in hints and "x" in hints, fn.__name__
    for name in ("ricci_scalar", "riemann_tensor", "ricci_scalar_of_metric"):
        assert "2/r^2" in inspect.getdoc(getattr(geometry, name))
    assert "2/r^2" in inspect.getdoc(shallow.ricci_scalar)
    assert set(activations.PIECEWISE_LINEAR) <= set(activations.NAMES)
