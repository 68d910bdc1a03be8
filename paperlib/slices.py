r"""Lines and planes through anchor inputs, the one- and two-dimensional slices on which the geometry of
high-dimensional inputs (images) is plotted.

**Line** through two anchors :math:`x_1, x_2` (:func:`line`):

.. math::  x(t) = x_1 + (x_2 - x_1)\, t, \qquad t = 0, \tfrac1s, \dots, \tfrac{s-1}{s}
           \quad (s \text{ steps: } t \in [0, 1), \text{ the end } x_2 \text{ excluded}).

**Plane** through three anchors :math:`x_1, x_2, x_3` (:func:`plane`): with the origin, "right" and "up" vectors

.. math::  o = \tfrac13(x_1 + x_2 + x_3), \qquad r = x_2 - x_1, \qquad
           u = 2\sqrt3\,\big(\tfrac12(x_1 + x_2) - o\big),

the points are :math:`p(a, b) = o + a\, r + b\, u` on a regular ``steps x steps`` grid of
:math:`(a, b) \in [-1, 1]^2`. Writing :math:`u = (x_1 + x_2 - 2x_3)/\sqrt3`, every such point is an affine
combination :math:`p = \lambda_1 x_1 + \lambda_2 x_2 + \lambda_3 x_3` with the **ternary (barycentric)
coordinates**

.. math::  \lambda_1 = \tfrac13 - a + \tfrac{b}{\sqrt3}, \qquad
           \lambda_2 = \tfrac13 + a + \tfrac{b}{\sqrt3}, \qquad
           \lambda_3 = \tfrac13 - \tfrac{2b}{\sqrt3}, \qquad \lambda_1 + \lambda_2 + \lambda_3 = 1 .

Setting one :math:`\lambda_i = 1` gives the anchors' positions in the :math:`(a, b)` plane
(:data:`ANCHOR_COORDS`):

.. math::  x_1: \big(-\tfrac12, \tfrac{\sqrt3}{6}\big), \qquad x_2: \big(\tfrac12, \tfrac{\sqrt3}{6}\big), \qquad
           x_3: \big(0, -\tfrac{\sqrt3}{3}\big),

the corners of an **equilateral triangle of side 1** centred at the origin (:math:`o` is its centroid; every
pairwise distance is 1, checked in the tests), with :math:`x_3` at the bottom. The triangle is where all three
:math:`\lambda_i \ge 0` (``inside``): the convex hull of the anchors; ternary plots keep only these points. The
triangle is equilateral in :math:`(a, b)` coordinates whatever the anchors' distances in input space.

Anchors may have any shape (images ``(1, 28, 28)``, flat ``(784,)``, ...); points keep it: a :class:`Line` holds
``(steps, *shape)`` points and a :class:`Plane` ``(steps * steps, *shape)``, row-major like
:class:`paperlib.data.Grid` (``points[i * steps + j]`` is at ``(a_j, b_i)``), so ``plane.grid`` and
``plane.image(values)`` plug into the heat maps of :mod:`paperlib.plot`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ._checks import check_float_dtype, check_int
from .data import Grid

__all__ = ["Line", "Plane", "SliceMap", "line", "plane", "ANCHOR_COORDS", "barycentric"]

_S3 = math.sqrt(3.0)

#: ``(3, 2)``: the :math:`(a, b)` positions of the anchors :math:`x_1, x_2, x_3` in the plane's coordinates.
ANCHOR_COORDS = torch.tensor([[-0.5, _S3 / 6], [0.5, _S3 / 6], [0.0, -_S3 / 3]], dtype=torch.float64)


def _anchor(x: object, name: str, dtype: torch.dtype) -> torch.Tensor:
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor or numpy array (one input, any shape); got {type(x).__name__}")
    if x.dtype == torch.bool or x.dtype.is_complex:
        raise TypeError(f"{name} must hold real numbers; got dtype {x.dtype}")
    if x.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(x.shape)})")
    x = x.detach().to(dtype=dtype)
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or inf")
    return x


def _same_shape(ref: torch.Tensor, other: torch.Tensor, name: str) -> None:
    if other.shape != ref.shape:
        raise ValueError(f"{name} must have the same shape as x1 {tuple(ref.shape)}; got {tuple(other.shape)}")


class SliceMap(nn.Module):
    r"""A model restricted to a line or a plane of its input space, as a map of the slice's coordinates:
    :math:`c \mapsto f(o + \sum_j c_j v_j)`, ``(B, m) -> f``'s output, with the origin :math:`o` and the
    directions :math:`v_j` held as buffers (``origin: (*shape)``, ``directions: (m, *shape)``).

    Being an ``nn.Module`` that contains the model, it is cast for the computation by :mod:`paperlib.geometry`
    like any module (a ``lambda c: model(o + c @ V)`` would keep the model's float32 parameters), so the metric,
    volume element and curvature of the slice are measured in float64: e.g.
    ``geometry.ricci_scalar(plane.restrict(model), plane.coords)``. Made by :meth:`Line.restrict` and
    :meth:`Plane.restrict`; the model itself is not copied or modified.
    """

    def __init__(self, model: nn.Module, origin: torch.Tensor, directions: torch.Tensor):
        super().__init__()
        if not callable(model):
            raise TypeError(f"model must be a callable feature map; got {type(model).__name__}")
        self.model = model
        self.register_buffer("origin", origin.detach().clone())
        self.register_buffer("directions", directions.detach().clone())

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        m = self.directions.shape[0]
        if coords.ndim != 2 or coords.shape[1] != m:
            raise ValueError(f"coords must have shape (B, {m}) (the slice's coordinates); got {tuple(coords.shape)}")
        points = self.origin + torch.tensordot(coords, self.directions, dims=1)
        return self.model(points)


@dataclass(frozen=True)
class Line:
    r"""Points :math:`x(t) = x_1 + (x_2 - x_1)t` of :func:`line`.

    Attributes:
        points: ``(steps, *shape)``.
        t: ``(steps,)`` float64, ``t[i] = i / steps`` in ``[0, 1)``.
        anchors: ``(2, *shape)``: ``x1, x2``.
    """

    points: torch.Tensor
    t: torch.Tensor
    anchors: torch.Tensor

    @property
    def steps(self) -> int:
        """Number of points."""
        return self.t.numel()

    @property
    def flat(self) -> torch.Tensor:
        """``(steps, d)``: the points flattened (``d = prod(shape)``), for batched feature maps on vectors."""
        return self.points.reshape(self.steps, -1)

    @property
    def midpoint(self) -> torch.Tensor:
        r"""``(*shape)``: :math:`(x_1 + x_2)/2`, the point at :math:`t = 1/2`."""
        return 0.5 * (self.anchors[0] + self.anchors[1])

    def restrict(self, model: nn.Module) -> SliceMap:
        r""":class:`SliceMap` of ``model`` along the line, :math:`t \mapsto f(x_1 + t(x_2 - x_1))`: ``(B, 1)``
        values of ``t`` (e.g. ``line.t[:, None]``) -> ``model``'s output."""
        return SliceMap(model, self.anchors[0], (self.anchors[1] - self.anchors[0]).unsqueeze(0))


@dataclass(frozen=True)
class Plane:
    r"""Points :math:`p(a, b) = o + a\,r + b\,u` of :func:`plane` on a ``steps x steps`` grid of
    :math:`[-1, 1]^2`.

    Attributes:
        points: ``(steps * steps, *shape)``, row-major: ``points[i * steps + j]`` is at ``(a[j], b[i])``.
        a, b: ``(steps,)`` float64 grid axes (``a`` along columns, ``b`` along rows).
        coords: ``(steps * steps, 2)`` float64 :math:`(a, b)` of every point.
        ternary: ``(steps * steps, 3)`` float64 barycentric coordinates :math:`(\lambda_1, \lambda_2,
            \lambda_3)`, ``points = sum_i ternary[:, i] * x_i``, rows summing to 1.
        inside: ``(steps * steps,)`` bool: all :math:`\lambda_i \ge 0` (the triangle of the anchors, with a
            tolerance of 1e-12 for points on its edges).
        anchors: ``(3, *shape)``: ``x1, x2, x3``.
        origin, right, up: ``(*shape)`` each: :math:`o, r, u`.
    """

    points: torch.Tensor
    a: torch.Tensor
    b: torch.Tensor
    coords: torch.Tensor
    ternary: torch.Tensor
    inside: torch.Tensor
    anchors: torch.Tensor
    origin: torch.Tensor
    right: torch.Tensor
    up: torch.Tensor

    @property
    def steps(self) -> int:
        """Grid points per axis."""
        return self.a.numel()

    @property
    def shape(self) -> tuple[int, int]:
        """The image shape ``(steps, steps)``, rows along ``b`` and columns along ``a``."""
        return (self.steps, self.steps)

    @property
    def flat(self) -> torch.Tensor:
        """``(steps * steps, d)``: the points flattened."""
        return self.points.reshape(self.points.shape[0], -1)

    @property
    def grid(self) -> Grid:
        """The :class:`paperlib.data.Grid` of the :math:`(a, b)` coordinates (for :mod:`paperlib.plot`)."""
        return Grid(self.a, self.b)

    def image(self, values: torch.Tensor) -> torch.Tensor:
        """Reshape per-point values ``(steps * steps, ...)`` into an image ``(steps, steps, ...)`` (rows: ``b``)."""
        return self.grid.image(values)

    def restrict(self, model: nn.Module) -> SliceMap:
        r""":class:`SliceMap` of ``model`` on the plane, :math:`(a, b) \mapsto f(o + a\,r + b\,u)`: ``(B, 2)``
        coordinates (e.g. ``plane.coords``) -> ``model``'s output, so that ``geometry.metric(plane.restrict(model),
        plane.coords)`` is the ``2 x 2`` metric the plane inherits."""
        return SliceMap(model, self.origin, torch.stack([self.right, self.up]))


def barycentric(coords: torch.Tensor) -> torch.Tensor:
    r"""Ternary coordinates of plane coordinates: ``(..., 2)`` :math:`(a, b)` -> ``(..., 3)``
    :math:`(\lambda_1, \lambda_2, \lambda_3) = (\tfrac13 - a + \tfrac{b}{\sqrt3},\ \tfrac13 + a + \tfrac{b}{\sqrt3},\
    \tfrac13 - \tfrac{2b}{\sqrt3})` (see the module docstring)."""
    if not isinstance(coords, torch.Tensor):
        raise TypeError(f"coords must be a torch.Tensor of shape (..., 2); got {type(coords).__name__}")
    if coords.ndim < 1 or coords.shape[-1] != 2:
        raise ValueError(f"coords must have shape (..., 2); got {tuple(coords.shape)}")
    a, b = coords[..., 0], coords[..., 1]
    third = 1.0 / 3.0
    return torch.stack([third - a + b / _S3, third + a + b / _S3, third - 2.0 * b / _S3], -1)


def line(x1: torch.Tensor, x2: torch.Tensor, steps: int = 64, *, dtype: torch.dtype = torch.float64) -> Line:
    r"""The line :math:`x(t) = x_1 + (x_2 - x_1)t` at ``steps`` values :math:`t = i/\text{steps}` in
    :math:`[0, 1)`.

    Args:
        x1, x2: anchors of the same (any) shape, e.g. ``(1, 28, 28)`` or ``(784,)``; tensors or numpy arrays.
        steps: number of points (>= 1).
        dtype: floating dtype of the points (float64 by default, the dtype of the geometry).

    Returns:
        :class:`Line` with ``points: (steps, *shape)``, ``t: (steps,)``.
    """
    dtype = check_float_dtype(dtype)
    x1 = _anchor(x1, "x1", dtype)
    x2 = _anchor(x2, "x2", dtype)
    _same_shape(x1, x2, "x2")
    steps = check_int(steps, "steps", min=1)
    t = torch.arange(steps, dtype=torch.float64) / steps
    tt = t.to(dtype).reshape(steps, *([1] * x1.ndim))
    points = x1 + (x2 - x1) * tt
    return Line(points, t, torch.stack([x1, x2]))


def plane(
    x1: torch.Tensor, x2: torch.Tensor, x3: torch.Tensor, steps: int = 60, *, dtype: torch.dtype = torch.float64
) -> Plane:
    r"""The plane through three anchors: :math:`p(a, b) = o + a\, r + b\, u` for ``(a, b)`` on a ``steps x steps``
    grid of :math:`[-1, 1]^2` (end points included), with :math:`o = (x_1+x_2+x_3)/3`, :math:`r = x_2 - x_1`,
    :math:`u = 2\sqrt3\,((x_1+x_2)/2 - o)`.

    The anchors sit at the corners :data:`ANCHOR_COORDS` of an equilateral triangle of side 1 in :math:`(a, b)`;
    ``ternary`` and ``inside`` give each point's barycentric coordinates and whether it lies in that triangle
    (module docstring).

    Args:
        x1, x2, x3: anchors of the same (any) shape; tensors or numpy arrays.
        steps: grid points per axis (>= 2).
        dtype: floating dtype of the points.

    Returns:
        :class:`Plane` with ``points: (steps * steps, *shape)`` (row-major, ``b`` along rows).
    """
    dtype = check_float_dtype(dtype)
    x1 = _anchor(x1, "x1", dtype)
    x2 = _anchor(x2, "x2", dtype)
    x3 = _anchor(x3, "x3", dtype)
    _same_shape(x1, x2, "x2")
    _same_shape(x1, x3, "x3")
    steps = check_int(steps, "steps", min=2)
    axis = torch.linspace(-1.0, 1.0, steps, dtype=torch.float64)
    bb, aa = torch.meshgrid(axis, axis, indexing="ij")
    coords = torch.stack([aa.reshape(-1), bb.reshape(-1)], -1)
    origin = (x1 + x2 + x3) / 3.0
    right = x2 - x1
    up = (0.5 * (x1 + x2) - origin) * (2.0 * _S3)
    shape = [1] * x1.ndim
    ca = coords[:, 0].to(dtype).reshape(-1, *shape)
    cb = coords[:, 1].to(dtype).reshape(-1, *shape)
    points = origin + ca * right + cb * up
    ternary = barycentric(coords)
    inside = (ternary >= -1e-12).all(-1)
    return Plane(points, axis, axis.clone(), coords, ternary, inside, torch.stack([x1, x2, x3]), origin, right, up)
