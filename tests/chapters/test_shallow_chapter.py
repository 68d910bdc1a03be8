"""paperlib.chapters.shallow (chapter 2): the random networks' volume maps and their angular spread;
paperlib.chapters.shallow_figures: the figure shallow-volume-maps."""

import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from paperlib import shallow
from paperlib.chapters import registry, shallow_figures
from paperlib.chapters import shallow as chapter

# ------------------------------------------------------------------------------------------------------------------
# the experiment module
# ------------------------------------------------------------------------------------------------------------------


def test_the_experiment_module_imports_neither_matplotlib_nor_sympy():
    code = ("import sys, paperlib.chapters.shallow; "
            "assert 'matplotlib' not in sys.modules and 'sympy' not in sys.modules, sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_volume_maps_are_the_closed_form_on_the_square():
    maps = chapter.volume_maps(["erf", "relu"], [3, 10], lim=2.0, size=9, device="cpu")
    assert isinstance(maps, chapter.VolumeMaps)
    assert maps.activations == ("erf", "relu") and maps.widths == (3, 10)
    assert set(maps.maps) == {("erf", 3), ("erf", 10), ("relu", 3), ("relu", 10)}
    t = torch.linspace(-2, 2, 9, dtype=torch.float64)
    assert torch.equal(maps.t, t)
    grid = torch.cartesian_prod(t, t)
    for (a, n), image in maps.maps.items():
        assert image.shape == (9, 9) and image.device.type == "cpu"
        expected = shallow.log_volume_element(*shallow.random_network(2, n, seed=n), grid, a, device="cpu")
        assert torch.equal(image, expected.reshape(9, 9))
    # the map at (t[i], t[j]) is the value at that point
    W, b = shallow.random_network(2, 10, seed=10)
    point = torch.tensor([[t[2], t[7]]], dtype=torch.float64)
    assert float(maps.maps["erf", 10][2, 7]) == pytest.approx(float(shallow.log_volume_element(W, b, point, "erf")))


def test_volume_maps_defaults_are_the_chapters():
    assert chapter.ACTIVATIONS == ("erf", "sigmoid", "relu") and chapter.WIDTHS == (3, 10, 100, 1000)


@pytest.mark.parametrize("kwargs, exc, name", [
    ({"activations": []}, ValueError, "activations"),
    ({"activations": ["swish"]}, ValueError, "activations"),
    ({"activations": [1]}, TypeError, "activations"),
    ({"widths": []}, ValueError, "widths"),
    ({"widths": [0]}, ValueError, "widths"),
    ({"widths": "3"}, TypeError, "widths"),
    ({"lim": 0.0}, ValueError, "lim"),
    ({"size": 1}, ValueError, "size"),
    ({"size": 2.0}, TypeError, "size"),
])
def test_volume_maps_bad_input(kwargs, exc, name):
    with pytest.raises(exc, match=name):
        chapter.volume_maps(**{"activations": ["erf"], "widths": [3], "size": 5, **kwargs})


def test_angular_spread_is_the_coefficient_of_variation_on_the_circle():
    angles = torch.linspace(0, 2 * math.pi, 37, dtype=torch.float64)[:-1]
    circle = 0.8 * torch.stack([angles.cos(), angles.sin()], -1)
    cvs = []
    for s in (3, 4):
        vol = 10 ** shallow.log_volume_element(*shallow.random_network(2, 7, seed=s), circle, "sigmoid")
        cvs.append(float(vol.std() / vol.mean()))
    got = chapter.angular_spread("sigmoid", 7, seeds=[3, 4], radius=0.8, points=36, device="cpu")
    assert got == pytest.approx(np.mean(cvs), rel=1e-12)


def test_angular_spread_falls_like_one_over_root_n():
    """The chapter's claim: from n = 10 to n = 1000 the spread falls by more than 5 (about 10 expected)."""
    for a in ("erf", "relu"):
        ratio = chapter.angular_spread(a, 10, device="cpu") / chapter.angular_spread(a, 1000, device="cpu")
        assert ratio > 5, (a, ratio)


@pytest.mark.parametrize("kwargs, exc, name", [
    ({"activation": "swish"}, ValueError, "activation"),
    ({"n": 0}, ValueError, "n"),
    ({"seeds": []}, ValueError, "seeds"),
    ({"radius": -1.0}, ValueError, "radius"),
    ({"points": 1}, ValueError, "points"),
])
def test_angular_spread_bad_input(kwargs, exc, name):
    with pytest.raises(exc, match=name):
        chapter.angular_spread(**{"activation": "erf", "n": 3, **kwargs})


# ------------------------------------------------------------------------------------------------------------------
# the figure module
# ------------------------------------------------------------------------------------------------------------------


def test_volume_maps_figure_layout_and_white_degenerate_cells():
    maps = chapter.volume_maps(["erf", "relu"], [3, 10], size=11, device="cpu")
    assert any(torch.isneginf(v).any() for v in maps.maps.values())  # ReLU with fewer than two units active
    fig = shallow_figures.volume_maps_figure(maps.t, maps.maps)
    assert isinstance(fig, Figure)
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["erf, n = 3", "erf, n = 10", "relu, n = 3", "relu, n = 10"]
    assert len(fig.axes) == 4 + 2  # one colour bar per row
    notes = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert shallow_figures.DEGENERATE_NOTE in notes


def test_volume_maps_figure_without_degenerate_cells_has_no_note():
    maps = chapter.volume_maps(["erf"], [3, 10], size=7, device="cpu")
    fig = shallow_figures.volume_maps_figure(maps.t, maps.maps)
    assert not [t for ax in fig.axes for t in ax.texts]


@pytest.mark.parametrize("maps, kwargs, exc", [
    ({}, {}, ValueError),
    ({("erf", 3): np.zeros((3, 3)), ("relu", 10): np.zeros((3, 3))}, {}, ValueError),  # missing pairs
    ({"erf": np.zeros((3, 3))}, {}, ValueError),
    ({("erf", 3): np.zeros((2, 3))}, {}, ValueError),
    ({("erf", 3): np.zeros((3, 3))}, {"percentiles": (1.0,)}, ValueError),
    ({("erf", 3): np.zeros((3, 3))}, {"percentiles": (1.0, 101.0)}, ValueError),
    ({("erf", 3): np.zeros((3, 3))}, {"panel_size": 0}, ValueError),
])
def test_volume_maps_figure_bad_input(maps, kwargs, exc):
    with pytest.raises(exc):
        shallow_figures.volume_maps_figure(np.linspace(-1, 1, 3), maps, **kwargs)


def test_volume_maps_takes_the_experiments_result():
    with pytest.raises(TypeError, match="volume_maps"):
        shallow_figures.volume_maps({"t": None})


def test_the_registered_figure_as_the_command_line_makes_it():
    spec = registry.figures()["shallow-volume-maps"]
    assert spec.chapter == 2 and spec.presets == () and spec.draw is shallow_figures.volume_maps
    drawn = registry.make("shallow-volume-maps", None, registry.Options(device="cpu"))
    assert isinstance(drawn, registry.Drawn) and isinstance(drawn.figure, Figure) and drawn.figure.axes
    assert set(drawn.numbers) >= {"t", "widths", "activations", "network", "log_volume", "layout", "white"}
    assert drawn.numbers["widths"] == [3, 10, 100, 1000] and drawn.numbers["activations"] == ["erf", "sigmoid", "relu"]
    assert drawn.numbers["log_volume"]["relu"][1000].shape == (121, 121)
    with pytest.raises(ValueError, match="preset"):
        registry.make("shallow-volume-maps", "paper")
