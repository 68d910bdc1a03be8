"""paperlib.plot.shallow: figures of chapters 3-4 (infinite-width radial profiles; volume element and Ricci scalar
side by side with hidden-unit hyperplanes)."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure

from paperlib import data, infinite, plot


@pytest.fixture()
def grid():
    return data.grid(-2, 2, 21)


def _rows(grid):
    p = grid.points
    lv = grid.image(-p.norm(dim=1))
    ricci = grid.image(p[:, 0] * torch.linspace(-3, 5, p.shape[0], dtype=torch.float64))
    return [("a", lv, ricci), ("b", lv.numpy(), (2 * ricci).numpy())]


def _ricci_norm(ax):
    return ax.get_images()[0].norm


def test_layout_titles_and_centred_clipped_ricci(grid):
    rows = _rows(grid)
    fig = plot.volume_ricci_figure(rows, grid, percentile=90.0, limits=[None, 1.5])
    assert isinstance(fig, Figure)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["a: volume element", "a: Ricci scalar", "b: volume element", "b: Ricci scalar"]
    panels = [ax for ax in fig.axes if ax.get_title()]
    norm = _ricci_norm(panels[1])
    assert isinstance(norm, TwoSlopeNorm) and norm.vcenter == 0.0
    expected = plot.ricci_limit(rows[0][2], 90.0)
    assert norm.vmin == pytest.approx(-expected) and norm.vmax == pytest.approx(expected)
    norm_b = _ricci_norm(panels[3])
    assert (norm_b.vmin, norm_b.vmax) == (-1.5, 1.5)
    labels = {ax.get_ylabel() for ax in fig.axes if not ax.get_title()}  # colour bars
    assert labels == {plot.LOG_VOLUME_LABEL, plot.RICCI_LABEL}


def test_all_zero_ricci_still_draws(grid):
    lv = grid.image(-grid.points.norm(dim=1))
    fig = plot.volume_ricci_figure([("flat", lv, torch.zeros(grid.shape, dtype=torch.float64))], grid)
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert (_ricci_norm(panels[1]).vmin, _ricci_norm(panels[1]).vmax) == (-1.0, 1.0)


def test_hyperplanes_drawn_on_both_panels_and_lie_on_the_lines(grid):
    W = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, -1.0], [0.0, 0.0]], dtype=torch.float64)
    b = torch.tensor([0.5, -1.0, 0.25, 3.0], dtype=torch.float64)
    rows = _rows(grid)
    fig = plot.volume_ricci_figure(rows, grid, hyperplanes=[(W, b), None])
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [len(ax.get_lines()) for ax in panels] == [3, 3, 0, 0]  # the unit with w = 0 has no line
    for ax in panels[:2]:
        assert ax.get_xlim() == pytest.approx(grid.extent[:2]) and ax.get_ylim() == pytest.approx(grid.extent[2:])
        for line, (w, bj) in zip(ax.get_lines(), zip(W[:3].numpy(), b[:3].numpy())):
            xs, ys = (np.asarray(v, dtype=float) for v in line.get_data())
            np.testing.assert_allclose(w[0] * xs + w[1] * ys + bj, 0.0, atol=1e-12)
            assert line.get_linestyle() == "--"


def test_draw_hyperplanes_keeps_limits():
    _, ax = plt.subplots()
    ax.set_xlim(-1, 1)
    ax.set_ylim(-3, 3)
    plot.draw_hyperplanes(ax, np.array([[1.0, 1.0]]), np.array([0.0]), color="k")
    assert ax.get_xlim() == (-1, 1) and ax.get_ylim() == (-3, 3)
    assert len(ax.get_lines()) == 1


@pytest.mark.parametrize(
    "kwargs, exc",
    [
        ({"rows": []}, ValueError),
        ({"rows": "abc"}, ValueError),
        ({"rows": [("a", None)]}, ValueError),
        ({"hyperplanes": [None, None, None]}, ValueError),
        ({"limits": [1.0]}, ValueError),
        ({"limits": [-1.0, None]}, ValueError),
        ({"percentile": 0.0}, ValueError),
        ({"panel_size": 0}, ValueError),
        ({"hyperplanes": [(torch.ones(2, 3), torch.zeros(2)), None]}, ValueError),
        ({"hyperplanes": [(torch.ones(2, 2), torch.zeros(3)), None]}, ValueError),
        ({"hyperplanes": [([[1.0, 0.0]], [0.0]), None]}, TypeError),
    ],
)
def test_volume_ricci_figure_bad_input(grid, kwargs, exc):
    args = {"rows": _rows(grid), **kwargs}
    rows = args.pop("rows")
    with pytest.raises(exc):
        plot.volume_ricci_figure(rows, grid, **args)


def test_draw_hyperplanes_bad_input():
    _, ax = plt.subplots()
    with pytest.raises(TypeError, match="ax"):
        plot.draw_hyperplanes("ax", torch.ones(1, 2), torch.zeros(1))
    with pytest.raises(ValueError, match="W"):
        plot.draw_hyperplanes(ax, torch.ones(2), torch.zeros(2))
    with pytest.raises(ValueError, match="b"):
        plot.draw_hyperplanes(ax, torch.ones(2, 2), torch.zeros(1))


def test_profiles_layout_labels_and_one_curve_per_setting():
    settings = [(1.0, 0.0), (2.0, 0.5)]
    fig = plot.infinite_width_profiles(["erf", "relu"], settings, d=3, radius=2.0, points=11)
    assert isinstance(fig, Figure)
    axes = np.array(fig.axes).reshape(2, 2)
    assert axes[0, 0].get_ylabel() == plot.LOG_VOLUME_LABEL and axes[1, 0].get_ylabel() == plot.RICCI_LABEL
    assert axes[0, 1].get_title() == "relu, d = 3"
    for ax in axes.ravel():
        assert len(ax.get_lines()) >= len(settings)
    assert len(axes[0, 0].get_legend().get_texts()) == len(settings)


def test_profile_curves_are_the_infinite_width_values():
    fig = plot.infinite_width_profiles("sigmoid", [(1.5, 0.5)], d=2, radius=3.0, points=7)
    top, bottom = fig.axes
    r, logv = top.get_lines()[0].get_data()
    _, ricci = bottom.get_lines()[0].get_data()
    np.testing.assert_allclose(r, np.linspace(0.0, 3.0, 7))
    x = torch.stack([torch.as_tensor(r), torch.zeros(7, dtype=torch.float64)], -1)
    np.testing.assert_allclose(logv, infinite.log_volume_element(x, "sigmoid", sigma=1.5, zeta=0.5).numpy())
    np.testing.assert_allclose(ricci, infinite.ricci_scalar(x, "sigmoid", sigma=1.5, zeta=0.5).numpy())
    assert (ricci[1:] < 0).all()  # sigmoid: negative curvature away from the origin


@pytest.mark.parametrize(
    "kwargs, exc",
    [
        ({"activations": "swish"}, ValueError),
        ({"activations": []}, ValueError),
        ({"settings": []}, ValueError),
        ({"settings": [(1.0,)]}, ValueError),
        ({"settings": [(0.0, 1.0)]}, ValueError),
        ({"settings": [(1.0, -1.0)]}, ValueError),
        ({"d": 0}, ValueError),
        ({"d": 2.0}, TypeError),
        ({"radius": 0.0}, ValueError),
        ({"radius": float("inf")}, ValueError),
        ({"points": 1}, ValueError),
    ],
)
def test_profiles_bad_input(kwargs, exc):
    args = {"activations": "erf", **kwargs}
    with pytest.raises(exc):
        plot.infinite_width_profiles(args.pop("activations"), **args)
