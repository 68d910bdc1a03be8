"""paperlib.chapters.curvature (chapter 4): the test surfaces, the sympy helpers, the selection of well-conditioned
points, the curvature scale, the closed form of Fig. D.1, the parts of R, and the data of the chapter's figures;
paperlib.chapters.curvature_figures: volume_ricci_figure (its tests moved here from tests/test_plot_shallow.py),
unit_circle_figure and the four registered figures."""

import math
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp
import torch
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure

from paperlib import data, geometry, plot, shallow, symbolic
from paperlib.chapters import curvature, curvature_figures, registry


def test_the_experiment_module_imports_neither_sympy_nor_matplotlib():
    code = ("import sys, paperlib.chapters.curvature; "
            "assert 'sympy' not in sys.modules and 'matplotlib' not in sys.modules, sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)


# ------------------------------------------------------------------------------------------------------------------
# surfaces and helpers
# ------------------------------------------------------------------------------------------------------------------


def test_three_units_are_unit_vectors_120_degrees_apart():
    W = curvature.three_units()
    assert W.shape == (3, 2) and W.dtype == torch.float64
    assert torch.allclose(W.norm(dim=1), torch.ones(3, dtype=torch.float64), atol=1e-15)
    assert torch.allclose(W @ W.T, torch.tensor([[1, -0.5, -0.5], [-0.5, 1, -0.5], [-0.5, -0.5, 1]],
                                                dtype=torch.float64), atol=1e-15)
    assert torch.equal(W[0], torch.tensor([1.0, 0.0], dtype=torch.float64))


@pytest.mark.parametrize("radius", [0.5, 2.0])
def test_spherical_and_graph_charts_of_the_sphere(radius):
    t = torch.tensor([[0.7, 0.2], [1.9, 4.0]], dtype=torch.float64)
    f = curvature.spherical(radius)
    assert torch.allclose(f(t).norm(dim=1), torch.full((2,), radius, dtype=torch.float64))
    assert torch.allclose(geometry.ricci_scalar(f, t), torch.full((2,), 2 / radius**2, dtype=torch.float64))
    cap = curvature.graph(lambda u: (radius**2 - u.square().sum(1)).sqrt())
    u = 0.4 * radius * torch.tensor([[0.3, -0.5], [0.9, 0.1]], dtype=torch.float64)
    assert cap(u).shape == (2, 3) and torch.equal(cap(u)[:, :2], u)
    assert torch.allclose(geometry.ricci_scalar(cap, u), torch.full((2,), 2 / radius**2, dtype=torch.float64))
    u3 = 0.3 * radius * torch.tensor([[0.3, -0.5, 0.2]], dtype=torch.float64)
    assert torch.allclose(geometry.ricci_scalar(cap, u3), torch.full((1,), 6 / radius**2, dtype=torch.float64))


def test_surface_bad_input():
    with pytest.raises(ValueError, match="radius"):
        curvature.spherical(0.0)
    with pytest.raises(TypeError, match="h"):
        curvature.graph(3.0)


def _network(n=3, seed=1, points=6):
    W, b = shallow.random_network(2, n, seed=seed)
    x = torch.randn(points, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return W, b, x


def test_sympy_route_evaluates_the_generic_expression_at_the_activations_derivatives():
    W, b, x = _network()
    x = x[curvature.well_conditioned(W, b, x, "erf")]
    R = curvature.sympy_route(symbolic.shallow_ricci_scalar_2d(3), W, b, x, "erf")
    assert R.shape == (len(x),) and R.dtype == torch.float64
    assert torch.allclose(R, shallow.ricci_scalar(W, b, x, "erf"), rtol=1e-9, atol=0)
    # the Cauchy-Binet determinant of a named activation needs no derivatives: the same as the closed form
    det = curvature.sympy_route(symbolic.cauchy_binet_det(2, 3, "sigmoid"), W, b, x, "sigmoid")
    assert torch.allclose(0.5 * torch.log10(det), shallow.log_volume_element(W, b, x, "sigmoid"), rtol=1e-12)


def test_exact_point_holds_the_binary_numbers_exactly():
    W, b, x = _network(n=3, points=8)
    x = x[curvature.well_conditioned(W, b, x, "sigmoid")]
    point = curvature.exact_point(W, b, x[0])
    S = symbolic.shallow_symbols(2, 3)
    assert len(point) == 3 * 2 + 3 + 2
    assert all(isinstance(v, sp.Rational) for v in point.values())
    assert point[S.W[1, 0]] == sp.Rational(float(W[1, 0])) and float(point[S.x[1]]) == float(x[0, 1])
    digits50 = float(symbolic.shallow_ricci_scalar(2, 3, "sigmoid", at=point))
    assert digits50 == pytest.approx(float(shallow.ricci_scalar(W, b, x[:1], "sigmoid", method="gauss")), rel=1e-9)


@pytest.mark.parametrize("fn", ["sympy_route", "exact_point", "well_conditioned", "curvature_scale"])
def test_network_helpers_name_the_bad_argument(fn):
    W, b, x = _network()
    call = {"sympy_route": lambda *a: curvature.sympy_route(sp.Integer(1), *a, "erf"),
            "exact_point": lambda W, b, x: curvature.exact_point(W, b, x[0]),
            "well_conditioned": lambda *a: curvature.well_conditioned(*a, "erf"),
            "curvature_scale": lambda *a: curvature.curvature_scale(*a, "erf")}[fn]
    with pytest.raises(TypeError, match="W"):
        call(W.numpy(), b, x)
    with pytest.raises(ValueError, match="b"):
        call(W, b[:2], x)
    with pytest.raises(ValueError, match="x"):
        call(W, b, torch.zeros(4, 3, dtype=torch.float64))


def test_well_conditioned_is_its_definition():
    W, b = shallow.random_network(2, 4, seed=11)
    x = 2.5 * torch.randn(200, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    good = curvature.well_conditioned(W, b, x, "tanh")
    slopes = (1 - torch.tanh(x @ W.T + b) ** 2).abs()
    expected = (torch.linalg.cond(shallow.metric(W, b, x, "tanh")) <= 1e3) & (
        slopes.min(1).values >= 1e-2 * slopes.max(1).values)
    assert good.dtype == torch.bool and torch.equal(good, expected)
    assert 0 < int(good.sum()) < len(x)  # far out, units saturate
    assert int(curvature.well_conditioned(W, b, x, "tanh", max_cond=1e12, min_slope=0.0).sum()) >= int(good.sum())
    with pytest.raises(ValueError, match="max_cond"):
        curvature.well_conditioned(W, b, x, "tanh", max_cond=0)
    with pytest.raises(ValueError, match="min_slope"):
        curvature.well_conditioned(W, b, x, "tanh", min_slope=-1)


def test_curvature_scale_is_the_invariant_norm_of_half_the_metric_derivative():
    """|T_hat|^2 = g^{ab} g^{mr} g^{ns} T_amn T_brs with T = (1/2) d g, the derivative by autodiff."""
    for d, n in ((2, 3), (3, 5)):
        W, b = shallow.random_network(d, n, seed=d + n)
        x = 0.5 * torch.randn(4, d, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
        scale = curvature.curvature_scale(W, b, x, "sigmoid")
        for k in range(len(x)):
            g_of = lambda p: shallow.metric(W, b, p[None], "sigmoid")[0]  # noqa: E731
            T = 0.5 * torch.autograd.functional.jacobian(g_of, x[k]).permute(2, 0, 1)  # T[a, m, n] = d_a g_mn / 2
            gi = torch.linalg.inv(g_of(x[k]))
            expected = torch.einsum("ab,mr,ns,amn,brs->", gi, gi, gi, T, T)
            assert float(scale[k]) == pytest.approx(float(expected), rel=1e-10)
        # R = |T_hat|^2 - |t_hat|^2 <= |T_hat|^2: the scale bounds R
        R = shallow.ricci_scalar(W, b, x, "sigmoid")
        assert bool((R <= scale * (1 + 1e-12)).all())


def test_curvature_scale_of_two_units_bounds_a_zero_curvature():
    W, b = shallow.random_network(2, 2, seed=0)
    x = 0.3 * torch.randn(8, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    rho = shallow.ricci_scalar(W, b, x, "erf", method="gauss").abs() / curvature.curvature_scale(W, b, x, "erf")
    assert float(rho.max()) <= 1e-10


def test_exact_fig_d1_is_the_gauss_route():
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    W_unit = curvature.three_units()
    for bias in (0.0, 1.0, -0.5):
        exact = curvature.exact_fig_d1(x, bias)
        R = shallow.ricci_scalar(W_unit / math.sqrt(2), torch.full((3,), bias / math.sqrt(2), dtype=torch.float64), x,
                                 "erf", method="gauss")
        floor = 1e-3 * float(exact.abs().median())
        assert float(((R - exact).abs() / exact.abs().clamp_min(floor)).max()) <= 1e-9, bias
        assert torch.equal(torch.sign(exact), torch.sign(torch.tensor(4 * bias**2) - x.square().sum(1)))
    origin = torch.zeros(1, 2, dtype=torch.float64)
    assert float(curvature.exact_fig_d1(origin, 1.0)) == pytest.approx(math.pi * math.e, rel=1e-14)
    assert torch.equal(curvature.exact_fig_d1(x, 1.0, W_unit), curvature.exact_fig_d1(x, 1.0))


def test_exact_fig_d1_bad_input():
    with pytest.raises(ValueError, match="x"):
        curvature.exact_fig_d1(torch.zeros(3, 3, dtype=torch.float64), 0.0)
    with pytest.raises(TypeError, match="bias"):
        curvature.exact_fig_d1(torch.zeros(3, 2, dtype=torch.float64), "1")
    with pytest.raises(ValueError, match="W_unit"):
        curvature.exact_fig_d1(torch.zeros(3, 2, dtype=torch.float64), 0.0, torch.zeros(2, 2))


def test_ricci_parts_of_the_sphere_in_two_charts():
    theta, phi = sp.symbols("theta phi", positive=True)
    assert curvature.ricci_parts(sp.diag(4, 4 * sp.sin(theta) ** 2), [theta, phi], {theta: sp.Rational(7, 10)}) == [
        sp.Rational(1, 2), 0]
    u1, u2 = sp.symbols("u1 u2", real=True)
    cap = sp.sqrt(4 - u1**2 - u2**2)
    grad = sp.Matrix([cap.diff(u1), cap.diff(u2)])
    R_d, R_gg = curvature.ricci_parts(sp.eye(2) + grad * grad.T, [u1, u2], {u1: sp.Rational(3, 10),
                                                                           u2: sp.Rational(-2, 5)})
    assert R_d + R_gg == sp.Rational(1, 2) and R_gg != 0
    assert float(R_d - R_gg) == pytest.approx(0.4667, abs=1e-4)  # what a reversed sign of the Gamma-Gamma terms gives


def test_ricci_parts_of_a_hessian_metric_are_2R_and_minus_R():
    x, y = sp.symbols("x y", real=True)
    g = sp.hessian(x**4 + x**2 * y**2 + y**4 + x * y, (x, y))
    at = {x: sp.Rational(1, 3), y: sp.Rational(-1, 2)}
    R_d, R_gg = curvature.ricci_parts(g, [x, y], at)
    R = symbolic.ricci_scalar(g, [x, y], at=at)
    assert float(R) != 0
    assert abs(float(R_d / R) - 2) < 1e-25 and abs(float(R_gg / R) + 1) < 1e-25


def test_ricci_parts_bad_input():
    x, y = sp.symbols("x y", real=True)
    with pytest.raises(TypeError, match="g"):
        curvature.ricci_parts([[1, 0], [0, 1]], [x, y], {})
    with pytest.raises(ValueError, match="coords"):
        curvature.ricci_parts(sp.eye(2), [x], {})
    with pytest.raises(TypeError, match="at"):
        curvature.ricci_parts(sp.eye(2), [x, y], [(x, 1)])
    with pytest.raises(ValueError, match="digits"):
        curvature.ricci_parts(sp.eye(2), [x, y], {}, digits=20)


# ------------------------------------------------------------------------------------------------------------------
# the figures' data
# ------------------------------------------------------------------------------------------------------------------


def test_ricci_accuracy_routes_agree_where_g_is_well_conditioned():
    acc = curvature.ricci_accuracy(torch.tensor([0.5, 2.0, 6.5], dtype=torch.float64), device="cpu")
    assert acc.ray.shape == (3, 2) and acc.activation == "erf"
    assert torch.allclose(acc.ray.norm(dim=1), torch.tensor([0.5, 2.0, 6.5], dtype=torch.float64))
    assert torch.allclose(acc.W, curvature.three_units() / math.sqrt(2)) and not acc.b.any()
    assert set(acc.routes) == {*curvature.ROUTES, "autodiff gauss", "autodiff christoffel"} == set(acc.errors)
    assert bool((acc.cond[:2] <= 1e3).all()) and float(acc.cond[2]) > 1e6
    for name, err in acc.errors.items():
        assert float(err[:2].max()) <= 1e-9, name
        assert torch.equal(err, (acc.routes[name] - acc.reference).abs() / acc.reference.abs())
    assert torch.allclose(acc.reference, curvature.exact_fig_d1(acc.ray, 0.0), rtol=1e-12)
    with pytest.raises(ValueError, match="radii"):
        curvature.ricci_accuracy(torch.zeros(2, 2))
    with pytest.raises(ValueError, match="angle"):
        curvature.ricci_accuracy(angle=float("nan"))


def test_relu_gelu_relu_is_flat_gelu_is_not():
    rg = curvature.relu_gelu(size=15, device="cpu")
    assert rg.network == "paperlib.shallow.random_network(2, 8, seed=3)"
    W, b = shallow.random_network(2, 8, seed=3)
    assert torch.equal(rg.W, W) and torch.equal(rg.b, b) and list(rg.log_volume) == ["relu", "gelu"]
    assert rg.log_volume["relu"].shape == rg.grid.shape == (15, 15)
    R_relu = rg.ricci["relu"]
    assert bool((R_relu[~R_relu.isnan()] == 0).all())
    assert float(rg.ricci["gelu"].nan_to_num().abs().max()) > 0
    assert torch.equal(rg.log_volume["gelu"], rg.grid.image(shallow.log_volume_element(W, b, rg.grid.points, "gelu")))
    with pytest.raises(ValueError, match="activations"):
        curvature.relu_gelu([])
    with pytest.raises(ValueError, match="width"):
        curvature.relu_gelu(width=0)


def test_three_unit_fields_are_fig_d1():
    d1 = curvature.three_unit_fields(size=21, device="cpu")
    assert d1.biases == [0.0, 1.0] and d1.activation == "erf" and d1.grid.shape == (21, 21)
    assert torch.equal(d1.W_unit, curvature.three_units())
    for bias, (Wb, bb, lv, R) in d1.fields.items():
        assert torch.equal(Wb, curvature.three_units() / math.sqrt(2))
        assert torch.equal(bb, torch.full((3,), bias / math.sqrt(2), dtype=torch.float64))
        assert lv.shape == R.shape == (21 * 21,)
        exact = curvature.exact_fig_d1(d1.grid.points, bias)
        floor = 1e-3 * float(exact.abs().median())
        assert float(((R - exact).abs() / exact.abs().clamp_min(floor)).max()) <= 1e-9
    # other angles and activations (the chapter's interactive panel); parallel vectors are flat or degenerate
    other = curvature.three_unit_fields((0.5,), angles=(0.0, 120.0, 0.0), activation="sigmoid", size=9,
                                        degenerate="nan")
    (Wb, bb, _, R), = other.fields.values()
    assert torch.equal(bb, torch.full((3,), 0.5, dtype=torch.float64)) and torch.allclose(Wb[2], Wb[0])
    assert float(R.nan_to_num().abs().max()) < 1e-8


@pytest.mark.parametrize("kwargs, exc, name", [
    ({"biases": []}, ValueError, "biases"), ({"biases": ["a"]}, TypeError, "biases"),
    ({"angles": (0.0, 1.0)}, ValueError, "angles"), ({"activation": "swish"}, ValueError, "activation"),
    ({"size": 1}, ValueError, "size"), ({"degenerate": "zero"}, ValueError, "degenerate")])
def test_three_unit_fields_bad_input(kwargs, exc, name):
    with pytest.raises(exc, match=name):
        curvature.three_unit_fields(**{"size": 5, **kwargs})


def test_unit_circle_bias_one_is_positively_curved():
    """The chapter's claim: for bias 1 the unit circle lies inside |x| < 2, so R > 0 all along it."""
    circle = curvature.unit_circle(points=73, device="cpu")
    assert circle.biases == [0.0, 1.0] and circle.angle.shape == (73,)
    assert float(circle.angle[-1]) == pytest.approx(2 * math.pi)
    assert bool((circle.ricci[1.0] > 0).all()) and bool((circle.ricci[0.0] < 0).all())
    x = torch.stack([circle.angle.cos(), circle.angle.sin()], 1)
    assert torch.allclose(circle.ricci[1.0], curvature.exact_fig_d1(x, 1.0), rtol=1e-9)
    with pytest.raises(ValueError, match="points"):
        curvature.unit_circle(points=1)


# ------------------------------------------------------------------------------------------------------------------
# volume_ricci_figure and unit_circle_figure
# ------------------------------------------------------------------------------------------------------------------


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
    fig = curvature_figures.volume_ricci_figure(rows, grid, percentile=90.0, limits=[None, 1.5])
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
    fig = curvature_figures.volume_ricci_figure([("flat", lv, torch.zeros(grid.shape, dtype=torch.float64))], grid)
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert (_ricci_norm(panels[1]).vmin, _ricci_norm(panels[1]).vmax) == (-1.0, 1.0)


def test_hyperplanes_drawn_on_both_panels_and_lie_on_the_lines(grid):
    W = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, -1.0], [0.0, 0.0]], dtype=torch.float64)
    b = torch.tensor([0.5, -1.0, 0.25, 3.0], dtype=torch.float64)
    rows = _rows(grid)
    fig = curvature_figures.volume_ricci_figure(rows, grid, hyperplanes=[(W, b), None])
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [len(ax.get_lines()) for ax in panels] == [3, 3, 0, 0]  # the unit with w = 0 has no line
    for ax in panels[:2]:
        assert ax.get_xlim() == pytest.approx(grid.extent[:2]) and ax.get_ylim() == pytest.approx(grid.extent[2:])
        for line, (w, bj) in zip(ax.get_lines(), zip(W[:3].numpy(), b[:3].numpy())):
            xs, ys = (np.asarray(v, dtype=float) for v in line.get_data())
            np.testing.assert_allclose(w[0] * xs + w[1] * ys + bj, 0.0, atol=1e-12)
            assert line.get_linestyle() == "--"


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
        curvature_figures.volume_ricci_figure(rows, grid, **args)


def test_unit_circle_figure_ticks_in_thirds_of_pi_and_one_legend():
    t = torch.linspace(0, 2 * math.pi, 13, dtype=torch.float64)
    curves = {"bias 0": (t.cos(), t.sin()), "bias 1": (t.sin(), t.cos())}
    fig = curvature_figures.unit_circle_figure(t, curves)
    assert len(fig.axes) == 2
    for ax in fig.axes:
        assert "(radians)" in ax.get_xlabel() and len(ax.get_lines()) >= 2
        assert ax.get_xticks() == pytest.approx([k * math.pi / 3 for k in range(7)])
        assert [label.get_text() for label in ax.get_xticklabels()] == [
            "0", r"$\pi/3$", r"$2\pi/3$", r"$\pi$", r"$4\pi/3$", r"$5\pi/3$", r"$2\pi$"]
    assert sorted(text.get_text() for text in fig.legends[0].get_texts()) == ["bias 0", "bias 1"]
    with pytest.raises(ValueError, match="curves"):
        curvature_figures.unit_circle_figure(t, {})
    with pytest.raises(ValueError, match="ricci"):
        curvature_figures.unit_circle_figure(t, {"a": (t, t[:3])})


# ------------------------------------------------------------------------------------------------------------------
# the registered figures, as the command line makes them
# ------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, function, keys", [
    ("curvature-ricci-accuracy", "ricci_accuracy",
     {"W", "b", "activation", "ray", "cond", "ricci_50_digits", "ricci", "relative_error"}),
    ("curvature-relu-gelu", "relu_gelu", {"grid", "W", "b", "network", "log_volume", "ricci"}),
    ("curvature-three-units", "three_units", {"grid", "activation", "W", "biases", "log_volume", "ricci"}),
    ("curvature-unit-circle", "unit_circle",
     {"angle", "angle_unit", "point", "activation", "W", "biases", "log_volume", "ricci"}),
])
def test_the_registered_figures(name, function, keys):
    spec = registry.figures()[name]
    assert spec.chapter == 4 and spec.presets == () and spec.draw is getattr(curvature_figures, function)
    drawn = registry.make(name, None, registry.Options(device="cpu"))
    assert isinstance(drawn, registry.Drawn) and isinstance(drawn.figure, Figure) and drawn.figure.axes
    assert set(drawn.numbers) >= keys


def test_fig_d1_numbers_are_images_per_bias():
    numbers = registry.make("curvature-three-units", None, registry.Options(device="cpu")).numbers
    assert numbers["activation"] == "erf(z / sqrt 2)" and numbers["biases"] == [0.0, 1.0]
    assert numbers["ricci"][1.0].shape == (161, 161) and set(numbers["grid"]) == {"xs", "ys", "layout"}
    centre = numbers["ricci"][1.0][80, 80]  # x = 0: R = pi e
    assert float(centre) == pytest.approx(math.pi * math.e, rel=1e-9)
    circle = registry.make("curvature-unit-circle", None, registry.Options(device="cpu")).numbers
    assert circle["angle_unit"] == "radians" and float(circle["angle"][-1]) == pytest.approx(2 * math.pi)
