"""paperlib.plot.infinite_width_profiles: radial profiles of the infinite-width volume element and curvature."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from paperlib import infinite, plot


def test_layout_labels_and_one_curve_per_setting():
    settings = [(1.0, 0.0), (2.0, 0.5)]
    fig = plot.infinite_width_profiles(["erf", "relu"], settings, d=3, radius=2.0, points=11)
    assert isinstance(fig, Figure)
    axes = np.array(fig.axes).reshape(2, 2)
    assert axes[0, 0].get_ylabel() == plot.LOG_VOLUME_LABEL and axes[1, 0].get_ylabel() == plot.RICCI_LABEL
    assert axes[0, 1].get_title() == "relu, d = 3"
    for ax in axes.ravel():
        assert len(ax.get_lines()) >= len(settings)
    assert len(axes[0, 0].get_legend().get_texts()) == len(settings)


def test_curves_are_the_infinite_width_values():
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
    "kwargs",
    [
        {"activations": "swish"},
        {"activations": []},
        {"settings": []},
        {"settings": [(1.0,)]},
        {"settings": [(0.0, 1.0)]},
        {"settings": [(1.0, -1.0)]},
        {"d": 0},
        {"d": 2.0},
        {"radius": 0.0},
        {"radius": float("inf")},
        {"points": 1},
    ],
)
def test_bad_input(kwargs):
    args = {"activations": "erf", **kwargs}
    with pytest.raises(ValueError):
        plot.infinite_width_profiles(args.pop("activations"), **args)
