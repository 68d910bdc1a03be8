"""paperlib.slices: lines and planes through anchor inputs, barycentric coordinates, the anchors' triangle."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from paperlib import slices


def _anchors(shape=(1, 28, 28), seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(*shape, generator=g) for _ in range(3)]


def test_line_points_and_parameter():
    x1, x2, _ = _anchors()
    ln = slices.line(x1, x2, 8)
    assert ln.points.shape == (8, 1, 28, 28) and ln.points.dtype == torch.float64
    assert torch.equal(ln.t, torch.arange(8, dtype=torch.float64) / 8)  # t in [0, 1), end excluded
    assert torch.equal(ln.points[0], x1.double())
    expected = x1.double() + (x2.double() - x1.double()) * 0.375
    assert torch.allclose(ln.points[3], expected, atol=1e-15)
    assert ln.flat.shape == (8, 784) and ln.steps == 8
    assert torch.allclose(ln.midpoint, ln.points[4])
    assert torch.equal(ln.anchors[1], x2.double())
    flat = slices.line(x1.reshape(-1).numpy(), x2.reshape(-1).numpy(), 4, dtype=torch.float32)
    assert flat.points.shape == (4, 784) and flat.points.dtype == torch.float32
    assert slices.line(x1, x2, 1).points.shape == (1, 1, 28, 28)


def test_line_errors_name_the_argument():
    x1, x2, _ = _anchors()
    with pytest.raises(ValueError, match="x2"):
        slices.line(x1, x2.reshape(-1))
    with pytest.raises(TypeError, match="x1"):
        slices.line([0.0, 1.0], x2)
    with pytest.raises(ValueError, match="steps"):
        slices.line(x1, x2, 0)
    with pytest.raises(TypeError, match="steps"):
        slices.line(x1, x2, 2.5)
    bad = x2.clone()
    bad[0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="x2"):
        slices.line(x1, bad)
    with pytest.raises(ValueError, match="x1"):
        slices.line(torch.zeros(0), torch.zeros(0))
    with pytest.raises(TypeError, match="dtype"):
        slices.line(x1, x2, dtype=torch.int64)


def test_anchor_coordinates_form_an_equilateral_triangle_of_side_one():
    ac = slices.ANCHOR_COORDS
    assert torch.allclose(ac, torch.tensor([[-0.5, math.sqrt(3) / 6], [0.5, math.sqrt(3) / 6],
                                            [0.0, -math.sqrt(3) / 3]], dtype=torch.float64))
    d = torch.cdist(ac, ac)
    off = d[~torch.eye(3, dtype=torch.bool)]
    assert torch.allclose(off, torch.ones(6, dtype=torch.float64), atol=1e-15)
    assert torch.allclose(ac.mean(0), torch.zeros(2, dtype=torch.float64), atol=1e-16)  # centroid = origin o
    assert torch.allclose(slices.barycentric(ac), torch.eye(3, dtype=torch.float64), atol=1e-15)


def test_plane_definition_and_anchor_positions():
    x1, x2, x3 = (a.double() for a in _anchors(seed=1))
    pl = slices.plane(x1, x2, x3, 11)
    o = (x1 + x2 + x3) / 3
    assert torch.allclose(pl.origin, o) and torch.allclose(pl.right, x2 - x1)
    assert torch.allclose(pl.up, ((x1 + x2) / 2 - o) * 2 * math.sqrt(3))
    assert pl.points.shape == (121, 1, 28, 28) and pl.shape == (11, 11) and pl.flat.shape == (121, 784)
    # row-major: points[i * steps + j] is at (a_j, b_i)
    i, j = 3, 7
    a, b = float(pl.a[j]), float(pl.b[i])
    assert torch.allclose(pl.coords[i * 11 + j], torch.tensor([a, b], dtype=torch.float64))
    assert torch.allclose(pl.points[i * 11 + j], o + a * pl.right + b * pl.up, atol=1e-13)
    # the formula puts each anchor at its corner of the triangle
    for k, x in enumerate((x1, x2, x3)):
        a, b = slices.ANCHOR_COORDS[k].tolist()
        assert torch.allclose(o + a * pl.right + b * pl.up, x, atol=1e-13)
    # the grid image of a per-point value
    assert torch.equal(pl.image(pl.coords[:, 0])[i, j], pl.a[j])
    assert pl.grid.shape == (11, 11) and pl.grid.extent == (-1.0, 1.0, -1.0, 1.0)


def test_barycentric_coordinates_reconstruct_the_points_and_mask_the_triangle():
    x1, x2, x3 = (a.reshape(-1) for a in _anchors(shape=(20,), seed=2))
    pl = slices.plane(x1, x2, x3, 41)
    lam = pl.ternary
    assert torch.allclose(lam.sum(1), torch.ones(41 * 41, dtype=torch.float64), atol=1e-14)
    recon = lam @ torch.stack([x1, x2, x3]).double()
    assert torch.allclose(recon, pl.points, atol=1e-12)
    assert torch.equal(pl.inside, (lam >= -1e-12).all(1))
    # fraction of the square covered by the triangle: (sqrt(3)/4) / 4 on a fine grid
    assert float(pl.inside.double().mean()) == pytest.approx(math.sqrt(3) / 16, abs=0.01)
    # the origin (a grid point for odd steps) is the centroid: lambda = 1/3 each
    centre = 20 * 41 + 20
    assert torch.allclose(lam[centre], torch.full((3,), 1 / 3, dtype=torch.float64))
    assert bool(pl.inside[centre]) and not bool(pl.inside[0])


@settings(max_examples=25, deadline=None)
@given(a=st.floats(-1, 1), b=st.floats(-1, 1), seed=st.integers(0, 1000))
def test_barycentric_property(a, b, seed):
    x1, x2, x3 = (t.double() for t in _anchors(shape=(5,), seed=seed))
    o = (x1 + x2 + x3) / 3
    p = o + a * (x2 - x1) + b * 2 * math.sqrt(3) * ((x1 + x2) / 2 - o)
    lam = slices.barycentric(torch.tensor([a, b], dtype=torch.float64))
    assert torch.allclose(lam[0] * x1 + lam[1] * x2 + lam[2] * x3, p, atol=1e-12)
    assert float(lam.sum()) == pytest.approx(1.0)


def test_plane_errors_name_the_argument():
    x1, x2, x3 = _anchors()
    with pytest.raises(ValueError, match="x3"):
        slices.plane(x1, x2, x3[0])
    with pytest.raises(ValueError, match="x2"):
        slices.plane(x1, x2.reshape(-1), x3)
    with pytest.raises(TypeError, match="x3"):
        slices.plane(x1, x2, None)
    with pytest.raises(ValueError, match="steps"):
        slices.plane(x1, x2, x3, 1)
    with pytest.raises(TypeError, match="x1"):
        slices.plane(torch.zeros(3, dtype=torch.bool), x2, x3)
    with pytest.raises(ValueError, match="coords"):
        slices.barycentric(torch.zeros(3))
    with pytest.raises(TypeError, match="coords"):
        slices.barycentric(np.zeros(2))
