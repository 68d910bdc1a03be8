r"""Chapter-free building blocks of the book's figures. Nothing here computes geometry or knows a chapter: each
function takes precomputed arrays (``torch.Tensor`` or numpy), an optional matplotlib ``Axes`` to draw into, and
returns the ``Axes`` (the panels of a row: a list of them).

Heat maps on a :class:`paperlib.data.Grid` take images ``(ny, nx)`` (``values[i, j]`` at
``(grid.xs[j], grid.ys[i])``):

- :func:`heatmap` -- any image, NaN in light grey, labelled colour bar;
- :func:`log_volume_map` -- :math:`\log_{10}\sqrt{\det g}` (the volume element on a log colour scale);
- :func:`ricci_map` -- the Ricci scalar, diverging colour map centred at 0, clipped at a percentile of :math:`|R|`;
- :func:`prediction_map` -- predicted probability of class 1;
- :func:`draw_boundary` -- a decision boundary (a level set of a score or probability) in red;
  :func:`scatter_data` -- training points.

Slices through inputs (:mod:`paperlib.slices`), for any classifier with up to ten classes:

- :func:`interpolation_plot` -- a line panel: the log volume element along :math:`x(t)` coloured by the predicted
  class, with images of the ends and the midpoint;
- :func:`plane_panels` -- the plane panels: predicted class, prediction entropy and log volume element;
- :func:`ternary_panels` -- the same on ternary axes, keeping the triangle of the anchors;
- :func:`spectrum_plot` -- spectra of the metric at one point across training.

And :func:`epoch_slider`, a figure with a slider over the epochs, for readers running a notebook live.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import matplotlib
import matplotlib.lines
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.colors import BoundaryNorm, ListedColormap, TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.transforms import blended_transform_factory

from .._checks import check_choice, check_number
from ..data import Grid
from ..slices import ANCHOR_COORDS
from ._util import Array, as_array, check_sequence, get_axes, get_field

__all__ = [
    "LOG_VOLUME_LABEL",
    "RICCI_LABEL",
    "ENTROPY_LABEL",
    "BOUNDARY_COLOR",
    "CLASS_CMAP",
    "heatmap",
    "draw_boundary",
    "scatter_data",
    "log_volume_map",
    "ricci_limit",
    "ricci_map",
    "prediction_map",
    "class_colors",
    "interpolation_plot",
    "plane_panels",
    "ternary_triangles",
    "ternary_panels",
    "spectrum_plot",
    "epoch_slider",
]

LOG_VOLUME_LABEL = r"$\log_{10}\sqrt{\det g}$"
RICCI_LABEL = r"Ricci scalar $R$"
ENTROPY_LABEL = r"$\log_{10} H$ (entropy, nats)"
BOUNDARY_COLOR = "red"
#: Categorical colour map of the ten classes (matplotlib's ``tab10``: class ``c`` has colour ``tab10(c)``).
CLASS_CMAP = ListedColormap(matplotlib.colormaps["tab10"].colors, name="classes")
_CLASS_NORM = BoundaryNorm(np.arange(-0.5, 10.5), CLASS_CMAP.N)
_ENTROPY_FLOOR = 1e-16
_PANEL_BARS = ("predicted class", ENTROPY_LABEL, LOG_VOLUME_LABEL)  # colour bars of the plane panels


# ------------------------------------------------------------------------------------------------------------------
# Heat maps on a grid, with decision boundaries
# ------------------------------------------------------------------------------------------------------------------


def _grid_image(values: object, grid: Grid, name: str) -> np.ndarray:
    if not isinstance(grid, Grid):
        raise TypeError(f"grid must be a paperlib.data.Grid; got {type(grid).__name__}")
    return as_array(values, name, grid.shape)


def heatmap(
    values: Array,
    grid: Grid,
    *,
    ax: Axes | None = None,
    cmap: str = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
    norm: matplotlib.colors.Normalize | None = None,
    colorbar: bool = True,
    label: str | None = None,
    title: str | None = None,
    boundary: Array | None = None,
    level: float = 0.0,
) -> Axes:
    """Image of ``values: (ny, nx)`` over the grid's extent (``origin="lower"``); NaN drawn in light grey.

    Args:
        values: the image; grid: its grid.
        ax: axes to draw into (a new figure if ``None``).
        cmap, vmin, vmax, norm: colours (``norm`` replaces ``vmin``, ``vmax``).
        colorbar, label: a colour bar, and its label.
        title: the title.
        boundary, level: optional field ``(ny, nx)`` whose ``level`` set is drawn in red (:func:`draw_boundary`).

    Returns:
        The ``Axes``.
    """
    img = _grid_image(values, grid, "values")
    ax = get_axes(ax)
    cm = (matplotlib.colormaps[cmap] if isinstance(cmap, str) else cmap).with_extremes(bad="0.85")
    kw = {"norm": norm} if norm is not None else {"vmin": vmin, "vmax": vmax}
    im = ax.imshow(np.ma.masked_invalid(img), origin="lower", extent=grid.extent, cmap=cm, aspect="equal",
                   interpolation="nearest", **kw)
    if colorbar:
        cb = ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
        if label:
            cb.set_label(label)
    if title:
        ax.set_title(title)
    ax.set_xlabel(r"$x_1$")
    ax.set_ylabel(r"$x_2$")
    if boundary is not None:
        draw_boundary(ax, boundary, grid, level=level)
    return ax


def draw_boundary(
    ax: Axes,
    field: Array,
    grid: Grid,
    *,
    level: float = 0.0,
    color: str = BOUNDARY_COLOR,
    linewidth: float = 1.5,
    **kwargs,
) -> Axes:
    """Draw the level set ``field = level`` of ``field: (ny, nx)`` (a decision boundary: the logit difference at 0,
    or a probability at 0.5) as a contour. Does nothing (and warns nothing) when the field does not cross ``level``
    on the grid.

    Returns:
        The ``Axes``.
    """
    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes; got {type(ax).__name__}")
    img = _grid_image(field, grid, "field")
    finite = img[np.isfinite(img)]
    if finite.size and finite.min() < level < finite.max():
        X, Y = np.meshgrid(grid.xs.numpy(), grid.ys.numpy())
        ax.contour(X, Y, img, levels=[level], colors=[color], linewidths=linewidth, **kwargs)
    return ax


def scatter_data(ax: Axes, x: torch.Tensor, y: torch.Tensor, *, size: float = 9.0) -> Axes:
    """Scatter the training points ``x: (N, 2)`` coloured by label ``y: (N,)`` (class 0 white, class 1 black).

    Returns:
        The ``Axes``.
    """
    if not isinstance(x, torch.Tensor) or x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"x must be a tensor of shape (N, 2); got {getattr(x, 'shape', type(x).__name__)}")
    if not isinstance(y, torch.Tensor) or y.shape != x.shape[:1]:
        raise ValueError(f"y must be a tensor of shape (N,) = ({x.shape[0]},)")
    xn, yn = x.detach().cpu().numpy(), y.detach().cpu().numpy()
    for label, face in ((0, "white"), (1, "black")):
        sel = yn == label
        ax.scatter(xn[sel, 0], xn[sel, 1], s=size, c=face, edgecolors="0.3", linewidths=0.5, zorder=3)
    return ax


def log_volume_map(log_volume: Array, grid: Grid, *, ax: Axes | None = None, boundary: Array | None = None,
                   level: float = 0.0, vmin: float | None = None, vmax: float | None = None, cmap: str = "viridis",
                   colorbar: bool = True, title: str | None = None) -> Axes:
    r"""Heat map of :math:`\log_{10}\sqrt{\det g}` (``log_volume: (ny, nx)``, base-10 log volume element on the grid),
    i.e. the volume element on a log colour scale, colour bar labelled :data:`LOG_VOLUME_LABEL`. The arguments are
    those of :func:`heatmap`; ``boundary`` is drawn at ``level`` (default 0: a logit difference).

    Returns:
        The ``Axes``.
    """
    return heatmap(log_volume, grid, ax=ax, cmap=cmap, vmin=vmin, vmax=vmax, colorbar=colorbar,
                   label=LOG_VOLUME_LABEL, title=title, boundary=boundary, level=level)


def ricci_limit(ricci: Array, percentile: float = 95.0) -> float:
    """The ``percentile``-th percentile (in (0, 100]) of ``|R|`` over the finite values of ``ricci`` (any shape);
    1 if there are none or all are 0."""
    check_number(percentile, "percentile", min=0, max=100, open_min=True)
    arr = as_array(ricci, "ricci")
    finite = np.abs(arr[np.isfinite(arr)])
    lim = float(np.percentile(finite, percentile)) if finite.size else 0.0
    return lim if lim > 0 else 1.0


def ricci_map(ricci: Array, grid: Grid, *, ax: Axes | None = None, boundary: Array | None = None,
              level: float = 0.0, percentile: float = 95.0, limit: float | None = None, cmap: str = "RdBu_r",
              colorbar: bool = True, title: str | None = None) -> Axes:
    r"""Heat map of the Ricci scalar ``ricci: (ny, nx)``: diverging colour map centred at 0 (red positive, blue
    negative), colour range :math:`[-c, c]` with :math:`c` the ``percentile``-th percentile of :math:`|R|`
    (:func:`ricci_limit`) or ``limit`` (> 0); values beyond are clipped to the end colours, NaN (degenerate points)
    drawn grey. The other arguments are those of :func:`heatmap`.

    Returns:
        The ``Axes``.
    """
    c = ricci_limit(ricci, percentile) if limit is None else check_number(limit, "limit", min=0, open_min=True)
    return heatmap(ricci, grid, ax=ax, cmap=cmap, norm=TwoSlopeNorm(0.0, -c, c), colorbar=colorbar,
                   label=RICCI_LABEL, title=title, boundary=boundary, level=level)


def prediction_map(probability: Array, grid: Grid, *, ax: Axes | None = None, boundary: Array | None = None,
                   level: float | None = None, data: tuple[torch.Tensor, torch.Tensor] | None = None,
                   cmap: str = "coolwarm", colorbar: bool = True, title: str | None = None) -> Axes:
    r"""Heat map of the predicted probability of class 1 (``probability: (ny, nx)``, in [0, 1]) with the decision
    boundary in red: the ``level`` set of ``boundary`` (default: ``probability`` itself at 0.5; a given
    ``boundary`` at 0) and, optionally, the training points ``data = (x (N, 2), y (N,))``. The other arguments are
    those of :func:`heatmap`.

    Returns:
        The ``Axes``.
    """
    if level is None:
        level = 0.5 if boundary is None else 0.0
    ax = heatmap(probability, grid, ax=ax, cmap=cmap, vmin=0.0, vmax=1.0, colorbar=colorbar, label="P(class 1)",
                 title=title, boundary=probability if boundary is None else boundary, level=level)
    if data is not None:
        scatter_data(ax, *data)
    return ax


# ------------------------------------------------------------------------------------------------------------------
# Slices: line panels, plane panels, ternary panels, spectra
# ------------------------------------------------------------------------------------------------------------------


def class_colors(classes: Sequence[int] | Array) -> np.ndarray:
    """RGBA colours ``(N, 4)`` of class indices ``(N,)`` in :data:`CLASS_CMAP` (classes 0..9)."""
    c = as_array(classes, "classes", sequences=True).astype(int).reshape(-1)
    if c.size and (c.min() < 0 or c.max() > 9):
        raise ValueError(f"classes must lie in 0..9; got values in [{c.min()}, {c.max()}]")
    return CLASS_CMAP(c)


def _inset_image(img: object, name: str) -> np.ndarray:
    """An image ``(H, W)`` from ``(H, W)``, ``(1, H, W)`` or flat ``(H*W,)`` with a square number of pixels, or a
    colour image ``(H, W, 3)`` from ``(3, H, W)`` (normalised images are rescaled to [0, 1] for display)."""
    img = np.squeeze(as_array(img, name))
    if img.ndim == 3 and img.shape[0] == 3:
        img = np.moveaxis(img, 0, -1)
        lo, hi = float(img.min()), float(img.max())
        return (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
    if img.ndim == 1:
        side = int(round(math.sqrt(img.size)))
        if side * side != img.size:
            raise ValueError(f"{name}: a flat image must have a square number of pixels; got {img.size}")
        img = img.reshape(side, side)
    if img.ndim != 2:
        raise ValueError(f"{name} must be an image (H, W), (1, H, W) or flat (H*W,); got shape {img.shape}")
    return img


def interpolation_plot(
    t: Array,
    log_volume: Array,
    predicted: Array,
    *,
    images: Sequence[Array] | None = None,
    ax: Axes | None = None,
    mark_peak: bool = True,
    mark_changes: bool = True,
    title: str | None = None,
    ylabel: str = LOG_VOLUME_LABEL,
    legend: bool = True,
) -> Axes:
    r"""The line panel: the log volume element along an interpolation line :math:`x(t) = x_1 + (x_2 - x_1)t`,
    coloured by the predicted class (:data:`CLASS_CMAP`), with small images of :math:`x_1`, the midpoint and
    :math:`x_2` above the plot at :math:`t = 0, \tfrac12, 1`.

    Args:
        t: ``(T,)`` positions; log_volume: ``(T,)`` values; predicted: ``(T,)`` classes 0..9.
        images: three images (flat ``(H*W,)``, ``(H, W)`` or ``(1, H, W)``) shown at ``t = 0, 0.5, 1``, or ``None``.
        mark_peak: a dashed black line at the maximum; mark_changes: thin red lines where the class changes.
        legend: a legend of the classes present.

    Returns:
        The ``Axes``.
    """
    tv = as_array(t, "t", ("T",))
    lv = as_array(log_volume, "log_volume", (tv.size,))
    pr = as_array(predicted, "predicted", (tv.size,)).astype(int)
    ax = get_axes(ax)
    cols = class_colors(pr)
    if tv.size > 1:
        segs = np.stack([np.column_stack([tv[:-1], lv[:-1]]), np.column_stack([tv[1:], lv[1:]])], axis=1)
        ax.add_collection(LineCollection(segs, colors=cols[:-1], linewidths=2.0))
    ax.scatter(tv, lv, c=cols, s=10, zorder=3)
    if mark_changes:
        for k in np.nonzero(pr[1:] != pr[:-1])[0]:
            ax.axvline(0.5 * (tv[k] + tv[k + 1]), color=BOUNDARY_COLOR, lw=0.8, alpha=0.7)
    if mark_peak and tv.size:
        ax.axvline(tv[int(np.argmax(lv))], color="black", lw=0.9, ls="--")
    ax.set_xlim(0.0, 1.0)
    finite = lv[np.isfinite(lv)]
    if finite.size:
        lo, hi = float(finite.min()), float(finite.max())
        pad = 0.08 * (hi - lo) if hi > lo else 0.5
        ax.set_ylim(lo - pad, hi + pad)
    ax.ticklabel_format(axis="y", useOffset=False)
    ax.set_xlabel("$t$")
    ax.set_ylabel(ylabel)
    if legend:
        present = list(dict.fromkeys(pr.tolist()))
        handles = [matplotlib.lines.Line2D([], [], color=CLASS_CMAP(c), marker="o", lw=2, label=str(c))
                   for c in present]
        ax.legend(handles=handles, title="predicted", fontsize=7, title_fontsize=7, loc="lower center", ncol=4)
    if images is not None:
        check_sequence(images, "images must be a sequence of three images (x1, midpoint, x2) or None", length=3)
        trans = blended_transform_factory(ax.transData, ax.transAxes)
        for pos, img, name in zip((0.0, 0.5, 1.0), images, ("images[0]", "images[1]", "images[2]")):
            ins = ax.inset_axes([pos - 0.09, 1.03, 0.18, 0.3], transform=trans)
            ins.imshow(_inset_image(img, name), cmap="gray_r", interpolation="nearest")
            ins.set_axis_off()
    if title:
        ax.set_title(title, pad=48 if images is not None else 6)
    return ax


def _plane_values(plane: object, predicted: object, entropy: object, log_volume: object,
                  labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flat per-point arrays ``(steps**2,)`` of a plane's panels: predicted class, log10 entropy (floored) and log
    volume element, each given as ``(steps**2,)`` or ``(steps, steps)``; checks ``labels``."""
    if len(labels) != 3:
        raise ValueError("labels must hold three anchor labels")
    steps = get_field(plane, "steps")
    shapes = (steps * steps,), (steps, steps)
    pred, ent, lv = (as_array(v, name, *shapes).reshape(-1) for v, name in
                     ((predicted, "predicted"), (entropy, "entropy"), (log_volume, "log_volume")))
    return pred, np.log10(np.maximum(ent, _ENTROPY_FLOOR)), lv


