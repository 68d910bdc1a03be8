"""paperlib.plot.slices: the figures of lines and planes through inputs across training (chapters 6-8)."""

import warnings

import pytest
from matplotlib.figure import Figure
from plot_fakes import line_geometry, plane_geometry

from paperlib import plot


def test_line_figure_one_panel_per_epoch():
    lg = line_geometry()
    fig = plot.line_figure(lg)
    assert isinstance(fig, Figure)
    main = [ax for ax in fig.axes if ax.get_xlabel() == "$t$"]
    assert len(main) == 2 and "epoch 5" in main[1].get_title()
    one = plot.line_figure(lg, [5])
    assert len(one.axes) == 1 and len(one.axes[0].child_axes) == 3
    with pytest.raises(ValueError, match="epochs"):
        plot.line_figure(lg, [7])
    grid = plot.pairs_figure({(7, 6): lg, (6, 7): lg, (1, 2): lg}, ncols=2)
    titled = [ax for ax in grid.axes if ax.get_title()]
    assert len(titled) == 3 and titled[0].get_title() == "7 → 6, epoch 5" and not grid.axes[3].axison
    assert "epoch 0" in plot.pairs_figure({1: lg}, 0).axes[0].get_title()
    with pytest.raises(ValueError, match="lines"):
        plot.pairs_figure({})
    with pytest.raises(TypeError, match="line"):
        plot.line_figure(object())


def test_relative_line_plot_subtracts_the_anchor_mean():
    import numpy as np

    lg = line_geometry()
    ax = plot.relative_line_plot({"all": lg, "live": lg}, [0, 5])
    curves = [ln for ln in ax.get_lines() if ln.get_linestyle() in ("-", "--") and len(ln.get_xdata()) == 16]
    assert len(curves) == 4 and {c.get_linestyle() for c in curves} == {"-", "--"}
    want = (lg.log_volume[1] - lg.end_log_volume[1].mean()).numpy()
    assert np.allclose(curves[1].get_ydata(), want)
    dots = [ln for ln in ax.get_lines() if ln.get_marker() == "o"]
    assert len(dots[1].get_xdata()) == 1  # the single 7 -> 6 change at epoch 5
    with pytest.raises(ValueError, match="lines"):
        plot.relative_line_plot({})


def test_plane_figure():
    pg = plane_geometry()
    fig = plot.plane_figure(pg)
    assert len(fig.axes) == 2 * 3 * 2  # panels + colour bars


def test_ternary_figure():
    pg = plane_geometry(steps=16)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = plot.ternary_figure(pg, [5])
    assert sum(a.name == "ternary" for a in fig.axes) == 3
