"""Chapter 10 (paperlib.chapters.hypothesis): presets, data, the tiny run end to end and the claims' verdicts."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from paperlib import gih
from paperlib.chapters import hypothesis as H
from paperlib.chapters.registry import Options


def test_presets_are_checked():
    for name, p in H.PRESETS.items():
        assert isinstance(p, H.HypothesisPreset), name
    with pytest.raises(ValueError, match="runs"):
        H.PRESETS["tiny"].replace(runs=5)
    with pytest.raises(ValueError, match="architectures"):
        H.PRESETS["tiny"].replace(architectures=("transformer",))
    with pytest.raises(ValueError, match="task_digits"):
        H.PRESETS["tiny"].replace(task_digits=(3, 3))
    with pytest.raises(ValueError, match="sweep_forms"):
        H.PRESETS["tiny"].replace(sweep_forms=("cubic",))
    with pytest.raises(TypeError, match="unknown"):
        H.PRESETS["tiny"].replace(epoch=3)


@pytest.mark.parametrize("arch", H.ARCHITECTURES)
def test_every_architecture_maps_images_to_its_outputs(arch):
    net = H.PRESETS["book"].factory(arch, 2)()
    assert net(torch.zeros(3, 1, 32, 32)).shape == (3, 2)


def test_the_resnet_uses_the_chosen_activation_in_its_blocks():
    """The authors' ResNet blocks ignored the activation option; ours must not."""
    net = H.build_network("resnet", depths=(1, 1, 1, 1), width=4, activation="tanh")
    acts = {type(m).__name__ + ":" + getattr(m, "name", "") for m in net.modules() if "Activation" in type(m).__name__}
    assert acts and all("tanh" in a for a in acts), acts


def test_digit_pair_is_two_digits_in_channel_height_width_order():
    x, y = H.digit_pair((4, 9), "test")
    assert x.shape[1:] == (1, 32, 32) and set(y.tolist()) == {0, 1}
    assert float(x[:, :, :2].abs().sum()) == 0.0 and float(x[:, :, :, -2:].abs().sum()) == 0.0  # zero padding
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0


def test_squared_error_is_half_the_mean_square():
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 1))
    x, y = torch.randn(5, 1, 2, 2), torch.randn(5)
    assert torch.allclose(H.squared_error(net, (x, y)), 0.5 * (net(x).flatten() - y).square().mean())


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    options = Options(device="cpu", cache_dir=str(tmp_path_factory.mktemp("cache")), progress=False, workers=1)
    return H.run("tiny", options), options


@pytest.mark.slow
def test_the_tiny_run_fills_every_table(tiny):
    ex, options = tiny
    s = ex.settings
    per_arch = s.groups * (s.epochs + 1)
    for arch in s.architectures:
        for labels in ("true", "random"):
            rows = ex.rows("training", architecture=arch, labels=labels)
            assert len(rows) == per_arch
            assert all(-1 <= r["rho_GSG"] <= 1 for r in rows)
    assert len(ex.sweep) == len(s.sweep_forms) * len(s.sweep_indices) * len(s.sweep_architectures) * len(s.seeds)
    assert len(ex.project) == len(s.sweep_architectures) * len(s.seeds) * (1 + 3 * len(s.project_counts))
    assert len(ex.prune) == len(s.prune_fractions) * 3 * len(s.seeds)
    assert len(ex.memorise) == len(s.memorise_architectures) * 2 * 2 * len(s.seeds)
    assert all(len(r["curve"]) == s.memorise_epochs + 1 for r in ex.memorise)
    assert len(ex.shortcut) == len(s.shortcut_indices) * len(s.sweep_architectures) * len(s.seeds)
    assert all(math.isclose(r["reliance"], r["accuracy"] - r["flipped"]) for r in ex.shortcut)
    values, U = ex.directions
    assert torch.all(values[:-1] >= values[1:]) and U.shape == (1024, 1024)
    # the scores belong to the task's training images in their own order
    x, _ = H.digit_pair(s.task_digits, "train")
    assert torch.allclose(ex.scores, gih.geometry_scores(x, ex.direction_geometry.G))
    verdicts = H.claims(ex)
    assert {"init/mlp", "change/lenet/true", "memorise/lenet", "sweep/linear", "shortcut", "project",
            "prune/random"} <= set(verdicts)
    for c in verdicts.values():
        assert isinstance(c.holds, bool) and c.name in c.line()
    # a second run reads everything from the cache and gives the same numbers
    again = H.run("tiny", options)
    assert _plain(again.training) == _plain(ex.training) and again.sweep == ex.sweep


def _plain(rows: list) -> list:
    """The rows with NaN (which never equals itself) replaced by None."""
    return [{k: None if isinstance(v, float) and math.isnan(v) else v for k, v in r.items()} for r in rows]


def test_claims_follow_their_thresholds():
    """The verdicts are computed from the rows: a change aligned with G0 S G0 by more than the margin holds, one
    below it does not."""
    s = H.PRESETS["tiny"]
    ex = H.HypothesisExperiment("custom", s)
    for arch in s.architectures:
        ex.init_check += [{"architecture": arch, "labels": "true", "group": g, "distance": 1.0, "tolerance": 2.0}
                          for g in range(s.groups)]
        for labels in ("true", "random"):
            d = 0.9 if labels == "true" else 0.05
            ex.training += [{"architecture": arch, "labels": labels, "group": g, "epoch": s.epochs, "d_GSG": d,
                             "d_S": 0.1 if arch != "mlp" else d, "d_rot": 0.0} for g in range(s.groups)]
    verdicts = H.claims(ex)
    assert verdicts["init/lenet"].holds and verdicts["change/lenet/true"].holds
    assert not verdicts["change/lenet/random"].holds and verdicts["change/mlp/true"].holds
    assert "change/mlp/random" not in verdicts  # a "no difference" where nothing moves is no evidence
    assert dataclasses.asdict(verdicts["change/lenet/true"])["threshold"] == H.CHANGE_MARGIN


