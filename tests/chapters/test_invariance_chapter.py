"""paperlib.chapters.invariance (chapter 9) on tiny settings, the building blocks of
paperlib.chapters.invariance_figures, and the paper preset's code path."""

import math

import matplotlib.pyplot as plt
import pytest
import torch

from paperlib import gih
from paperlib.chapters import Options, invariance, invariance_figures
from paperlib.chapters.invariance import PRESETS, GIHPreset

TINY = dict(networks=64, mlp_networks=64, geometry_blocks=4, evolution_networks=8, evolution_blocks=4,
            evolution_images=8, train_size=200, test_size=100, axis_pool=4000, epochs=2, seeds=(0,),
            sweep_indices=(0, 1023), sweep_seeds=(0, 1), sweep_train=100, sweep_test=100, sweep_epochs=1,
            permutations=50)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return invariance.run("book", Options(cache_dir=str(tmp_path_factory.mktemp("cache")), progress=False, workers=1),
                          **TINY)


@pytest.mark.slow
def test_tiny_run_has_every_measurement(tiny):
    assert set(tiny.geometry) == {"mlp", "lenet", "resnet"}
    assert all(g.G.shape == (1024, 1024) and g.networks == 64 for g in tiny.geometry.values())
    assert [(r["architecture"], r["view"]) for r in tiny.alignments] == [
        (a, v) for a in ("linear", "mlp", "lenet", "resnet") for v in ("full", "beyond")]
    assert all(isinstance(r[k], gih.Interval) for r in tiny.alignments for k in ("GSG", "S", "random", "GSG_minus_S"))
    assert 0 < tiny.data_mean["unit"] <= 1 and tiny.control.block_gram.shape == (4, 4)
    assert set(tiny.planes) == {"aligned", "unaligned"}
    for e in tiny.planes.values():
        torch.testing.assert_close(e @ e.T, torch.eye(2, dtype=torch.float64))
    # the planes are spanned by the ResNet's eigenvectors 5, 6 and 5, 1023
    U = tiny.geometry["resnet"].eigen[1]
    assert abs(float(tiny.planes["unaligned"][1] @ U[:, 1023])) == pytest.approx(1.0, abs=1e-9)
    assert len(tiny.circles) == 6 and all(len(r["axis_history"]) == 3 for r in tiny.circles)
    assert all(0 <= r["accuracy"] <= 1 and 0 <= r["axis_accuracy"] <= 1 for r in tiny.circles)
    assert all(math.isfinite(r["sensitivity"]) for r in tiny.circles)
    assert set(tiny.boundaries) == {(a, p) for a in ("mlp", "lenet", "resnet") for p in ("aligned", "unaligned")}
    coords, pred = tiny.boundaries["mlp", "aligned"]
    assert coords.shape == (61, 61, 2) and pred.shape == (61, 61)
    assert {(r["architecture"], r["index"], r["seed"]) for r in tiny.sweep} == {
        (a, k, s) for a in ("mlp", "resnet") for k in (0, 1023) for s in (0, 1)}
    assert len(tiny.circle_gap("mlp")) == 1
    m, se = tiny.sweep_summary("mlp", 0)
    assert 0 <= m <= 1 and se >= 0


@pytest.mark.slow
def test_second_run_reads_the_cache(tiny, tmp_path):
    options = Options(cache_dir=str(tmp_path), progress=False, workers=1)
    a = invariance.run("book", options, **{**TINY, "circle_architectures": ("mlp",), "sweep_indices": (0,)})
    b = invariance.run("book", options=options, **{**TINY, "circle_architectures": ("mlp",), "sweep_indices": (0,)})
    for arch in a.geometry:
        assert torch.equal(a.geometry[arch].G, b.geometry[arch].G)
        assert a.geometry[arch].seconds == b.geometry[arch].seconds  # read back, not measured again
    assert a.circles[0]["axis_history"] == b.circles[0]["axis_history"]


@pytest.mark.slow
def test_figures(tiny):
    ax = invariance_figures.spectra_plot(tiny.geometry)
    assert len(ax.get_lines()) == 3
    fig = invariance_figures.eigen_figure(tiny.geometry, indices=(0, 1023))
    assert len(fig.axes) == 12
    ax = invariance_figures.alignment_plot(tiny.alignments)
    assert len(ax.patches) == 12
    fig = invariance_figures.circles_figure(tiny)
    assert len(fig.axes) == 6
    ax = invariance_figures.axis_accuracy_plot(tiny)
    assert len(ax.get_lines()) == 12  # per architecture and plane: one seed line and the mean
    ax = invariance_figures.mechanism_plot(tiny)
    assert len(ax.collections) == 6
    ax = invariance_figures.sweep_plot(tiny.sweep)
    assert len(ax.containers) == 2
    plt.close("all")


