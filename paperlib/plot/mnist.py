r"""Figures of chapter 6 (MNIST, Fig. 2): slices through images across training.

- :func:`line_figure` -- the line between two digits, one panel per epoch;
- :func:`pairs_figure` -- one line panel per digit pair;
- :func:`plane_figure`, :func:`ternary_figure` -- the plane through three digits, one row per epoch, on square or
  ternary axes.

They take the results of :func:`paperlib.experiments.mnist` (:class:`paperlib.experiments.LineGeometry` and
:class:`paperlib.experiments.PlaneGeometry`, or objects with the same fields) and draw them with the panels of
:mod:`paperlib.plot.core`.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from .._checks import check_int
from ._util import get_field, pick_epochs
from .core import interpolation_plot, plane_panels, ternary_panels

__all__ = ["line_figure", "pairs_figure", "plane_figure", "ternary_figure"]


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
    :class:`paperlib.experiments.LineGeometry` (attributes ``digits``, ``line`` with ``t: (T,)`` and ``anchors``,
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


def pairs_figure(
    lines: Mapping[object, object],
    epoch: int | None = None,
    *,
    ncols: int = 4,
    panel_size: tuple[float, float] = (3.5, 2.9),
) -> Figure:
    r"""A grid of :func:`interpolation_plot` panels (without images), one per line, at ``epoch`` (default: each
    line's last epoch); ``lines`` maps labels to line geometries such as
    :attr:`paperlib.experiments.MnistExperiment.lines` (fields as in :func:`line_figure`).

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
    """``(epoch, panel arguments)`` per chosen epoch of a :class:`paperlib.experiments.PlaneGeometry`: the arguments
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
    :class:`paperlib.experiments.PlaneGeometry` (``plane``, ``digits``, ``epochs``, ``predicted``, ``entropy``,
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
    r"""One row of :func:`ternary_panels` per epoch for a :class:`paperlib.experiments.PlaneGeometry` (fields as in
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
