r"""Figures of chapters 2-4 (shallow networks: random maps, infinite width and curvature).

- :func:`volume_maps_figure` -- chapter 2: the log volume element of random shallow maps, activations by widths;
- :func:`infinite_width_profiles` -- radial profiles of the infinite-width volume element and Ricci scalar;
- :func:`volume_ricci_figure` -- volume element and Ricci scalar side by side, one row per case;
- :func:`unit_circle_figure` -- volume element and Ricci scalar along the unit circle, against the angle;
- :func:`draw_hyperplanes` -- the lines :math:`w_j\cdot x + b_j = 0` of a shallow map's hidden units.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .. import infinite
from .._checks import check_int, check_number
from ..activations import check_name
from ..data import Grid
from ._util import as_array, check_sequence
from .core import LOG_VOLUME_LABEL, RICCI_LABEL, log_volume_map, ricci_map

__all__ = ["volume_maps_figure", "infinite_width_profiles", "draw_hyperplanes", "volume_ricci_figure",
           "unit_circle_figure"]

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
    r"""Chapter 2: :math:`\log_{10}\sqrt{\det g}` of random shallow maps on the square ``t x t``, one row per
    activation, one column per width, one colour scale per row (its finite values between the ``percentiles``;
    ``magma``, values beyond are drawn in the end colours).

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


def infinite_width_profiles(
    activations: Sequence[str] | str,
    settings: Sequence[tuple[float, float]] = ((1.0, 1.0),),
    *,
    d: int = 2,
    radius: float = 4.0,
    points: int = 161,
    panel_size: float = 3.3,
) -> Figure:
    r"""Radial profiles of the infinite-width geometry of random shallow networks (chapter 3).

    Top row: :math:`\log_{10}\sqrt{\det g}`; bottom row: the Ricci scalar :math:`R` (sphere of radius
    :math:`r`: :math:`+2/r^2`), both against :math:`|x| \in [0, \text{radius}]`, for the expected metric
    :math:`E[g] = e^{\Omega}(\delta + 2\Omega' x x^\top)` of :math:`w \sim N(0, \sigma^2 I_d)`,
    :math:`b \sim N(0, \zeta^2)`. One column per activation, one curve per :math:`(\sigma, \zeta)` in
    ``settings``. The values are computed by :mod:`paperlib.infinite` at the points :math:`x = r e_1`
    (``(points, d)``); the metric is rotation invariant, so every direction gives the same curves.

    Args:
        activations: an activation name or a sequence of names (one column each).
        settings: pairs ``(sigma, zeta)``: weight scale > 0 and bias scale >= 0.
        d: input dimension (>= 1).
        radius: largest :math:`|x|` (> 0).
        points: number of radii (>= 2), equispaced from 0.
        panel_size: height of one panel in inches.

    Returns:
        The ``Figure`` (axes ``2 x len(activations)``).
    """
    names = [activations] if isinstance(activations, str) else activations
    check_sequence(names, "activations must be an activation name or a non-empty sequence of names")
    names = [check_name(a, "activations") for a in names]
    check_sequence(settings, "settings must be a non-empty sequence of (sigma, zeta) pairs")
    pairs = []
    for pair in settings:
        check_sequence(pair, f"settings must contain (sigma, zeta) pairs; got {pair!r}", length=2)
        pairs.append((check_number(pair[0], "settings: sigma", min=0, open_min=True),
                      check_number(pair[1], "settings: zeta", min=0)))
    check_int(d, "d", min=1)
    check_number(radius, "radius", min=0, open_min=True)
    check_int(points, "points", min=2)
    r = torch.linspace(0.0, float(radius), points, dtype=torch.float64)
    x = torch.zeros(points, d, dtype=torch.float64)
    x[:, 0] = r
    fig, axes = plt.subplots(2, len(names), figsize=(panel_size * 1.25 * len(names), panel_size * 1.6),
                             squeeze=False, sharex=True, layout="constrained")
    for col, name in enumerate(names):
        top, bottom = axes[0, col], axes[1, col]
        for sigma, zeta in pairs:
            label = rf"$\sigma = {sigma:g},\ \zeta = {zeta:g}$"
            top.plot(r, infinite.log_volume_element(x, name, sigma=sigma, zeta=zeta, device="cpu"), label=label)
            bottom.plot(r, infinite.ricci_scalar(x, name, sigma=sigma, zeta=zeta, device="cpu"), label=label)
        bottom.axhline(0.0, color="0.6", lw=0.8)
        top.set_title(f"{name}, d = {d}")
        bottom.set_xlabel(r"$|x|$")
        if col == 0:
            top.set_ylabel(LOG_VOLUME_LABEL)
            bottom.set_ylabel(RICCI_LABEL)
    axes[0, 0].legend(fontsize="small")
    return fig


