"""paperlib.chapters.invariance (chapter 9) on tiny settings, the building blocks of
paperlib.chapters.invariance_figures, and the paper preset's code path."""

import matplotlib.pyplot as plt
import pytest
import torch

from paperlib.chapters import Options, invariance, invariance_figures
from paperlib.chapters.invariance import PRESETS, GIHPreset

TINY = dict(networks=64, evolution_networks=8, evolution_images=8, train_size=200, test_size=100, axis_pool=4000,
            epochs=2, seeds=(0,), sweep_indices=(0, 1023), sweep_train=100, sweep_epochs=1)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return invariance.run("book", Options(cache_dir=str(tmp_path_factory.mktemp("cache")), progress=False, workers=1),
                          **TINY)


@pytest.mark.slow
def test_tiny_run_has_every_measurement(tiny):
    assert set(tiny.geometry) == {"mlp", "lenet", "resnet"}
    assert all(g.G.shape == (1024, 1024) and g.networks == 64 for g in tiny.geometry.values())
    assert [r["architecture"] for r in tiny.alignments] == ["linear", "mlp", "lenet"]
    assert set(tiny.planes) == {"aligned", "unaligned"}
    for e in tiny.planes.values():
        torch.testing.assert_close(e @ e.T, torch.eye(2, dtype=torch.float64))
    # the planes are spanned by the ResNet's eigenvectors 5, 6 and 5, 1023
    U = tiny.geometry["resnet"].eigen[1]
    assert abs(float(tiny.planes["unaligned"][1] @ U[:, 1023])) == pytest.approx(1.0, abs=1e-9)
    assert len(tiny.circles) == 4 and all(len(r["axis_history"]) == 3 for r in tiny.circles)
    assert all(0 <= r["accuracy"] <= 1 and 0 <= r["axis_accuracy"] <= 1 for r in tiny.circles)
    assert set(tiny.boundaries) == {(a, p) for a in ("mlp", "resnet") for p in ("aligned", "unaligned")}
    coords, pred = tiny.boundaries["mlp", "aligned"]
    assert coords.shape == (61, 61, 2) and pred.shape == (61, 61)
    assert {(r["architecture"], r["index"]) for r in tiny.sweep} == {(a, k) for a in ("mlp", "resnet") for k in (0, 1023)}
    assert len(tiny.circle_gap("mlp")) == 1


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
    assert len(ax.patches) == 9
    fig = invariance_figures.circles_figure(tiny)
    assert len(fig.axes) == 4
    ax = invariance_figures.axis_accuracy_plot(tiny)
    assert len(ax.get_lines()) == 8  # per architecture and plane: one seed line and the mean
    ax = invariance_figures.sweep_plot(tiny.sweep)
    assert [len(line.get_xdata()) for line in ax.get_lines()] == [2, 2]
    plt.close("all")


@pytest.mark.parametrize("field,value,match", [
    ("aligned", (5,), "aligned"), ("unaligned", (5, 1024), "unaligned"), ("networks", 0, "networks"),
    ("evolution_architectures", ("vgg",), "evolution_architectures"), ("train_size", 101, "even"),
    ("r_inner", 4.0, "r_inner"), ("circle_architectures", ("linear",), "circle_architectures")])
def test_bad_presets_are_named(field, value, match):
    with pytest.raises((ValueError, TypeError), match=match):
        PRESETS["book"].replace(**{field: value})


@pytest.mark.slow
def test_paper_preset_code_path(tmp_path):
    """ResNet-18 (width 64) for G, the planes and the circles; everything else shrunk to run on a CPU."""
    p = PRESETS["paper"]
    assert (p.networks, p.inputs, p.resnet_depths, p.resnet_width, p.epochs) == (100_000, 128, (2, 2, 2, 2), 64, 20)
    ex = invariance.run("paper", Options(cache_dir=str(tmp_path), progress=False, workers=1), networks=4, inputs=2,
                        evolution_networks=2, evolution_inputs=2, evolution_images=4, train_size=64, test_size=32,
                        axis_pool=2000, epochs=1, seeds=(0,), sweep_indices=(0,), sweep_train=64, sweep_epochs=1,
                        circle_architectures=("resnet",), boundary_steps=3)
    assert ex.settings.resnet_width == 64 and ex.geometry["resnet"].G.shape == (1024, 1024)
    assert len(ex.circles) == 2 and isinstance(ex.settings, GIHPreset)
    assert "workers" not in ex.settings.to_dict()  # worker processes are an option (Options.workers), not a setting


def test_workers_is_an_option_not_a_preset_field():
    with pytest.raises(TypeError, match="workers"):
        invariance.run("tiny", workers=1)
    with pytest.raises(TypeError, match="options"):
        invariance.run("tiny", {"workers": 1})
