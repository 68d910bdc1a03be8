"""paperlib.chapters.deep (chapter 7): presets, the measurements' shapes and caching on a tiny book-style run,
float32 against float64, the paper preset's whole code path on a generated CIFAR-10 archive, and the building blocks
of paperlib.chapters.deep_figures."""

from __future__ import annotations

import math

import pytest
import torch

from paperlib.chapters import Options, deep, deep_figures
from paperlib.chapters.core import line_contrast, line_prominence
from paperlib.chapters.deep import PRESETS, DeepPreset
from tests.cifar_fakes import write_fake_cifar10

TINY = dict(epochs=1, train_size=160, seeds=(0,), activations=("gelu", "relu"), line_steps=4, plane_steps=3,
            pairs=((7, 6), (1, 5)), same_class=(7,), lines=3, same_lines=1, block_lines=1, spread=0, blocks=(0, 2, 4),
            width=4, batch_size=40)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    options = Options(cache_dir=str(tmp_path_factory.mktemp("deep-cache")), workers=1, progress=False)
    return deep.run("book", options, **TINY), options


@pytest.mark.parametrize(("changes", "error", "match"), [
    ({"data": "svhn"}, ValueError, "data"),
    ({"activations": ()}, ValueError, "activations"),
    ({"activations": ("swish",)}, ValueError, "swish"),
    ({"k": 65}, ValueError, "k"),
    ({"blocks": (5,)}, ValueError, "blocks"),
    ({"pairs": ((3, 3),)}, ValueError, "pairs"),
    ({"lines": -1}, ValueError, "lines"),
    ({"block_lines": 1.5}, (TypeError, ValueError), "block_lines"),
    ({"plane_classes": (1, 1, 2)}, ValueError, "plane_classes"),
    ({"dtype": "float16"}, ValueError, "dtype"),
    ({"width": 0}, ValueError, "width"),
    ({"block_size": 1025}, ValueError, "block_size"),  # the last block of width 8 has 8 * 4 * 4 * 8 = 1024 outputs
    ({"colour": 1}, TypeError, "colour"),
])
def test_bad_presets_are_refused_naming_the_field(changes, error, match):
    with pytest.raises(error, match=match):
        PRESETS["book"].replace(**changes)


def test_presets_hold_the_papers_settings():
    p = PRESETS["paper"]
    assert (p.data, p.depths, p.width, p.activations) == ("cifar10", (3, 4, 6, 3), 64, ("gelu",))
    assert (p.optimizer, p.lr, p.momentum, p.weight_decay, p.batch_size, p.epochs) == ("sgd", 0.01, 0.9, 1e-4, 1024,
                                                                                     500)
    assert p.snapshots == (0, 50, 200, 500) and (p.augment, p.padding, p.flip) == (True, 4, True)
    assert (p.line_steps, p.plane_steps, p.size, p.rank, p.dtype) == (64, 80, 512, 512, "float64")
    assert p.model("gelu")().feature_dim == 512
    b = PRESETS["book"]
    assert b.networks() == [("gelu", 0), ("gelu", 1), ("gelu", 2), ("relu", 0)]
    assert (b.rank_for("gelu"), b.rank_for("relu")) == (64, 32)
    assert b.with_epochs(16).snapshots == (0, 2, 4, 8, 16) and b.with_epochs(16).figure_epochs == (0, 4, 16)


