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
    assert row["prominence_final"] == 3.0 and row["prominence_init"] == 1.0
    assert (row["peak_init"], row["peak_final"]) == (0.25, 0.5)
    assert row["transition_lower"] == row["transition_upper"] == 0.375
    assert -1 <= row["entropy_partial_final"] <= 1 or math.isnan(row["entropy_partial_final"])


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


def test_prominence_needs_an_interior_peak():
    t = torch.arange(8, dtype=torch.float64) / 8
    hump = -((t - 0.5) ** 2)
    assert core.line_prominence(hump, torch.tensor([hump[0], -0.25])) == pytest.approx(0.25)
    rising = t.clone()  # monotone: its largest value is the end x2 = 1
    assert core.line_prominence(rising, torch.tensor([0.0, 1.0])) == pytest.approx(0.875 - 1.0)
    assert core.line_contrast(rising, torch.tensor([0.0, 1.0])) > 0  # the contrast cannot tell
    with pytest.raises(ValueError, match="end_values"):
        core.line_prominence(hump, torch.tensor([1.0]))


def test_partial_correlation_removes_the_shared_control():
    gen = torch.Generator().manual_seed(0)
    c = torch.rand(200, generator=gen, dtype=torch.float64)
    a = c + 0.01 * torch.randn(200, generator=gen, dtype=torch.float64)
    b = c + 0.01 * torch.randn(200, generator=gen, dtype=torch.float64)
    assert core.pearson(a, b) > 0.99 and abs(core.partial_correlation(a, b, c)) < 0.2
    e = torch.randn(200, generator=gen, dtype=torch.float64)
    assert core.partial_correlation(c + e, c + e + 0.1 * torch.randn(200, generator=gen, dtype=torch.float64),
                                    c) > 0.9
    # the textbook formula
    r_ab, r_ac, r_bc = core.pearson(a, b), core.pearson(a, c), core.pearson(b, c)
    formula = (r_ab - r_ac * r_bc) / math.sqrt((1 - r_ac**2) * (1 - r_bc**2))
    assert core.partial_correlation(a, b, c) == pytest.approx(formula, abs=1e-10)


def test_spearman_is_the_correlation_of_ranks():
    a = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])
    assert core.spearman(a, a.exp()) == pytest.approx(1.0)
    assert core.spearman(a, -a**3) == pytest.approx(-1.0)
    assert core.spearman(torch.tensor([1.0, 1.0, 2.0]), torch.tensor([1.0, 2.0, 3.0])) == pytest.approx(0.8660254)


def test_location_test_separates_tracking_peaks_from_its_nulls():
    gen = torch.Generator().manual_seed(1)
    lo = torch.rand(40, generator=gen, dtype=torch.float64) * 0.6 + 0.2
    hi = lo + 0.02
    tracking = core.location_test(lo + 0.01, lo, hi, permutations=2000)
    assert tracking.lines == 40 and tracking.distance == pytest.approx(0.0)
    assert tracking.passes(margin=0.05, alpha=0.01) and tracking.rank_correlation > 0.99
    middle = core.location_test([0.5] * 40, lo, hi, permutations=2000)  # the midpoint null itself
    assert middle.distance == pytest.approx(middle.midpoint) and not middle.passes(margin=0.05, alpha=0.01)
    unrelated = core.location_test(torch.rand(40, generator=gen).tolist(), lo, hi, permutations=2000)
    assert not unrelated.passes(margin=0.05, alpha=0.01) and unrelated.p_shuffled > 0.01
    # lines without a transition are left out; too few lines is an error
    nan = float("nan")
    assert core.location_test([0.3, 0.4, 0.5, 0.9], [0.3, 0.4, 0.5, nan], [0.3, 0.4, 0.5, nan]).lines == 3
    with pytest.raises(ValueError, match="at least 3"):
        core.location_test([0.3, 0.4], [0.3, 0.4], [0.3, 0.4])


def test_random_line_pairs_are_seeded_and_of_the_right_classes():
    y = torch.arange(100) % 5
    cross = core.random_line_pairs(y, 30, seed=3)
    assert cross == core.random_line_pairs(y, 30, seed=3) and cross != core.random_line_pairs(y, 30, seed=4)
    assert all(k == "cross" and c1 != c2 and int(y[i]) == c1 and int(y[j]) == c2 for k, (c1, c2), (i, j) in cross)
    assert len({pair for _, pair, _ in cross}) > 5  # many class pairs, not one
    same = core.random_line_pairs(y, 10, seed=3, same_class=True)
    assert all(k == "same" and c1 == c2 and i != j and int(y[i]) == int(y[j]) == c1 for k, (c1, c2), (i, j) in same)
    with pytest.raises(ValueError, match="count"):
        core.random_line_pairs(y, 0, seed=3)


def test_spread_selection_spreads_the_transitions_and_skips_lines_without_one():
    gen = torch.Generator().manual_seed(0)
    centres = (0.5 + 0.1 * torch.randn(400, generator=gen, dtype=torch.float64)).clamp(0.01, 0.99).tolist()
    centres[:50] = [float("nan")] * 50
    picked = core.spread_selection(centres, 20)
    chosen = torch.tensor([centres[i] for i in picked])
    assert len(set(picked)) == 20 and all(i >= 50 for i in picked)
    assert float(chosen.std()) > 1.5 * float(torch.tensor(centres[50:]).std())
    with pytest.raises(ValueError, match="candidate"):
        core.spread_selection([float("nan")] * 5 + [0.5], 2)