def _class_edges(pred: np.ndarray, grid: Grid) -> np.ndarray:
    """Segments ``(K, 2, 2)`` along the edges between neighbouring pixels of ``pred: (ny, nx)`` with different
    classes, in the pixel frame of :func:`heatmap` (``imshow`` over ``grid.extent``): the decision boundaries as the
    prediction image shows them."""
    ny, nx = pred.shape
    x0, x1, y0, y1 = grid.extent
    w, h = (x1 - x0) / nx, (y1 - y0) / ny
    i, j = np.nonzero(pred[:, 1:] != pred[:, :-1])  # vertical edges between columns j and j + 1
    xe, yb = x0 + (j + 1) * w, y0 + i * h
    vert = np.stack([np.stack([xe, yb], 1), np.stack([xe, yb + h], 1)], 1)
    i, j = np.nonzero(pred[1:, :] != pred[:-1, :])  # horizontal edges between rows i and i + 1
    ye, xb = y0 + (i + 1) * h, x0 + j * w
    horiz = np.stack([np.stack([xb, ye], 1), np.stack([xb + w, ye], 1)], 1)
    return np.concatenate([vert, horiz]).reshape(-1, 2, 2)


def _anchor_marks(ax: Axes, labels: Sequence[str]) -> None:
    ac = ANCHOR_COORDS.numpy()
    ax.plot(np.append(ac[:, 0], ac[0, 0]), np.append(ac[:, 1], ac[0, 1]), color="white", lw=0.8, ls=":")
    for (a, b), lab in zip(ac, labels):
        ax.scatter([a], [b], s=30, c="white", edgecolors="black", linewidths=0.8, zorder=4)
        ax.annotate(lab, (a, b), xytext=(4, 4), textcoords="offset points", color="white", fontsize=9,
                    fontweight="bold")


