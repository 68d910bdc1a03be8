r"""Chapter 3 (infinite width): how a random shallow network's metric approaches its expectation, and the radial
profiles of that expectation.

For :math:`w \sim N(0, \sigma^2 I_d)`, :math:`b \sim N(0, \zeta^2)` the expected metric of
:math:`\Phi_j(x) = \phi(w_j\cdot x + b_j)/\sqrt n` is :math:`\mathbb E[g] = e^{\Omega}(\delta + 2\Omega' x x^\top)`
(:mod:`paperlib.infinite`). This module computes what the chapter's figures show:

- :func:`convergence` -- the relative RMS error of a width-:math:`n` network's metric against :math:`\mathbb E[g]`
  and its fitted slope against :math:`\log n` (about :math:`-1/2`; the figure ``infinite-convergence``), from
  :func:`rms_error`;
- :func:`profiles` -- :math:`\log_{10}\sqrt{\det g}` and :math:`R` against :math:`|x|` (the figures
  ``infinite-profiles`` and ``infinite-profiles-gelu-softplus``);

and the chapter's small helpers: :func:`random_points` (random directions, radii up to 4), :func:`ray` (points
:math:`r e_1`) and :func:`relative_error`. The figures are drawn by :mod:`paperlib.chapters.infinite_figures`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from .. import infinite as _infinite
from .. import shallow as _shallow
from .._checks import check_input, check_int, check_ints, check_number
from ..activations import check_name, check_names

__all__ = ["SWEEP", "WIDTHS", "PROFILE_SETTINGS", "SMOOTH_SETTINGS", "random_points", "relative_error", "ray",
           "rms_error", "Convergence", "convergence", "Profiles", "profiles"]

#: The activations of the convergence figure.
SWEEP = ("erf", "sigmoid", "relu")
#: The widths of the convergence figure, in half-decades from 10 to :math:`10^4`.
WIDTHS = (10, 32, 100, 316, 1000, 3162, 10000)
#: The :math:`(\sigma, \zeta)` of the profiles of erf, sigmoid and ReLU (``infinite-profiles``).
PROFILE_SETTINGS = ((1.0, 0.0), (1.0, 1.0), (2.0, 1.0))
#: The :math:`(\sigma, \zeta)` of the profiles of GELU and softplus (``infinite-profiles-gelu-softplus``).
SMOOTH_SETTINGS = ((1.0, 0.0), (1.0, 1.0), (0.5, 0.5))



def _settings(settings: object) -> tuple[tuple[float, float], ...]:
    if isinstance(settings, (str, bytes)) or not isinstance(settings, Sequence) or len(settings) == 0:
        raise ValueError(f"settings must be a non-empty sequence of (sigma, zeta) pairs; got {settings!r}")
    pairs = []
    for pair in settings:
        if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise ValueError(f"settings must contain (sigma, zeta) pairs; got {pair!r}")
        pairs.append((check_number(pair[0], "settings: sigma", min=0, open_min=True),
                      check_number(pair[1], "settings: zeta", min=0)))
    return tuple(pairs)


def random_points(d: int, count: int = 32, *, generator: torch.Generator | None = None,
                  radius: float = 4.0) -> torch.Tensor:
    r"""``count`` random points of :math:`\mathbb R^d`: uniformly random directions (normalised Gaussian vectors)
    at radii uniform in :math:`[0, \text{radius}]`, float64.

    Draws ``count * d`` normal and then ``count`` uniform numbers from ``generator`` (``None``: torch's global
    generator), so a seeded generator shared by several calls gives the chapter's points.

    Returns:
        ``(count, d)``.
    """
    d = check_int(d, "d", min=1)
    count = check_int(count, "count", min=1)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None; got {type(generator).__name__}")
    radius = check_number(radius, "radius", min=0, open_min=True)
    v = torch.randn(count, d, generator=generator, dtype=torch.float64)
    return v / v.norm(dim=1, keepdim=True) * radius * torch.rand(count, 1, generator=generator, dtype=torch.float64)


def relative_error(value: torch.Tensor, reference: torch.Tensor, floor: float = 1e-12) -> float:
    r"""The largest relative error :math:`\max |v - r| / \max(|r|, \text{floor})` of ``value`` against
    ``reference`` (tensors of one shape), as a float."""
    for name, t in (("value", value), ("reference", reference)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor; got {type(t).__name__}")
    if value.shape != reference.shape:
        raise ValueError(f"value and reference must have one shape; got {tuple(value.shape)} and "
                         f"{tuple(reference.shape)}")
    floor = check_number(floor, "floor", min=0, open_min=True)
    return float(((value - reference).abs() / reference.abs().clamp_min(floor)).max())


def ray(radii: torch.Tensor, d: int) -> torch.Tensor:
    r"""The points :math:`x = r e_1` of :math:`\mathbb R^d` for the radii ``radii: (T,)``: ``(T, d)``, float64
    (the infinite-width geometry is rotation invariant, so one ray shows every direction)."""
    if not isinstance(radii, torch.Tensor) or radii.ndim != 1 or radii.numel() == 0:
        raise ValueError(f"radii must be a non-empty 1-D torch.Tensor; got {radii!r:.80}")
    d = check_int(d, "d", min=1)
    r = radii.to(torch.float64)
    return torch.cat([r[:, None], torch.zeros(len(r), d - 1, dtype=torch.float64, device=r.device)], 1)


def rms_error(
    points: torch.Tensor,
    activation: str,
    n: int,
    *,
    sigma: float = 1.0,
    zeta: float = 1.0,
    seeds: Sequence[int] = range(32),
    device: str | torch.device | None = "auto",
) -> float:
    r"""The relative RMS error of the metric of width-:math:`n` random networks against the expected metric,

    .. math::  \Big(\operatorname{mean}_{k, x}\ \lVert g_n^{(k)}(x) - \mathbb E[g](x)\rVert_F^2 /
               \lVert \mathbb E[g](x)\rVert_F^2\Big)^{1/2},

    over the networks :math:`k` = ``paperlib.shallow.random_network(d, n, sigma=sigma, zeta=zeta, seed=k)`` for
    ``k`` in ``seeds`` and the ``points: (B, d)``; :math:`\mathbb E[g]` is :func:`paperlib.infinite.metric`.

    Returns:
        The error (a float); it falls like :math:`n^{-1/2}`.
    """
    x = check_input(points, "points")
    check_name(activation)
    n = check_int(n, "n", min=1)
    sigma = check_number(sigma, "sigma", min=0, open_min=True)
    zeta = check_number(zeta, "zeta", min=0)
    seeds = check_ints(seeds, "seeds")
    d = x.shape[1]
    g_inf = _infinite.metric(x, activation, sigma=sigma, zeta=zeta, device=device).cpu()
    sq = [(_shallow.metric(*_shallow.random_network(d, n, sigma=sigma, zeta=zeta, seed=k), x, activation,
                           device=device).cpu() - g_inf).square().sum((1, 2)) / g_inf.square().sum((1, 2))
          for k in seeds]
    return float(torch.stack(sq).mean().sqrt())


@dataclass(frozen=True)
class Convergence:
    r"""The convergence of width-:math:`n` metrics to the infinite-width one (:func:`convergence`).

    Attributes:
        activations, widths, seeds: what was measured (one network per width and seed).
        points: ``(B, d)`` the points of the plane where the metrics are compared.
        sigma, zeta: the weight and bias scales.
        errors: ``{activation: (len(widths),) numpy array}``, the relative RMS errors (:func:`rms_error`).
        slopes: ``{activation: float}``, the least-squares slope of :math:`\log` error against :math:`\log n`.
    """

    activations: tuple[str, ...]
    widths: tuple[int, ...]
    seeds: tuple[int, ...]
    points: torch.Tensor
    sigma: float
    zeta: float
    errors: dict
    slopes: dict

    @property
    def networks(self) -> int:
        """Networks per width (``len(seeds)``)."""
        return len(self.seeds)


def convergence(
    activations: Sequence[str] = SWEEP,
    widths: Sequence[int] = WIDTHS,
    *,
    seeds: Sequence[int] = range(32),
    points: torch.Tensor | None = None,
    sigma: float = 1.0,
    zeta: float = 1.0,
    device: str | torch.device | None = "auto",
) -> Convergence:
    r"""The chapter's measurement of the :math:`n^{-1/2}` convergence: :func:`rms_error` for every activation and
    width, and the slope of a least-squares line through :math:`(\log n, \log \text{error})`.

    Args:
        activations: activation names.
        widths: hidden widths (>= 1, at least two).
        seeds: the networks' seeds, one network per width and seed.
        points: ``(B, d)`` points (``None``: the chapter's 16 points of the plane,
            ``torch.randn(16, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)``).
        sigma, zeta: weight scale (> 0) and bias scale (>= 0).
        device: where to compute (``"auto"``: CUDA when present).

    Returns:
        :class:`Convergence`.
    """
    names = check_names(activations)
    ns = check_ints(widths, "widths", min=1)
    if len(ns) < 2:
        raise ValueError(f"widths must hold at least two widths to fit a slope; got {widths!r}")
    seeds = check_ints(seeds, "seeds")
    if points is None:
        points = torch.randn(16, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    points = check_input(points, "points")
    sigma = check_number(sigma, "sigma", min=0, open_min=True)
    zeta = check_number(zeta, "zeta", min=0)
    errors = {a: np.array([rms_error(points, a, n, sigma=sigma, zeta=zeta, seeds=seeds, device=device) for n in ns])
              for a in names}
    slopes = {a: float(np.polyfit(np.log(ns), np.log(e), 1)[0]) for a, e in errors.items()}
    return Convergence(names, ns, seeds, points, sigma, zeta, errors, slopes)


@dataclass(frozen=True)
class Profiles:
    r"""The infinite-width volume element and Ricci scalar along a ray (:func:`profiles`).

    Attributes:
        activations: the activations (one column of the figure each).
        settings: the :math:`(\sigma, \zeta)` pairs (one curve each).
        d: the input dimension.
        r: ``(T,)`` the radii :math:`|x|`, equispaced from 0.
        log_volume, ricci: ``{activation: {(sigma, zeta): (T,)}}`` at :math:`x = r e_1`, on the CPU.
    """

    activations: tuple[str, ...]
    settings: tuple[tuple[float, float], ...]
    d: int
    r: torch.Tensor
    log_volume: dict
    ricci: dict


def profiles(
    activations: Sequence[str] | str,
    settings: Sequence[tuple[float, float]] = ((1.0, 1.0),),
    *,
    d: int = 2,
    radius: float = 4.0,
    points: int = 161,
    device: str | torch.device | None = "auto",
) -> Profiles:
    r"""Radial profiles of the infinite-width geometry: :math:`\log_{10}\sqrt{\det g}` and the Ricci scalar
    :math:`R` of :math:`\mathbb E[g] = e^{\Omega}(\delta + 2\Omega' x x^\top)` for :math:`w \sim N(0, \sigma^2
    I_d)`, :math:`b \sim N(0, \zeta^2)`, at the points :math:`x = r e_1` (:func:`ray`), :math:`r \in [0,
    \text{radius}]`, by :func:`paperlib.infinite.log_volume_element` and :func:`paperlib.infinite.ricci_scalar`.

    Args:
        activations: an activation name or a non-empty sequence of names.
        settings: pairs ``(sigma, zeta)``: weight scale > 0 and bias scale >= 0.
        d: input dimension (>= 1).
        radius: largest :math:`|x|` (> 0).
        points: number of radii (>= 2), equispaced from 0.
        device: where to compute; the curves are returned on the CPU.

    Returns:
        :class:`Profiles`.
    """
    names = check_names(activations)
    pairs = _settings(settings)
    d = check_int(d, "d", min=1)
    radius = check_number(radius, "radius", min=0, open_min=True)
    points = check_int(points, "points", min=2)
    r = torch.linspace(0.0, radius, points, dtype=torch.float64)
    x = ray(r, d)
    log_volume = {a: {(s, z): _infinite.log_volume_element(x, a, sigma=s, zeta=z, device=device).cpu()
                      for s, z in pairs} for a in names}
    ricci = {a: {(s, z): _infinite.ricci_scalar(x, a, sigma=s, zeta=z, device=device).cpu() for s, z in pairs}
             for a in names}
    return Profiles(names, pairs, d, r, log_volume, ricci)
