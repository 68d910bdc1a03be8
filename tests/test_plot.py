"""paperlib.plot: heat maps with colour bars and decision boundaries, composite figures, the epoch slider."""

import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.figure import Figure

from paperlib import data, plot


@pytest.fixture()
def grid():
    return data.grid(-1, 1, 16)


def _field(grid):
    return grid.image(grid.points[:, 1] - 0.2 * grid.points[:, 0])


def test_log_volume_map_has_labelled_colorbar_and_boundary(grid):
    lv = grid.image(-grid.points.norm(dim=1))
    ax = plot.log_volume_map(lv, grid, boundary=_field(grid), title="t")
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
    p = torch.sigmoid(5 * _field(grid))
    x, y = data.sinusoid(20)
    out = plot.prediction_map(p, grid, ax=ax, data=(x, y))
    assert out is ax and len(ax.collections) == 3  # contour + two scatter sets


def test_composite_figures(grid):
    snaps = []
    for e in (0, 5):
        snaps.append(dict(epoch=e, log_volume=torch.randn(2, *grid.shape), ricci=torch.randn(grid.shape),
                          probability=torch.rand(grid.shape), margin=_field(grid)))
    fig = plot.snapshot_figure(snaps, grid)
    assert isinstance(fig, Figure) and len(fig.axes) == 2 * 3 * 2
    fig = plot.snapshot_figure([dict(s, ricci=None) for s in snaps], grid, layer=2)
    assert len(fig.axes) == 2 * 2 * 2
    fig = plot.layer_figure(snaps, grid, shared_scale=True)
    assert len(fig.axes) == 2 * 2 * 2
    ax = plot.magnification_plot({0: (torch.tensor([0, 10, 100]), torch.tensor([0.1, 0.2, 0.3]))})
    assert ax.get_xscale() == "symlog" and len(ax.lines) == 2


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
    with pytest.raises(ValueError, match="snapshots"):
        plot.snapshot_figure([], grid)
    with pytest.raises(ValueError, match="curves"):
        plot.magnification_plot({})
    with pytest.raises(ValueError, match="value"):
        plot.epoch_slider([0, 1], lambda e: plt.figure(), value=5)