def plane_panels(
    plane: object,
    predicted: Array,
    entropy: Array,
    log_volume: Array,
    *,
    axes: Sequence[Axes] | None = None,
    labels: Sequence[str] = ("x1", "x2", "x3"),
    title: str | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    boundaries: bool = True,
    ternary: bool = False,
) -> list[Axes]:
    r"""Three panels over a :class:`paperlib.slices.Plane` through three anchors: the predicted class
    (:data:`CLASS_CMAP`), :math:`\log_{10}` of the prediction entropy and :math:`\log_{10}\sqrt{\det g}`.

    Square (default): heat maps over the plane coordinates :math:`(a, b) \in [-1, 1]^2` (the plane's ``grid``),
    the anchors marked (white dots, ``labels``) with their triangle dotted. Ternary (``ternary=True``, or
    :func:`ternary_panels`): ternary axes (``mpltern``) keeping only the triangle of the anchors: a point with
    barycentric coordinates :math:`(\lambda_1, \lambda_2, \lambda_3)` (the plane's ``ternary: (steps**2, 3)``) is
    drawn at :math:`(t, l, r) = (\lambda_1, \lambda_2, \lambda_3)`, so :math:`x_1` is the top corner, :math:`x_2`
    the bottom-left and :math:`x_3` the bottom-right one; continuous values are shaded smoothly (Gouraud) over
    :func:`ternary_triangles`, and the predicted class colours each triangle by the class of at least two of its
    corners.

    Args:
        plane: the plane (``steps``, ``grid``; ternary: ``inside``, ``coords``, ``ternary``); predicted, entropy,
            log_volume: ``(steps**2,)`` or ``(steps, steps)`` per-point values (entropy in nats; floored at 1e-16
            before the log).
        axes: three ``Axes`` to draw into (ternary: ``projection="ternary"``), or ``None`` for a new row.
        labels: the three anchors' labels.
        title: prefix of the panel titles.
        vmin, vmax: colour range of the log volume element.
        boundaries: draw the decision boundaries (where the predicted class changes) in red on the entropy and
            volume-element panels (square panels only).
        ternary: draw on ternary axes.

    Returns:
        The three ``Axes``.
    """
    values = _plane_values(plane, predicted, entropy, log_volume, labels)
    titles = [f"{title}: {name}" if title else name for name in ("prediction", "entropy", "volume element")]
    if ternary:
        return _ternary_panels(plane, values, axes, labels, titles, vmin, vmax)
    return _square_panels(plane, values, axes, labels, titles, vmin, vmax, boundaries)


