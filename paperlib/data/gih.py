"""The data sets of the geometric-invariance experiments (Movahedi et al., arXiv:2410.12025, Fig. 1): two concentric
circles in a plane of image space with noise in its complement (:func:`gih_circles`), and a label carried by one
direction (:func:`gih_direction`)."""

from __future__ import annotations

import math

import torch

from .._checks import check_int, check_number

__all__ = ["orthonormal_plane", "gih_circles", "gih_direction"]


def orthonormal_plane(u1: torch.Tensor, u2: torch.Tensor) -> torch.Tensor:
    r"""``(2, D)`` float64: ``u1`` normalised and ``u2`` made orthogonal to it and normalised (Gram--Schmidt).
    Both must have the same number of entries ``D`` (any shape, e.g. ``(1, 32, 32)``) and span a plane."""
    if not isinstance(u1, torch.Tensor) or not isinstance(u2, torch.Tensor) or u1.numel() != u2.numel():
        raise ValueError("u1 and u2 must be tensors with the same number of entries")
    a, b = u1.flatten().double(), u2.flatten().double()
    a = a / a.norm()
    b = b - (a @ b) * a
    if not b.norm() > 1e-8 * u2.double().norm():
        raise ValueError("u1 and u2 must span a plane (u2 is parallel to u1)")
    return torch.stack([a, b / b.norm()])


def gih_circles(u1: torch.Tensor, u2: torch.Tensor, n: int, *, r_outer: float = 1.5, r_inner: float = 0.25,
                noise: float = 1.0, seed: int = 0,
                dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Two concentric circles in the plane spanned by ``u1, u2`` (shape ``in_shape``, e.g. ``(1, 32, 32)``), with
    Gaussian noise in the orthogonal complement: the data set of the geometric-invariance paper's Fig. 1.

    With :math:`(e_1, e_2)` = :func:`orthonormal_plane` and :math:`P = I - e_1 e_1^\top - e_2 e_2^\top`,

    .. math::  x = r_y (\cos\alpha\, e_1 + \sin\alpha\, e_2) + P z, \qquad \alpha \sim U[0, 2\pi),\
               z \sim N(0, \text{noise}^2 I_D),

    :math:`r_1 = ` ``r_outer``, :math:`r_0 = ` ``r_inner``, labels ``y`` in {0, 1} with equal counts (``n`` even;
    ``y = 1`` outer), in random order. The angle is uniform, which is the law of the authors'
    :math:`(a u_1 + b u_2)/|a u_1 + b u_2|` with :math:`a, b \sim N(0, 1)`.

    Returns:
        ``x: (n, *in_shape)``, ``y: (n,)`` long, and ``coords: (n, 2)``: the in-plane coordinates
        :math:`(x\cdot e_1, x\cdot e_2)` (for plotting decision boundaries on the plane).
    """
    n = check_int(n, "n", min=2)
    if n % 2:
        raise ValueError(f"n must be even (equal class counts); got {n}")
    r1 = check_number(r_outer, "r_outer", min=0, open_min=True)
    r0 = check_number(r_inner, "r_inner", min=0)
    check_number(noise, "noise", min=0)
    if r0 >= r1:
        raise ValueError(f"r_inner must be smaller than r_outer; got {r0} and {r1}")
    e = orthonormal_plane(u1, u2)
    gen = torch.Generator().manual_seed(check_int(seed, "seed"))
    y = torch.arange(n) % 2
    y = y[torch.randperm(n, generator=gen)]
    angle = torch.rand(n, generator=gen, dtype=torch.float64) * (2 * math.pi)
    coords = torch.stack([angle.cos(), angle.sin()], 1) * torch.where(y == 1, r1, r0).double()[:, None]
    z = torch.randn(n, e.shape[1], generator=gen, dtype=torch.float64) * noise
    z = z - (z @ e.T) @ e
    x = coords @ e + z
    return x.reshape(n, *u1.shape).to(dtype), y, coords.to(dtype)


def gih_direction(u: torch.Tensor, n: int, *, noise: float = 1.0, seed: int = 0,
                  dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    r"""A label carried by one direction ``u`` (any shape, e.g. ``(1, 32, 32)``): with :math:`e = u/|u|`,

    .. math::  x = a\, e + (I - e e^\top) z, \qquad a \sim N(0, 1),\ z \sim N(0, \text{noise}^2 I_D),
               \qquad y = [a > 0],

    so that :math:`x \cdot e` alone decides the class (the paper's eigen-index sweep, linear form).

    Returns:
        ``x: (n, *u.shape)``, ``y: (n,)`` long.
    """
    n = check_int(n, "n", min=1)
    check_number(noise, "noise", min=0)
    if not isinstance(u, torch.Tensor) or not u.double().norm() > 0:
        raise ValueError("u must be a non-zero tensor")
    e = u.flatten().double() / u.double().norm()
    gen = torch.Generator().manual_seed(check_int(seed, "seed"))
    a = torch.randn(n, generator=gen, dtype=torch.float64)
    z = torch.randn(n, e.numel(), generator=gen, dtype=torch.float64) * noise
    x = a[:, None] * e + z - (z @ e)[:, None] * e
    return x.reshape(n, *u.shape).to(dtype), (a > 0).long()
