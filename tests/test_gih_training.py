"""paperlib.gih.training: the average geometry over trained networks, eigen-direction labels, projections and
pruning by geometry."""

from __future__ import annotations

import functools

import pytest
import torch
from torch import nn

from paperlib import gih
from paperlib import train as T


def _linear(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(4, 1))


def test_network_geometry_of_linear_networks_is_the_mean_of_w_w_transpose():
    nets = [_linear(s) for s in range(5)]
    est = gih.network_geometry(nets, (1, 2, 2), inputs=3)
    w = torch.stack([n[1].weight[0] for n in nets]).double()
    assert torch.allclose(est.G, w.T @ w / 5, atol=1e-7)
    assert est.networks == 5 and est.route == "modules" and est.in_shape == (1, 2, 2)


def test_network_geometry_pairs_points_across_calls_and_checks_its_input():
    nets = [_linear(s) for s in range(3)]
    a = gih.network_geometry(nets, (1, 2, 2), seed=4)
    b = gih.network_geometry(nets, (1, 2, 2), seed=4)
    assert torch.equal(a.G, b.G)
    assert gih.velocity([a.G, b.G]) == [pytest.approx(0.0, abs=1e-12)]
    with pytest.raises(ValueError, match="at least one"):
        gih.network_geometry([], (1, 2, 2))
    with pytest.raises(TypeError, match="networks"):
        gih.network_geometry([object()], (1, 2, 2))
    with pytest.raises(ValueError, match="sigma_x"):
        gih.network_geometry(nets, (1, 2, 2), sigma_x=0)


def test_G_t_at_epoch_0_equals_the_average_geometry_at_initialisation_within_monte_carlo_error(tmp_path):
    """The snapshots at epoch 0 of many training runs are fresh networks of the default law: their G equals
    average_geometry's (other networks, other points) within three combined standard errors -- and a G twice as
    large is far outside that tolerance, so the check has power."""
    factory = functools.partial(gih.network, "mlp", image_size=4, hidden=(8,), num_classes=1)
    x, y = torch.randn(16, 1, 4, 4), torch.randn(16)
    runs = [T.train(factory, (x, y), T.TrainConfig(epochs=0, seed=s), loss=_mse, cache=False, progress=False)
            for s in range(150)]
    g0 = gih.geometry_during_training(runs, in_shape=(1, 4, 4), inputs=4, sigma_x=1.0)[0]
    ref = gih.average_geometry("mlp", 3000, inputs=4, sigma_x=1.0, image_size=4, hidden=(8,), num_classes=1,
                               seed=7)
    tol = 3 * (g0.standard_error ** 2 + ref.standard_error ** 2) ** 0.5
    assert float(torch.linalg.matrix_norm(g0.G - ref.G)) < tol
    assert float(torch.linalg.matrix_norm(2 * g0.G - ref.G)) > tol


def _mse(model, batch):
    x, y = batch
    return (model(x).flatten() - y).square().mean()


def test_geometry_during_training_follows_the_snapshots(tmp_path):
    factory = functools.partial(gih.network, "mlp", image_size=4, hidden=(8,), num_classes=1)
    x, y = torch.randn(32, 1, 4, 4), torch.randn(32)
    cfg = functools.partial(T.TrainConfig, epochs=2, snapshots=(0, 1, 2), lr=0.5, batch_size=8)
    runs = [T.train(factory, (x, y), cfg(seed=s), loss=_mse, cache_dir=tmp_path, progress=False) for s in range(4)]
    est = gih.geometry_during_training(runs, in_shape=(1, 4, 4), inputs=2)
    assert sorted(est) == [0, 1, 2]
    direct = gih.network_geometry([r.model(2) for r in runs], (1, 4, 4), inputs=2)
    assert torch.allclose(est[2].G, direct.G)
    v = gih.velocity(est)
    assert len(v) == 2 and all(u > 0 for u in v)
    with pytest.raises(ValueError, match="snapshot"):
        gih.geometry_during_training(runs, [3], in_shape=(1, 4, 4))


def test_eigen_directions_are_the_descending_eigenvectors_of_G_S_G():
    gen = torch.Generator().manual_seed(0)
    A = torch.randn(6, 6, generator=gen, dtype=torch.float64)
    G, S = A @ A.T, torch.cov(torch.randn(6, 20, generator=gen, dtype=torch.float64))
    values, U = gih.eigen_directions(G, S)
    assert torch.all(values[:-1] >= values[1:])
    assert torch.allclose(U.T @ U, torch.eye(6, dtype=torch.float64), atol=1e-10)
    assert torch.allclose(G @ S @ G @ U[:, 0], values[0] * U[:, 0], rtol=1e-8)
    with pytest.raises(ValueError, match="same shape"):
        gih.eigen_directions(G, S[:5, :5])


