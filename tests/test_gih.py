"""paperlib.gih: the average geometry of random networks, its Monte-Carlo error, the routes, Delta^0; the circles."""

import functools
import inspect
import math

import pytest
import torch
from torch import nn

from paperlib import data, gih, models

SMALL_RESNET = {"depths": (1, 1, 1, 1), "width": 2, "image_size": 8}


def _average_geometry(*args, **kw):
    """gih.average_geometry on the CPU: the tests compare with references computed on the CPU, and the default
    device, "auto", takes CUDA when present."""
    return gih.average_geometry(*args, **{"device": "cpu", **kw})


def _evolution_at_init(*args, **kw):
    """gih.evolution_at_init on the CPU (as _average_geometry)."""
    return gih.evolution_at_init(*args, **{"device": "cpu", **kw})


def test_lenet_is_lenet5():
    net = models.LeNet(1, 10)
    assert sum(p.numel() for p in net.parameters()) == 61_706  # the classic LeNet-5 count
    assert net(torch.zeros(3, 1, 32, 32)).shape == (3, 10)
    with pytest.raises(ValueError, match="32, 32"):
        net(torch.zeros(3, 1, 28, 28))


def test_stacked_parameters_follow_the_default_initialisation_law():
    template = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(40, 5))
    p = gih.stacked_parameters(template, list(range(3000)))
    assert p["0.weight"].shape == (3000, 4, 3, 3, 3) and p["3.bias"].shape == (3000, 5)
    for name, fan_in in (("0.weight", 27), ("0.bias", 27), ("3.weight", 40), ("3.bias", 40)):
        v, bound = p[name].double(), 1 / math.sqrt(fan_in)
        assert v.abs().max() <= bound
        n = v.numel()
        assert abs(v.mean()) < 5 * bound / math.sqrt(3 * n)  # U(-b, b): mean 0, variance b^2/3
        assert abs(v.var() / (bound ** 2 / 3) - 1) < 5 * math.sqrt(0.8 / n)  # var of x^2 for U is 4b^4/45
    assert torch.equal(p["1.weight"], torch.ones(3000, 4)) and torch.equal(p["1.bias"], torch.zeros(3000, 4))
    # the same network whatever the other seeds
    assert torch.equal(gih.stacked_parameters(template, [7])["3.weight"][0], p["3.weight"][7])
    with pytest.raises(NotImplementedError, match="PReLU"):
        gih.stacked_parameters(nn.Sequential(nn.Linear(2, 2), nn.PReLU()), [0])


def _explicit(rows: list[torch.Tensor]) -> tuple[torch.Tensor, float]:
    A = torch.stack([r.T @ r / r.shape[0] for r in rows])
    G = A.mean(0)
    n = len(rows)
    return G, math.sqrt(((A - G) ** 2).sum() / (n * (n - 1)))