def ternary_panels(
    plane: object,
    predicted: Array,
    entropy: Array,
    log_volume: Array,
    **options,
) -> list[Axes]:
    r""":func:`plane_panels` on ternary axes (``plane_panels(..., ternary=True)``): the predicted class, the log
    entropy and the log volume element (each ``(steps**2,)`` or ``(steps, steps)``) over the triangle of the anchors.

    Args:
        options: ``axes`` (three ternary ``Axes``, ``projection="ternary"``, or ``None`` for a new row), ``labels``,
            ``title``, ``vmin``, ``vmax`` as in :func:`plane_panels`.

    Returns:
        The three ``Axes``.
    """
    return plane_panels(plane, predicted, entropy, log_volume, ternary=True, **options)


def _square_panels(plane, values, axes, labels, titles, vmin, vmax, boundaries) -> list[Axes]:
    grid = get_field(plane, "grid")
    steps = get_field(plane, "steps")
    pred, ent, lv = (v.reshape(steps, steps) for v in values)
    if axes is None:
        _, axes = plt.subplots(1, 3, figsize=(12.5, 3.6), layout="constrained")
    if len(axes) != 3 or not all(isinstance(a, Axes) for a in axes):
        raise TypeError("axes must be a sequence of three matplotlib Axes")
    heatmap(pred, grid, ax=axes[0], cmap=CLASS_CMAP, norm=_CLASS_NORM, label=_PANEL_BARS[0], title=titles[0])
    cb = axes[0].images[-1].colorbar
    if cb is not None:
        cb.set_ticks(range(10))
    heatmap(ent, grid, ax=axes[1], cmap="magma", label=_PANEL_BARS[1], title=titles[1])
    heatmap(lv, grid, ax=axes[2], cmap="viridis", vmin=vmin, vmax=vmax, label=_PANEL_BARS[2], title=titles[2])
    if boundaries:
        segs = _class_edges(pred, grid)
        for ax in axes[1:]:
            if len(segs):
                ax.add_collection(LineCollection(segs, colors=BOUNDARY_COLOR, linewidths=1.0), autolim=False)
    for ax in axes:
        ax.set_xlabel("$a$")
        ax.set_ylabel("$b$")
        _anchor_marks(ax, labels)
    return list(axes)


