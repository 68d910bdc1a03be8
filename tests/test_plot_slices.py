"""paperlib.plot: interpolation lines with inset images, plane panels, ternary plots and spectra."""

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from paperlib import experiments as ex, plot, slices


def _line_geometry(steps=16):
    g = torch.Generator().manual_seed(0)
    x1, x2 = torch.rand(784, generator=g), torch.rand(784, generator=g)
    ln = slices.line(x1, x2, steps)
    t = ln.t
    lv = torch.stack([-(t - 0.5) ** 2, -10 * (t - 0.6) ** 2])
    pred = torch.stack([torch.full((steps,), 3), torch.where(t < 0.55, 7, 6)])
    return ex.LineGeometry((7, 6), ln, (0, 5), lv, lv[:, :2], pred, torch.ones(2, steps))


def _plane_geometry(steps=14):
    g = torch.Generator().manual_seed(1)
    pl = slices.plane(*(torch.rand(1, 28, 28, generator=g) for _ in range(3)), steps)
    a, b = pl.coords[:, 0], pl.coords[:, 1]
    lv = torch.stack([-(a**2 + b**2), -(a - 0.2) ** 2 - b**2])
    pred = torch.stack([pl.ternary.argmax(1), pl.ternary.argmax(1) + 3])
    ent = torch.stack([torch.rand(steps * steps, generator=g), torch.zeros(steps * steps)])  # includes H = 0
    return ex.PlaneGeometry((7, 6, 1), pl, (0, 5), lv, pred, ent)


def test_interpolation_plot_colours_classes_and_adds_three_images():
    lg = _line_geometry()
    imgs = [lg.line.anchors[0], lg.line.midpoint.reshape(1, 28, 28), lg.line.anchors[1].reshape(28, 28)]
    ax = plot.interpolation_plot(lg.line.t, lg.log_volume[1], lg.predicted[1], images=imgs, title="7 → 6")
    assert len(ax.child_axes) == 3  # insets at t = 0, 1/2, 1
    segs = [c for c in ax.collections if isinstance(c, matplotlib.collections.LineCollection)]
    colors = {tuple(np.round(c, 4)) for c in segs[0].get_colors()}
    assert colors == {tuple(np.round(plot.CLASS_CMAP(7), 4)), tuple(np.round(plot.CLASS_CMAP(6), 4))}
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["7", "6"]
    assert len(ax.lines) == 2  # one class change (red) + the peak (dashed)
    ax2 = plot.interpolation_plot(lg.line.t, lg.log_volume[0], lg.predicted[0], legend=False, mark_peak=False)
    assert ax2.get_legend() is None and len(ax2.lines) == 0 and not ax2.child_axes


def test_interpolation_plot_errors():
    lg = _line_geometry()
    with pytest.raises(ValueError, match="log_volume"):
        plot.interpolation_plot(lg.line.t, lg.log_volume[0][:3], lg.predicted[0])
    with pytest.raises(ValueError, match="images"):
        plot.interpolation_plot(lg.line.t, lg.log_volume[0], lg.predicted[0], images=[lg.line.anchors[0]])
    with pytest.raises(ValueError, match="images\\[1\\]"):
        plot.interpolation_plot(lg.line.t, lg.log_volume[0], lg.predicted[0],
                                images=[lg.line.anchors[0], torch.zeros(5), lg.line.anchors[1]])
    with pytest.raises(TypeError, match="t"):
        plot.interpolation_plot([0, 1], lg.log_volume[0], lg.predicted[0])
    with pytest.raises(ValueError, match="classes"):
        plot.class_colors([11])


def test_line_figure_one_panel_per_epoch():
    lg = _line_geometry()
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


def test_plane_panels_and_figure():
    pg = _plane_geometry()
    axes = plot.plane_panels(pg.plane, pg.predicted[0], pg.entropy[0], pg.log_volume[0], labels=("7", "6", "1"))
    assert len(axes) == 3 and axes[0].get_xlabel() == "$a$"
    assert axes[2].images[0].colorbar.ax.get_ylabel() == plot.LOG_VOLUME_LABEL
    assert list(axes[0].images[0].colorbar.get_ticks()) == list(range(10))
    edges = [c for c in axes[2].collections if isinstance(c, matplotlib.collections.LineCollection)]
    assert len(edges) == 1 and len(edges[0].get_segments()) > 0  # decision boundaries in red
    assert axes[2].get_xlim() == (-1.0, 1.0)
    fig = plot.plane_figure(pg)
    assert len(fig.axes) == 2 * 3 * 2  # panels + colour bars
    img = pg.plane.image(pg.log_volume[1]).numpy()
    plot.plane_panels(pg.plane, pg.predicted[1], pg.entropy[1], img)  # (steps, steps) images work too
    with pytest.raises(ValueError, match="log_volume"):
        plot.plane_panels(pg.plane, pg.predicted[0], pg.entropy[0], pg.log_volume[0][:5])
    with pytest.raises(ValueError, match="labels"):
        plot.plane_panels(pg.plane, pg.predicted[0], pg.entropy[0], pg.log_volume[0], labels=("7",))


def test_ternary_triangulation_keeps_only_the_triangle():
    pg = _plane_geometry(steps=21)
    index, tris = plot.ternary_triangles(pg.plane)
    assert bool(pg.plane.inside[index].all()) and index.size == int(pg.plane.inside.sum())
    assert tris.min() >= 0 and tris.max() < index.size and tris.shape[1] == 3
    assert tris.shape[0] > index.size  # a connected triangulated region, two triangles per inside cell


def test_ternary_panels_and_figure():
    import warnings

    pg = _plane_geometry(steps=16)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        axes = plot.ternary_panels(pg.plane, pg.predicted[0], pg.entropy[0], pg.log_volume[0],
                                   labels=("7", "6", "1"), title="epoch 0")
        fig = plot.ternary_figure(pg, [5])
    assert [a.name for a in axes] == ["ternary"] * 3
    assert axes[0].get_tlabel() == "7" and axes[0].get_llabel() == "6" and axes[0].get_rlabel() == "1"
    assert sum(a.name == "ternary" for a in fig.axes) == 3
    with pytest.raises(TypeError, match="ternary"):
        plot.ternary_panels(pg.plane, pg.predicted[0], pg.entropy[0], pg.log_volume[0],
                            axes=plt.subplots(1, 3)[1])
    with pytest.raises(ValueError, match="steps"):
        small = slices.plane(torch.zeros(4), torch.ones(4), torch.arange(4.0), 2)
        plot.ternary_panels(small, torch.zeros(4), torch.ones(4), torch.zeros(4))


def test_spectrum_plot():
    s = torch.tensor([[3.0, 2.0, 1.0, 0.0], [30.0, 2.0, 0.1, 1e-40]])
    ax = plot.spectrum_plot(s, [0, 10], title="anchor 7")
    assert len(ax.lines) == 2 and ax.get_title() == "anchor 7"
    assert np.allclose(ax.lines[1].get_ydata()[:3], np.log10([30.0, 2.0, 0.1]))
    with pytest.raises(ValueError, match="epochs"):
        plot.spectrum_plot(s, [0])
    with pytest.raises(ValueError, match="spectra"):
        plot.spectrum_plot(s[0], [0])