@pytest.mark.parametrize("form", gih.LABEL_FORMS)
def test_projection_labels_are_exactly_balanced_and_depend_only_on_the_projection(form):
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(200, 1, 4, 4, generator=gen)
    u = torch.randn(16, generator=gen, dtype=torch.float64)
    u /= u.norm()
    y = gih.projection_labels(x, u, form)
    assert y.dtype == torch.long and int(y.sum()) == 100  # exactly half
    # moving every input orthogonally to u changes nothing
    z = torch.randn(200, 16, generator=gen, dtype=torch.float64)
    z -= (z @ u)[:, None] * u
    assert torch.equal(gih.projection_labels((x.flatten(1).double() + 5 * z).reshape(x.shape), u, form), y)
    # permuting the inputs permutes the labels
    perm = torch.randperm(200, generator=gen)
    assert torch.equal(gih.projection_labels(x[perm], u, form), y[perm])
    # with the inputs as reference, labelling a subset gives the labels of the whole
    assert torch.equal(gih.projection_labels(x[:50], u, form, reference=x), y[:50])


def test_projection_labels_use_the_image_axes_as_they_are():
    """A direction that is one pixel (row 1, column 2 of a C x H x W image) labels by that pixel, not by its
    transpose: no axis order is mixed up."""
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(40, 1, 4, 4, generator=gen)
    u = torch.zeros(1, 4, 4)
    u[0, 1, 2] = 1.0
    y = gih.projection_labels(x, u)
    assert torch.equal(y, (x[:, 0, 1, 2] > x[:, 0, 1, 2].median()).long())
    with pytest.raises(ValueError, match="form"):
        gih.projection_labels(x, u, "cubic")
    with pytest.raises(ValueError, match="u must"):
        gih.projection_labels(x, torch.ones(3))


def test_project_out_and_random_directions():
    U = gih.random_directions(16, 5, seed=3)
    assert U.shape == (16, 5) and torch.allclose(U.T @ U, torch.eye(5, dtype=torch.float64), atol=1e-10)
    assert torch.equal(U, gih.random_directions(16, 5, seed=3))
    x = torch.randn(7, 1, 4, 4, dtype=torch.float64)
    p = gih.project_out(x, U)
    assert p.shape == x.shape and torch.allclose(p.flatten(1) @ U, torch.zeros(7, 5, dtype=torch.float64), atol=1e-10)
    assert torch.allclose(gih.project_out(p, U), p)
    with pytest.raises(ValueError, match="U must"):
        gih.project_out(x, torch.eye(3))


def test_geometry_scores_travel_with_their_images():
    gen = torch.Generator().manual_seed(4)
    x = torch.rand(50, 1, 4, 4, generator=gen)
    A = torch.randn(16, 16, generator=gen, dtype=torch.float64)
    G = A @ A.T
    s = gih.geometry_scores(x, G)
    perm = torch.randperm(50, generator=gen)
    assert torch.allclose(gih.geometry_scores(x[perm], G), s[perm])  # shuffling cannot change an image's score
    assert torch.allclose(gih.geometry_scores(3 * x, G), s)  # direction only
    xh = x.flatten(1).double() / x.flatten(1).double().norm(dim=1, keepdim=True)
    assert torch.allclose(s, torch.einsum("nd,de,ne->n", xh, G, xh))


def test_pruning_keeps_the_scored_images():
    gen = torch.Generator().manual_seed(5)
    x = torch.rand(40, 1, 4, 4, generator=gen)
    A = torch.randn(16, 16, generator=gen, dtype=torch.float64)
    G = A @ A.T
    scores = gih.geometry_scores(x, G)
    keep = gih.prune(scores, 0.25)
    assert len(keep) == 10 and torch.all(keep[:-1] < keep[1:])
    dropped = torch.ones(40, dtype=torch.bool)
    dropped[keep] = False
    assert scores[keep].min() > scores[dropped].max()  # the highest scores are kept
    # the kept images are the ones that were scored: rescoring them gives the kept scores
    assert torch.allclose(gih.geometry_scores(x[keep], G), scores[keep])
    # a shuffled copy of the data keeps the very same images
    perm = torch.randperm(40, generator=gen)
    keep_shuffled = gih.prune(gih.geometry_scores(x[perm], G), 0.25)
    rows = {tuple(r.tolist()) for r in x[keep].flatten(1)}
    assert rows == {tuple(r.tolist()) for r in x[perm][keep_shuffled].flatten(1)}
    reverse = gih.prune(scores, 0.25, "reverse")
    assert scores[reverse].max() < scores[keep].min()
    rand = gih.prune(scores, 0.25, "random", seed=1)
    assert len(rand) == 10 and torch.equal(rand, gih.prune(scores, 0.25, "random", seed=1))
    with pytest.raises(ValueError, match="fraction"):
        gih.prune(scores, 0.0)
    with pytest.raises(ValueError, match="mode"):
        gih.prune(scores, 0.5, "best")


def test_network_rows_leave_the_callers_network_as_it_was():
    """A user's network in training mode is evaluated in eval mode (dropout off: two calls agree) and handed back in
    training mode, its weights untouched."""
    net = nn.Sequential(nn.Flatten(), nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 1)).train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    a = gih.network_rows(net, 0, (1, 2, 2), inputs=3)
    assert net.training and all(m.training for m in net.modules())
    torch.testing.assert_close(a, gih.network_rows(net, 0, (1, 2, 2), inputs=3))
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
