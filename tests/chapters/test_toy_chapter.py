"""paperlib.chapters.toy (chapter 5): decision-boundary distances, the magnification statistic, measurements,
presets and the experiments' entry points; paperlib.chapters.toy_figures: the composite figures (snapshots, layers,
magnification)."""

import math

import pytest
import torch
from matplotlib.figure import Figure
from plot_fakes import decision_field

from paperlib import data, geometry, shallow
from paperlib.chapters import Options, toy, toy_figures
from paperlib.models import MLP

# ------------------------------------------------------------------------------------------------------------------
# boundaries and the magnification statistic
# ------------------------------------------------------------------------------------------------------------------


def test_boundary_of_a_linear_score_is_exact():
    g = data.grid(-1, 1, 21)
    P = g.points
    field = g.image(P[:, 0] - 0.33)
    pts = toy.boundary_points(field, g)
    assert pts.shape == (21, 2) and torch.allclose(pts[:, 0], torch.full((21,), 0.33, dtype=torch.float64))
    dist = toy.boundary_distance(field, g)
    assert torch.allclose(dist, g.image((P[:, 0] - 0.33).abs()), atol=1e-12)


def test_boundary_distance_of_a_circle():
    g = data.grid(-1, 1, 81)
    r = g.points.norm(dim=1)
    dist = toy.boundary_distance(g.image(r - 0.5), g)
    spacing = g.spacing[0]
    assert float((dist - g.image((r - 0.5).abs())).abs().max()) < spacing
    # a label field (e.g. argmax of several classes) gives edge midpoints
    dist_lab = toy.boundary_distance(g.image((r > 0.5).long()), g)
    assert float((dist_lab - g.image((r - 0.5).abs())).abs().max()) < spacing


def test_no_boundary_gives_inf_and_nan_statistic():
    g = data.grid(-1, 1, 10)
    dist = toy.boundary_distance(torch.ones(g.shape, dtype=torch.float64), g)
    assert torch.isinf(dist).all()
    assert math.isnan(float(toy.magnification(torch.zeros(g.shape), dist)))


def test_magnification_statistic():
    dist = torch.tensor([0.0, 0.05, 0.1, 0.2, 0.31, 0.5])
    lv = torch.tensor([3.0, 1.0, 2.0, 100.0, -1.0, 0.0])
    # near: first three (mean 2), far: last two (mean -0.5); the point at 0.2 is in neither
    assert float(toy.magnification(lv, dist)) == pytest.approx(2.5)
    batched = toy.magnification(torch.stack([lv, 2 * lv]), dist)
    assert batched.shape == (2,) and torch.allclose(batched, torch.tensor([2.5, 5.0], dtype=torch.float64))
    lv_inf = lv.clone()
    lv_inf[0] = -math.inf  # non-finite values are left out
    assert float(toy.magnification(lv_inf, dist)) == pytest.approx(1.5 + 0.5)
    with pytest.raises(ValueError, match="delta"):
        toy.magnification(lv, dist, delta=0)
    with pytest.raises(ValueError, match="far"):
        toy.magnification(lv, dist, delta=0.2, far=0.1)
    with pytest.raises(ValueError, match="distance"):
        toy.magnification(lv, dist[:3])


# ------------------------------------------------------------------------------------------------------------------
# measurements
# ------------------------------------------------------------------------------------------------------------------


def test_measure_matches_shallow_and_autodiff():
    g = data.grid(-1, 1, 12)
    m = MLP([2, 30, 2], "sigmoid", seed=0)
    s = toy.measure(m, g, epoch=5)
    W, b = m.shallow_parameters()
    P = g.points
    assert s.log_volume.shape == (1, 12, 12) and s.epoch == 5
    assert torch.allclose(s.log_volume[0], g.image(shallow.log_volume_element(W, b, P, "sigmoid")), atol=1e-12)
    assert torch.allclose(s.log_volume[0], g.image(geometry.log_volume_element(m.feature_map(1), P)), atol=1e-9)
    R = shallow.ricci_scalar(W, b, P, "sigmoid", degenerate="nan")
    assert torch.allclose(s.ricci, g.image(R), rtol=1e-8, atol=1e-8)
    with torch.no_grad():
        p = torch.softmax(m.double()(P), 1)[:, 1]
    assert torch.allclose(s.probability, g.image(p), atol=1e-12)
    assert s.magnification_task is None and s.magnification.shape == (1,)


