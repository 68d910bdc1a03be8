"""The data sets of the geometric-invariance experiments (Movahedi et al., arXiv:2410.12025, Fig. 1): two concentric
circles in a plane of image space with noise in its complement (:func:`gih_circles`), and a label carried by one
direction (:func:`gih_direction`); the circles with a linear shortcut (:func:`gih_shortcut`) and Gaussian data
shaped like a geometry (:func:`gih_gaussian`)."""

from __future__ import annotations

import math

import torch

from .._checks import check_int, check_number

__all__ = ["orthonormal_plane", "gih_circles", "gih_direction", "gih_shortcut", "gih_gaussian"]


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


def gih_shortcut(u1: torch.Tensor, u2: torch.Tensor, u3: torch.Tensor, n: int, *, epsilon: float = 1.0,
                 flip: bool = False, r_outer: float = 1.5, r_inner: float = 0.25, noise: float = 1.0, seed: int = 0,
                 dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The circles of :func:`gih_circles` plus a linear feature along ``u3`` that also decides the class: the
    geometric-invariance paper's simplicity-bias set. With :math:`(e_1, e_2)` the circles' plane, :math:`e_3` =
    ``u3`` made orthogonal to it and normalised, and :math:`P_3` the projector on the complement of
    :math:`e_1, e_2, e_3`,

    .. math::  x = r_y (\cos\alpha\, e_1 + \sin\alpha\, e_2) + s_y \tfrac{\varepsilon}{2} e_3 + P_3 z,
               \qquad s_y = \pm(2y - 1),

    with :math:`+` (the feature agrees with the circles) or, for ``flip=True``, :math:`-` (it contradicts them: a
    network that reads only the linear feature scores 0 on such a set, one that reads only the circles scores as
    on the circles). The same ``seed`` gives the same circles and noise with and without ``flip``.

    Returns:
        ``x: (n, *u1.shape)``, ``y: (n,)`` long (``n`` even, equal counts, ``y = 1`` outer).
    """
    check_number(epsilon, "epsilon", min=0)
    if not isinstance(u3, torch.Tensor) or u3.numel() != u1.numel():
        raise ValueError(f"u3 must be a tensor with {u1.numel()} entries like u1")
    e = orthonormal_plane(u1, u2)
    c = u3.flatten().double()
    c = c - (c @ e.T) @ e
    if not c.norm() > 1e-5 * u3.double().norm():  # float32 rounding of a u3 in the plane leaves ~1e-7
        raise ValueError("u3 must not lie in the plane of u1 and u2")
    c = c / c.norm()
    x, y, _ = gih_circles(u1, u2, n, r_outer=r_outer, r_inner=r_inner, noise=noise, seed=seed, dtype=torch.float64)
    flat = x.flatten(1)
    sign = (2 * y - 1).double() * (-1.0 if flip else 1.0)
    flat = flat - (flat @ c)[:, None] * c + (sign * epsilon / 2)[:, None] * c
    return flat.reshape(x.shape).to(dtype), y


def gih_gaussian(G: torch.Tensor, n: int, *, reverse: bool = False, in_shape: tuple[int, ...] | None = None,
                 seed: int = 0, dtype: torch.dtype = torch.float32,
                 eigen: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    r"""Gaussian inputs shaped like a geometry ``G`` (the paper's memorisation sets): with
    :math:`G = \sum_k \lambda_k u_k u_k^\top` (:math:`\lambda_1 \ge \dots \ge \lambda_D`, negative estimates set to
    0),

    .. math::  x = \sum_k \sqrt{c\, \mu_k}\, z_k u_k, \qquad z \sim N(0, I_D), \qquad
               \mu_k = \lambda_k \ \text{or, for ``reverse``,}\ \lambda_{D + 1 - k},

    with :math:`c = D / \sum_k \lambda_k` so that :math:`E\|x\|^2 = D` either way: :math:`x \sim N(0, c\, G)`, or the
    same eigenvectors with the eigenvalue order reversed (the variance sits where ``G`` is smallest). Both sets
    have the same spectrum; only its directions differ.

    Args:
        G: ``(D, D)`` symmetric, positive semi-definite up to estimation noise, not zero; n: samples;
        in_shape: of each sample (default ``(D,)``), e.g. ``(1, 32, 32)``; seed: of the draws.
        eigen: ``(values (D,), vectors (D, D))`` of ``G``, values descending (e.g.
            :attr:`paperlib.gih.AverageGeometry.eigen`): drawing several sets from one ``G`` then decomposes it
            once instead of at every call (:math:`O(D^3)`, seconds at ``D = 3072``).

    Returns:
        ``(n, *in_shape)``.

    Example:
        >>> x = gih_gaussian(torch.diag(torch.tensor([4.0, 0.0])), 1000, seed=0)
        >>> [round(float(v), 1) for v in x.square().mean(0)]  # all variance along the first axis, E|x|^2 = 2
        [2.0, 0.0]
        >>> x = gih_gaussian(torch.diag(torch.tensor([4.0, 0.0])), 1000, reverse=True, seed=0)
        >>> [round(float(v), 1) for v in x.square().mean(0)]  # the same spectrum on the other axis
        [0.0, 2.0]
    """
    if not isinstance(G, torch.Tensor) or G.ndim != 2 or G.shape[0] != G.shape[1]:
        raise ValueError(f"G must be a square (D, D) tensor; got {getattr(G, 'shape', type(G).__name__)}")
    n = check_int(n, "n", min=1)
    d = G.shape[0]
    shape = (d,) if in_shape is None else tuple(in_shape)
    if math.prod(shape) != d:
        raise ValueError(f"in_shape must have D = {d} entries; got {shape}")
    if eigen is None:
        Gd = G.detach().double().cpu()
        values, vectors = torch.linalg.eigh((Gd + Gd.T) / 2)
        values, vectors = values.flip(0), vectors.flip(1)
    else:
        values, vectors = (t.detach().double().cpu() for t in eigen)
        if values.shape != (d,) or vectors.shape != (d, d) or bool((values[1:] > values[:-1]).any()):
            raise ValueError(f"eigen must be (values ({d},) descending, vectors ({d}, {d})) of G")
    values = values.clamp_min(0)
    total = float(values.sum())
    if not total > 0:
        raise ValueError("G must have a positive eigenvalue")
    mu = values.flip(0) if reverse else values
    gen = torch.Generator().manual_seed(check_int(seed, "seed"))
    z = torch.randn(n, d, generator=gen, dtype=torch.float64)
    return ((z * (mu * d / total).sqrt()) @ vectors.T).reshape(n, *shape).to(dtype)
