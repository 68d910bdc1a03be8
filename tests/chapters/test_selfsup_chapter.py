"""paperlib.chapters.selfsup (chapter 8) on a tiny run: presets, probes, the slices coloured by the probe, controls,
caching, the augmented views, the building blocks of paperlib.chapters.selfsup_figures; and the paper preset's code
path on a generated CIFAR-10 archive."""

from __future__ import annotations

import pytest
import torch

from paperlib.chapters import Options, selfsup, selfsup_figures
from paperlib.chapters.selfsup import PRESETS
from tests.cifar_fakes import write_fake_cifar10

TINY = dict(epochs=1, train_size=200, line_steps=4, plane_steps=3, pairs=((7, 6),), same_class=(7,), width=4,
            batch_size=50, lr=0.01, barlow_dim=16, simclr_dim=8, seeds=(0,), lines=3, same_lines=1)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    options = Options(cache_dir=str(tmp_path_factory.mktemp("ssl-cache")), workers=1, progress=False)
    return selfsup.run("book", options, **TINY), options


@pytest.mark.parametrize(("changes", "error", "match"), [
    ({"methods": ("byol",)}, ValueError, "methods"),
    ({"methods": ()}, ValueError, "methods"),
    ({"crop_scale": (0.9, 0.5)}, ValueError, "crop_scale"),
    ({"temperature": 0}, ValueError, "temperature"),
    ({"barlow_dim": 0}, ValueError, "barlow_dim"),
    ({"simclr_head": "four_layer"}, ValueError, "simclr_head"),
    ({"head_activation": "tanh"}, ValueError, "head_activation"),
    ({"ks": (0, 8)}, ValueError, "ks"),
    ({"lines": 2}, ValueError, "lines"),
])
def test_bad_presets_are_refused(changes, error, match):
    with pytest.raises(error, match=match):
        PRESETS["book"].replace(**changes)


def test_paper_preset_holds_the_authors_settings():
    p = PRESETS["paper"]
    assert (p.depths, p.width, p.epochs, p.batch_size, p.lr, p.lambd, p.temperature) == ((3, 4, 6, 3), 64, 1000,
                                                                                       1024, 0.01, 0.005, 0.07)
    assert len(p.seeds) >= 3 and p.lines >= 30
    barlow, simclr = p.model("barlow")(), p.model("simclr")()
    # Barlow Twins: the authors' bias-free linear map to 128 and batch norm without affine parameters
    assert [type(m).__name__ for m in barlow.head] == ["Linear", "BatchNorm1d"]
    assert barlow.head[0].out_features == 128 and barlow.head[0].bias is None and not barlow.head[1].affine
    # SimCLR: the authors' two-layer head Linear(512, 512) -> GELU -> Linear(512, 10)
    assert [type(m).__name__ for m in simclr.head] == ["Linear", "GELU", "Linear"]
    assert (simclr.head[0].in_features, simclr.head[0].out_features, simclr.head[2].out_features) == (512, 512, 10)
    assert p.rank == 512 and p.ks == (8, 32, 128, 512)  # the backbone's 512 features, not the 10-d embedding
    assert "Linear(512)-GELU-Linear(10)" in p.head_text("simclr")


def test_book_preset_says_which_heads_it_uses():
    p = PRESETS["book"]
    assert len(p.seeds) >= 3 and p.lines >= 30 and p.same_lines >= 1 and p.ks == (8, 16, 32, 64)
    assert p.head_text("barlow") == "bias-free linear map to 64 + batch norm"
    assert p.head_text("simclr") == "two-layer Linear(64)-GELU-Linear(32)"
    three = p.replace(barlow_head="three_layer").model("barlow")()
    assert [type(m).__name__ for m in three.head].count("Linear") == 3
    assert p.replace(width=4).ks == (8, 16, 32)  # ks above the feature dimension are left out


def test_both_methods_start_from_the_same_backbone_and_lines_are_drawn_per_seed():
    from paperlib.train import _build
    p = PRESETS["book"]
    a, b = _build(p.model("barlow"), 3).backbone.state_dict(), _build(p.model("simclr"), 3).backbone.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    y = torch.arange(200) % 10
    lines0, lines1 = selfsup.control_lines(p, y, 0), selfsup.control_lines(p, y, 1)
    assert [kind for kind, _, _ in lines0] == ["cross"] * p.lines + ["same"] * p.same_lines
    assert lines0 != lines1 and lines0 == selfsup.control_lines(p, y, 0)
    assert all(c1 != c2 for kind, (c1, c2), _ in lines0 if kind == "cross")
    assert all(c1 == c2 and y[i] == y[j] == c1 and i != j for kind, (c1, c2), (i, j) in lines0 if kind == "same")