def test_measure_deep_and_two_unit_cases():
    g = data.grid(-1, 1, 8)
    deep = MLP([2, 6, 5, 2], "tanh", seed=1)
    s = toy.measure(deep, g, curvature=False, boundaries={"task": torch.full(g.shape, 0.05, dtype=torch.float64)})
    assert s.log_volume.shape == (2, 8, 8) and s.ricci is None
    want = geometry.log_volume_element(deep.feature_map(2), g.points)
    assert torch.allclose(s.log_volume[1], g.image(want), atol=1e-10)
    assert torch.isnan(s.magnification_task).all()  # no far points
    two = toy.measure(MLP([2, 2, 2], "sigmoid", seed=0), g)
    assert torch.equal(two.ricci, torch.zeros(g.shape, dtype=torch.float64))
    with pytest.raises(TypeError, match="model"):
        toy.measure(torch.nn.Linear(2, 2), g)
    with pytest.raises(ValueError, match="model"):
        toy.measure(MLP([3, 4, 2], seed=0), g)
    with pytest.raises(ValueError, match="boundaries"):
        toy.measure(deep, g, boundaries={"task": torch.zeros(3, 3)})


def test_snapshot_numbers_hold_its_images_and_statistics():
    g = data.grid(-1, 1, 8)
    s = toy.measure(MLP([2, 6, 5, 2], "tanh", seed=1), g, curvature=False,
                    boundaries={"task": torch.full(g.shape, 0.05, dtype=torch.float64)}, epoch=3, accuracy=0.75)
    first, every = s.numbers(), s.numbers(layers=True)
    assert first["epoch"] == 3 and first["accuracy"] == 0.75 and first["ricci"] is None
    assert torch.equal(first["log_volume"], s.log_volume[0]) and torch.equal(every["log_volume"], s.log_volume)
    assert first["probability"] is s.probability and first["margin"] is s.margin
    assert first["magnification"] is s.magnification and first["magnification_fixed"] == s.fixed


# ------------------------------------------------------------------------------------------------------------------
# presets and the experiments
# ------------------------------------------------------------------------------------------------------------------


def test_paper_presets_hold_the_paper_settings():
    p = toy.PRESETS["sinusoid"]["paper"]
    assert (p.widths, p.lr, p.momentum, p.batch_size, p.epochs) == ((2, 250, 2), 0.1, 0.9, 50, 10_000)
    assert {200, 5000, 10_000} <= set(p.snapshots) and p.size == 80
    q = toy.PRESETS["xor"]["paper"]
    assert (q.lr, q.momentum, q.weight_decay, q.batch_size, q.epochs) == (0.02, 0.9, 1e-4, None, 2000)
    assert q.hidden == (2, 10, 100, 250) and (q.lim, q.size) == ((-1.5, 1.5), 40)
    d = toy.PRESETS["deep_mlp"]["paper"]
    assert d.widths == (2, 8, 8, 8, 2) and d.epochs == 10_000 and d.activation == "sigmoid"
    for name in toy.PRESETS:  # the book and tiny presets keep the architecture
        assert toy.PRESETS[name]["book"].widths == toy.PRESETS[name]["paper"].widths
        assert toy.PRESETS[name]["tiny"].widths == toy.PRESETS[name]["paper"].widths
        assert set(toy.PRESETS[name]) == {"book", "paper", "tiny"}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["sinusoid", "xor", "deep_mlp"])
def test_paper_preset_smoke(name, tmp_path):
    fn = getattr(toy, name)
    options = Options(cache_dir=str(tmp_path))
    kw = dict(epochs=3, grid_size=20)
    if name != "xor":
        kw["seeds"] = (0, 1)
    if name == "xor":
        kw["widths"], kw["seeds"] = (2, 10), (0, 1)
    r = fn("paper", options, **kw)
    assert r.preset == "paper" and r.settings.epochs == 3
    assert r.grid.shape == (20, 20) and r.task_distance.shape == (20, 20)
    for label, run in r.runs.items():
        assert run.epochs[0] == 0 and run.epochs[-1] == 3
        has_boundary = bool(torch.isfinite(run.final.distance).any())  # after 3 epochs XOR nets may have none
        for boundary in ("task",) + (("control",) if name != "xor" else ()) + (("final",) if has_boundary else ()):
            e, m = run.magnification(layer=run.depth, boundary=boundary)
            assert e.tolist() == run.epochs and m.shape == e.shape and torch.isfinite(m).all()
        assert run.layer_increments().shape == (run.depth,)
        torch.testing.assert_close(run.layer_increments().sum(), run.magnification(run.depth, boundary="final")[1][-1],
                                   equal_nan=True)
        snap = run.snapshots[3]
        widths = run.model(3).widths
        assert snap.log_volume.shape == (len(widths) - 2, 20, 20) == (run.depth, 20, 20)
        assert widths == (r.settings.widths if name != "xor" else (2, label[0], 2))
    assert len(r.runs) == (4 if name == "xor" else 2) and r.gains().shape == (len(r.runs),)
    assert set(r.figure_epochs) <= set(r.run().epochs)
    again = fn("paper", options=options, **kw)  # options by keyword, as by position
    assert all(run.training.source == "cache" for run in again.runs.values())