def test_monte_carlo_error_formula_equals_the_explicit_one():
    """The Gram-matrix formula of the standard error equals the one from every network's D x D matrix (a factory:
    network k is torch.manual_seed(k); factory())."""
    factory = functools.partial(gih.network, "mlp", image_size=4, hidden=(6,))
    est = _average_geometry(factory, 12, in_shape=(1, 4, 4), inputs=5, route="modules", dtype=torch.float64,
                               progress=False)
    rows = []
    for k in range(12):
        torch.manual_seed(k)
        net = gih.network("mlp", image_size=4, hidden=(6,)).double()
        x = torch.randn(5, 1, 4, 4, generator=torch.Generator().manual_seed(k + 1_000_003 // 2), dtype=torch.float64)
        rows.append(gih.input_gradients(net, x * 1e-3))
    G, se = _explicit(rows)
    torch.testing.assert_close(est.G, G, rtol=1e-12, atol=0)
    assert est.standard_error == pytest.approx(se, rel=1e-9)


def test_linear_model_geometry_is_known_exactly_and_the_error_is_calibrated():
    """f = W x + b with W ~ U(+-1/sqrt(D)): the mean output over C logits has G = I / (3 D C). Over 20 independent
    estimates the RMS error matches the reported standard error."""
    d, c = 16, 3
    truth = torch.eye(d, dtype=torch.float64) / (3 * d * c)
    errors, ses = [], []
    for seed in range(20):
        est = _average_geometry("linear", 400, inputs=2, route="stacked", seed=seed, image_size=4, num_classes=c,
                                   progress=False)
        errors.append(float(torch.linalg.matrix_norm(est.G - truth)))
        ses.append(est.standard_error)
    rms, se = math.sqrt(sum(e * e for e in errors) / 20), sum(ses) / 20
    assert 0.7 < rms / se < 1.4, (rms, se)
    assert max(errors) < 4 * se


@pytest.mark.parametrize("arch,kw", [("mlp", {"image_size": 6, "hidden": (20, 20)}), ("resnet", SMALL_RESNET)])
def test_routes_agree_within_monte_carlo_error(arch, kw):
    a = _average_geometry(arch, 300, inputs=1, route="modules", progress=False, **kw)
    b = _average_geometry(arch, 300, inputs=1, route="stacked", seed=1, progress=False, **kw)
    gap = float(torch.linalg.matrix_norm(a.G - b.G))
    assert gap < 4 * math.hypot(a.standard_error, b.standard_error), (gap, a.standard_error, b.standard_error)
    # the same seed: both routes evaluate the very same networks (stacked_parameters), so they agree to rounding
    one = _average_geometry(arch, 40, inputs=2, route="modules", seed=1, progress=False, **kw)
    stacked = _average_geometry(arch, 40, inputs=2, route="stacked", seed=1, progress=False, **kw)
    torch.testing.assert_close(one.G, stacked.G, rtol=1e-4, atol=1e-6 * float(stacked.G.abs().max()))
    # reproducible, and the same networks whatever the chunking
    c = _average_geometry(arch, 300, inputs=1, route="stacked", seed=1, chunk=7, progress=False, **kw)
    torch.testing.assert_close(c.G, b.G, rtol=1e-5, atol=1e-12)


def test_mean_output_is_the_per_logit_average_over_classes():
    """Cross terms between logits vanish at initialisation: G(mean) = G(logits) / C."""
    kw = {"image_size": 6, "hidden": (30,), "num_classes": 4, "progress": False, "inputs": 1}
    mean = _average_geometry("mlp", 2000, output="mean", **kw)
    logits = _average_geometry("mlp", 2000, output="logits", seed=1, **kw)
    gap = float(torch.linalg.matrix_norm(mean.G - logits.G / 4))
    assert gap < 4 * math.hypot(mean.standard_error, logits.standard_error / 4)
    assert gap < 0.2 * float(torch.linalg.matrix_norm(mean.G))


def test_mlp_is_isotropic_and_a_cnn_is_not():
    mlp = _average_geometry("mlp", 3000, inputs=1, image_size=8, hidden=(50, 50), progress=False)
    cnn = _average_geometry("resnet", 3000, inputs=1, progress=False, **SMALL_RESNET)
    assert mlp.isotropy_ratio < 1.3
    assert cnn.isotropy_ratio > 5
    assert cnn.participation_ratio < 0.5 * mlp.participation_ratio


def test_authors_scale_and_one_input_per_network():
    """The authors' rows, grad_x of output.mean() over a batch of B inputs, are ours divided by B."""
    torch.manual_seed(0)
    net = gih.network("mlp", image_size=4, hidden=(8,), num_classes=3)
    x = (torch.randn(6, 1, 4, 4) * 1e-3).requires_grad_(True)
    (theirs,) = torch.autograd.grad(net(x).mean(), x)
    torch.testing.assert_close(gih.input_gradients(net, x) / 6, theirs.flatten(1))
    # sigma_x = 1e-3: the inputs of one network are redundant, 1 or 32 per network give the same G
    one = _average_geometry("mlp", 500, inputs=1, image_size=4, hidden=(8,), progress=False)
    many = _average_geometry("mlp", 500, inputs=32, image_size=4, hidden=(8,), progress=False)
    assert float(torch.linalg.matrix_norm(one.G - many.G)) < 1e-3 * float(torch.linalg.matrix_norm(one.G))


def test_combine_is_the_estimate_over_all_networks():
    kw = {"image_size": 4, "hidden": (8,), "inputs": 3, "route": "stacked", "progress": False}
    a = _average_geometry("mlp", 30, **kw)
    b = _average_geometry("mlp", 10, seed=1, **kw)
    both = gih.combine([a, b])
    assert both.networks == 40
    torch.testing.assert_close(both.G, (30 * a.G + 10 * b.G) / 40)
    with pytest.raises(ValueError, match="share"):
        gih.combine([a, _average_geometry("mlp", 10, **{**kw, "inputs": 2})])


def test_linear_evolution_is_minus_two_sigma_squared_S():
    """f = w.x, w ~ U(+-1/sqrt(D)) (variance 1/(3D)): Delta^0 = -2 sigma^2 S = -(2/sigma^2) G S G exactly
    (paperlib.symbolic.linear_average_geometry); the twins cancel the labels' terms."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(10, 1, 3, 3, generator=gen)
    y = torch.sign(torch.randn(10, generator=gen))
    ev = _evolution_at_init("linear", x, y, 3000, inputs=2, image_size=3, num_classes=1, dtype=torch.float64)
    sigma2 = 1 / (3 * 9)
    gap = float(torch.linalg.matrix_norm(ev.delta + 2 * sigma2 * ev.S))
    assert gap < 4 * ev.standard_error
    torch.testing.assert_close(ev.G, torch.eye(9, dtype=torch.float64) * sigma2, atol=0.15 * sigma2, rtol=0)
    assert ev.alignment(ev.GSG) < -0.97


def test_matrix_helpers():
    A = torch.diag(torch.tensor([3.0, 1.0, 0.5])).double()
    assert gih.alignment(A, 2 * A) == pytest.approx(1.0)
    assert gih.alignment(A, -A) == pytest.approx(-1.0)
    # the elementwise traces equal the matrix-product definition, also for non-symmetric matrices
    gen = torch.Generator().manual_seed(5)
    M, N = (torch.randn(6, 6, generator=gen, dtype=torch.float64) for _ in range(2))
    P, Q = M @ M.T + 0.3 * N, M.T @ M - 0.3 * N.T  # non-symmetric, with positive tr(P^2) and tr(Q^2)
    expected = torch.trace(P @ Q) / torch.sqrt(torch.trace(P @ P) * torch.trace(Q @ Q))
    assert gih.alignment(P, Q) == pytest.approx(float(expected), rel=1e-12)
    assert gih.participation_ratio(torch.eye(7)) == pytest.approx(7.0)
    v = torch.randn(7, 1).double()
    assert gih.participation_ratio(v @ v.T) == pytest.approx(1.0)
    R = gih.rotated_like(A, seed=3)
    torch.testing.assert_close(torch.linalg.eigvalsh(R), torch.tensor([0.5, 1.0, 3.0]).double())
    assert not torch.allclose(R, A)
    img = torch.randn(2, 8, 8).double()
    P = gih.power_spectrum(img)
    torch.testing.assert_close(P.sum((-2, -1)), 64 * img.square().sum((-2, -1)))  # Parseval
    flat = gih.power_spectrum(torch.ones(4, 4))
    assert flat[2, 2] == 256 and flat.sum() == 256  # all power at the centred zero frequency
    assert gih.eigen_images(torch.eye(16)[:, :3], (1, 4, 4)).shape == (3, 1, 4, 4)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="architecture"):
        _average_geometry("vgg", 2)
    with pytest.raises(ValueError, match="networks"):
        _average_geometry("mlp", 0)
    with pytest.raises(ValueError, match="sigma_x"):
        _average_geometry("mlp", 2, sigma_x=0)
    with pytest.raises(ValueError, match="output"):
        _average_geometry("mlp", 2, output="max")
    with pytest.raises(ValueError, match="route"):
        _average_geometry("mlp", 2, route="fast")
    with pytest.raises(TypeError, match="in_shape"):
        _average_geometry(lambda: nn.Linear(4, 1), 2)
    x = torch.zeros(4, 1, 3, 3)
    with pytest.raises(ValueError, match="x must"):
        _evolution_at_init("linear", x, torch.zeros(4), 2, image_size=4)
    with pytest.raises(ValueError, match="y must"):
        _evolution_at_init("linear", x, torch.zeros(5), 2, image_size=3)
    with pytest.raises(ValueError, match="A must"):
        gih.alignment(torch.zeros(2, 3), torch.zeros(2, 2))


def test_a_user_factory_works_on_both_routes():
    def factory():
        return nn.Sequential(nn.Flatten(), nn.Linear(12, 5), nn.Tanh(), nn.Linear(5, 2))
    a = _average_geometry(factory, 50, in_shape=(3, 2, 2), route="modules", progress=False)
    b = _average_geometry(factory, 50, in_shape=(3, 2, 2), route="stacked", progress=False)
    assert a.G.shape == b.G.shape == (12, 12)


def test_circles_lie_on_their_plane():
    u1, u2 = torch.randn(1, 6, 6), torch.randn(1, 6, 6)
    x, y, coords = data.gih_circles(u1, u2, 400, r_outer=3.0, r_inner=0.25, noise=1.0, seed=0)
    assert x.shape == (400, 1, 6, 6) and int(y.sum()) == 200
    e = data.orthonormal_plane(u1, u2)
    torch.testing.assert_close(e @ e.T, torch.eye(2, dtype=torch.float64))
    torch.testing.assert_close(x.flatten(1).double() @ e.T, coords.double(), atol=1e-5, rtol=0)
    radius = coords.norm(dim=1)
    torch.testing.assert_close(radius, torch.where(y == 1, 3.0, 0.25), atol=1e-5, rtol=0)
    off_plane = x.flatten(1).double() - coords.double() @ e
    assert 0.9 < float(off_plane.square().sum(1).mean() / 34) < 1.1  # noise sigma = 1 in the 34 other directions
    with pytest.raises(ValueError, match="even"):
        data.gih_circles(u1, u2, 5)
    with pytest.raises(ValueError, match="plane"):
        data.gih_circles(u1, 2 * u1, 4)
    with pytest.raises(ValueError, match="r_inner"):
        data.gih_circles(u1, u2, 4, r_outer=0.2, r_inner=0.25)


def test_the_shortcut_circles_carry_the_label_twice_and_flip_only_the_linear_feature():
    u1, u2, u3 = torch.randn(1, 6, 6), torch.randn(1, 6, 6), torch.randn(1, 6, 6)
    x, y = data.gih_shortcut(u1, u2, u3, 400, epsilon=1.0, r_outer=1.5, seed=3)
    xf, yf = data.gih_shortcut(u1, u2, u3, 400, epsilon=1.0, r_outer=1.5, seed=3, flip=True)
    assert torch.equal(y, yf) and int(y.sum()) == 200
    e = data.orthonormal_plane(u1, u2)
    c = u3.flatten().double() - (u3.flatten().double() @ e.T) @ e
    c = c / c.norm()
    sign = (2 * y - 1).double()
    torch.testing.assert_close(x.flatten(1).double() @ c, 0.5 * sign, atol=1e-6, rtol=0)  # +-epsilon/2 along u3
    torch.testing.assert_close(xf.flatten(1).double() @ c, -0.5 * sign, atol=1e-6, rtol=0)
    # the circles and the noise are the same points with and without the flip
    _, _, coords = data.gih_circles(u1, u2, 400, r_outer=1.5, seed=3)
    torch.testing.assert_close(x.flatten(1).double() @ e.T, coords.double(), atol=1e-5, rtol=0)
    torch.testing.assert_close(x.flatten(1) - xf.flatten(1), (sign[:, None] * c).float(), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="plane"):
        data.gih_shortcut(u1, u2, u1 + u2, 4)


def test_gaussian_data_follow_the_geometry_or_its_reversed_spectrum():
    Q, _ = torch.linalg.qr(torch.randn(5, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64))
    lam = torch.tensor([8.0, 4.0, 2.0, 1.0, 0.0], dtype=torch.float64)
    G = Q @ torch.diag(lam) @ Q.T
    c = 5 / lam.sum()
    for reverse, mu in ((False, lam), (True, lam.flip(0))):
        x = data.gih_gaussian(G, 200_000, reverse=reverse, seed=1, dtype=torch.float64)
        cov = x.T @ x / len(x)
        torch.testing.assert_close(cov, c * Q @ torch.diag(mu) @ Q.T, atol=0.03, rtol=0)  # ~5 SE at 2e5 samples
        assert abs(float(x.square().sum(1).mean()) - 5) < 0.05  # E|x|^2 = D either way
    x = data.gih_gaussian(G, 3, in_shape=(1, 5, 1))
    assert x.shape == (3, 1, 5, 1)
    with pytest.raises(ValueError, match="in_shape"):
        data.gih_gaussian(G, 3, in_shape=(2, 2))
    with pytest.raises(ValueError, match="positive"):
        data.gih_gaussian(torch.zeros(3, 3), 3)
    # a decomposition computed once gives the same draws as G itself; a wrong one is refused
    values, vectors = torch.linalg.eigh(G)
    eigen = (values.flip(0), vectors.flip(1))
    for reverse in (False, True):
        assert torch.equal(data.gih_gaussian(G, 7, reverse=reverse, seed=3, eigen=eigen),
                           data.gih_gaussian(G, 7, reverse=reverse, seed=3))
    with pytest.raises(ValueError, match="eigen"):
        data.gih_gaussian(G, 3, eigen=(values, vectors))  # ascending
    with pytest.raises(ValueError, match="eigen"):
        data.gih_gaussian(G, 3, eigen=(values[:4].flip(0), vectors))


# -- a user's own factory: its own initialisation, on every route -----------------------------------------------------


def _mlp(custom: bool = True) -> nn.Module:
    """16 -> 12 -> 2, tanh; ``custom``: N(0, 1) weights and zero biases (PyTorch's default law otherwise)."""
    net = nn.Sequential(nn.Flatten(), nn.Linear(16, 12), nn.Tanh(), nn.Linear(12, 2))
    if custom:
        for m in net:
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight)
                nn.init.zeros_(m.bias)
    return net


def _cnn(custom: bool = True) -> nn.Module:
    """Two 3 x 3 convolutions on 2 x 6 x 6 images, ReLU; ``custom``: kaiming_normal_ convolution weights."""
    net = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(),
                        nn.Flatten(), nn.Linear(4 * 36, 2))
    if custom:
        for m in net:
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
    return net


def _seed(seed: int, k: int) -> int:
    return seed * 1_000_003 + k  # network k's seed (paperlib.gih's module docstring)


def _points(s: int, inputs: int, in_shape, dtype=torch.float32) -> torch.Tensor:
    gen = torch.Generator().manual_seed(s + 1_000_003 // 2)  # the inputs of network s
    return torch.randn(inputs, *in_shape, generator=gen, dtype=dtype) * 1e-3


def _direct(factory, in_shape, n: int, *, seed: int = 0, inputs: int = 1) -> tuple[torch.Tensor, float]:
    """G and its standard error one network at a time with plain autograd: network k is torch.manual_seed(s_k);
    factory(), the rows are grad_x of the mean output."""
    A = []
    with torch.random.fork_rng(devices=[]):
        for k in range(n):
            s = _seed(seed, k)
            torch.manual_seed(s)
            net = factory().eval()
            x = _points(s, inputs, in_shape).requires_grad_(True)
            (g,) = torch.autograd.grad(net(x).mean(-1).sum(), x)
            g = g.flatten(1).double()
            A.append(g.T @ g / inputs)
    A = torch.stack(A)
    G = A.mean(0)
    return G, math.sqrt(float(((A - G) ** 2).sum()) / (n * (n - 1)))


@pytest.mark.parametrize("make,in_shape,n,factor", [(_mlp, (1, 4, 4), 200, 100), (_cnn, (2, 6, 6), 60, 10)])
def test_a_custom_initialised_factory_is_measured_with_its_own_networks(make, in_shape, n, factor):
    """N(0, 1) MLP and Kaiming CNN: every route measures the factory's own networks (not PyTorch's default law, which
    route='stacked' used to redraw): equal to the direct estimate from the same networks to rounding, and within
    Monte-Carlo error of one from other networks; the default-initialised twin architecture is far off."""
    G, se = _direct(make, in_shape, n)
    other, other_se = _direct(make, in_shape, n, seed=1)
    scale = float(torch.linalg.matrix_norm(G))
    for route in ("modules", "stacked", "auto"):
        est = _average_geometry(make, n, in_shape=in_shape, inputs=1, route=route, progress=False)
        assert est.networks == n and est.route in ("modules", "stacked")
        torch.testing.assert_close(est.G, G, rtol=1e-4, atol=1e-5 * scale, msg=route)
        assert est.standard_error == pytest.approx(se, rel=1e-3)
        gap = float(torch.linalg.matrix_norm(est.G - other))
        assert gap < 4 * math.hypot(est.standard_error, other_se), (route, gap, est.standard_error, other_se)
    default = _average_geometry(functools.partial(make, custom=False), n, in_shape=in_shape, inputs=1,
                                   route="stacked", progress=False)
    assert torch.trace(G) > factor * torch.trace(default.G)  # a default-law draw would be this far off


def test_stacking_needs_one_structure():
    """A factory whose networks differ in shape cannot be stacked: a ValueError naming route='modules', which works;
    route='auto' falls back to it."""
    def varying():  # a random width: 3 or 4, drawn with the network
        h = 3 + int(torch.randint(0, 2, ()))
        return nn.Sequential(nn.Flatten(), nn.Linear(4, h), nn.Tanh(), nn.Linear(h, 2))
    kw = {"in_shape": (1, 2, 2), "inputs": 1, "progress": False}
    with pytest.raises(ValueError, match="route='modules'"):
        _average_geometry(varying, 6, route="stacked", **kw)
    mod = _average_geometry(varying, 6, route="modules", **kw)
    auto = _average_geometry(varying, 6, route="auto", **kw)
    assert auto.route == "modules"
    torch.testing.assert_close(auto.G, mod.G, rtol=1e-12, atol=0)


def _flow_derivative(net: nn.Module, xs: torch.Tensor, X: torch.Tensor, Y: torch.Tensor) -> tuple:
    """(G_k, Delta_k) of one float64 network by plain autograd: Delta_k = d/dt (1/B) sum_r g_r g_r^T along
    theta' = -grad L, L = sum_i (mean output(x_i) - y_i)^2 / 2, by a central difference (step 1e-6 per unit flow)."""
    params = list(net.parameters())
    loss = 0.5 * (net(X).mean(-1) - Y).square().sum()
    v = torch.autograd.grad(loss, params)

    def A() -> torch.Tensor:
        x = xs.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(net(x).mean(-1).sum(), x)
        g = g.flatten(1)
        return g.T @ g / g.shape[0]
    G, eps = A(), 1e-6 / math.sqrt(sum(float(t.square().sum()) for t in v))
    with torch.no_grad():
        for p, t in zip(params, v):
            p -= eps * t
    ahead = A()
    with torch.no_grad():
        for p, t in zip(params, v):
            p += 2 * eps * t
    behind = A()
    return G, (ahead - behind) / (2 * eps)


def test_evolution_of_a_factory_uses_its_own_networks_without_twins():
    """evolution_at_init with the N(0, 1) MLP: its own networks (not the default law), no antithetic twins by
    default (networks counts networks), equal to a finite-difference Delta^0 of the same networks."""
    gen = torch.Generator().manual_seed(5)
    X = torch.randn(6, 1, 4, 4, generator=gen, dtype=torch.float64)
    Y = torch.where(torch.rand(6, generator=gen) < 0.5, -1.0, 1.0).double()
    n, kw = 8, {"in_shape": (1, 4, 4), "inputs": 2, "chunk": 3, "dtype": torch.float64}
    ev = _evolution_at_init(_mlp, X, Y, n, **kw)
    assert ev.antithetic is False and ev.networks == n
    assert torch.equal(ev.delta, _evolution_at_init(_mlp, X, Y, n, antithetic=False, **kw).delta)
    Gs, deltas = [], []
    with torch.random.fork_rng(devices=[]):
        for k in range(n):
            torch.manual_seed(_seed(0, k))
            G_k, D_k = _flow_derivative(_mlp().double(), _points(_seed(0, k), 2, (1, 4, 4), torch.float64), X, Y)
            Gs.append(G_k)
            deltas.append(D_k)
    delta, G = torch.stack(deltas).mean(0), torch.stack(Gs).mean(0)
    torch.testing.assert_close(ev.G, G, rtol=1e-9, atol=1e-12 * float(G.abs().max()))
    torch.testing.assert_close(ev.delta, delta, rtol=0, atol=1e-5 * float(delta.abs().max()))
    D = torch.stack(deltas)
    assert ev.standard_error == pytest.approx(math.sqrt(float(((D - delta) ** 2).sum()) / (n * (n - 1))), rel=1e-4)
    default = _evolution_at_init(functools.partial(_mlp, custom=False), X, Y, n, **kw)
    assert torch.trace(ev.G) > 100 * torch.trace(default.G)
    # antithetic=True: the caller's statement that the readout's law is symmetric (N(0, 1) is); the same estimand
    twins = _evolution_at_init(_mlp, X, Y, 200, antithetic=True, **{**kw, "chunk": 50})
    lone = _evolution_at_init(_mlp, X, Y, 200, **{**kw, "chunk": 50})
    assert twins.antithetic is True and twins.networks == 200
    gap = float(torch.linalg.matrix_norm(twins.delta - lone.delta))
    assert gap < 4 * math.hypot(twins.standard_error, lone.standard_error)


# -- clear errors, and select= ----------------------------------------------------------------------------------------


class _TwoHeads(nn.Module):
    """The MLP 9 -> 5 -> 2 (tanh) returning (logits, features) or {"logits": ..., "features": ...}."""

    def __init__(self, as_dict: bool = False):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(9, 5), nn.Tanh())
        self.head = nn.Linear(5, 2)
        self.as_dict = as_dict

    def forward(self, x):
        h = self.body(x)
        out = self.head(h)
        return {"logits": out, "features": h} if self.as_dict else (out, h)


def _plain():  # the same layers drawn in the same order: the same networks as _TwoHeads under one seed
    return nn.Sequential(nn.Flatten(), nn.Linear(9, 5), nn.Tanh(), nn.Linear(5, 2))


def test_a_network_with_several_outputs_needs_select_and_it_works():
    kw = {"in_shape": (1, 3, 3), "inputs": 2, "progress": False}
    gen = torch.Generator().manual_seed(0)
    X, Y = torch.randn(4, 1, 3, 3, generator=gen), torch.tensor([1.0, -1.0, 1.0, -1.0])
    for factory, hint, select in ((_TwoHeads, "select=0", 0),
                                  (functools.partial(_TwoHeads, as_dict=True), "select='logits'", "logits")):
        with pytest.raises(TypeError, match=hint):
            _average_geometry(factory, 3, **kw)
        with pytest.raises(TypeError, match=hint):
            _evolution_at_init(factory, X, Y, 3, in_shape=(1, 3, 3))
        for route in ("modules", "stacked"):
            got = _average_geometry(factory, 10, route=route, select=select, **kw)
            want = _average_geometry(_plain, 10, route=route, **kw)
            torch.testing.assert_close(got.G, want.G, rtol=1e-5, atol=0)
        ev = _evolution_at_init(factory, X, Y, 4, in_shape=(1, 3, 3), select=select)
        torch.testing.assert_close(ev.delta, _evolution_at_init(_plain, X, Y, 4, in_shape=(1, 3, 3)).delta)
    with pytest.raises(ValueError, match="select='scores'"):
        _average_geometry(functools.partial(_TwoHeads, as_dict=True), 2, select="scores", **kw)
    with pytest.raises(TypeError, match="select"):
        _average_geometry(_plain, 2, select=0, **kw)


def test_factory_errors_name_the_argument_and_the_fix():
    with pytest.raises(TypeError, match=r"factory \(\) -> nn.Module.*lambda: Sequential"):
        _average_geometry(_mlp(), 2, in_shape=(1, 4, 4))
    with pytest.raises(TypeError, match="factory"):
        _evolution_at_init(_mlp(), torch.zeros(2, 1, 4, 4), torch.zeros(2), 2, in_shape=(1, 4, 4))
    with pytest.raises(TypeError, match="returned a Tensor, not an nn.Module"):
        _average_geometry(lambda: torch.zeros(3), 2, in_shape=(3,))
    with pytest.raises(ValueError, match=r"in_shape=\(1, 5, 5\).*\(1, 1, 5, 5\)") as info:
        _average_geometry(_mlp, 2, in_shape=(1, 5, 5))
    assert isinstance(info.value.__cause__, RuntimeError)  # chained from the network's own error
    with pytest.raises(ValueError, match="in_shape"):
        _evolution_at_init(_mlp, torch.zeros(2, 1, 5, 5), torch.zeros(2), 2, in_shape=(1, 5, 5))
    with pytest.raises(TypeError, match="in_shape is only for a factory"):
        _average_geometry("mlp", 2, in_shape=(1, 32, 32))
    with pytest.raises(TypeError, match="in_shape"):
        _evolution_at_init(_mlp, torch.zeros(2, 1, 4, 4), torch.zeros(2), 2)
    with pytest.raises(TypeError, match="named architecture"):
        _average_geometry(_mlp, 2, in_shape=(1, 4, 4), hidden=(3,))
    x = torch.zeros(4, 1, 4, 4)
    with pytest.raises(TypeError, match="x must be floating.*token ids"):
        _evolution_at_init(_mlp, x.long(), torch.zeros(4), 2, in_shape=(1, 4, 4))
    with pytest.raises(TypeError, match="y must be floating"):
        _evolution_at_init(_mlp, x, torch.zeros(4, dtype=torch.long), 2, in_shape=(1, 4, 4))
    with pytest.raises(TypeError, match="antithetic"):
        _evolution_at_init(_mlp, x, torch.zeros(4), 2, in_shape=(1, 4, 4), antithetic=1)


def test_in_shape_is_an_explicit_keyword_and_the_device_is_automatic():
    for fn in (gih.average_geometry, gih.evolution_at_init):
        params = inspect.signature(fn).parameters
        assert params["in_shape"].kind is inspect.Parameter.KEYWORD_ONLY and params["in_shape"].default is None
        assert params["device"].default == "auto" and params["dtype"].default is torch.float32
        assert params["select"].default is None
    assert inspect.signature(gih.evolution_at_init).parameters["antithetic"].default is None


# -- block statistics: unbiased squared norms, jackknife intervals, anisotropy -------------------------------------


def test_block_product_estimates_the_squared_norm_without_bias():
    """K noisy block estimates of a known matrix: the mean of tr(B_j B_l), j != l, is unbiased for ||M||^2 (the
    split-half product for K = 2), while the squared norm of their mean is inflated by the noise."""
    gen = torch.Generator().manual_seed(0)
    M = torch.diag(torch.tensor([3.0, 1.0, 0.5, 0.0, 0.0, 0.0], dtype=torch.float64))
    truth = float(M.square().sum())
    for k in (2, 8):
        unbiased, plain = [], []
        for _ in range(2000):
            noise = torch.randn(k, 6, 6, generator=gen, dtype=torch.float64) * 1.5
            B = M + (noise + noise.transpose(1, 2)) / 2
            flat = B.flatten(1)
            unbiased.append(gih.unbiased_sq_norm(flat @ flat.T))
            plain.append(float(B.mean(0).square().sum()))
        u = torch.tensor(unbiased)
        assert abs(float(u.mean()) - truth) < 4 * float(u.std()) / math.sqrt(len(u))
        assert float(torch.tensor(plain).mean()) > truth + 1.0  # biased upwards by the noise
    with pytest.raises(ValueError, match="gram"):
        gih.unbiased_sq_norm(torch.ones(1, 1))


def test_jackknife_interval_of_a_mean_is_the_t_interval():
    x = torch.tensor([0.3, 1.2, -0.4, 2.2, 0.9, 1.1], dtype=torch.float64)
    iv = gih.jackknife(lambda keep: float(x[keep].mean()), 6)
    se = float(x.std() / math.sqrt(6))
    assert iv.value == pytest.approx(float(x.mean())) and iv.se == pytest.approx(se)
    assert iv.high - iv.value == pytest.approx(2.5706 * se, rel=1e-4)  # t_{5, 0.975}
    assert format(iv, ".1f") == f"{iv.value:.1f} [{iv.low:.1f}, {iv.high:.1f}]".replace("-0.0", "0.0")
    assert format(gih.Interval(-1e-5, -2e-5, 1.0, 0.1), ".2f") == "0.00 [0.00, 1.00]"  # no "-0.00"
    with pytest.raises(ValueError, match="blocks"):
        gih.jackknife(lambda keep: 0.0, 1)
    P = gih.complement_projector(torch.tensor([1.0, 1.0, 0.0]))
    torch.testing.assert_close(P @ torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64), torch.zeros(3, dtype=torch.float64))