@pytest.mark.slow
def test_tiny_run_measures_every_figure_and_control(tiny):
    ex, _ = tiny
    s = ex.settings
    assert list(ex.training) == ["gelu seed 0", "relu seed 0"] and ex.epochs == [0, 1]
    assert ex.x_test.shape[1:] == (1, 32, 32)
    assert ex.line.log_volume.shape == (2, 4) and ex.line.end_log_volume.shape == (2, 2)
    assert ex.plane.log_volume.shape == (len(ex.plane.epochs), 9) and ex.plane.predicted.dtype == torch.long
    assert sorted(ex.blocks) == [0, 2, 4] and ex.blocks[4].log_volume.shape == (2, 4)
    assert bool(torch.isfinite(ex.line.log_volume).all()) and bool(torch.isfinite(ex.plane.log_volume).all())
    # rows: the first cross and the first same-class line after every block, the other two cross lines after the
    # last; GELU at its k (32) and at ReLU's (16); ReLU at 16 only
    assert deep.control_ks(s, "gelu") == (16, 32) and deep.control_ks(s, "relu") == (16,)
    assert len(ex.control_table(network="gelu seed 0")) == 2 * (2 * 3 + 2)
    assert len(ex.control_table(network="relu seed 0")) == 2 * 3 + 2
    assert len(ex.control_table(network="gelu seed 0", profile=True)) == 2 * 2 * 3
    # the lines are drawn per seed: a random cross-class line joins two test images of different classes
    lines = deep.control_lines(s, ex.y_test, 0)
    assert [kind for kind, _, _ in lines] == ["cross"] * 3 + ["same"]
    assert lines != deep.control_lines(s, ex.y_test, 1)
    row = ex.control_table("cross", "gelu seed 0", 4, k=32)[0]
    assert set(row) >= {"contrast_init", "contrast_final", "prominence_init", "prominence_final", "distance_init",
                        "distance_final", "peak_final", "transition_lower", "entropy_partial_final", "changes",
                        "anchors"}
    # recomputed independently: the features' top-32 log volume element along the row's line, after training
    from paperlib import geometry, slices
    i, j = row["anchors"]
    assert int(ex.y_test[i]) != int(ex.y_test[j])
    ln = slices.line(ex.x_test[i].double(), ex.x_test[j].double(), s.line_steps)
    lv = geometry.log_volume_element(ex.model().feature_map(4, 32), torch.cat([ln.points, ln.anchors[1:]]), k=32)
    assert abs(line_contrast(lv[:-1], torch.stack([lv[0], lv[-1]])) - row["contrast_final"]) < 1e-3
    assert abs(line_prominence(lv[:-1], torch.stack([lv[0], lv[-1]])) - row["prominence_final"]) < 1e-3
    assert -1 <= row["entropy_corr_final"] <= 1 or math.isnan(row["entropy_corr_final"])
    prof = ex.depth_profile("gelu seed 0")
    assert prof["blocks"] == [0, 2, 4] and len(prof["final"]) == 3
    assert set(ex.test_accuracy["relu seed 0"]) == {0, 1}
    assert "ResNet depths [1, 1, 1, 1], width 4" in ex.describe()
    summary = ex.summary("gelu seed 0")
    assert set(summary) >= {"prominence_final", "same_prominence_final", "entropy_partial_final", "depth_gain"}


@pytest.mark.slow
def test_second_call_comes_from_the_cache_unchanged(tiny):
    ex, options = tiny
    again = deep.run("book", options=options, **TINY)
    assert all(r.source == "cache" for r in again.training.values())
    assert torch.equal(again.plane.log_volume, ex.plane.log_volume)
    assert repr(again.controls) == repr(ex.controls)  # (NaN != NaN: compared as text)


@pytest.mark.slow
def test_float32_jacobians_agree_with_float64(tiny):
    ex, _ = tiny
    from paperlib import geometry
    m = ex.model()
    pts = ex.line.line.points
    lv32 = geometry.log_volume_element(m.feature_map(4, 32), pts, k=32, dtype=torch.float32)
    lv64 = geometry.log_volume_element(m.feature_map(4, 32), pts, k=32)
    assert torch.allclose(lv32, ex.line.log_volume[-1]) and (lv32 - lv64).abs().max() < 1e-3


@pytest.mark.slow
def test_figures_draw(tiny):
    import matplotlib.pyplot as plt
    ex, _ = tiny
    fig = deep_figures.blocks_figure(ex.blocks)
    assert len(fig.axes) >= 6
    ax = deep_figures.depth_plot({"gelu": ex.depth_profile("gelu seed 0")})
    assert len(ax.lines) == 3  # trained, initialisation, and the zero line
    points = {"a": {"peak": [0.2, 0.6, 0.9], "lower": [0.2, 0.5, 0.8], "upper": [0.3, 0.6, 0.8]}}
    ax = deep_figures.location_plot(points)
    assert len(ax.collections) >= 1 and ax.get_xlim() == (0.0, 1.0)
    with pytest.raises(ValueError, match="points"):
        deep_figures.location_plot({})
    plt.close("all")