def draw_hyperplanes(
    ax: Axes,
    W: torch.Tensor | np.ndarray,
    b: torch.Tensor | np.ndarray,
    *,
    color: str = "0.25",
    linestyle: str = "--",
    linewidth: float = 0.8,
) -> Axes:
    r"""Draw the lines :math:`w_j\cdot x + b_j = 0` of the hidden units of a shallow map on planar inputs.

    Unit :math:`j` of :math:`\Phi_j = \phi(w_j\cdot x + b_j)/\sqrt n` is most sensitive on its line (for a
    sigmoidal :math:`\phi`), and a ReLU unit switches on there. Each line is clipped to the current axis limits
    (set them first, e.g. by drawing a heat map); units with :math:`w_j = 0` have no line and are skipped. The
    axis limits are left unchanged.

    Args:
        ax: the axes.
        W: ``(n, 2)`` input weights; b: ``(n,)`` biases.
        color, linestyle, linewidth: line style.

    Returns:
        The ``Axes``.
    """
    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes; got {type(ax).__name__}")
    W = as_array(W, "W", ("n", 2))
    b = as_array(b, "b", (W.shape[0],))
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    for (w1, w2), bj in zip(W.tolist(), b.tolist()):
        if w1 == 0.0 and w2 == 0.0:
            continue
        if abs(w2) >= abs(w1):  # y as a function of x
            xs = np.array([x0, x1])
            ys = -(bj + w1 * xs) / w2
        else:  # x as a function of y
            ys = np.array([y0, y1])
            xs = -(bj + w2 * ys) / w1
        ax.plot(xs, ys, color=color, linestyle=linestyle, linewidth=linewidth)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    return ax


def volume_ricci_figure(
    rows: Sequence[tuple[str, torch.Tensor | np.ndarray, torch.Tensor | np.ndarray]],
    grid: Grid,
    *,
    hyperplanes: Sequence[tuple[torch.Tensor, torch.Tensor] | None] | None = None,
    percentile: float = 95.0,
    limits: Sequence[float | None] | None = None,
    panel_size: float = 3.3,
) -> Figure:
    r"""One row per case: :math:`\log_{10}\sqrt{\det g}` (left) and the Ricci scalar :math:`R` (right).

    The Ricci panel uses :func:`paperlib.plot.ricci_map`: a diverging colour map centred at 0 (red positive, blue
    negative), clipped at the ``percentile``-th percentile of :math:`|R|` of that row (or at ``limits[row]``); NaN
    (degenerate points) is grey. Each row has its own colour scales.

    Args:
        rows: ``(label, log_volume, ricci)`` triples, both images of the grid's shape ``(ny, nx)``; the label
            starts each panel title.
        grid: their grid.
        hyperplanes: optional, one entry per row: ``(W (n, 2), b (n,))`` of a shallow map on planar inputs, whose
            unit lines :math:`w_j\cdot x + b_j = 0` are drawn dashed on both panels (see :func:`draw_hyperplanes`),
            or ``None`` for none.
        percentile: Ricci clipping percentile in (0, 100].
        limits: optional, one entry per row: a positive Ricci colour limit, or ``None`` to use ``percentile``.
        panel_size: height of one panel in inches.

    Returns:
        The ``Figure`` (axes ``len(rows) x 2``, plus the colour bars).
    """
    check_sequence(rows, "rows must be a non-empty sequence of (label, log_volume, ricci) triples")
    for row in rows:
        check_sequence(row, f"rows must contain (label, log_volume, ricci) triples; got {row!r:.80}", length=3)
    for name, per_row in (("hyperplanes", hyperplanes), ("limits", limits)):
        if per_row is not None:
            check_sequence(per_row, f"{name} must be None or a sequence with one entry per row ({len(rows)})",
                           length=len(rows))
    check_number(percentile, "percentile", min=0, max=100, open_min=True)
    check_number(panel_size, "panel_size", min=0, open_min=True)
    fig, axes = plt.subplots(len(rows), 2, figsize=(panel_size * 2.5, panel_size * len(rows)), squeeze=False,
                             layout="constrained")
    for k, ((label, log_volume, ricci), (left, right)) in enumerate(zip(rows, axes)):
        log_volume_map(log_volume, grid, ax=left, title=f"{label}: volume element")
        limit = None if limits is None else limits[k]
        ricci_map(ricci, grid, ax=right, percentile=percentile, limit=limit, title=f"{label}: Ricci scalar")
        if hyperplanes is not None and hyperplanes[k] is not None:
            pair = check_sequence(hyperplanes[k], f"hyperplanes[{k}] must be a (W, b) pair or None", length=2)
            for ax in (left, right):
                draw_hyperplanes(ax, *pair)
    return fig


