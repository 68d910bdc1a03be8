r"""The toy tasks of the paper and the regular grids on which geometry is evaluated.

- :func:`sinusoid`: ``n`` points uniform on :math:`[-1, 1]^2`, label :math:`[x_2 > \tfrac35 \sin(7 x_1 - 1)]`, with
  its signed score :func:`sinusoid_score` and the mirrored control boundary :func:`sinusoid_control_score`.
- :func:`xor`: the four points :math:`(\pm1, \pm1)`, label = XOR of the signs of the two coordinates
  (:func:`xor_score`).
- :func:`grid`: a regular ``ny x nx`` grid of points (a :class:`Grid`), flattened row-major for batched geometry.

Toy inputs are float tensors ``(N, 2)``, labels long tensors ``(N,)`` with values 0/1.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .._checks import check_float_dtype, check_int, check_number

__all__ = ["sinusoid", "sinusoid_score", "sinusoid_control_score", "xor", "xor_score", "Grid", "grid"]


def sinusoid_score(x: torch.Tensor) -> torch.Tensor:
    r"""Signed score of the sinusoid task, :math:`s(x) = x_2 - \tfrac35\sin(7x_1 - 1)`: ``(B, 2) -> (B,)``.

    The label is ``s > 0`` and the true decision boundary is the zero set :math:`x_2 = \tfrac35\sin(7x_1 - 1)`.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor of shape (B, 2); got {type(x).__name__}")
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"x must have shape (B, 2); got {tuple(x.shape)}")
    return x[:, 1] - 0.6 * torch.sin(7.0 * x[:, 0] - 1.0)


def sinusoid(n: int = 400, seed: int = 0, *, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The sinusoid task: ``n`` points uniform on :math:`[-1,1]^2`, label :math:`y = [x_2 > \tfrac35\sin(7x_1-1)]`.

    Args:
        n: number of points (>= 1).
        seed: seed of the private generator that draws the points (the same seed gives the same points).
        dtype: floating dtype of the inputs.

    Returns:
        ``x: (n, 2)`` float, ``y: (n,)`` long in {0, 1}.
    """
    n = check_int(n, "n", min=1)
    check_int(seed, "seed")
    dtype = check_float_dtype(dtype)
    gen = torch.Generator().manual_seed(seed)
    x = (torch.rand(n, 2, generator=gen, dtype=torch.float64) * 2 - 1).to(dtype)
    y = (sinusoid_score(x.double()) > 0).long()
    return x, y


def sinusoid_control_score(x: torch.Tensor) -> torch.Tensor:
    r"""A control boundary for the sinusoid task, the mirror image of the true one: :math:`s(x) = x_2 +
    \tfrac35\sin(7x_1 - 1)`, zero on :math:`x_2 = -\tfrac35\sin(7x_1 - 1)`: ``(B, 2) -> (B,)``.

    It has the same shape, length and distances from the origin as the true boundary (the reflection
    :math:`x_2 \to -x_2` maps one onto the other, and the random network's volume element depends on :math:`|x|`
    only in expectation), but no network is trained on it: magnification measured around it is the part that is
    not caused by the boundary.
    """
    true = sinusoid_score(x)  # checks x
    return 2 * x[:, 1] - true


def xor_score(x: torch.Tensor) -> torch.Tensor:
    r"""Signed score of the XOR task, :math:`s(x) = -x_1 x_2` (label 1 where the signs differ): ``(B, 2) -> (B,)``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor of shape (B, 2); got {type(x).__name__}")
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"x must have shape (B, 2); got {tuple(x.shape)}")
    return -x[:, 0] * x[:, 1]


def xor(*, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The XOR task: the four points :math:`(\pm1, \pm1)`, label :math:`[x_1 > 0] \oplus [x_2 > 0]`.

    Deterministic (no seed needed). Points in the order (-1,-1), (-1,1), (1,-1), (1,1); labels 0, 1, 1, 0.

    Returns:
        ``x: (4, 2)`` float, ``y: (4,)`` long.
    """
    dtype = check_float_dtype(dtype)
    x = torch.tensor([[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]], dtype=dtype)
    y = ((x[:, 0] > 0) ^ (x[:, 1] > 0)).long()
    return x, y


@dataclass(frozen=True)
class Grid:
    r"""A regular grid on a rectangle: ``xs: (nx,)``, ``ys: (ny,)``; ``points: (ny * nx, 2)`` row-major
    (``points[i * nx + j] = (xs[j], ys[i])``), so ``values.reshape(ny, nx)`` gives an image with ``ys`` along
    rows (use ``origin="lower"``)."""

    xs: torch.Tensor
    ys: torch.Tensor

    @property
    def shape(self) -> tuple[int, int]:
        """``(ny, nx)``."""
        return (self.ys.numel(), self.xs.numel())

    @property
    def points(self) -> torch.Tensor:
        """``(ny * nx, 2)`` float64 points, row-major."""
        yy, xx = torch.meshgrid(self.ys, self.xs, indexing="ij")
        return torch.stack([xx.reshape(-1), yy.reshape(-1)], -1)

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """``(xmin, xmax, ymin, ymax)`` (matplotlib's ``extent``)."""
        return (float(self.xs[0]), float(self.xs[-1]), float(self.ys[0]), float(self.ys[-1]))

    @property
    def spacing(self) -> tuple[float, float]:
        """``(dx, dy)``, the distance between neighbouring grid points."""
        dx = float(self.xs[1] - self.xs[0]) if self.xs.numel() > 1 else 0.0
        dy = float(self.ys[1] - self.ys[0]) if self.ys.numel() > 1 else 0.0
        return (dx, dy)

    def image(self, values: torch.Tensor) -> torch.Tensor:
        """Reshape per-point values ``(ny * nx, ...)`` into an image ``(ny, nx, ...)``."""
        if not isinstance(values, torch.Tensor):
            raise TypeError(f"values must be a torch.Tensor; got {type(values).__name__}")
        ny, nx = self.shape
        if values.ndim < 1 or values.shape[0] != ny * nx:
            raise ValueError(f"values must have first dimension ny * nx = {ny * nx}; got {tuple(values.shape)}")
        return values.reshape(ny, nx, *values.shape[1:])


def grid(lo: float = -1.0, hi: float = 1.0, size: int = 80) -> Grid:
    r"""The ``size x size`` grid on :math:`[lo, hi]^2` (end points included), float64.

    Returns:
        :class:`Grid` with ``xs = ys = linspace(lo, hi, size)``; ``grid.points`` has shape ``(size**2, 2)``.
    """
    check_number(lo, "lo")
    check_number(hi, "hi")
    if not hi > lo:
        raise ValueError(f"hi must be greater than lo; got lo={lo!r}, hi={hi!r}")
    size = check_int(size, "size", min=2)
    axis = torch.linspace(float(lo), float(hi), size, dtype=torch.float64)
    return Grid(axis, axis.clone())
