r"""Chapter 2 (shallow networks): the volume element of random one-hidden-layer maps.

For :math:`\Phi_j(x) = \phi(w_j\cdot x + b_j)/\sqrt n` with :math:`w_{j\mu}, b_j \sim N(0, 1)` the chapter draws
:math:`\log_{10}\sqrt{\det g}` on a square for several activations and widths (:func:`volume_maps`, the figure
``shallow-volume-maps``) and measures how fast the picture becomes radially symmetric (:func:`angular_spread`: the
coefficient of variation of the volume element on a circle, which falls like :math:`n^{-1/2}`).

Everything here is a closed form of :mod:`paperlib.shallow` (no training, no presets); the figures are drawn by
:mod:`paperlib.chapters.shallow_figures`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch

from .. import shallow as _shallow
from .._checks import check_int, check_ints, check_number
from ..activations import check_name, check_names

__all__ = ["WIDTHS", "ACTIVATIONS", "VolumeMaps", "volume_maps", "angular_spread"]

#: The widths of the chapter's figure (one column each).
WIDTHS = (3, 10, 100, 1000)
#: The activations of the chapter's figure (one row each).
ACTIVATIONS = ("erf", "sigmoid", "relu")



@dataclass(frozen=True)
class VolumeMaps:
    r"""The log volume element of random shallow maps on a square, per activation and width.

    Attributes:
        t: ``(T,)`` coordinates of the square's side.
        maps: ``{(activation, width): log_volume (T, T)}``, ``log_volume[i, j]`` at :math:`x = (t_i, t_j)`
            (``torch.cartesian_prod(t, t)`` reshaped), on the CPU; :math:`-\infty` where :math:`\det g = 0`.
        activations, widths: the rows and columns, in order.
        network: how each network was drawn.
    """

    t: torch.Tensor
    maps: dict
    activations: tuple[str, ...]
    widths: tuple[int, ...]
    network: str = "paperlib.shallow.random_network(2, n, seed=n)"


def volume_maps(
    activations: Sequence[str] = ACTIVATIONS,
    widths: Sequence[int] = WIDTHS,
    *,
    lim: float = 3.0,
    size: int = 121,
    device: str | torch.device | None = "auto",
) -> VolumeMaps:
    r""":math:`\log_{10}\sqrt{\det g(x)}` of the random network ``paperlib.shallow.random_network(2, n, seed=n)``
    (:math:`w_{j\mu}, b_j \sim N(0, 1)`) for every activation and width, on the ``size x size`` grid of
    :math:`[-\text{lim}, \text{lim}]^2`, by the closed form :func:`paperlib.shallow.log_volume_element`.

    Args:
        activations: activation names (rows of the figure).
        widths: hidden widths :math:`n \ge 1` (columns).
        lim: half the side of the square (> 0).
        size: points per side (>= 2).
        device: where to compute (``"auto"``: CUDA when present); the maps are returned on the CPU.

    Returns:
        :class:`VolumeMaps` with ``t: (size,)`` and ``maps[(activation, n)]: (size, size)``.
    """
    names = check_names(activations)
    ns = check_ints(widths, "widths", min=1)
    lim = check_number(lim, "lim", min=0, open_min=True)
    size = check_int(size, "size", min=2)
    t = torch.linspace(-lim, lim, size, dtype=torch.float64)
    grid = torch.cartesian_prod(t, t)  # grid[i * size + j] = (t[i], t[j])
    maps = {(a, n): _shallow.log_volume_element(*_shallow.random_network(2, n, seed=n), grid, a,
                                                device=device).cpu().reshape(size, size)
            for a in names for n in ns}
    return VolumeMaps(t, maps, names, ns)


def angular_spread(
    activation: str,
    n: int,
    *,
    seeds: Sequence[int] = range(100, 105),
    radius: float = 1.5,
    points: int = 360,
    device: str | torch.device | None = "auto",
) -> float:
    r"""The coefficient of variation of the volume element :math:`\sqrt{\det g}` over the circle :math:`|x| =`
    ``radius`` (its standard deviation over its mean, at ``points`` equispaced angles), averaged over the random
    networks ``paperlib.shallow.random_network(2, n, seed=s)`` for ``s`` in ``seeds``.

    :math:`g` is an average of :math:`n` independent terms, so the spread falls like :math:`n^{-1/2}`: wide random
    networks are radially symmetric.

    Args:
        activation: an activation name.
        n: the hidden width (>= 1).
        seeds: the networks' seeds (non-empty).
        radius: the circle's radius (> 0).
        points: angles on the circle (>= 2).
        device: where to compute.

    Returns:
        The mean coefficient of variation (a float).
    """
    check_name(activation)
    n = check_int(n, "n", min=1)
    seeds = check_ints(seeds, "seeds")
    radius = check_number(radius, "radius", min=0, open_min=True)
    points = check_int(points, "points", min=2)
    angles = torch.linspace(0, 2 * math.pi, points + 1, dtype=torch.float64)[:-1]
    circle = radius * torch.stack([torch.cos(angles), torch.sin(angles)], -1)
    spreads = []
    for s in seeds:
        vol = 10 ** _shallow.log_volume_element(*_shallow.random_network(2, n, seed=s), circle, activation,
                                                device=device).cpu()
        spreads.append(float(vol.std() / vol.mean()))
    return sum(spreads) / len(spreads)
