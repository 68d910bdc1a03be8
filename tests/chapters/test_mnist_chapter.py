"""paperlib.chapters.mnist (chapter 6): the QR log volume element and accurate spectra of paperlib.shallow that it
relies on, the presets and their errors, and a smoke test of the paper preset's code path (full-MNIST download from
local files, training, geometry, caching). The statistics it shares with the other chapters:
tests/chapters/test_core_chapter.py."""

import json
import math
import warnings

import pytest
import torch

from mnist_fakes import write_fake_mnist
from paperlib import shallow
from paperlib.chapters import Options, mnist



def test_mnist_preset_settings_and_errors():
    p, b = mnist.PRESETS["paper"], mnist.PRESETS["book"]
    assert p.widths == (784, 2000, 10) and p.activation == "sigmoid" and p.init == "paper"
    assert (p.optimizer, p.lr, p.weight_decay, p.epochs) == ("adam", 1e-3, 1e-4, 200)
    assert (p.line_steps, p.plane_steps, p.plane_digits, p.source) == (64, 60, (7, 6, 1), "full")
    assert b.widths[1] >= 784 and b.epochs < p.epochs and b.source == "subset"
    assert p.pairs[0] == (7, 6) and len(p.pairs) >= 3
    assert set(mnist.PRESETS) == {"book", "paper", "tiny"}
    for kw, name in ((dict(preset="huge"), "preset"), (dict(width=100), "width"), (dict(line_steps=1), "line_steps"),
                     (dict(pairs=[(7, 7)]), "pairs"), (dict(init="xavier"), "init"), (dict(pixels="some"), "pixels"),
                     (dict(source="kaggle"), "source"), (dict(epochs=0), "epochs")):
        with pytest.raises(ValueError, match=name):
            mnist.run(**kw)
    with pytest.raises(TypeError, match="plane"):
        mnist.run(plane="yes")
    with pytest.raises(TypeError, match="data_dir"):  # where MNIST is kept is an option now: Options.data_dir
        mnist.run("paper", data_dir="/unused")


@pytest.mark.slow
def test_mnist_paper_code_path_smoke(tmp_path):
    """The paper preset's whole path -- full-MNIST download (local files in the real IDX format), training, lines,
    plane, spectra, geometry cache -- with 1 epoch and tiny sizes."""
    served = tmp_path / "served"
    hashes = write_fake_mnist(served, n_train=120, n_test=40)
    options = Options(data_dir=str(tmp_path / "mnist"), cache_dir=str(tmp_path / "cache"))
    kw = dict(epochs=1, width=800, line_steps=3, plane_steps=3, pairs=[(7, 6), (1, 2)], pixels="all",
              base_url=served.as_uri(), hashes=hashes)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = mnist.run("paper", options, **kw)
    assert m.settings.init == "paper" and m.settings.source == "full" and m.epochs == [0, 1]
    assert m.x_test.shape == (40, 784) and set(m.anchors) == set(range(10))
    lg = m.lines[(7, 6)]
    assert lg.epochs == (0, 1) and lg.log_volume.shape == (2, 3) and lg.end_log_volume.shape == (2, 2)
    assert torch.equal(lg.end_log_volume[:, 0], lg.log_volume[:, 0])  # t = 0 is x1
    assert bool(torch.isfinite(lg.log_volume).all()) and lg.predicted.dtype == torch.long
    assert m.lines[(1, 2)].epochs == (0, 1)
    assert m.plane.log_volume.shape == (len(m.plane.epochs), 9) and m.plane.epochs[0] == 0
    assert m.spectra_epochs == m.plane.epochs and m.spectra[7].shape == (len(m.spectra_epochs), 784)
    # the spectra and the determinant agree (k = 784: sum of log singular values)
    W, b = m.model(0).shallow_parameters()
    lv7 = shallow.log_volume_element(W, b, m.anchor(7)[None], "sigmoid")
    assert float(torch.log10(m.spectra[7][0]).sum()) == pytest.approx(float(lv7), abs=1e-8)
    assert set(m.test_accuracy) == {0, 1} and "paper preset" in m.describe()
    rows = m.claims()
    assert [r["pair"] for r in rows] == [(7, 6), (1, 2)]
    # the second call reads both caches and gives the same numbers
    m2 = mnist.run("paper", options, **kw)
    assert m2.training.source == "cache" and torch.equal(m2.lines[(7, 6)].log_volume, lg.log_volume)
    kw.pop("pixels")
    live = mnist.run("paper", options, plane=False, spectra=False, **kw)  # the paper preset measures the live pixels
    assert live.plane is None and live.spectra == {} and "non-blank" in live.describe() and live.live_line is None
    # the controls: three seeds and a network on shuffled labels, each on the same random and same-class lines
    s = m.settings
    assert len(m.controls) == (len(s.pairs) + len(s.same_class)) * (len(s.seeds) + 1)
    assert {r["network"] for r in m.controls} == {"seed 0", "seed 1", "seed 2", "shuffled"}
    assert set(m.control_accuracy) == {"seed 0", "seed 1", "seed 2", "shuffled"}
    same = m.control_table("same", "seed 0")
    assert len(same) == len(s.same_class) and all(r["pair"][0] == r["pair"][1] for r in same)
    assert all(r["anchors"][0] != r["anchors"][1] for r in same)
    assert all(math.isfinite(r["contrast_final"]) for r in m.controls)
    cross = [r["contrast_final"] for r in m.control_table("cross", "shuffled")]
    assert m.control_mean("cross", "shuffled", "contrast_final") == pytest.approx(sum(cross) / len(cross))
    with pytest.raises(ValueError, match="no control lines"):
        live.control_mean("cross", "seed 7", "contrast_final")
    # with pixels="all" the main line is measured on the live pixels too
    assert m.live_line is not None and m.live_line.log_volume.shape == lg.log_volume.shape
    assert -1 <= m.plane_correlation(m.plane.epochs[-1]) <= 1
    # the same seeds and lines, and therefore the same rows, when computed in one process
    one = mnist.run("paper", options.replace(workers=1, cache_dir=str(tmp_path / "other")), plane=False,
                    spectra=False, **kw)
    assert one.training.source == "trained" and json.dumps(one.controls) == json.dumps(live.controls)