def test_random_labels_are_balanced_and_seeded():
    y = H.random_labels(10, 3)
    assert int(y.sum()) == 5 and torch.equal(y, H.random_labels(10, 3)) and not torch.equal(y, H.random_labels(10, 4))


def test_memorisation_and_shortcut_claims_compare_with_the_mlp():
    """The memorisation claim needs the architecture's along-minus-reversed speed to beat the MLP's on the same sets
    in every seed; the shortcut claim needs LeNet's drop in reliance to beat the MLP's."""
    s = H.PRESETS["tiny"].replace(seeds=(0, 1, 2))
    first, last = s.shortcut_indices[0], s.shortcut_indices[-1]

    def experiment(arch_gap, mlp_gap, lenet_drop, mlp_drop):
        ex = H.HypothesisExperiment("custom", s)
        for seed in s.seeds:
            for arch, gap in (("lenet", arch_gap), ("mlp", mlp_gap)):
                ex.memorise += [{"architecture": arch, "geometry": "lenet", "mode": "along", "seed": seed,
                                 "speed": 0.5 + gap}, {"architecture": arch, "geometry": "lenet", "mode": "reversed",
                                                       "seed": seed, "speed": 0.5}]
            for arch, drop in (("lenet", lenet_drop), ("mlp", mlp_drop)):
                ex.shortcut += [{"architecture": arch, "index": first, "seed": seed, "reliance": 0.2 + drop},
                                {"architecture": arch, "index": last, "seed": seed, "reliance": 0.2}]
        return H.claims(ex)

    held = experiment(0.3, 0.0, 0.5, 0.0)
    assert held["memorise/lenet"].holds and held["shortcut"].holds
    assert held["memorise/lenet"].mean == pytest.approx(0.3) and held["shortcut"].mean == pytest.approx(0.5)
    # the same gaps in the MLP: no effect of the geometry
    same = experiment(0.3, 0.3, 0.5, 0.5)
    assert not same["memorise/lenet"].holds and not same["shortcut"].holds


def test_the_paper_preset_reads_two_cifar10_classes():
    p = H.PRESETS["paper"]
    assert p.data == "cifar10" and p.shape == (3, 32, 32)
    assert p.network_kwargs("lenet")["in_channels"] == 3
    assert "in_channels" not in H.PRESETS["book"].network_kwargs("lenet")
    for arch in H.ARCHITECTURES:  # every architecture takes three-channel images
        net = H.build_network(arch, num_classes=2, **p.replace(resnet_width=4, vit_dim=16, vit_depth=1,
                                                               vit_heads=2).network_kwargs(arch))
        assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 2)
    with pytest.raises(ValueError, match="sweep_indices"):
        H.PRESETS["tiny"].replace(sweep_indices=(1024,))  # MNIST: D = 1024
    assert H.PRESETS["tiny"].replace(data="cifar10", sweep_indices=(3071,)).shape == (3, 32, 32)


@pytest.mark.slow
def test_the_cifar10_code_path_on_a_generated_archive(tmp_path):
    """The paper preset's data path (two CIFAR-10 classes, 3 x 32 x 32 inputs, D = 3072) end to end on a
    generated archive in the real format, with the tiny preset's sizes."""
    from paperlib import data
    from tests.cifar_fakes import write_fake_cifar10

    archive = tmp_path / "cifar-10-python.tar.gz"
    md5, arrays = write_fake_cifar10(archive, n_train=32, n_test=40)
    data.fetch_cifar10(data_dir=tmp_path / "data", url=archive.as_uri(), md5=md5)
    options = Options(device="cpu", data_dir=str(tmp_path / "data"), download=False, cache_dir=str(tmp_path / "c"),
                      progress=False, workers=1)
    ex = H.run("tiny", options, data="cifar10", sweep_digits=(0, 1), task_digits=(3, 5), architectures=("mlp",))
    s = ex.settings
    assert ex.reference["mlp"].G.shape == (3072, 3072) and ex.directions[1].shape == (3072, 3072)
    assert ex.scores.shape == (int(((arrays["train"][1] == 3) | (arrays["train"][1] == 5)).sum()),)
    assert len(ex.rows("training", architecture="mlp", labels="true")) == s.groups * (s.epochs + 1)
    assert len(ex.memorise) == 4 and len(ex.shortcut) == 2 * len(s.shortcut_indices) and ex.project and ex.prune


def test_the_projection_claim_compares_lenet_with_the_mlp():
    """Removing the top directions of G S G must cost LeNet more than it costs the MLP on the same images: when it
    costs both alike (the directions merely carry the images' energy), the claim does not hold."""
    s = H.PRESETS["tiny"].replace(seeds=(0, 1, 2))
    m = max(s.project_counts)

    def experiment(lenet_cost, mlp_cost):
        ex = H.HypothesisExperiment("custom", s)
        for seed in s.seeds:
            for arch, cost in (("lenet", lenet_cost), ("mlp", mlp_cost)):
                ex.project += [{"architecture": arch, "mode": "random", "count": m, "seed": seed, "accuracy": 0.9},
                               {"architecture": arch, "mode": "top", "count": m, "seed": seed,
                                "accuracy": 0.9 - cost}]
        return H.claims(ex)["project"]

    assert experiment(0.4, 0.1).holds and experiment(0.4, 0.1).mean == pytest.approx(0.3)
    assert not experiment(0.4, 0.4).holds
