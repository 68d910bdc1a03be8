"""Small inputs for the plot tests: a decision field on a grid; line and plane geometries (the result objects of
paperlib.chapters.core that the chapters' experiments return)."""

import torch

from paperlib import slices
from paperlib.chapters.core import LineGeometry, PlaneGeometry


def decision_field(grid):
    """A linear logit difference ``(ny, nx)`` whose zero set crosses the grid: ``x_2 - 0.2 x_1``."""
    return grid.image(grid.points[:, 1] - 0.2 * grid.points[:, 0])


def line_geometry(steps=16):
    """A line between two random 28 x 28 images at epochs (0, 5): one class at epoch 0, 7 -> 6 at epoch 5."""
    g = torch.Generator().manual_seed(0)
    x1, x2 = torch.rand(784, generator=g), torch.rand(784, generator=g)
    ln = slices.line(x1, x2, steps)
    t = ln.t
    lv = torch.stack([-(t - 0.5) ** 2, -10 * (t - 0.6) ** 2])
    pred = torch.stack([torch.full((steps,), 3), torch.where(t < 0.55, 7, 6)])
    return LineGeometry((7, 6), ln, (0, 5), lv, lv[:, :2], pred, torch.ones(2, steps))


def plane_geometry(steps=14):
    """A plane through three random 28 x 28 images at epochs (0, 5), with an entropy of 0 at epoch 5."""
    g = torch.Generator().manual_seed(1)
    pl = slices.plane(*(torch.rand(1, 28, 28, generator=g) for _ in range(3)), steps)
    a, b = pl.coords[:, 0], pl.coords[:, 1]
    lv = torch.stack([-(a**2 + b**2), -(a - 0.2) ** 2 - b**2])
    pred = torch.stack([pl.ternary.argmax(1), pl.ternary.argmax(1) + 3])
    ent = torch.stack([torch.rand(steps * steps, generator=g), torch.zeros(steps * steps)])  # includes H = 0
    return PlaneGeometry((7, 6, 1), pl, (0, 5), lv, pred, ent)
