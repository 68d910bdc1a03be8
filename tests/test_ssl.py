"""paperlib.ssl: the Barlow Twins and NT-Xent losses on hand-checkable inputs, projectors, two-view augmentation and
the linear probe.

No cross-check against a maintained implementation: ``lightly.loss`` (lightly 1.6.0) imports torchvision and the
package depends on pytorch_lightning and hydra; torchvision's PyPI wheel does not load against the CPU torch of
this project, so it does not install cleanly here."""

from __future__ import annotations

import math

import pytest
import torch

from paperlib import ssl, train
from paperlib.models import ResNet


def whitened(B=64, D=8, seed=0):
    """Features standardised over the batch and exactly uncorrelated: C = I for identical views."""
    z = torch.randn(B, D, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    z = z - z.mean(0)
    q, _ = torch.linalg.qr(z)  # orthonormal columns, still centred
    return q * math.sqrt(B)


def test_barlow_twins_is_zero_for_identical_decorrelated_views():
    z = whitened()
    assert float(ssl.barlow_twins_loss(z, z)) == pytest.approx(0.0, abs=1e-6)
    # scale and shift of the projections do not matter (each view is standardised over the batch)
    assert float(ssl.barlow_twins_loss(3 * z + 1, z)) == pytest.approx(0.0, abs=1e-6)


def test_barlow_twins_by_hand():
    z = whitened(D=4)
    # view 2 = view 1 with features 0 and 1 swapped: C has 0 on two diagonal entries and 1 at (0, 1) and (1, 0)
    z2 = z[:, [1, 0, 2, 3]]
    assert float(ssl.barlow_twins_loss(z, z2, lambd=0.5, eps=0)) == pytest.approx(2 + 0.5 * 2, abs=1e-9)
    # anti-correlated views: C = -I, loss = D * (1 - (-1))^2
    assert float(ssl.barlow_twins_loss(z, -z, lambd=0.5, eps=0)) == pytest.approx(4 * 4, abs=1e-9)
    # a permutation of the batch applied to both views changes nothing
    perm = torch.randperm(64, generator=torch.Generator().manual_seed(1))
    a, b = torch.randn(64, 4, dtype=torch.float64), torch.randn(64, 4, dtype=torch.float64)
    assert torch.allclose(ssl.barlow_twins_loss(a, b), ssl.barlow_twins_loss(a[perm], b[perm]))


def test_nt_xent_closed_form_for_orthonormal_identical_views():
    B, tau = 4, 0.5
    z = torch.eye(B, 6, dtype=torch.float64) * 2.5  # orthogonal; lengths do not matter (normalised)
    want = math.log(1 + (2 * B - 2) * math.exp(-1 / tau))
    assert float(ssl.nt_xent_loss(z, z, temperature=tau)) == pytest.approx(want, rel=1e-12)


def test_nt_xent_by_hand_and_symmetry():
    z1 = torch.randn(3, 5, dtype=torch.float64)
    z2 = torch.randn(3, 5, dtype=torch.float64)
    u = torch.nn.functional.normalize(torch.cat([z1, z2]), dim=1)
    s = u @ u.T / 0.07
    terms = []
    for k in range(6):
        p = (k + 3) % 6
        others = [s[k, m] for m in range(6) if m != k]
        terms.append(-(s[k, p] - torch.logsumexp(torch.stack(others), 0)))
    assert float(ssl.nt_xent_loss(z1, z2)) == pytest.approx(float(torch.stack(terms).mean()), rel=1e-12)
    assert float(ssl.nt_xent_loss(z1, z2)) == pytest.approx(float(ssl.nt_xent_loss(z2, z1)), rel=1e-12)


@pytest.mark.parametrize(("fn", "args", "error", "match"), [
    (ssl.barlow_twins_loss, (torch.zeros(4, 3), torch.zeros(4, 2)), ValueError, "same shape"),
    (ssl.barlow_twins_loss, (torch.zeros(1, 3), torch.zeros(1, 3)), ValueError, "at least 2"),
    (ssl.nt_xent_loss, (torch.zeros(4), torch.zeros(4)), ValueError, "z1"),
    (ssl.projector, ("conv", 4, 2), ValueError, "kind"),
    (ssl.TwoViewLoss, ("byol", lambda x: x), ValueError, "kind"),
    (ssl.SSLModel, (torch.nn.Linear(2, 2), torch.nn.Identity()), TypeError, "backbone"),
])
def test_bad_inputs_are_refused(fn, args, error, match):
    with pytest.raises(error, match=match):
        fn(*args)
    with pytest.raises(ValueError, match="temperature"):
        ssl.nt_xent_loss(torch.zeros(2, 2), torch.ones(2, 2), temperature=0)


def test_projectors_and_model_shapes():
    net = ResNet((1, 1, 1, 1), 4, "gelu", in_channels=1)
    for kind in ("linear", "mlp"):
        model = ssl.SSLModel(net, ssl.projector(kind, net.feature_dim, 16))
        assert model(torch.randn(5, 1, 32, 32)).shape == (5, 16)
        assert model.representation(torch.randn(5, 1, 32, 32)).shape == (5, 32)
    lin = ssl.projector("linear", 32, 16)
    assert lin[0].bias is None and not lin[1].affine


def test_two_view_loss_trains_and_is_seeded():
    x = torch.randn(64, 1, 32, 32)
    loss = ssl.TwoViewLoss("barlow", ssl.digit_views(0.13, 0.31))
    factory = lambda: ssl.SSLModel(ResNet((1, 1, 1, 1), 4, "gelu", in_channels=1),  # noqa: E731
                                   ssl.projector("linear", 32, 16))
    cfg = train.TrainConfig(lr=0.05, batch_size=32, epochs=2, snapshots=(0,), seed=0)
    a = train.train(factory, (x,), cfg, loss=loss, cache=False, progress=False)
    b = train.train(factory, (x,), cfg, loss=loss, cache=False, progress=False)
    assert all(torch.equal(a.snapshots[2][k], b.snapshots[2][k]) for k in a.snapshots[2])
    assert math.isfinite(float(a.history["train_loss"][2]))
    other = ssl.TwoViewLoss("simclr", ssl.digit_views(0.13, 0.31))
    assert train.run_key(factory(), "d", cfg, loss=loss) != train.run_key(factory(), "d", cfg, loss=other)


def test_views_are_per_sample_and_keep_shape():
    torch.manual_seed(0)
    x = torch.randn(6, 3, 32, 32)
    v1, v2 = ssl.cifar10_views([0.5, 0.5, 0.5], [0.25, 0.25, 0.25])
    a, b = v1(x), v2(x)
    assert a.shape == b.shape == x.shape and not torch.equal(a[0], a[1]) and not torch.equal(a, b)
    d = ssl.digit_views(0.13, 0.31)(x[:, :1])
    assert d.shape == (6, 1, 32, 32)


def test_linear_probe_separates_separable_features_with_one_standardisation(tmp_path):
    gen = torch.Generator().manual_seed(0)
    y = torch.arange(200) % 3
    centres = torch.tensor([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]], dtype=torch.float64)
    f = centres[y] + 0.3 * torch.randn(200, 2, generator=gen, dtype=torch.float64)
    f = f * torch.tensor([1000.0, 0.001]) + 7  # badly scaled: the probe standardises
    probe = ssl.linear_probe(f[:150], y[:150], f[150:], y[150:])
    assert probe.train_accuracy == 1.0 and probe.test_accuracy == 1.0
    p = probe.probabilities(f[150:])
    assert torch.allclose(p.sum(1), torch.ones(50, dtype=torch.float64))
    assert torch.allclose(torch.softmax(probe.logits(f[150:]), 1), p)
    with pytest.raises(ValueError, match="features"):
        probe.predict(torch.zeros(3, 5))
    # the probe is plain tensors: it round-trips through the cache's safe loader
    from paperlib import cache
    import dataclasses
    store = cache.Cache.open(str(tmp_path))
    store.save("geometry", "k", dataclasses.asdict(probe))
    loaded = store.load("geometry", "k")
    loaded.pop("key")  # the cache marks each entry with its key
    again = ssl.LinearProbe(**loaded)
    assert torch.equal(again.predict(f), probe.predict(f))
    # against scikit-learn's own predictions
    from sklearn.linear_model import LogisticRegression
    clf = LogisticRegression(max_iter=2000, random_state=0).fit(((f[:150] - probe.mean) / probe.std).numpy(),
                                                                y[:150].numpy())
    assert torch.allclose(probe.probabilities(f), torch.from_numpy(clf.predict_proba(((f - probe.mean) / probe.std)
                                                                                     .numpy())))