def unit_circle_figure(
    angle: torch.Tensor | np.ndarray,
    curves: Mapping[str, tuple[torch.Tensor | np.ndarray, torch.Tensor | np.ndarray]],
    *,
    panel_size: float = 3.2,
) -> Figure:
    r"""The volume element (left) and the Ricci scalar (right) along the unit circle
    :math:`x = (\cos\theta, \sin\theta)`, against the angle :math:`\theta` in radians (ticks at multiples of
    :math:`\pi/3`), one curve per entry of ``curves``, named in one legend above the panels.

    Args:
        angle: ``(T,)`` angles :math:`\theta` in radians.
        curves: ``{label: (log_volume (T,), ricci (T,))}``, e.g. ``{"bias 0": ..., "bias 1": ...}``.
        panel_size: height in inches.

    Returns:
        The ``Figure`` (two axes).
    """
    theta = as_array(angle, "angle", ("T",))
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError("curves must be a non-empty mapping {label: (log_volume, ricci)}")
    check_number(panel_size, "panel_size", min=0, open_min=True)
    fig, axes = plt.subplots(1, 2, figsize=(panel_size * 2.8, panel_size), layout="constrained")
    for label, pair in curves.items():
        lv, R = check_sequence(pair, f"curves[{label!r}] must be a (log_volume, ricci) pair", length=2)
        axes[0].plot(theta, as_array(lv, f"curves[{label!r}] log_volume", theta.shape), label=str(label))
        axes[1].plot(theta, as_array(R, f"curves[{label!r}] ricci", theta.shape), label=str(label))
    k0, k1 = math.ceil(theta.min() / (math.pi / 3) - 1e-9), math.floor(theta.max() / (math.pi / 3) + 1e-9)
    ticks = [k * math.pi / 3 for k in range(k0, k1 + 1)]
    names = [_pi_thirds(k) for k in range(k0, k1 + 1)]
    for ax, label in zip(axes, (LOG_VOLUME_LABEL, RICCI_LABEL)):
        ax.set_xticks(ticks, names)
        ax.set_xlabel(r"angle $\theta$ of $x = (\cos\theta, \sin\theta)$ (radians)")
        ax.set_ylabel(label)
    axes[1].axhline(0, color="0.6", lw=0.8)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside upper center", ncol=len(curves), frameon=False)
    return fig


def _pi_thirds(k: int) -> str:
    r"""The tick label of :math:`k\pi/3`: ``0``, ``π/3``, ``2π/3``, ``π``, ``4π/3``, ..."""
    if k == 0:
        return "0"
    g = math.gcd(abs(k), 3)
    num, den = k // g, 3 // g
    sign, num = ("-" if num < 0 else ""), abs(num)
    top = r"\pi" if num == 1 else rf"{num}\pi"
    return f"${sign}{top}$" if den == 1 else f"${sign}{top}/{den}$"