def test_blocks_change_neither_the_networks_nor_the_estimates():
    kw = dict(inputs=1, image_size=4, hidden=(8,), progress=False)
    a = _average_geometry("mlp", 24, **kw)
    b = _average_geometry("mlp", 24, blocks=4, chunk=5, **kw)  # chunks straddle the blocks
    torch.testing.assert_close(a.G, b.G)
    assert a.block_gram is None and b.block_gram.shape == (4, 4) and b.block_trace.shape == (4,)
    parts = [_average_geometry("mlp", 6, **kw)]  # block 0 is networks 0..5
    assert float(b.block_trace[0]) == pytest.approx(float(torch.trace(parts[0].G)), rel=1e-6)
    x, y = torch.randn(6, 1, 3, 3), torch.ones(6)
    e1 = _evolution_at_init("linear", x, y, 12, image_size=3, num_classes=1)
    e4 = _evolution_at_init("linear", x, y, 12, image_size=3, num_classes=1, blocks=4, chunk=5)
    torch.testing.assert_close(e1.delta, e4.delta)
    torch.testing.assert_close(e4.blocks.mean(0), e4.delta)
    assert e1.blocks is None
    with pytest.raises(ValueError, match="blocks"):
        e1.alignment_interval(e1.S)
    with pytest.raises(ValueError, match="blocks"):
        _evolution_at_init("linear", x, y, 2, image_size=3, blocks=3)