def ternary_triangles(plane: object) -> tuple[np.ndarray, np.ndarray]:
    r"""Triangulation of the plane's grid points inside the anchors' triangle: the Delaunay triangulation of the
    ``inside`` points (``(steps**2,)``) in :math:`(a, b)` coordinates (``coords: (steps**2, 2)``): their convex hull,
    which fills the triangle up to the grid resolution.

    Returns:
        ``index: (M,)`` indices of the inside points (into the plane's points) and ``triangles: (K, 3)`` vertex
        indices into ``index``.
    """
    from matplotlib.tri import Triangulation

    index = np.flatnonzero(as_array(get_field(plane, "inside"), "plane.inside").reshape(-1))
    if index.size < 3:
        return index, np.zeros((0, 3), dtype=int)
    ab = as_array(get_field(plane, "coords"), "plane.coords", ("P", 2))[index]
    return index, np.asarray(Triangulation(ab[:, 0], ab[:, 1]).triangles, dtype=int)


def _mode_rows(values: np.ndarray) -> np.ndarray:
    """Per row of ``(K, 3)`` class labels: the label held by at least two vertices, else the first."""
    a, b, c = values[:, 0], values[:, 1], values[:, 2]
    return np.where((b == c) & (a != b), b, a)


def _ternary_panels(plane, values, axes, labels, titles, vmin, vmax) -> list[Axes]:
    import mpltern  # noqa: F401 - registers the "ternary" projection

    steps = get_field(plane, "steps")
    pred, ent, lv = values
    index, tris = ternary_triangles(plane)
    if tris.shape[0] == 0:
        raise ValueError(f"the plane has no grid cell inside the triangle (steps = {steps}); use more steps")
    lam = as_array(get_field(plane, "ternary"), "plane.ternary", ("P", 3))[index].clip(0.0, 1.0)
    lam = lam / lam.sum(1, keepdims=True)
    tt, ll, rr = lam[:, 0], lam[:, 1], lam[:, 2]
    if axes is None:
        fig = plt.figure(figsize=(12.5, 3.8), layout="constrained")
        axes = [fig.add_subplot(1, 3, k + 1, projection="ternary") for k in range(3)]
    if len(axes) != 3 or not all(getattr(a, "name", "") == "ternary" for a in axes):
        raise TypeError("axes must be three mpltern ternary Axes (projection='ternary')")
    fc = _mode_rows(pred[index][tris]).astype(float)
    pcs = [axes[0].tripcolor(tt, ll, rr, triangles=tris, facecolors=fc, cmap=CLASS_CMAP, norm=_CLASS_NORM),
           axes[1].tripcolor(tt, ll, rr, ent[index], triangles=tris, shading="gouraud", cmap="magma"),
           axes[2].tripcolor(tt, ll, rr, lv[index], triangles=tris, shading="gouraud", cmap="viridis",
                             vmin=vmin, vmax=vmax)]
    for k, (ax, pc) in enumerate(zip(axes, pcs)):
        cb = ax.figure.colorbar(pc, ax=ax, fraction=0.046, pad=0.1)
        cb.set_label(_PANEL_BARS[k])
        if k == 0:
            cb.set_ticks(range(10))
        ax.set_tlabel(labels[0])
        ax.set_llabel(labels[1])
        ax.set_rlabel(labels[2])
        ax.taxis.set_ticks([])
        ax.laxis.set_ticks([])
        ax.raxis.set_ticks([])
        ax.set_title(titles[k], pad=18)
    return list(axes)


