r"""Slices through images across training: the panels of chapters 6-8's figures.

- :func:`line_figure` -- the line between two anchors, one panel per epoch;
- :func:`pairs_figure` -- one line panel per anchor pair;
- :func:`relative_line_plot` -- the line's log volume element relative to its anchors, all epochs on one axis;
- :func:`plane_figure`, :func:`ternary_figure` -- the plane through three anchors, one row per epoch, on square or
  ternary axes.

They take :class:`paperlib.chapters.core.LineGeometry` and :class:`paperlib.chapters.core.PlaneGeometry` (or
objects with the same fields) and draw them with the panels of :mod:`paperlib.plot.core`.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

import matplotlib

from .._checks import check_int
from ._util import as_array, get_axes, get_field, pick_epochs
from .core import LOG_VOLUME_LABEL, interpolation_plot, plane_panels, ternary_panels

__all__ = ["line_figure", "pairs_figure", "relative_line_plot", "plane_figure", "ternary_figure"]


def _line_panel(line_geometry: object, epoch: int, ax, *, images: bool) -> None:
    """:func:`interpolation_plot` of ``line_geometry`` at ``epoch`` into ``ax``, titled ``"7 → 6, epoch 5"``; with
    ``images``, the anchors and their midpoint above it."""
    line = get_field(line_geometry, "line")
    i = list(get_field(line_geometry, "epochs")).index(epoch)
    d = get_field(line_geometry, "digits")
    shown = None
    if images:
        anchors = line.anchors
        shown = [anchors[0], 0.5 * (anchors[0] + anchors[1]), anchors[1]]
    interpolation_plot(line.t, get_field(line_geometry, "log_volume")[i], get_field(line_geometry, "predicted")[i],
                       images=shown, ax=ax, title=f"{d[0]} → {d[1]}, epoch {epoch}")


def line_figure(
    line_geometry: object,
    epochs: Sequence[int] | None = None,
    *,
    panel_size: tuple[float, float] = (3.6, 3.0),
) -> Figure:
    r"""One :func:`interpolation_plot` per epoch (side by side) for a line between two anchors, e.g.
    :class:`paperlib.chapters.core.LineGeometry` (attributes ``digits``, ``line`` with ``t: (T,)`` and ``anchors``,
    ``epochs``, ``log_volume: (S, T)``, ``predicted: (S, T)``), with the anchors and their midpoint above each
    panel. Each panel has its own vertical scale (the level of :math:`\log_{10}\sqrt{\det g}` moves by many decades
    during training; the shape is what matters).

    Returns:
        The ``Figure``.
    """
    get_field(line_geometry, "line")  # checked first: a wrong object is reported by its missing line
    chosen = pick_epochs(get_field(line_geometry, "epochs"), epochs)
    w, h = panel_size
    fig, axes = plt.subplots(1, len(chosen), figsize=(w * len(chosen), h + 0.9), squeeze=False, layout="constrained")
    for ax, e in zip(axes[0], chosen):
        _line_panel(line_geometry, e, ax, images=True)
    return fig


def relative_line_plot(
    lines: Mapping[str, object],
    epochs: Sequence[int] | None = None,
    *,
    ax=None,
    title: str | None = None,
):
    r"""The log volume element along a line *relative to its anchors*,
    :math:`\ell(t) - \tfrac12\big(\ell(x_1) + \ell(x_2)\big)`, for several epochs on one shared axis (a colour per
    epoch, from light to dark), so that the initialisation and the trained network can be compared although their
    absolute levels differ by thousands of decades. ``lines`` maps a label to a line geometry (fields as in
    :func:`line_figure`, plus ``end_log_volume: (S, 2)``); the first is drawn solid, the others dashed (e.g. the
    same line measured on all pixels and on the live pixels only). Dots mark where the predicted class changes.

    Returns:
        The ``Axes``.
    """
    if not isinstance(lines, Mapping) or not lines:
        raise ValueError("lines must be a non-empty mapping {label: line geometry}")
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
    ax = get_axes(ax)
    first = next(iter(lines.values()))
    chosen = pick_epochs(get_field(first, "epochs"), epochs)
    cmap = matplotlib.colormaps["viridis"]
    for j, (label, lg) in enumerate(lines.items()):
        eps = list(get_field(lg, "epochs"))
        t = as_array(get_field(lg, "line").t, "line.t", ("T",))
        lv = as_array(get_field(lg, "log_volume"), "log_volume", (len(eps), len(t)))
        ends = as_array(get_field(lg, "end_log_volume"), "end_log_volume", (len(eps), 2))
        pred = as_array(get_field(lg, "predicted"), "predicted", (len(eps), len(t)))
        for k, e in enumerate(chosen):
            i = eps.index(e)
            rel = lv[i] - ends[i].mean()
            colour = cmap(0.85 * k / max(1, len(chosen) - 1))
            ax.plot(t, rel, color=colour, ls="-" if j == 0 else "--", lw=1.6,
                    label=f"{label}, epoch {e}" if len(lines) > 1 else f"epoch {e}")
            change = np.flatnonzero(pred[i][1:] != pred[i][:-1])
            mid = 0.5 * (t[change] + t[change + 1])
            ax.plot(mid, np.interp(mid, t, rel), "o", color=colour, ms=4)
    ax.axhline(0.0, color="0.6", lw=0.8)
    ax.set_xlabel("t  (x1 → x2)")
    ax.set_ylabel(LOG_VOLUME_LABEL + " − its mean at the anchors")
    ax.legend(fontsize=7, ncol=2 if len(lines) > 1 else 1)
    d = get_field(first, "digits")
    ax.set_title(title or f"{d[0]} → {d[1]}: relative to the anchors (dots: class changes)")
    return ax


def pairs_figure(
    lines: Mapping[object, object],
    epoch: int | None = None,
    *,
    ncols: int = 4,
    panel_size: tuple[float, float] = (3.5, 2.9),
) -> Figure:
    r"""A grid of :func:`interpolation_plot` panels (without images), one per line, at ``epoch`` (default: each
    line's last epoch); ``lines`` maps labels to line geometries such as
    :attr:`paperlib.chapters.mnist.MnistExperiment.lines` (fields as in :func:`line_figure`).

    Returns:
        The ``Figure``.
    """
    if not isinstance(lines, Mapping) or not lines:
        raise ValueError("lines must be a non-empty mapping {label: line geometry}")
    ncols = min(check_int(ncols, "ncols", min=1), len(lines))
    nrows = -(-len(lines) // ncols)
    w, h = panel_size
    fig, axes = plt.subplots(nrows, ncols, figsize=(w * ncols, h * nrows), squeeze=False, layout="constrained")
    for ax, lg in zip(axes.flat, lines.values()):
        avail = pick_epochs(get_field(lg, "epochs"), None)
        _line_panel(lg, avail[-1] if epoch is None else pick_epochs(avail, [epoch])[0], ax, images=False)
    for ax in list(axes.flat)[len(lines):]:
        ax.set_axis_off()
    return fig


def _plane_rows(plane_geometry: object, epochs: Sequence[int] | None):
    """``(epoch, panel arguments)`` per chosen epoch of a :class:`paperlib.chapters.core.PlaneGeometry`: the arguments
    ``(plane, predicted, entropy, log_volume)`` of :func:`plane_panels` / :func:`ternary_panels`, and the keyword
    arguments ``labels`` (the digits) and ``title``."""
    plane = get_field(plane_geometry, "plane")
    avail = pick_epochs(get_field(plane_geometry, "epochs"), None)
    labels = [str(d) for d in get_field(plane_geometry, "digits")]
    values = [get_field(plane_geometry, name) for name in ("predicted", "entropy", "log_volume")]
    return [((plane, *(v[avail.index(e)] for v in values)), {"labels": labels, "title": f"epoch {e}"})
            for e in pick_epochs(avail, epochs)]


def plane_figure(plane_geometry: object, epochs: Sequence[int] | None = None, *, panel_size: float = 3.4) -> Figure:
    r"""Fig. 2 plane: one row of :func:`plane_panels` per epoch for a
    :class:`paperlib.chapters.core.PlaneGeometry` (``plane``, ``digits``, ``epochs``, ``predicted``, ``entropy``,
    ``log_volume`` of shape ``(S, steps**2)``).

    Returns:
        The ``Figure``.
    """
    rows = _plane_rows(plane_geometry, epochs)
    fig, axes = plt.subplots(len(rows), 3, figsize=(panel_size * 3 * 1.4, panel_size * len(rows)),
                             squeeze=False, layout="constrained")
    for row, (args, kwargs) in zip(axes, rows):
        plane_panels(*args, axes=row, **kwargs)
    return fig


def ternary_figure(plane_geometry: object, epochs: Sequence[int] | None = None, *,
                   panel_size: float = 3.4) -> Figure:
    r"""One row of :func:`ternary_panels` per epoch for a :class:`paperlib.chapters.core.PlaneGeometry` (fields as in
    :func:`plane_figure`).

    Returns:
        The ``Figure``.
    """
    import mpltern  # noqa: F401 - registers the "ternary" projection

    rows = _plane_rows(plane_geometry, epochs)
    fig = plt.figure(figsize=(panel_size * 3 * 1.3, panel_size * 1.15 * len(rows)), layout="constrained")
    for r, (args, kwargs) in enumerate(rows):
        axes = [fig.add_subplot(len(rows), 3, 3 * r + k + 1, projection="ternary") for k in range(3)]
        ternary_panels(*args, axes=axes, **kwargs)
    return fig