def test_volume_from_stored_singular_values_matches_the_geometry():
    from paperlib import geometry
    p = PRESETS["tiny"]
    torch.manual_seed(0)
    model = p.model("barlow")().double().eval()
    x = torch.randn(2, 1, 32, 32, dtype=torch.float64)
    log_s = selfsup._log_singular_values(model, x, p, torch.device("cpu"))
    for k in (8, 64):
        want = geometry.log_volume_element(model.backbone.feature_map(4, 64), x, k=k)
        assert torch.allclose(log_s.cumsum(1)[:, k - 1], want, atol=1e-9)


def _synthetic(growth: float, specific: float, shift: float, gains=(0.05, 0.05)) -> selfsup.SSLExperiment:
    """An experiment with made-up control rows: trained prominence ``growth`` above the initial one, ``specific``
    above the same-class lines; peaks at the transition (``shift`` 0) or away from it."""
    from paperlib.ssl import LinearProbe
    s = PRESETS["tiny"].replace(seeds=(0, 1, 2), methods=("simclr",), k=8, ks=(8,))
    gen = torch.Generator().manual_seed(0)
    rows, probes = [], {}
    for seed in s.seeds:
        name = f"simclr seed {seed}"
        probes[name] = {0: LinearProbe(*[torch.zeros(1)] * 5, test_accuracy=0.5),
                        1: LinearProbe(*[torch.zeros(1)] * 5, test_accuracy=0.5 + gains[0])}
        for k in s.ks:
            for i in range(40):
                c = float(torch.rand(1, generator=gen)) * 0.6 + 0.2
                peak = min(max(c + shift, 0.0), 0.95)
                for kind in ("cross", "same"):
                    rows.append({"network": name, "method": "simclr", "seed": seed, "kind": kind, "k": k,
                                 "line": i, "prominence_init": -1.0,
                                 "prominence_final": -1.0 + growth - (specific if kind == "same" else 0.0),
                                 "peak_final": peak, "peak_init": 0.0, "distance_init": c,
                                 "transition_lower": c - 0.02,
                                 "transition_upper": c + 0.02, "entropy_partial_final": 0.5,
                                 "entropy_partial_init": 0.0, "entropy_corr_final": 0.5})
    pixel = LinearProbe(*[torch.zeros(1)] * 5, test_accuracy=0.5 + gains[0] - gains[1])
    return selfsup.SSLExperiment("custom", s, {f"simclr seed {i}": None for i in s.seeds}, torch.zeros(1),
                                 torch.zeros(1), {}, probes, pixel, {}, {}, {}, rows)


def test_claims_pass_only_with_the_effect():
    strong = {c["claim"]: c["passes"] for c in _synthetic(2.0, 2.0, 0.0).claims()}
    assert strong == {"probe": True, "growth": True, "specific": True, "location": True, "entropy": True}
    weak = {c["claim"]: c["passes"] for c in _synthetic(0.4, 0.4, 0.3, gains=(0.05, 0.01)).claims()}
    assert weak == {"probe": False, "growth": False, "specific": False, "location": False, "entropy": True}
    ex = _synthetic(0.4, 2.0, 0.0)
    report = ex.report()
    assert "Reproduced" in report and "growth" not in report  # claims are named by their text
    assert selfsup.CLAIMS["growth"] in report.split("Not reproduced")[1]
    assert selfsup.CLAIMS["specific"] in report.split("Not reproduced")[0]
    assert [v["passes_at"] for v in ex.verdicts() if v["claim"] == "location"] == [[8]]
    with pytest.raises(ValueError, match="name"):
        ex.claim("magic", "simclr")


@pytest.mark.slow
def test_tiny_run(tiny):
    ex, _ = tiny
    assert list(ex.training) == ["barlow seed 0", "simclr seed 0"]
    for name in ex.training:
        assert sorted(ex.probes[name]) == [0, 1]
        assert 0 <= ex.probe_accuracy(name, 0) <= 1 and 0 <= ex.probe_accuracy(name) <= 1
        summary = ex.summary(name)
        assert set(summary) >= {"probe_init", "probe_final", "prominence_final", "distance_final",
                                "entropy_partial_final", "same_prominence_final"}
    assert 0 <= ex.pixel_probe.test_accuracy <= 1
    for method in ("barlow", "simclr"):
        assert ex.lines[method].log_volume.shape == (2, 4) and ex.planes[method].log_volume.shape == (2, 9)
        assert bool(torch.isfinite(ex.lines[method].log_volume).all())
        assert ex.spectra[method]["values"].shape == (2, 3, 32)  # epochs x anchors x features
    ks = ex.settings.ks
    assert ks == (8, 16, 32) and len(ex.controls) == 2 * (3 + 1) * len(ks)  # networks x lines x ks
    # the same random backbone and the same lines for both methods: the same initial statistics
    init = {m: [r["prominence_init"] for r in ex.controls if r["method"] == m] for m in ("barlow", "simclr")}
    assert init["barlow"] == init["simclr"]
    # the top-k volume at the largest k along the line of the figure equals the stored spectra's at the anchors
    assert "Barlow Twins bias-free linear map to 16" in ex.describe()
    assert -1 <= ex.plane_correlation("simclr", 1) <= 1
    assert len(ex.claims()) == 2 * len(selfsup.CLAIMS) and "Not reproduced" in ex.report()
    with pytest.raises(ValueError, match="method"):
        ex.plane_correlation("byol", 1)