def test_linear_probe_with_two_classes():
    f = torch.tensor([[0.0], [1.0], [2.0], [3.0]], dtype=torch.float64)
    y = torch.tensor([0, 0, 1, 1])
    probe = ssl.linear_probe(f, y, f, y)
    assert probe.weight.shape == (2, 1) and probe.test_accuracy == 1.0


def test_projector_heads_are_named_for_what_they_are():
    # SimCLR's head: two layers, Linear -> activation -> Linear (the authors': GELU, hidden 512, to 10)
    two = ssl.projector("two_layer", 512, 10, hidden=512, activation="gelu")
    assert [type(m).__name__ for m in two] == ["Linear", "GELU", "Linear"]
    assert (two[0].in_features, two[0].out_features, two[2].out_features) == (512, 512, 10)
    assert type(ssl.projector("two_layer", 8, 4)[1]).__name__ == "ReLU"  # SimCLR's own choice
    assert ssl.projector("two_layer", 8, 4)[0].out_features == 8  # hidden width defaults to the input's
    # Barlow Twins' standard head: three linear layers, (Linear-BN-ReLU) x 2 + Linear; "mlp" is its older name
    for kind in ("three_layer", "mlp"):
        three = ssl.projector(kind, 8, 4, hidden=16)
        assert [type(m).__name__ for m in three] == ["Linear", "BatchNorm1d", "ReLU", "Linear", "BatchNorm1d",
                                                     "ReLU", "Linear"]
    with pytest.raises(ValueError, match="activation"):
        ssl.projector("two_layer", 8, 4, activation="tanh")
    with pytest.raises(ValueError, match="kind"):
        ssl.projector("four_layer", 8, 4)
