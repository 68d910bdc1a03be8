"""paperlib.experiments (MNIST): the QR log volume element, accurate spectra, anchors, line statistics, and a smoke
test of the paper preset's code path (full-MNIST download from local files, training, geometry, caching)."""

import itertools
import json
import math
import warnings

import pytest
import torch

from mnist_fakes import write_fake_mnist
from paperlib import experiments as ex, shallow


def _net(n, d, seed=0, w_scale=1.0, b_scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return (w_scale * torch.randn(n, d, generator=g, dtype=torch.float64),
            b_scale * torch.randn(n, generator=g, dtype=torch.float64))


def _cauchy_binet_log10(W, b, x, activation="sigmoid"):
    """Exact log10 sqrt(det g) from the Cauchy-Binet sum over all d-subsets of units (log-sum-exp)."""
    n, d = W.shape
    z = x @ W.T + b
    logd = torch.nn.functional.logsigmoid(z) + torch.nn.functional.logsigmoid(-z)
    terms = []
    for S in itertools.combinations(range(n), d):
        S = list(S)
        _, logdet = torch.linalg.slogdet(W[S])
        terms.append(2 * logd[:, S].sum(1) + 2 * logdet)  # prod phi'^2 det(W_S)^2
    total = torch.logsumexp(torch.stack(terms, 1), 1) - d * math.log(n)
    return 0.5 * total / math.log(10)


def test_qr_log_volume_matches_the_svd_route_and_cauchy_binet():
    W, b = _net(7, 3, seed=1)
    x = torch.randn(9, 3, dtype=torch.float64)
    qr = shallow.log_volume_element(W, b, x, "sigmoid")
    assert qr.shape == (9,) and qr.dtype == torch.float64
    svd = shallow.log_volume_element(W, b, x, "sigmoid", device=None)
    assert torch.allclose(qr, svd, atol=1e-11)
    assert torch.allclose(qr, _cauchy_binet_log10(W, b, x), atol=1e-11)
    for act in ("tanh", "erf", "softplus"):
        assert torch.allclose(shallow.log_volume_element(W, b, x, act),
                              shallow.log_volume_element(W, b, x, act, device=None), atol=1e-10)
    assert torch.allclose(shallow.log_volume_element(W, b, x, "sigmoid", base=math.e), qr * math.log(10))
    assert torch.allclose(shallow.log_volume_element(W, b, x, "sigmoid", chunk_size=2), qr)


def test_qr_log_volume_is_accurate_for_saturated_units_and_dead_columns():
    # strongly saturated units: phi' spans ~1e-2 .. 1e-40; the Cauchy-Binet sum is the exact reference
    W, b = _net(6, 3, seed=2, w_scale=20.0)
    x = torch.randn(5, 3, dtype=torch.float64)
    assert torch.allclose(shallow.log_volume_element(W, b, x, "sigmoid"), _cauchy_binet_log10(W, b, x), atol=1e-9)
    # square W: det g = det(W)^2 prod phi'^2 / n^d exactly, whatever the saturation
    Wq, bq = _net(5, 5, seed=3, w_scale=30.0)
    xq = torch.randn(4, 5, dtype=torch.float64)
    z = xq @ Wq.T + bq
    logd = torch.nn.functional.logsigmoid(z) + torch.nn.functional.logsigmoid(-z)
    exact = (torch.linalg.slogdet(Wq)[1] + logd.sum(1) - 2.5 * math.log(5)) / math.log(10)
    assert torch.allclose(shallow.log_volume_element(Wq, bq, xq, "sigmoid"), exact, atol=1e-10)
    # a column scaled by 1e-30 (a pixel whose weights decayed): exactly -30 decades more, which the SVD misses
    W2, b2 = _net(40, 30, seed=4)
    x2 = torch.rand(3, 30, dtype=torch.float64)
    W3 = W2.clone()
    W3[:, 0] *= 1e-30
    x3 = x2.clone()
    x3[:, 0] = 0.0  # the pixel is blank, so the pre-activations do not change
    base = shallow.log_volume_element(W2, b2, x3, "sigmoid")
    assert torch.allclose(shallow.log_volume_element(W3, b2, x3, "sigmoid"), base - 30.0, atol=1e-9)
    sv = shallow.spectrum(W3, b2, x3, "sigmoid", method="jacobi")
    assert torch.allclose(torch.log10(sv).sum(1), base - 30.0, atol=1e-9)  # Jacobi SVD keeps relative accuracy


def test_singular_values_methods_agree_when_well_conditioned():
    W, b = _net(12, 5, seed=5, w_scale=0.5)
    x = torch.randn(3, 5, dtype=torch.float64)
    jac = shallow.spectrum(W, b, x, "sigmoid", method="jacobi")
    svd = shallow.spectrum(W, b, x, "sigmoid", method="svd")
    ref = shallow.spectrum(W, b, x, "sigmoid", device=None)
    assert jac.shape == (3, 5) and bool((jac[:, :-1] >= jac[:, 1:]).all())
    assert torch.allclose(jac, ref, rtol=1e-10) and torch.allclose(svd, ref, rtol=1e-10)
    with pytest.raises(ValueError, match="method"):
        shallow.spectrum(W, b, x, "sigmoid", method="eig")


def test_shallow_argument_errors():
    W, b = _net(4, 6)
    x = torch.randn(2, 6, dtype=torch.float64)
    assert torch.isneginf(shallow.log_volume_element(W, b, x, "sigmoid")).all()  # n < d: det g = 0
    with pytest.raises(ValueError, match="jacobi"):
        shallow.spectrum(W, b, x, "sigmoid", method="jacobi")
    W, b = _net(8, 6)
    with pytest.raises(ValueError, match="b"):
        shallow.log_volume_element(W, b[:3], x, "sigmoid")
    with pytest.raises(ValueError, match="x"):
        shallow.log_volume_element(W, b, x[:, :4], "sigmoid")
    with pytest.raises(ValueError, match="activation|relu6"):
        shallow.log_volume_element(W, b, x, "relu6")
    with pytest.raises(ValueError, match="chunk_size"):
        shallow.log_volume_element(W, b, x, "sigmoid", chunk_size=0)
    with pytest.raises(ValueError, match="base"):
        shallow.log_volume_element(W, b, x, "sigmoid", base=1)


def test_anchor_indices_pick_the_image_nearest_the_class_mean():
    ref_x = torch.tensor([[0.0, 0.0], [2.0, 0.0], [10.0, 10.0], [12.0, 10.0]])
    ref_y = torch.tensor([0, 0, 1, 1])
    x = torch.tensor([[5.0, 5.0], [1.1, 0.0], [11.0, 9.0], [0.0, 0.0], [11.0, 10.0]])
    y = torch.tensor([0, 0, 1, 0, 1])
    assert ex.anchor_indices(x, y, ref_x, ref_y) == {0: 1, 1: 4}
    with pytest.raises(ValueError, match="y"):
        ex.anchor_indices(x, y[:2], ref_x, ref_y)
    with pytest.raises(TypeError, match="reference_x"):
        ex.anchor_indices(x, y, ref_x.long(), ref_y)


def test_entropy_changes_distance_and_contrast():
    H = ex.class_entropy(torch.tensor([[0.0, 0.0, 0.0], [100.0, 0.0, 0.0], [1e4, 0.0, 0.0]]))
    assert H[0] == pytest.approx(math.log(3)) and 0 < float(H[1]) < 1e-40 and float(H[2]) > 0
    t = torch.arange(8, dtype=torch.float64) / 8
    pred = torch.tensor([7, 7, 7, 2, 2, 6, 6, 6])
    assert ex.class_changes(t, pred).tolist() == [0.3125, 0.5625]
    lv = torch.tensor([0.0, 1, 2, 3, 9, 3, 2, 1])  # peak at t = 0.5, inside [0.3125, 0.5625]
    assert ex.peak_boundary_distance(t, lv, pred) == 0.0
    lv2 = torch.tensor([9.0, 1, 2, 3, 4, 3, 2, 1])  # peak at t = 0
    assert ex.peak_boundary_distance(t, lv2, pred) == pytest.approx(0.3125)
    assert math.isnan(ex.peak_boundary_distance(t, lv, torch.zeros(8, dtype=torch.long)))
    assert ex.line_contrast(lv, torch.tensor([1.0, 3.0])) == pytest.approx(7.0)
    with pytest.raises(ValueError, match="end_values"):
        ex.line_contrast(lv, torch.tensor([1.0]))
    with pytest.raises(ValueError, match="predicted"):
        ex.class_changes(t, pred[:3])


def test_mnist_preset_settings_and_errors():
    p, b = ex.MNIST_PRESETS["paper"], ex.MNIST_PRESETS["book"]
    assert p.widths == (784, 2000, 10) and p.activation == "sigmoid" and p.init == "paper"
    assert (p.optimizer, p.lr, p.weight_decay, p.epochs) == ("adam", 1e-3, 1e-4, 200)
    assert (p.line_steps, p.plane_steps, p.plane_digits, p.source) == (64, 60, (7, 6, 1), "full")
    assert b.widths[1] >= 784 and b.epochs < p.epochs and b.source == "subset"
    assert p.pairs[0] == (7, 6) and len(p.pairs) >= 3
    for kw, name in ((dict(preset="tiny"), "preset"), (dict(width=100), "width"), (dict(line_steps=1), "line_steps"),
                     (dict(pairs=[(7, 7)]), "pairs"), (dict(init="xavier"), "init"), (dict(pixels="some"), "pixels"),
                     (dict(source="kaggle"), "source"), (dict(epochs=0), "epochs")):
        with pytest.raises(ValueError, match=name):
            ex.mnist(**kw)
    with pytest.raises(TypeError, match="plane"):
        ex.mnist(plane="yes")


def test_mnist_paper_code_path_smoke(tmp_path):
    """The paper preset's whole path -- full-MNIST download (local files in the real IDX format), training, lines,
    plane, spectra, geometry cache -- with 1 epoch and tiny sizes."""
    served = tmp_path / "served"
    hashes = write_fake_mnist(served, n_train=120, n_test=40)
    kw = dict(epochs=1, width=800, line_steps=3, plane_steps=3, pairs=[(7, 6), (1, 2)], pixels="all",
              data_dir=tmp_path / "mnist", base_url=served.as_uri(), hashes=hashes, cache_dir=tmp_path / "cache")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = ex.mnist("paper", **kw)
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
    m2 = ex.mnist("paper", **kw)
    assert m2.training.source == "cache" and torch.equal(m2.lines[(7, 6)].log_volume, lg.log_volume)
    kw.pop("pixels")
    live = ex.mnist("paper", plane=False, spectra=False, **kw)  # the paper preset measures the live pixels
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
    assert ex.mean_sd_text([1.0, 2.0, 3.0]) == "2.00 ± 1.00"
    # with pixels="all" the main line is measured on the live pixels too
    assert m.live_line is not None and m.live_line.log_volume.shape == lg.log_volume.shape
    assert -1 <= m.plane_correlation(m.plane.epochs[-1]) <= 1
    # the same seeds and lines, and therefore the same rows, when computed in one process
    one = ex.mnist("paper", plane=False, spectra=False, workers=1, **{**kw, "cache_dir": tmp_path / "other"})
    assert one.training.source == "trained" and json.dumps(one.controls) == json.dumps(live.controls)


def test_control_lines_are_seeded_and_valid():
    y = torch.arange(60) % 10
    a = ex.control_anchor_pairs(y, [(7, 6), (1, 2)], (3, 4), seed=5)
    assert a == ex.control_anchor_pairs(y, [(7, 6), (1, 2)], (3, 4), seed=5)
    assert a != ex.control_anchor_pairs(y, [(7, 6), (1, 2)], (3, 4), seed=6)
    for kind, (c1, c2), (i, j) in a:
        assert int(y[i]) == c1 and int(y[j]) == c2 and i != j and (kind == "same") == (c1 == c2)
    with pytest.raises(ValueError, match="digit 3"):
        ex.control_anchor_pairs(torch.tensor([3, 1, 2]), [], (3,), seed=0)


def test_paper_preset_stays_finite_when_blank_pixel_weights_underflow(tmp_path):
    """Weights of always-blank pixels are moved by weight decay alone; in long float32 training they shrink to the
    bottom of the float32 range, and a weight that reaches exactly 0 stays there (its gradient is then 0): the full
    determinant is then 0. Shortened: plain SGD with lr * weight_decay = 1 sends every blank-pixel weight to exactly
    0 in one step (w - lr * wd * w = 0). The paper preset (live pixels) stays finite; all pixels give -inf."""
    served = tmp_path / "served"
    hashes = write_fake_mnist(served, n_train=120, n_test=40)
    preset = ex.MNIST_PRESETS["paper"].replace(
        optimizer="sgd", lr=1.0, momentum=0.0, weight_decay=1.0, epochs=3, snapshots=(0, 3), figure_epochs=(0, 3),
        widths=(784, 800, 10), line_steps=3, plane_steps=3, pairs=((7, 6),), seeds=(0,), controls=False,
        spectra=False)
    kw = dict(data_dir=tmp_path / "mnist", base_url=served.as_uri(), hashes=hashes, cache_dir=tmp_path / "cache")
    m = ex.mnist(preset, **kw)
    W, _ = m.model().shallow_parameters()
    blank = torch.arange(56)  # write_fake_mnist leaves the first two rows blank
    assert bool((W[:, blank] == 0).all())  # the underflow happened
    assert m.settings.pixels == "live"
    assert bool(torch.isfinite(m.lines[(7, 6)].log_volume).all()) and bool(torch.isfinite(m.plane.log_volume).all())
    with pytest.warns(RuntimeWarning, match="-inf"):
        full = ex.mnist(preset.replace(pixels="all"), **kw)
    assert bool(torch.isneginf(full.lines[(7, 6)].log_volume[-1]).all())