@pytest.mark.slow
def test_paper_preset_code_path_on_a_generated_cifar_archive(tmp_path):
    archive = tmp_path / "cifar-10-python.tar.gz"
    md5, _ = write_fake_cifar10(archive, n_train=4, n_test=20)
    options = Options(data_dir=str(tmp_path / "data"), device="cpu", workers=1, num_threads=2,
                      cache_dir=str(tmp_path / "c"), progress=False)
    ex = deep.run("paper", options, url=archive.as_uri(), md5=md5, epochs=1, line_steps=2, plane_steps=2, k=4,
                  block_size=8, pairs=((7, 6),), same_class=(), lines=1, same_lines=0, block_lines=1, spread=0)
    s = ex.settings
    assert (s.depths, s.width, s.data, s.flip, s.padding) == ((3, 4, 6, 3), 64, "cifar10", True, 4)
    assert sum(p.numel() for p in ex.model().parameters()) == 21_282_122  # ResNet-34
    assert ex.x_test.shape == (20, 3, 32, 32) and ex.epochs == [0, 1]
    assert ex.plane.log_volume.shape == (2, 4) and bool(torch.isfinite(ex.plane.log_volume).all())
    assert sorted(ex.blocks) == [0, 1, 2, 3, 4] and len(ex.controls) == 5
    assert ex.class_name(7) == "horse"


@pytest.mark.slow
def test_depth_profiles_stack_networks(tiny):
    ex, _ = tiny
    both = ex.depth_profiles(["gelu seed 0", "relu seed 0"], "same")
    assert both["blocks"] == [0, 2, 4] and len(both["final"]) == 2
    assert both["init"][1] == ex.depth_profile("relu seed 0", "same")["init"]
    with pytest.raises(ValueError, match="networks"):
        ex.depth_profiles([])



def _record(job: deep.NetworkJob) -> deep.NetworkOutcome:
    c = job.context
    return deep.NetworkOutcome(None, rows=[(job.index, job.name, job.seed)],
                               extra={"same_context": c.s is PRESETS["tiny"], "options": c.options,
                                      "device": str(c.device), "anchors": dict(c.anchors), "lines": list(c.lines)})


def test_run_networks_passes_typed_jobs_and_returns_their_outcomes_in_order():
    s = PRESETS["tiny"]
    options = Options(device="cpu", cache=False, workers=1, progress=False)
    context, outs = deep.run_networks(s, _record, options)
    assert isinstance(context, deep.NetworkContext) and context.options is options and context.s is s
    assert all(isinstance(o, deep.NetworkOutcome) for o in outs)
    assert [o.rows[0] for o in outs] == [(i, name, seed) for i, (name, seed) in enumerate(s.networks())]
    for o in outs:
        assert o.extra["same_context"] and o.extra["options"] == options and o.extra["device"] == "cpu"
        assert o.extra["anchors"] == context.anchors and o.extra["lines"] == context.lines
    needed = set(s.line_classes) | set(s.plane_classes) | set(s.block_classes) | set(s.same_class)
    assert needed <= set(context.anchors) and set(context.anchor_img) == set(context.anchors)
    assert len(context.lines) == len(s.pairs) + len(s.same_class)


def test_the_options_are_not_preset_fields():
    with pytest.raises(TypeError, match="data_dir"):
        deep.run("tiny", data_dir="/unused")
    with pytest.raises(TypeError, match="options"):
        deep.run("tiny", {"device": "cpu"})


def test_control_lines_spread_the_trained_transitions_along_the_lines():
    from paperlib import slices
    from paperlib.chapters.core import class_changes
    gen = torch.Generator().manual_seed(0)
    y = torch.arange(200) % 10
    x = torch.randn(200, 1, 32, 32, generator=gen) + y.float().view(-1, 1, 1, 1) / 3
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(1024, 10)).eval()
    s = PRESETS["book"].replace(lines=12, same_lines=2, spread=8, line_steps=24)
    lines = deep.control_lines(s, y, 0, x_test=x, model=model)
    cross = [ij for kind, _, ij in lines if kind == "cross"]
    assert len(cross) == 12 and [kind for kind, _, _ in lines][-2:] == ["same", "same"]

    def centre(i, j):
        ln = slices.line(x[i].double(), x[j].double(), s.line_steps)
        c = class_changes(ln.t, deep._predict(model, ln.points, torch.device("cpu"))[0])
        return 0.5 * float(c[0] + c[-1])

    chosen = torch.tensor([centre(i, j) for i, j in cross])
    random = deep.control_lines(s.replace(spread=0), y, 0)[:12]
    assert all(int(y[i]) != int(y[j]) for i, j in cross)
    assert float(chosen.min()) < 0.3 and float(chosen.max()) > 0.7  # spread over [0.15, 0.85]
    assert [ij for _, _, ij in random] != cross  # chosen from more candidates than the plain draw
