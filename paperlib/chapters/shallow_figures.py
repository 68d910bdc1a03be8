r"""Figures of chapter 2 (shallow networks).

- :func:`volume_maps` -- the figure ``shallow-volume-maps``: the log volume element of random shallow maps, one row
  per activation, one column per width (from :func:`paperlib.chapters.shallow.volume_maps`);
- :func:`volume_maps_figure` -- its drawing, from the arrays.
"""

from __future__ import annotations

from typing import Mapping

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from .._checks import check_number
from ..plot._util import as_array, check_sequence
from ..plot.core import LOG_VOLUME_LABEL
from . import registry
from . import shallow as _chapter

__all__ = ["volume_maps", "volume_maps_figure", "DEGENERATE_NOTE"]

#: The note under :func:`volume_maps_figure` where a map holds :math:`-\infty`: what its white cells are.
DEGENERATE_NOTE = r"white: volume element 0 ($\det g = 0$, so $\log_{10}\sqrt{\det g} = -\infty$)"


def _unique(values) -> list:
    return list(dict.fromkeys(values))


def volume_maps_figure(
    t: torch.Tensor | np.ndarray,
    maps: Mapping[tuple[str, int], torch.Tensor | np.ndarray],
    *,
    percentiles: tuple[float, float] = (1.0, 99.0),
    panel_size: float = 2.87,
    rasterized: bool = True,
) -> Figure:
    r""":math:`\log_{10}\sqrt{\det g}` of random shallow maps on the square ``t x t``, one row per activation, one
    column per width, one colour scale per row (its finite values between the ``percentiles``; ``magma``, values
    beyond are drawn in the end colours).

    Where :math:`\det g = 0` (e.g. ReLU with fewer than two units active: the Jacobian has rank < 2) the log
    volume element is :math:`-\infty`; those cells are drawn white and the figure says so in a note under the
    panels (:data:`DEGENERATE_NOTE`; NaN, which :func:`paperlib.shallow.log_volume_element` never returns, would
    be white too and is named there as well).

    Args:
        t: ``(T,)`` coordinates of the square's side.
        maps: ``{(activation, width): log_volume (T, T)}`` with ``log_volume[i, j]`` at :math:`x = (t_i, t_j)`
            (``torch.cartesian_prod(t, t)`` reshaped); rows and columns in the order in which activations and
            widths first appear, every pair present.
        percentiles: lower and upper percentile of each row's colour range.
        panel_size: height of one row in inches.
        rasterized: rasterise the meshes (a light PDF).

    Returns:
        The ``Figure`` (axes ``activations x widths``, plus one colour bar per row).
    """
    tv = as_array(t, "t", ("T",))
    if not isinstance(maps, Mapping) or not maps:
        raise ValueError("maps must be a non-empty mapping {(activation, width): log_volume (T, T)}")
    for key in maps:
        check_sequence(key, f"maps must be keyed by (activation, width) pairs; got {key!r}", length=2)
    activations, widths = _unique(a for a, _ in maps), _unique(n for _, n in maps)
    missing = [(a, n) for a in activations for n in widths if (a, n) not in maps]
    if missing:
        raise ValueError(f"maps must hold every (activation, width) pair; missing {missing}")
    lo_p, hi_p = (check_number(p, "percentiles", min=0, max=100) for p in
                  check_sequence(percentiles, "percentiles must be a (low, high) pair", length=2))
    check_number(panel_size, "panel_size", min=0, open_min=True)
    images = {k: as_array(v, f"maps[{k!r}]", (len(tv), len(tv))) for k, v in maps.items()}
    cmap = plt.get_cmap("magma").with_extremes(bad="white")  # -inf (and NaN): pcolormesh masks non-finite values
    nrows, ncols = len(activations), len(widths)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.0 * ncols, panel_size * nrows), sharex=True, sharey=True,
                             squeeze=False)
    for row, a in enumerate(activations):
        finite = np.concatenate([images[a, n][np.isfinite(images[a, n])] for n in widths])
        lo, hi = np.percentile(finite, [lo_p, hi_p]) if finite.size else (None, None)
        for col, n in enumerate(widths):
            ax = axes[row, col]
            im = ax.pcolormesh(tv, tv, images[a, n].T, cmap=cmap, vmin=lo, vmax=hi, shading="auto",
                               rasterized=rasterized)
            ax.set_aspect("equal")
            ax.set_title(f"{a}, n = {n}", fontsize=10)
            if row == nrows - 1:
                ax.set_xlabel(r"$x_1$")
            if col == 0:
                ax.set_ylabel(r"$x_2$")
        fig.colorbar(im, ax=axes[row].tolist(), label=LOG_VOLUME_LABEL, shrink=0.9)
    notes = []
    if any(np.isneginf(v).any() for v in images.values()):
        notes.append(DEGENERATE_NOTE)
    if any(np.isnan(v).any() for v in images.values()):
        notes.append("white: undefined (NaN)")
    if notes:
        axes[-1, 0].annotate("; ".join(notes), xy=(0, 0), xycoords="axes fraction", xytext=(0, -36),
                             textcoords="offset points", ha="left", va="top", fontsize=10)
    return fig


@registry.figure("shallow-volume-maps", chapter=2,
                 description="log volume element of random shallow networks (erf, sigmoid, ReLU; widths 3 to "
                             "1000) on [-3, 3]^2",
                 source=registry.closed_form(_chapter.volume_maps), presets=())
def volume_maps(maps: _chapter.VolumeMaps) -> registry.Drawn:
    r"""The chapter's figure of random networks: :math:`\log_{10}\sqrt{\det g}` of ``maps`` (the result of
    :func:`paperlib.chapters.shallow.volume_maps`), one row per activation, one column per width, one colour scale
    per row, white where :math:`\det g = 0` (:func:`volume_maps_figure`).

    Returns:
        :class:`~paperlib.chapters.registry.Drawn`: the figure and its numbers (``t``, ``widths``,
        ``activations``, ``network``, ``log_volume[activation][n]: (T, T)``, ``layout``, ``white``).
    """
    if not isinstance(maps, _chapter.VolumeMaps):
        raise TypeError(f"maps must be the result of paperlib.chapters.shallow.volume_maps; got "
                        f"{type(maps).__name__}")
    fig = volume_maps_figure(maps.t, maps.maps)
    numbers = {"t": maps.t, "widths": list(maps.widths), "activations": list(maps.activations),
               "network": maps.network,
               "log_volume": {a: {n: maps.maps[a, n] for n in maps.widths} for a in maps.activations},
               "layout": "log_volume[activation][n][i][j] at x = (t[i], t[j])",
               "white": "cells where log_volume is -inf: det g = 0 (ReLU with fewer than two units active)"}
    return registry.Drawn((("", fig),), numbers)