def test_isotropy_test_has_power_against_a_known_anisotropy():
    """The MLP's G is isotropic (anisotropic fraction 0 within its interval); the same MLP behind a fixed input
    scaling, with the same number of networks, has the known fraction 0.25 and the test rejects isotropy."""
    from paperlib.chapters.invariance import control_scale, scaled_mlp
    kw = dict(inputs=1, progress=False, blocks=8, activation="gelu")
    mlp = _average_geometry("mlp", 512, **kw)
    scale = control_scale(0.25)
    l2 = scale.flatten().double().square()
    assert float(((l2 - l2.mean()).square().sum() / l2.square().sum())) == pytest.approx(0.25)
    control = _average_geometry(functools.partial(scaled_mlp, scale, activation="gelu"), 512, in_shape=(1, 32, 32),
                                route="stacked", **{k: v for k, v in kw.items() if k != "activation"})
    a, c = mlp.anisotropy_interval(), control.anisotropy_interval()
    assert a.low < 0.0 < a.high and a.high < 0.05
    assert c.low > 0.15 and abs(c.value - 0.25) < 3 * c.se + 0.02
    pr = mlp.participation_interval()
    assert pr.low < 1024 < pr.high + 5 and mlp.participation_ratio < pr.low  # noise lowers the plain ratio


def test_debiased_alignment_of_the_linear_model_is_minus_one_within_its_interval():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(10, 1, 3, 3, generator=gen)
    y = torch.sign(torch.randn(10, generator=gen))
    ev = _evolution_at_init("linear", x, y, 800, image_size=3, num_classes=1, blocks=10, dtype=torch.float64)
    iv = ev.alignment_interval(ev.S)
    assert iv.low < -1.0 < iv.high and iv.high - iv.low < 0.3
    assert ev.alignment(ev.S) == pytest.approx(iv.value)
    assert abs(ev.raw_alignment(ev.S)) < abs(iv.value) + 1e-9  # the raw value is pulled towards 0
    top = torch.linalg.eigh(ev.S)[1][:, -1]
    beyond = ev.alignment_interval(ev.S, project=top)
    assert beyond.low < -1.0 < beyond.high
    diff = ev.alignment_interval(ev.S, minus=2 * ev.S)
    assert diff.value == pytest.approx(0.0, abs=1e-12)
