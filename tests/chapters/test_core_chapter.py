"""paperlib.chapters.core: what the experiment chapters share -- anchors and control lines, the statistics along a
line (entropy, class changes, peak-to-boundary distance, contrast, line_statistics), mean ± sd, and the numbers of
line and plane geometries."""

import math

import pytest
import torch
from plot_fakes import line_geometry, plane_geometry

from paperlib import data
from paperlib.chapters import core


def test_anchor_indices_pick_the_image_nearest_the_class_mean():
    ref_x = torch.tensor([[0.0, 0.0], [2.0, 0.0], [10.0, 10.0], [12.0, 10.0]])
    ref_y = torch.tensor([0, 0, 1, 1])
    x = torch.tensor([[5.0, 5.0], [1.1, 0.0], [11.0, 9.0], [0.0, 0.0], [11.0, 10.0]])
    y = torch.tensor([0, 0, 1, 0, 1])
    assert core.anchor_indices(x, y, ref_x, ref_y) == {0: 1, 1: 4}
    with pytest.raises(ValueError, match="y"):
        core.anchor_indices(x, y[:2], ref_x, ref_y)
    with pytest.raises(TypeError, match="reference_x"):
        core.anchor_indices(x, y, ref_x.long(), ref_y)


def test_entropy_changes_distance_and_contrast():
    H = core.class_entropy(torch.tensor([[0.0, 0.0, 0.0], [100.0, 0.0, 0.0], [1e4, 0.0, 0.0]]))
    assert H[0] == pytest.approx(math.log(3)) and 0 < float(H[1]) < 1e-40 and float(H[2]) > 0
    t = torch.arange(8, dtype=torch.float64) / 8
    pred = torch.tensor([7, 7, 7, 2, 2, 6, 6, 6])
    assert core.class_changes(t, pred).tolist() == [0.3125, 0.5625]
    lv = torch.tensor([0.0, 1, 2, 3, 9, 3, 2, 1])  # peak at t = 0.5, inside [0.3125, 0.5625]
    assert core.peak_boundary_distance(t, lv, pred) == 0.0
    lv2 = torch.tensor([9.0, 1, 2, 3, 4, 3, 2, 1])  # peak at t = 0
    assert core.peak_boundary_distance(t, lv2, pred) == pytest.approx(0.3125)
    assert math.isnan(core.peak_boundary_distance(t, lv, torch.zeros(8, dtype=torch.long)))
    assert core.line_contrast(lv, torch.tensor([1.0, 3.0])) == pytest.approx(7.0)
    with pytest.raises(ValueError, match="end_values"):
        core.line_contrast(lv, torch.tensor([1.0]))
    with pytest.raises(ValueError, match="predicted"):
        core.class_changes(t, pred[:3])


def test_control_lines_are_seeded_and_valid():
    y = torch.arange(60) % 10
    a = core.control_anchor_pairs(y, [(7, 6), (1, 2)], (3, 4), seed=5)
    assert a == core.control_anchor_pairs(y, [(7, 6), (1, 2)], (3, 4), seed=5)
    assert a != core.control_anchor_pairs(y, [(7, 6), (1, 2)], (3, 4), seed=6)
    for kind, (c1, c2), (i, j) in a:
        assert int(y[i]) == c1 and int(y[j]) == c2 and i != j and (kind == "same") == (c1 == c2)
    with pytest.raises(ValueError, match="digit 3"):
        core.control_anchor_pairs(torch.tensor([3, 1, 2]), [], (3,), seed=0)


def test_mean_sd_text():
    assert core.mean_sd_text([1.0, 2.0, 3.0]) == "2.00 ± 1.00"


def test_line_statistics_by_hand():
    t = torch.arange(4, dtype=torch.float64) / 4
    initial = torch.tensor([0.0, 1.0, 0.5, 0.2], dtype=torch.float64)   # peak at t = 0.25
    final = torch.tensor([0.0, 1.0, 5.0, 1.0], dtype=torch.float64)     # peak at t = 0.5
    predicted = torch.tensor([7, 7, 6, 6])                               # transition at t = 0.375
    entropy = torch.tensor([0.01, 0.1, 1.0, 0.1], dtype=torch.float64)
    row = core.line_statistics(t, initial, torch.tensor([0.0, 0.0], dtype=torch.float64), final,
                               torch.tensor([0.0, 2.0], dtype=torch.float64), predicted, entropy)
    assert row["contrast_init"] == 1.0 and row["contrast_final"] == 4.0
    assert row["distance_final"] == pytest.approx(0.125) and row["distance_init"] == pytest.approx(0.125)
    assert row["changes"] == 1 and row["entropy_corr_final"] > 0.9


def test_line_and_plane_numbers_hold_the_values_and_the_statistics_per_epoch():
    lg = line_geometry()
    n = lg.numbers()
    assert n["digits"] == [7, 6] and n["epochs"] == [0, 5] and n["t"] is lg.line.t
    assert n["log_volume"] is lg.log_volume and n["predicted"] is lg.predicted and n["entropy"] is lg.entropy
    for e in (0, 5):
        assert n["contrast"][e] == lg.contrast(e) and n["peak"][e] == lg.peak(e)
        assert n["class_changes"][e] == lg.changes(e)
        assert n["boundary_distance"][e] == lg.boundary_distance(e) or math.isnan(lg.boundary_distance(e))
    assert n["class_changes"][0] == [] and len(n["class_changes"][5]) == 1  # one class at 0, 7 -> 6 at 5
    pg = plane_geometry()
    p = pg.numbers()
    assert p["digits"] == [7, 6, 1] and p["epochs"] == [0, 5] and p["log_volume"] is pg.log_volume
    assert p["a"] is pg.plane.a and p["ternary"] is pg.plane.ternary and "correlation_log_volume_log_entropy" not in p
    with_corr = pg.numbers(lambda e: float(e) / 10)
    assert with_corr["correlation_log_volume_log_entropy"] == {0: 0.0, 5: 0.5}


def test_grid_numbers():
    g = data.grid(-1, 2, 5)
    n = core.grid_numbers(g)
    assert n["xs"] is g.xs and n["ys"] is g.ys and "xs[j], ys[i]" in n["layout"]
