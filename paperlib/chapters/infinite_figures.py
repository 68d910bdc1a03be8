r"""Figures of chapter 3 (infinite width).

- :func:`convergence` -- the figure ``infinite-convergence``: relative RMS error of the width-:math:`n` metric
  against :math:`n`, with the :math:`n^{-1/2}` line (from :func:`paperlib.chapters.infinite.convergence`);
- :func:`profiles` and :func:`profiles_gelu_softplus` -- the figures ``infinite-profiles`` and
  ``infinite-profiles-gelu-softplus``: volume element and Ricci scalar against :math:`|x|` (from
  :func:`paperlib.chapters.infinite.profiles`);
- :func:`profiles_figure` -- the drawing of radial profiles, for any activations and settings (the chapter's
  interactive panel uses it).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from .._checks import check_number
from ..plot.core import LOG_VOLUME_LABEL, RICCI_LABEL
from . import infinite as _chapter
from . import registry

__all__ = ["convergence", "profiles", "profiles_gelu_softplus", "profiles_figure"]


def _check(data: object, kind: type, producer: str) -> None:
    if not isinstance(data, kind):
        raise TypeError(f"expected the result of paperlib.chapters.infinite.{producer}; got {type(data).__name__}")


@registry.figure("infinite-convergence", chapter=3,
                 description="relative RMS error of the width-n metric against its infinite-width limit (slope -1/2)",
                 source=registry.closed_form(_chapter.convergence), presets=())
def convergence(conv: _chapter.Convergence) -> registry.Drawn:
    r"""The relative RMS error of :math:`g_n` against :math:`\mathbb E[g]` against the width, log-log, one line
    per activation (labelled with its fitted slope), and the line :math:`2.5\,n^{-1/2}` dashed.

    Args:
        conv: the result of :func:`paperlib.chapters.infinite.convergence`.

    Returns:
        :class:`~paperlib.chapters.registry.Drawn`: the figure and its numbers (``widths``,
        ``networks_per_width``, ``points``, ``sigma``, ``zeta``, ``relative_rms_error``, ``fitted_slope``).
    """
    _check(conv, _chapter.Convergence, "convergence")
    widths = list(conv.widths)
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for a, e in conv.errors.items():
        ax.loglog(widths, e, marker="o", label=f"{a} (fitted slope {conv.slopes[a]:.2f})")
    ax.loglog(widths, 2.5 * np.array(widths) ** -0.5, "k--", lw=1, label=r"$\propto n^{-1/2}$")
    ax.set_xlabel("width $n$")
    ax.set_ylabel(r"relative RMS error of $g_n$ vs $\mathbb{E}[g]$")
    ax.legend()
    numbers = {"widths": widths, "networks_per_width": conv.networks, "points": conv.points, "sigma": conv.sigma,
               "zeta": conv.zeta, "relative_rms_error": dict(conv.errors), "fitted_slope": dict(conv.slopes)}
    return registry.Drawn((("", fig),), numbers)


def profiles_figure(prof: _chapter.Profiles, *, panel_size: float = 3.3) -> Figure:
    r"""Radial profiles of the infinite-width geometry: top row :math:`\log_{10}\sqrt{\det g}`, bottom row the
    Ricci scalar :math:`R` (sphere of radius :math:`r`: :math:`+2/r^2`), both against :math:`|x|`; one column
    per activation, one curve per :math:`(\sigma, \zeta)`.

    Args:
        prof: the result of :func:`paperlib.chapters.infinite.profiles`.
        panel_size: height of one panel in inches.

    Returns:
        The ``Figure`` (axes ``2 x len(prof.activations)``).
    """
    _check(prof, _chapter.Profiles, "profiles")
    check_number(panel_size, "panel_size", min=0, open_min=True)
    names = prof.activations
    fig, axes = plt.subplots(2, len(names), figsize=(panel_size * 1.25 * len(names), panel_size * 1.6),
                             squeeze=False, sharex=True, layout="constrained")
    for col, name in enumerate(names):
        top, bottom = axes[0, col], axes[1, col]
        for sigma, zeta in prof.settings:
            label = rf"$\sigma = {sigma:g},\ \zeta = {zeta:g}$"
            top.plot(prof.r, prof.log_volume[name][sigma, zeta], label=label)
            bottom.plot(prof.r, prof.ricci[name][sigma, zeta], label=label)
        bottom.axhline(0.0, color="0.6", lw=0.8)
        top.set_title(f"{name}, d = {prof.d}")
        bottom.set_xlabel(r"$|x|$")
        if col == 0:
            top.set_ylabel(LOG_VOLUME_LABEL)
            bottom.set_ylabel(RICCI_LABEL)
    axes[0, 0].legend(fontsize="small")
    return fig


def _profiles_drawn(prof: _chapter.Profiles) -> registry.Drawn:
    _check(prof, _chapter.Profiles, "profiles")
    fig = profiles_figure(prof)
    curves = {a: {f"sigma={s:g},zeta={z:g}": {"log_volume": prof.log_volume[a][s, z], "ricci": prof.ricci[a][s, z]}
                  for s, z in prof.settings} for a in prof.activations}
    numbers = {"d": prof.d, "radius": prof.r, "sigma_zeta": [list(p) for p in prof.settings], "curves": curves}
    return registry.Drawn((("", fig),), numbers)


@registry.figure("infinite-profiles", chapter=3,
                 description="infinite-width volume element and Ricci scalar against |x| (erf, sigmoid, ReLU)",
                 source=registry.closed_form(_chapter.profiles, ["erf", "sigmoid", "relu"],
                                             _chapter.PROFILE_SETTINGS, d=2, radius=4.0), presets=())
def profiles(prof: _chapter.Profiles) -> registry.Drawn:
    r"""The infinite-width volume element and Ricci scalar against :math:`|x|` (:func:`profiles_figure`); the
    chapter draws erf, sigmoid and ReLU for :data:`paperlib.chapters.infinite.PROFILE_SETTINGS`, radius 4.

    Args:
        prof: the result of :func:`paperlib.chapters.infinite.profiles`.

    Returns:
        :class:`~paperlib.chapters.registry.Drawn`: the figure and its numbers (``d``, ``radius``: the radii,
        ``sigma_zeta``, ``curves[activation]["sigma=..,zeta=.."]["log_volume" | "ricci"]``).
    """
    return _profiles_drawn(prof)


@registry.figure("infinite-profiles-gelu-softplus", chapter=3,
                 description="infinite-width profiles of GELU and softplus (R takes both signs)",
                 source=registry.closed_form(_chapter.profiles, ["gelu", "softplus"], _chapter.SMOOTH_SETTINGS, d=2,
                                             radius=6.0), presets=())
def profiles_gelu_softplus(prof: _chapter.Profiles) -> registry.Drawn:
    r"""The profiles of GELU and softplus (:func:`profiles_figure`): the volume element grows outwards and
    :math:`R` takes both signs; the chapter draws :data:`paperlib.chapters.infinite.SMOOTH_SETTINGS`, radius 6.

    Args:
        prof: the result of :func:`paperlib.chapters.infinite.profiles`.

    Returns:
        :class:`~paperlib.chapters.registry.Drawn`, with the numbers of :func:`profiles`.
    """
    return _profiles_drawn(prof)
