"""paperlib.plot.toy: the composite figures of chapter 5 (snapshots, layers, magnification)."""

import pytest
import torch
from matplotlib.figure import Figure
from plot_fakes import decision_field

from paperlib import data, plot


def test_composite_figures():
    grid = data.grid(-1, 1, 16)
    snaps = []
    for e in (0, 5):
        snaps.append(dict(epoch=e, log_volume=torch.randn(2, *grid.shape), ricci=torch.randn(grid.shape),
                          probability=torch.rand(grid.shape), margin=decision_field(grid)))
    fig = plot.snapshot_figure(snaps, grid)
    assert isinstance(fig, Figure) and len(fig.axes) == 2 * 3 * 2
    fig = plot.snapshot_figure([dict(s, ricci=None) for s in snaps], grid, layer=2)
    assert len(fig.axes) == 2 * 2 * 2
    fig = plot.layer_figure(snaps, grid, shared_scale=True)
    assert len(fig.axes) == 2 * 2 * 2
    ax = plot.magnification_plot({0: (torch.tensor([0, 10, 100]), torch.tensor([0.1, 0.2, 0.3]))})
    assert ax.get_xscale() == "symlog" and len(ax.lines) == 2


def test_bad_inputs():
    with pytest.raises(ValueError, match="snapshots"):
        plot.snapshot_figure([], data.grid(-1, 1, 16))
    with pytest.raises(ValueError, match="curves"):
        plot.magnification_plot({})