@pytest.mark.parametrize("field,value,match", [
    ("aligned", (5,), "aligned"), ("unaligned", (5, 1024), "unaligned"), ("networks", 0, "networks"),
    ("evolution_architectures", ("vgg",), "evolution_architectures"), ("train_size", 101, "even"),
    ("r_inner", 4.0, "r_inner"), ("circle_architectures", ("linear",), "circle_architectures"),
    ("evolution_blocks", 1, "evolution_blocks"), ("geometry_blocks", 10_000, "geometry_blocks"),
    ("control_anisotropy", 0.7, "control_anisotropy"), ("sweep_architectures", ("vgg",), "sweep_architectures")])
def test_bad_presets_are_named(field, value, match):
    with pytest.raises((ValueError, TypeError), match=match):
        PRESETS["book"].replace(**{field: value})


@pytest.mark.slow
def test_paper_preset_code_path(tmp_path):
    """ResNet-18 (width 64) for G, the planes and the circles; everything else shrunk to run on a CPU."""
    p = PRESETS["paper"]
    assert (p.networks, p.inputs, p.resnet_depths, p.resnet_width, p.epochs) == (100_000, 128, (2, 2, 2, 2), 64, 20)
    ex = invariance.run("paper", Options(cache_dir=str(tmp_path), progress=False, workers=1), networks=4,
                        mlp_networks=4, geometry_blocks=3, inputs=2, evolution_networks=3, evolution_blocks=3,
                        evolution_inputs=2, evolution_images=4, evolution_architectures=("linear", "resnet"),
                        train_size=64, test_size=32, axis_pool=2000, epochs=1, seeds=(0,), sweep_indices=(0,),
                        sweep_seeds=(0,), sweep_train=64, sweep_test=32, sweep_epochs=1,
                        circle_architectures=("resnet",), sweep_architectures=("resnet",), boundary_steps=3)
    assert ex.settings.resnet_width == 64 and ex.geometry["resnet"].G.shape == (1024, 1024)
    assert len(ex.circles) == 2 and isinstance(ex.settings, GIHPreset)
    assert p.evolution_architectures == ("linear", "mlp", "lenet", "resnet")  # the ResNet's Delta^0 too
    assert [r["architecture"] for r in ex.alignments] == ["linear", "linear", "resnet", "resnet"]
    assert "workers" not in ex.settings.to_dict()  # worker processes are an option (Options.workers), not a setting


def test_workers_is_an_option_not_a_preset_field():
    with pytest.raises(TypeError, match="workers"):
        invariance.run("tiny", workers=1)
    with pytest.raises(TypeError, match="options"):
        invariance.run("tiny", {"workers": 1})


def test_balanced_accuracy_scores_a_constant_classifier_one_half():
    y = torch.tensor([1] * 9 + [0] * 91)  # the axis set: few outer points, many inner ones
    for c in (0, 1):
        assert invariance.balanced_accuracy(torch.full_like(y, c), y) == pytest.approx(0.5)
    assert invariance.balanced_accuracy(y.clone(), y) == 1.0
    assert invariance.balanced_accuracy(1 - y, y) == 0.0
    with pytest.raises(ValueError, match="pred"):
        invariance.balanced_accuracy(y[:3], y)


def test_rank_correlation_and_its_permutation_null():
    r, p = invariance.rank_correlation(range(12), [v ** 3 for v in range(12)], permutations=2000)
    assert r == pytest.approx(1.0) and p < 0.01
    r, p = invariance.rank_correlation(range(12), range(12, 0, -1), permutations=2000)
    assert r == pytest.approx(-1.0) and p > 0.99
    gen = torch.Generator().manual_seed(0)
    ps = [invariance.rank_correlation(torch.randn(10, generator=gen).tolist(), torch.randn(10, generator=gen).tolist(),
                                      permutations=200, seed=k)[1] for k in range(200)]
    assert 0.02 < sum(p < 0.05 for p in ps) / len(ps) < 0.1  # calibrated under independence
    r, _ = invariance.rank_correlation([1, 1, 2, 2], [1, 1, 2, 2], permutations=10)  # ties
    assert r == pytest.approx(1.0)


def test_direction_task_carries_the_label_on_one_direction_with_a_margin():
    u = torch.randn(1, 8, 8, generator=torch.Generator().manual_seed(0))
    x, y = invariance.direction_task(u, 100, margin=3.0, seed=1)
    e = u.flatten() / u.norm()
    proj = x.flatten(1) @ e
    torch.testing.assert_close(proj, (2.0 * y - 1) * 3.0, atol=1e-4, rtol=0)
    assert int(y.sum()) == 50
    gap, se = invariance.mean_se_gap([1.0, 2.0, 3.0], [0.0, 0.0, 0.0])
    assert gap == pytest.approx(2.0) and se == pytest.approx(1 / math.sqrt(3))


def test_the_axis_set_is_balanced_and_lies_near_the_second_axis():
    s = invariance.PRESETS["tiny"].replace(axis_pool=4000)
    u1, u2 = torch.eye(1024)[0].reshape(1, 32, 32), torch.eye(1024)[1].reshape(1, 32, 32)
    x, y = invariance._axis_points(s, u1, u2)
    assert int(y.sum()) == int((1 - y).sum()) > 20  # every qualifying outer point and as many inner ones
    first = x.flatten(1)[:, 0]
    assert bool((first.abs() < s.r_inner).all())