def spectrum_plot(
    spectra: Array,
    epochs: Sequence[int],
    *,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    r"""Spectra of the metric at one point across training: :math:`\log_{10} s_i` (:math:`s_i = \sqrt{\lambda_i(g)}`,
    the singular values of :math:`J`, descending) against the index :math:`i`, one curve per epoch, coloured from
    dark (early) to light (late).

    Args:
        spectra: ``(S, m)`` singular values, one row per epoch; epochs: the ``S`` epochs (legend).

    Returns:
        The ``Axes``.
    """
    spectra = as_array(spectra, "spectra", ("S", "m"))
    check_sequence(epochs, f"epochs must be a sequence of {spectra.shape[0]} epochs, one per row of spectra",
                   length=spectra.shape[0])
    ax = get_axes(ax)
    cmap = matplotlib.colormaps["viridis"]
    idx = np.arange(1, spectra.shape[1] + 1)
    for k, (row, e) in enumerate(zip(spectra, epochs)):
        with np.errstate(divide="ignore"):
            ax.plot(idx, np.log10(row), color=cmap(k / max(1, len(epochs) - 1)), lw=1.2, label=f"epoch {e}")
    ax.set_xlabel("index $i$")
    ax.set_ylabel(r"$\log_{10} s_i = \log_{10}\sqrt{\lambda_i(g)}$")
    ax.legend(fontsize=7)
    if title:
        ax.set_title(title)
    return ax


# ------------------------------------------------------------------------------------------------------------------
# Interactive
# ------------------------------------------------------------------------------------------------------------------


def epoch_slider(epochs: Sequence[int], draw: Callable[[int], Figure], *, value: int | None = None,
                 description: str = "epoch"):
    """Display a figure and a slider over ``epochs`` that redraws it (for readers running the notebook live).

    The figure is displayed as an ordinary output with a display id (so an executed notebook and its static HTML
    keep a picture of ``draw(value)``, default the last epoch) and the slider replaces it in place when moved.
    Needs IPython and ipywidgets.

    Args:
        epochs: the selectable epochs.
        draw: ``epoch -> Figure`` (closed after rendering).
        value: initial epoch (default: the last).

    Returns:
        The slider widget (already displayed).
    """
    import ipywidgets as widgets
    from IPython.display import DisplayHandle, display

    check_sequence(epochs, "epochs must be a non-empty sequence of integers")
    if not callable(draw):
        raise TypeError(f"draw must be callable epoch -> Figure; got {type(draw).__name__}")
    epochs = [int(e) for e in epochs]
    value = epochs[-1] if value is None else check_choice(value, "value", epochs)
    slider = widgets.SelectionSlider(options=epochs, value=value, description=description,
                                     continuous_update=False, layout=widgets.Layout(width="60%"))
    fig = draw(value)
    handle = DisplayHandle()
    handle.display(fig)
    plt.close(fig)

    def redraw(change) -> None:
        new = draw(change["new"])
        handle.update(new)
        plt.close(new)

    slider.observe(redraw, names="value")
    display(slider)
    return slider
