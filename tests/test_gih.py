"""paperlib.gih: the average geometry of random networks, its Monte-Carlo error, the routes, Delta^0; the circles."""

import math

import pytest
import torch
from torch import nn

from paperlib import data, gih, models

SMALL_RESNET = {"depths": (1, 1, 1, 1), "width": 2, "image_size": 8}


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
    """The Gram-matrix formula of the standard error equals the one from every network's D x D matrix."""
    est = gih.average_geometry("mlp", 12, inputs=5, route="modules", image_size=4, hidden=(6,), dtype=torch.float64,
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
        est = gih.average_geometry("linear", 400, inputs=2, route="stacked", seed=seed, image_size=4, num_classes=c,
                                   progress=False)
        errors.append(float(torch.linalg.matrix_norm(est.G - truth)))
        ses.append(est.standard_error)
    rms, se = math.sqrt(sum(e * e for e in errors) / 20), sum(ses) / 20
    assert 0.7 < rms / se < 1.4, (rms, se)
    assert max(errors) < 4 * se


@pytest.mark.parametrize("arch,kw", [("mlp", {"image_size": 6, "hidden": (20, 20)}), ("resnet", SMALL_RESNET)])
def test_routes_agree_within_monte_carlo_error(arch, kw):
    a = gih.average_geometry(arch, 300, inputs=1, route="modules", progress=False, **kw)
    b = gih.average_geometry(arch, 300, inputs=1, route="stacked", seed=1, progress=False, **kw)
    gap = float(torch.linalg.matrix_norm(a.G - b.G))
    assert gap < 4 * math.hypot(a.standard_error, b.standard_error), (gap, a.standard_error, b.standard_error)
    # reproducible, and the same networks whatever the chunking
    c = gih.average_geometry(arch, 300, inputs=1, route="stacked", seed=1, chunk=7, progress=False, **kw)
    torch.testing.assert_close(c.G, b.G, rtol=1e-5, atol=1e-12)


def test_mean_output_is_the_per_logit_average_over_classes():
    """Cross terms between logits vanish at initialisation: G(mean) = G(logits) / C."""
    kw = {"image_size": 6, "hidden": (30,), "num_classes": 4, "progress": False, "inputs": 1}
    mean = gih.average_geometry("mlp", 2000, output="mean", **kw)
    logits = gih.average_geometry("mlp", 2000, output="logits", seed=1, **kw)
    gap = float(torch.linalg.matrix_norm(mean.G - logits.G / 4))
    assert gap < 4 * math.hypot(mean.standard_error, logits.standard_error / 4)
    assert gap < 0.2 * float(torch.linalg.matrix_norm(mean.G))


def test_mlp_is_isotropic_and_a_cnn_is_not():
    mlp = gih.average_geometry("mlp", 3000, inputs=1, image_size=8, hidden=(50, 50), progress=False)
    cnn = gih.average_geometry("resnet", 3000, inputs=1, progress=False, **SMALL_RESNET)
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
    one = gih.average_geometry("mlp", 500, inputs=1, image_size=4, hidden=(8,), progress=False)
    many = gih.average_geometry("mlp", 500, inputs=32, image_size=4, hidden=(8,), progress=False)
    assert float(torch.linalg.matrix_norm(one.G - many.G)) < 1e-3 * float(torch.linalg.matrix_norm(one.G))


def test_combine_is_the_estimate_over_all_networks():
    kw = {"image_size": 4, "hidden": (8,), "inputs": 3, "route": "stacked", "progress": False}
    a = gih.average_geometry("mlp", 30, **kw)
    b = gih.average_geometry("mlp", 10, seed=1, **kw)
    both = gih.combine([a, b])
    assert both.networks == 40
    torch.testing.assert_close(both.G, (30 * a.G + 10 * b.G) / 40)
    with pytest.raises(ValueError, match="share"):
        gih.combine([a, gih.average_geometry("mlp", 10, **{**kw, "inputs": 2})])


def test_linear_evolution_is_minus_two_sigma_squared_S():
    """f = w.x, w ~ U(+-1/sqrt(D)) (variance 1/(3D)): Delta^0 = -2 sigma^2 S = -(2/sigma^2) G S G exactly
    (paperlib.symbolic.linear_average_geometry); the twins cancel the labels' terms."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(10, 1, 3, 3, generator=gen)
    y = torch.sign(torch.randn(10, generator=gen))
    ev = gih.evolution_at_init("linear", x, y, 3000, inputs=2, image_size=3, num_classes=1, dtype=torch.float64)
    sigma2 = 1 / (3 * 9)
    gap = float(torch.linalg.matrix_norm(ev.delta + 2 * sigma2 * ev.S))
    assert gap < 4 * ev.standard_error
    torch.testing.assert_close(ev.G, torch.eye(9, dtype=torch.float64) * sigma2, atol=0.15 * sigma2, rtol=0)
    assert ev.alignment(ev.GSG) < -0.97


def test_matrix_helpers():
    A = torch.diag(torch.tensor([3.0, 1.0, 0.5])).double()
    assert gih.alignment(A, 2 * A) == pytest.approx(1.0)
    assert gih.alignment(A, -A) == pytest.approx(-1.0)
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
        gih.average_geometry("vgg", 2)
    with pytest.raises(ValueError, match="networks"):
        gih.average_geometry("mlp", 0)
    with pytest.raises(ValueError, match="sigma_x"):
        gih.average_geometry("mlp", 2, sigma_x=0)
    with pytest.raises(ValueError, match="output"):
        gih.average_geometry("mlp", 2, output="max")
    with pytest.raises(ValueError, match="route"):
        gih.average_geometry("mlp", 2, route="fast")
    with pytest.raises(TypeError, match="in_shape"):
        gih.average_geometry(lambda: nn.Linear(4, 1), 2)
    x = torch.zeros(4, 1, 3, 3)
    with pytest.raises(ValueError, match="x must"):
        gih.evolution_at_init("linear", x, torch.zeros(4), 2, image_size=4)
    with pytest.raises(ValueError, match="y must"):
        gih.evolution_at_init("linear", x, torch.zeros(5), 2, image_size=3)
    with pytest.raises(ValueError, match="A must"):
        gih.alignment(torch.zeros(2, 3), torch.zeros(2, 2))


def test_a_user_factory_works_on_both_routes():
    def factory():
        return nn.Sequential(nn.Flatten(), nn.Linear(12, 5), nn.Tanh(), nn.Linear(5, 2))
    a = gih.average_geometry(factory, 50, in_shape=(3, 2, 2), route="modules", progress=False)
    b = gih.average_geometry(factory, 50, in_shape=(3, 2, 2), route="stacked", progress=False)
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
