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
            batch_size=50, lr=0.01, barlow_dim=16, simclr_dim=8)


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
])
def test_bad_presets_are_refused(changes, error, match):
    with pytest.raises(error, match=match):
        PRESETS["book"].replace(**changes)


def test_paper_preset_holds_the_authors_settings():
    p = PRESETS["paper"]
    assert (p.depths, p.width, p.epochs, p.batch_size, p.lr, p.lambd, p.temperature) == ((3, 4, 6, 3), 64, 1000,
                                                                                       1024, 0.01, 0.005, 0.07)
    barlow, simclr = p.model("barlow")(), p.model("simclr")()
    assert barlow.head[0].out_features == 128 and barlow.head[0].bias is None and not barlow.head[1].affine
    assert simclr.head[-1].out_features == 10
    assert p.rank == 512  # the backbone's 512 features, not the 10-d embedding


@pytest.mark.slow
def test_tiny_run(tiny):
    ex, _ = tiny
    assert list(ex.training) == ["barlow seed 0", "simclr seed 0"]
    for name in ex.training:
        assert sorted(ex.probes[name]) == [0, 1]
        assert 0 <= ex.probe_accuracy(name, 0) <= 1 and 0 <= ex.probe_accuracy(name) <= 1
        summary = ex.summary(name)
        assert set(summary) >= {"probe_init", "probe_final", "contrast_final", "distance_final"}
    for method in ("barlow", "simclr"):
        assert ex.lines[method].log_volume.shape == (2, 4) and ex.planes[method].log_volume.shape == (2, 9)
        assert bool(torch.isfinite(ex.lines[method].log_volume).all())
    assert len(ex.controls) == 2 * 2  # networks x (1 cross + 1 same-class line)
    assert "Barlow Twins linear to 16" in ex.describe()
    assert -1 <= ex.plane_correlation("simclr", 1) <= 1
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
    ax = selfsup_figures.probe_plot({n: (ex.probe_accuracy(n, 0), ex.probe_accuracy(n)) for n in ex.training})
    assert len(ax.patches) == 4
    plt.close("all")


@pytest.mark.slow
def test_paper_preset_code_path_on_a_generated_cifar_archive(tmp_path):
    archive = tmp_path / "cifar-10-python.tar.gz"
    md5, _ = write_fake_cifar10(archive, n_train=4, n_test=20)
    options = Options(data_dir=str(tmp_path / "data"), device="cpu", workers=1, num_threads=2,
                      cache_dir=str(tmp_path / "c"), progress=False)
    ex = selfsup.run("paper", options, url=archive.as_uri(), md5=md5, epochs=1, methods=("barlow",), line_steps=2,
                     plane_steps=2, k=2, block_size=4, pairs=((1, 5),), same_class=())
    assert ex.x_test.shape == (20, 3, 32, 32) and list(ex.training) == ["barlow seed 0"]
    assert sum(p.numel() for p in ex.training["barlow seed 0"].model().backbone.parameters()) == 21_282_122
    assert ex.planes["barlow"].log_volume.shape == (2, 4) and len(ex.controls) == 1


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