def test_epoch_override_rescales_snapshots(tmp_path):
    r = toy.sinusoid("book", Options(cache_dir=str(tmp_path)), seeds=(0,), epochs=20, grid_size=6, curvature="none")
    book = toy.PRESETS["sinusoid"]["book"]
    want = sorted({min(20, round(s * 20 / book.epochs)) for s in book.snapshots} | {0, 20})
    assert r.run(0).epochs == want and r.figure_epochs == (0, 10, 20)
    assert r.run(0).snapshots[20].ricci is None


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="preset"):
        toy.sinusoid("fast")
    with pytest.raises(ValueError, match="epochs"):
        toy.xor(epochs=0)
    with pytest.raises(ValueError, match="seeds"):
        toy.sinusoid(seeds=())
    with pytest.raises(ValueError, match="grid_size"):
        toy.deep_mlp(grid_size=2)
    with pytest.raises(ValueError, match="curvature"):
        toy.sinusoid(curvature="some")
    with pytest.raises(ValueError, match="delta"):
        toy.xor(delta=-1.0, epochs=1, options=Options(cache_dir=str(tmp_path)))
    with pytest.raises(TypeError, match="grid"):
        toy.boundary_points(torch.zeros(3, 3), None)
    with pytest.raises(ValueError, match="field"):
        toy.boundary_points(torch.zeros(3, 3), data.grid(size=4))
    with pytest.raises(TypeError, match="options"):  # the options are an Options, not a dict of keywords
        toy.xor("tiny", {"cache_dir": str(tmp_path)})


def test_control_boundary_mirrors_the_task_boundary(tmp_path):
    x = torch.rand(50, 2, dtype=torch.float64) * 2 - 1
    mirrored = x * torch.tensor([1.0, -1.0], dtype=torch.float64)
    torch.testing.assert_close(data.sinusoid_control_score(x), -data.sinusoid_score(mirrored))
    # the random network's magnification is the same around both at initialisation (spherical symmetry in
    # expectation), which is what makes the mirrored curve a control
    r = toy.sinusoid("book", Options(cache_dir=str(tmp_path)), seeds=(0, 1, 2), epochs=1, grid_size=40,
                     curvature="none")
    init = [float(run.magnification(boundary=b)[1][0]) for run in r.runs.values() for b in ("task", "control")]
    assert max(abs(a - b) for a, b in zip(init[::2], init[1::2])) < 0.03
    with pytest.raises(ValueError, match="boundary"):
        r.run().magnification_gain(boundary="own")


# ------------------------------------------------------------------------------------------------------------------
# the figures' building blocks (paperlib.chapters.toy_figures)
# ------------------------------------------------------------------------------------------------------------------


def test_composite_figures():
    grid = data.grid(-1, 1, 16)
    snaps = []
    for e in (0, 5):
        snaps.append(dict(epoch=e, log_volume=torch.randn(2, *grid.shape), ricci=torch.randn(grid.shape),
                          probability=torch.rand(grid.shape), margin=decision_field(grid)))
    fig = toy_figures.snapshot_figure(snaps, grid)
    assert isinstance(fig, Figure) and len(fig.axes) == 2 * 3 * 2
    fig = toy_figures.snapshot_figure([dict(s, ricci=None) for s in snaps], grid, layer=2)
    assert len(fig.axes) == 2 * 2 * 2
    fig = toy_figures.layer_figure(snaps, grid, shared_scale=True)
    assert len(fig.axes) == 2 * 2 * 2
    ax = toy_figures.magnification_plot({0: (torch.tensor([0, 10, 100]), torch.tensor([0.1, 0.2, 0.3]))})
    assert ax.get_xscale() == "symlog" and len(ax.lines) == 2


def test_bad_inputs():
    with pytest.raises(ValueError, match="snapshots"):
        toy_figures.snapshot_figure([], data.grid(-1, 1, 16))
    with pytest.raises(ValueError, match="curves"):
        toy_figures.magnification_plot({})