@pytest.mark.slow
def test_line_classes_come_from_the_probe(tiny):
    ex, _ = tiny
    from paperlib.ssl import linear_probe
    net = ex.training["barlow seed 0"].model(1)
    probe = ex.probes["barlow seed 0"][1]
    feats = net.double().representation(ex.lines["barlow"].line.points)
    assert torch.equal(probe.predict(feats), ex.lines["barlow"].predicted[-1])
    assert callable(linear_probe)


@pytest.mark.slow
def test_cached_second_call(tiny):
    ex, options = tiny
    again = selfsup.run("book", options=options, **TINY)
    assert all(r.source == "cache" for r in again.training.values())
    assert torch.equal(again.planes["simclr"].log_volume, ex.planes["simclr"].log_volume)


@pytest.mark.slow
def test_figures_draw(tiny):
    import matplotlib.pyplot as plt
    ex, _ = tiny
    fig = selfsup_figures.methods_line_figure(ex.lines)
    assert len(fig.axes) == 2
    ax = selfsup_figures.probe_plot({n: (ex.probe_accuracy(n, 0), ex.probe_accuracy(n)) for n in ex.training},
                                    pixel=ex.pixel_probe.test_accuracy)
    assert len(ax.patches) == 4
    curves = selfsup_figures.control_curves(ex, "simclr")
    assert set(curves) == {"cross-class, trained", "same-class, trained", "cross-class, initialisation"}
    assert all(len(c["values"]) == 1 and len(c["values"][0]) == 3 for c in curves.values())  # seeds x ks
    ax = selfsup_figures.prominence_plot(curves)
    assert len(ax.lines) >= 3
    points = selfsup_figures.location_points(ex, "barlow")
    assert len(points["trained"]["peak"]) == 3
    with pytest.raises(ValueError, match="curves"):
        selfsup_figures.prominence_plot({})
    plt.close("all")


@pytest.mark.slow
def test_paper_preset_code_path_on_a_generated_cifar_archive(tmp_path):
    archive = tmp_path / "cifar-10-python.tar.gz"
    md5, _ = write_fake_cifar10(archive, n_train=4, n_test=20)
    options = Options(data_dir=str(tmp_path / "data"), device="cpu", workers=1, num_threads=2,
                      cache_dir=str(tmp_path / "c"), progress=False)
    ex = selfsup.run("paper", options, url=archive.as_uri(), md5=md5, epochs=1, methods=("barlow",), line_steps=2,
                     plane_steps=2, k=2, block_size=4, pairs=((1, 5),), same_class=(), seeds=(0,), lines=3,
                     same_lines=0)
    assert ex.x_test.shape == (20, 3, 32, 32) and list(ex.training) == ["barlow seed 0"]
    assert sum(p.numel() for p in ex.training["barlow seed 0"].model().backbone.parameters()) == 21_282_122
    assert ex.planes["barlow"].log_volume.shape == (2, 4) and len(ex.controls) == 3  # 3 lines at k = 2


def test_views_are_seeded_augmentations_of_test_images(tmp_path):
    options = Options(cache_dir=str(tmp_path), progress=False)
    shown = selfsup.views("tiny", options, count=3)
    images, labels = shown["images"], shown["labels"]
    assert images.shape[:2] == (3, 3) and images.shape[-2:] == (32, 32) and labels.shape == (3,)
    assert shown["settings"] == PRESETS["tiny"] and shown["torch_seed"] == 0
    assert not torch.equal(images[1], images[0]) and not torch.equal(images[1], images[2])  # two random views
    again = selfsup.views("tiny", options, count=3)
    assert torch.equal(again["images"], images) and torch.equal(again["labels"], labels)  # seeded
    assert not torch.equal(selfsup.views("tiny", options, count=3, seed=1)["images"][1], images[1])
    with pytest.raises(ValueError, match="count"):
        selfsup.views("tiny", options, count=0)