def test_paper_preset_stays_finite_when_blank_pixel_weights_underflow(tmp_path):
    """Weights of always-blank pixels are moved by weight decay alone; in long float32 training they shrink to the
    bottom of the float32 range, and a weight that reaches exactly 0 stays there (its gradient is then 0): the full
    determinant is then 0. Shortened: plain SGD with lr * weight_decay = 1 sends every blank-pixel weight to exactly
    0 in one step (w - lr * wd * w = 0). The paper preset (live pixels) stays finite; all pixels give -inf."""
    served = tmp_path / "served"
    hashes = write_fake_mnist(served, n_train=120, n_test=40)
    preset = mnist.PRESETS["paper"].replace(
        optimizer="sgd", lr=1.0, momentum=0.0, weight_decay=1.0, epochs=3, snapshots=(0, 3), figure_epochs=(0, 3),
        widths=(784, 800, 10), line_steps=3, plane_steps=3, pairs=((7, 6),), seeds=(0,), controls=False,
        spectra=False)
    options = Options(data_dir=str(tmp_path / "mnist"), cache_dir=str(tmp_path / "cache"))
    kw = dict(base_url=served.as_uri(), hashes=hashes)
    m = mnist.run(preset, options, **kw)
    W, _ = m.model().shallow_parameters()
    blank = torch.arange(56)  # write_fake_mnist leaves the first two rows blank
    assert bool((W[:, blank] == 0).all())  # the underflow happened
    assert m.settings.pixels == "live"
    assert bool(torch.isfinite(m.lines[(7, 6)].log_volume).all()) and bool(torch.isfinite(m.plane.log_volume).all())
    with pytest.warns(RuntimeWarning, match="-inf"):
        full = mnist.run(preset.replace(pixels="all"), options, **kw)
    assert bool(torch.isneginf(full.lines[(7, 6)].log_volume[-1]).all())


def test_paper_preset_without_download_needs_the_files_on_disk(tmp_path):
    from paperlib import data

    options = Options(data_dir=str(tmp_path / "mnist"), download=False, cache_dir=str(tmp_path / "cache"))
    with pytest.raises(data.DataUnavailableError, match="full MNIST"):
        mnist.run("paper", options)
    assert not (tmp_path / "cache" / "train").exists()  # refused before any training


def test_authors_init_and_relu_are_the_run_with_their_changes(monkeypatch):
    calls = []
    monkeypatch.setattr(mnist, "run", lambda preset, options=None, **kw: calls.append((preset, options, kw)) or "ran")
    options = Options(cache=False)
    assert mnist.authors_init("book", options) == "ran"
    assert calls[-1] == ("book", options, dict(init="paper", plane=False, spectra=False, controls=False))
    mnist.authors_init("paper", options)  # the paper preset starts from the authors' initialisation already
    assert calls[-1] == ("paper", options, {})
    assert mnist.relu("tiny", options) == "ran"
    preset, given, kw = calls[-1]
    tiny = mnist.PRESETS["tiny"]
    assert given is options and kw == {}
    assert (preset.activation, preset.k, preset.pairs) == ("relu", min(100, tiny.widths[1]), ((7, 6), (4, 9), (3, 8)))
    assert preset.snapshots == preset.figure_epochs == (0, tiny.epochs)
    assert not (preset.plane or preset.spectra or preset.controls)
