"""paperlib.chapters.infinite (chapter 3): random points, rays, the convergence of width-n metrics and the radial
profiles; paperlib.chapters.infinite_figures: the figures infinite-convergence, infinite-profiles and
infinite-profiles-gelu-softplus (the profiles' tests moved here from tests/test_plot_shallow.py)."""

import subprocess
import sys

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from paperlib import infinite, plot, shallow
from paperlib.chapters import infinite as chapter
from paperlib.chapters import infinite_figures, registry

# ------------------------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------------------------


def test_the_experiment_module_imports_neither_matplotlib_nor_sympy():
    code = ("import sys, paperlib.chapters.infinite; "
            "assert 'matplotlib' not in sys.modules and 'sympy' not in sys.modules, sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_random_points_draw_directions_then_radii_from_the_generator():
    points = chapter.random_points(3, 50, generator=torch.Generator().manual_seed(5))
    assert points.shape == (50, 3) and points.dtype == torch.float64
    assert float(points.norm(dim=1).max()) <= 4.0
    gen = torch.Generator().manual_seed(5)
    v = torch.randn(50, 3, generator=gen, dtype=torch.float64)
    r = torch.rand(50, 1, generator=gen, dtype=torch.float64)
    assert torch.equal(points, v / v.norm(dim=1, keepdim=True) * 4 * r)
    # a shared generator moves on: two calls give different points
    gen = torch.Generator().manual_seed(0)
    assert not torch.equal(chapter.random_points(2, generator=gen), chapter.random_points(2, generator=gen))
    assert float(chapter.random_points(2, 10, radius=0.5).norm(dim=1).max()) <= 0.5


@pytest.mark.parametrize("kwargs, exc, name", [
    ({"d": 0}, ValueError, "d"), ({"count": 0}, ValueError, "count"), ({"radius": 0.0}, ValueError, "radius"),
    ({"generator": 3}, TypeError, "generator")])
def test_random_points_bad_input(kwargs, exc, name):
    with pytest.raises(exc, match=name):
        chapter.random_points(**{"d": 2, **kwargs})


def test_relative_error_is_the_largest_floored_ratio():
    ref = torch.tensor([1.0, -2.0, 0.0], dtype=torch.float64)
    value = torch.tensor([1.1, -2.0, 1e-13], dtype=torch.float64)
    assert chapter.relative_error(value, ref) == pytest.approx(0.1)
    assert chapter.relative_error(value, ref, floor=1e-14) == pytest.approx(10.0)
    with pytest.raises(ValueError, match="shape"):
        chapter.relative_error(value, ref[:2])
    with pytest.raises(TypeError, match="reference"):
        chapter.relative_error(value, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="floor"):
        chapter.relative_error(value, ref, floor=0)


def test_ray_is_r_times_e1():
    r = torch.tensor([0.0, 0.5, 2.0], dtype=torch.float64)
    x = chapter.ray(r, 3)
    assert torch.equal(x, torch.tensor([[0.0, 0, 0], [0.5, 0, 0], [2.0, 0, 0]], dtype=torch.float64))
    assert chapter.ray(r, 1).shape == (3, 1)
    with pytest.raises(ValueError, match="radii"):
        chapter.ray(torch.zeros(2, 2), 2)
    with pytest.raises(ValueError, match="d"):
        chapter.ray(r, 0)


# ------------------------------------------------------------------------------------------------------------------
# convergence
# ------------------------------------------------------------------------------------------------------------------


def test_rms_error_against_its_definition():
    x = torch.randn(5, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    g_inf = infinite.metric(x, "erf", sigma=1.5, zeta=0.5)
    sq = []
    for k in (0, 1, 2):
        g = shallow.metric(*shallow.random_network(2, 20, sigma=1.5, zeta=0.5, seed=k), x, "erf")
        sq.append(((g - g_inf) ** 2).sum((1, 2)) / (g_inf**2).sum((1, 2)))
    expected = float(torch.cat(sq).mean().sqrt())
    got = chapter.rms_error(x, "erf", 20, sigma=1.5, zeta=0.5, seeds=[0, 1, 2], device="cpu")
    assert got == pytest.approx(expected, rel=1e-12)


def test_rms_error_falls_like_one_over_root_n():
    x = torch.randn(8, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    small, large = (chapter.rms_error(x, "sigmoid", n, seeds=range(8), device="cpu") for n in (10, 1000))
    assert 4 < small / large < 25  # 10 expected


@pytest.mark.parametrize("kwargs, exc, name", [
    ({"points": torch.zeros(3)}, ValueError, "points"), ({"activation": "swish"}, ValueError, "activation"),
    ({"n": 0}, ValueError, "n"), ({"sigma": 0.0}, ValueError, "sigma"), ({"zeta": -1.0}, ValueError, "zeta"),
    ({"seeds": []}, ValueError, "seeds")])
def test_rms_error_bad_input(kwargs, exc, name):
    with pytest.raises(exc, match=name):
        chapter.rms_error(**{"points": torch.zeros(2, 2, dtype=torch.float64), "activation": "erf", "n": 3, **kwargs})


def test_convergence_collects_errors_and_fits_slopes():
    x = torch.randn(4, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    conv = chapter.convergence(["erf", "relu"], [10, 100, 1000], seeds=range(4), points=x, device="cpu")
    assert isinstance(conv, chapter.Convergence)
    assert conv.activations == ("erf", "relu") and conv.widths == (10, 100, 1000) and conv.networks == 4
    for a in conv.activations:
        assert conv.errors[a].shape == (3,)
        assert conv.errors[a][1] == pytest.approx(chapter.rms_error(x, a, 100, seeds=range(4), device="cpu"))
        assert conv.slopes[a] == pytest.approx(np.polyfit(np.log([10, 100, 1000]), np.log(conv.errors[a]), 1)[0])
        assert -0.8 < conv.slopes[a] < -0.2
    default = chapter.convergence(["erf"], [10, 20], seeds=[0], device="cpu")
    assert torch.equal(default.points, torch.randn(16, 2, generator=torch.Generator().manual_seed(1),
                                                   dtype=torch.float64))


def test_convergence_bad_input():
    with pytest.raises(ValueError, match="widths"):
        chapter.convergence(["erf"], [10])
    with pytest.raises(ValueError, match="activations"):
        chapter.convergence([], [10, 20])


def test_convergence_figure_and_numbers():
    conv = chapter.convergence(["erf"], [10, 100], seeds=range(2), device="cpu")
    drawn = infinite_figures.convergence(conv)
    [ax] = drawn.figure.axes
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == f"erf (fitted slope {conv.slopes['erf']:.2f})" and len(labels) == 2
    assert drawn.numbers["networks_per_width"] == 2 and drawn.numbers["widths"] == [10, 100]
    with pytest.raises(TypeError, match="convergence"):
        infinite_figures.convergence({"errors": {}})


# ------------------------------------------------------------------------------------------------------------------
# profiles
# ------------------------------------------------------------------------------------------------------------------


def test_profiles_are_the_infinite_width_values():
    prof = chapter.profiles("sigmoid", [(1.5, 0.5)], d=2, radius=3.0, points=7, device="cpu")
    assert prof.activations == ("sigmoid",) and prof.settings == ((1.5, 0.5),) and prof.d == 2
    np.testing.assert_allclose(prof.r, np.linspace(0.0, 3.0, 7))
    x = torch.stack([prof.r, torch.zeros(7, dtype=torch.float64)], -1)
    assert torch.equal(prof.log_volume["sigmoid"][1.5, 0.5], infinite.log_volume_element(x, "sigmoid", sigma=1.5,
                                                                                          zeta=0.5))
    assert torch.equal(prof.ricci["sigmoid"][1.5, 0.5], infinite.ricci_scalar(x, "sigmoid", sigma=1.5, zeta=0.5))
    assert (prof.ricci["sigmoid"][1.5, 0.5][1:] < 0).all()  # sigmoid: negative curvature away from the origin


def test_profile_curves_drawn_are_the_profiles():
    prof = chapter.profiles("sigmoid", [(1.5, 0.5)], d=2, radius=3.0, points=7, device="cpu")
    fig = infinite_figures.profiles_figure(prof)
    top, bottom = fig.axes
    r, logv = top.get_lines()[0].get_data()
    _, ricci = bottom.get_lines()[0].get_data()
    np.testing.assert_allclose(r, np.linspace(0.0, 3.0, 7))
    np.testing.assert_allclose(logv, prof.log_volume["sigmoid"][1.5, 0.5].numpy())
    np.testing.assert_allclose(ricci, prof.ricci["sigmoid"][1.5, 0.5].numpy())


def test_profiles_layout_labels_and_one_curve_per_setting():
    settings = [(1.0, 0.0), (2.0, 0.5)]
    fig = infinite_figures.profiles_figure(chapter.profiles(["erf", "relu"], settings, d=3, radius=2.0, points=11))
    assert isinstance(fig, Figure)
    axes = np.array(fig.axes).reshape(2, 2)
    assert axes[0, 0].get_ylabel() == plot.LOG_VOLUME_LABEL and axes[1, 0].get_ylabel() == plot.RICCI_LABEL
    assert axes[0, 1].get_title() == "relu, d = 3"
    for ax in axes.ravel():
        assert len(ax.get_lines()) >= len(settings)
    assert len(axes[0, 0].get_legend().get_texts()) == len(settings)


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
        chapter.profiles(args.pop("activations"), **args)


def test_profiles_figure_takes_the_experiments_result():
    with pytest.raises(TypeError, match="profiles"):
        infinite_figures.profiles_figure({"r": None})
    prof = chapter.profiles("erf", points=3)
    with pytest.raises(ValueError, match="panel_size"):
        infinite_figures.profiles_figure(prof, panel_size=0)


# ------------------------------------------------------------------------------------------------------------------
# the registered figures, as the command line makes them
# ------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, function, keys", [
    ("infinite-convergence", "convergence",
     {"widths", "networks_per_width", "points", "sigma", "zeta", "relative_rms_error", "fitted_slope"}),
    ("infinite-profiles", "profiles", {"d", "radius", "sigma_zeta", "curves"}),
    ("infinite-profiles-gelu-softplus", "profiles_gelu_softplus", {"d", "radius", "sigma_zeta", "curves"}),
])
def test_the_registered_figures(name, function, keys):
    spec = registry.figures()[name]
    assert spec.chapter == 3 and spec.presets == () and spec.draw is getattr(infinite_figures, function)
    drawn = registry.make(name, None, registry.Options(device="cpu"))
    assert isinstance(drawn, registry.Drawn) and isinstance(drawn.figure, Figure) and drawn.figure.axes
    assert set(drawn.numbers) >= keys


def test_the_registered_profiles_are_the_chapters():
    numbers = registry.make("infinite-profiles", None, registry.Options(device="cpu")).numbers
    assert numbers["sigma_zeta"] == [[1.0, 0.0], [1.0, 1.0], [2.0, 1.0]] and list(numbers["curves"]) == [
        "erf", "sigmoid", "relu"]
    assert float(numbers["radius"][-1]) == 4.0 and len(numbers["radius"]) == 161
    relu = numbers["curves"]["relu"]["sigma=2,zeta=1"]
    assert bool((relu["ricci"] == 0).all())  # ReLU is flat
    smooth = registry.make("infinite-profiles-gelu-softplus", None, registry.Options(device="cpu")).numbers
    assert list(smooth["curves"]) == ["gelu", "softplus"] and float(smooth["radius"][-1]) == 6.0
    R = smooth["curves"]["gelu"]["sigma=1,zeta=0"]["ricci"]
    assert float(R.min()) < 0 < float(R.max())  # R takes both signs
