r"""Toy data sets of the paper and the regular grids on which geometry is evaluated.

- :func:`sinusoid`: ``n`` points uniform on :math:`[-1, 1]^2`, label :math:`[x_2 > \tfrac35 \sin(7 x_1 - 1)]`.
- :func:`xor`: the four points :math:`(\pm1, \pm1)`, label = XOR of the signs of the two coordinates.
- :func:`grid`: a regular ``ny x nx`` grid of points (a :class:`Grid`), flattened row-major for batched geometry.

Inputs are float tensors ``(N, 2)``, labels long tensors ``(N,)`` with values 0/1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ._checks import check_dtype

__all__ = ["sinusoid", "sinusoid_score", "xor", "xor_score", "Grid", "grid", "fingerprint"]


def _check_int(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return value


def _check_float_dtype(dtype: object) -> torch.dtype:
    if dtype is None:
        raise TypeError("dtype must be a floating torch dtype (e.g. torch.float32); got None")
    return check_dtype(dtype)  # type: ignore[arg-type]


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
    n = _check_int(n, "n", 1)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int; got {seed!r}")
    dtype = _check_float_dtype(dtype)
    gen = torch.Generator().manual_seed(seed)
    x = (torch.rand(n, 2, generator=gen, dtype=torch.float64) * 2 - 1).to(dtype)
    y = (sinusoid_score(x.double()) > 0).long()
    return x, y


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
    dtype = _check_float_dtype(dtype)
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
    for name, v in (("lo", lo), ("hi", hi)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError(f"{name} must be a finite number; got {v!r}")
    if not hi > lo:
        raise ValueError(f"hi must be greater than lo; got lo={lo!r}, hi={hi!r}")
    size = _check_int(size, "size", 2)
    axis = torch.linspace(float(lo), float(hi), size, dtype=torch.float64)
    return Grid(axis, axis.clone())


def fingerprint(*tensors: torch.Tensor) -> str:
    """SHA-256 hex digest of the dtypes, shapes and bytes of ``tensors`` (the data part of cache keys)."""
    import hashlib

    h = hashlib.sha256()
    for i, t in enumerate(tensors):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"tensors[{i}] must be a torch.Tensor; got {type(t).__name__}")
        t = t.detach().cpu().contiguous()
        h.update(f"{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()
