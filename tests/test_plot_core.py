"""paperlib.plot.core: heat maps with colour bars and decision boundaries, line, plane and ternary panels,
spectra, the epoch slider."""

import warnings

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from plot_fakes import decision_field, line_geometry, plane_geometry

from paperlib import data, plot, slices


@pytest.fixture()
def grid():
    return data.grid(-1, 1, 16)


def test_log_volume_map_has_labelled_colorbar_and_boundary(grid):
    lv = grid.image(-grid.points.norm(dim=1))
    ax = plot.log_volume_map(lv, grid, boundary=decision_field(grid), title="t")
    assert ax.get_title() == "t" and len(ax.figure.axes) == 2  # map + colour bar
    assert ax.figure.axes[1].get_ylabel() == plot.LOG_VOLUME_LABEL
    assert len(ax.collections) == 1  # the red contour
    ax2 = plot.log_volume_map(lv, grid, boundary=torch.ones(grid.shape))  # no crossing: nothing drawn, no warning
    assert len(ax2.collections) == 0


def test_ricci_map_is_centred_and_clipped(grid):
    R = grid.image(grid.points[:, 0] * 10)
    R[0, 0] = 1e6
    R[1, 1] = float("nan")
    ax = plot.ricci_map(R, grid, percentile=90)
    norm = ax.images[0].norm
    assert norm.vcenter == 0 and norm.vmin == -norm.vmax and norm.vmax < 1e6
    assert plot.ricci_limit(torch.zeros(3)) == 1.0
    with pytest.raises(ValueError, match="percentile"):
        plot.ricci_limit(R, 0)


def test_prediction_map_and_existing_axes(grid):
    fig, ax = plt.subplots()
    p = torch.sigmoid(5 * decision_field(grid))
    x, y = data.sinusoid(20)
    out = plot.prediction_map(p, grid, ax=ax, data=(x, y))
    assert out is ax and len(ax.collections) == 3  # contour + two scatter sets


def test_epoch_slider_redraws(grid):
    drawn = []

    def draw(epoch):
        drawn.append(epoch)
        fig, ax = plt.subplots()
        ax.set_title(str(epoch))
        return fig

    slider = plot.epoch_slider([0, 10, 20], draw)
    assert drawn == [20] and slider.value == 20
    slider.value = 10
    assert drawn == [20, 10]


def test_bad_inputs(grid):
    with pytest.raises(ValueError, match="values"):
        plot.log_volume_map(torch.zeros(3, 3), grid)
    with pytest.raises(TypeError, match="grid"):
        plot.ricci_map(torch.zeros(3, 3), None)
    with pytest.raises(TypeError, match="ax"):
        plot.prediction_map(torch.zeros(grid.shape), grid, ax=1)
    with pytest.raises(ValueError, match="value"):
        plot.epoch_slider([0, 1], lambda e: plt.figure(), value=5)


def test_interpolation_plot_colours_classes_and_adds_three_images():
    lg = line_geometry()
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
    lg = line_geometry()
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


def test_plane_panels():
    pg = plane_geometry()
    axes = plot.plane_panels(pg.plane, pg.predicted[0], pg.entropy[0], pg.log_volume[0], labels=("7", "6", "1"))
    assert len(axes) == 3 and axes[0].get_xlabel() == "$a$"
    assert axes[2].images[0].colorbar.ax.get_ylabel() == plot.LOG_VOLUME_LABEL
    assert list(axes[0].images[0].colorbar.get_ticks()) == list(range(10))
    edges = [c for c in axes[2].collections if isinstance(c, matplotlib.collections.LineCollection)]
    assert len(edges) == 1 and len(edges[0].get_segments()) > 0  # decision boundaries in red
    assert axes[2].get_xlim() == (-1.0, 1.0)
    img = pg.plane.image(pg.log_volume[1]).numpy()
    plot.plane_panels(pg.plane, pg.predicted[1], pg.entropy[1], img)  # (steps, steps) images work too
    with pytest.raises(ValueError, match="log_volume"):
        plot.plane_panels(pg.plane, pg.predicted[0], pg.entropy[0], pg.log_volume[0][:5])
    with pytest.raises(ValueError, match="labels"):
        plot.plane_panels(pg.plane, pg.predicted[0], pg.entropy[0], pg.log_volume[0], labels=("7",))


def test_ternary_triangulation_keeps_only_the_triangle():
    pg = plane_geometry(steps=21)
    index, tris = plot.ternary_triangles(pg.plane)
    assert bool(pg.plane.inside[index].all()) and index.size == int(pg.plane.inside.sum())
    assert tris.min() >= 0 and tris.max() < index.size and tris.shape[1] == 3
    assert tris.shape[0] > index.size  # a connected triangulated region, two triangles per inside cell


def test_ternary_panels():
    pg = plane_geometry(steps=16)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        axes = plot.ternary_panels(pg.plane, pg.predicted[0], pg.entropy[0], pg.log_volume[0],
                                   labels=("7", "6", "1"), title="epoch 0")
    assert [a.name for a in axes] == ["ternary"] * 3
    assert axes[0].get_tlabel() == "7" and axes[0].get_llabel() == "6" and axes[0].get_rlabel() == "1"
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


def test_every_module_name_is_exported():
    for module in (plot.core, plot.shallow, plot.slices):
        assert all(getattr(plot, name) is getattr(module, name) for name in module.__all__)
