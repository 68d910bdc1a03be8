r"""Plots of the geometry of planar inputs: volume-element and curvature heat maps with decision boundaries.

All map functions take precomputed images ``(ny, nx)`` on a :class:`paperlib.data.Grid` (``values[i, j]`` at
``(grid.xs[j], grid.ys[i])``), an optional matplotlib ``Axes`` to draw into, and return the ``Axes``; the figure
functions return the ``Figure``. Nothing here computes geometry, so the same functions serve every chapter.

- :func:`log_volume_map` -- :math:`\log_{10}\sqrt{\det g}` with a sequential colour map (a logarithmic colour
  scale for the volume element itself), colour bar labelled;
- :func:`ricci_map` -- Ricci scalar with a diverging colour map centred at 0, clipped at a percentile of
  :math:`|R|`;
- :func:`prediction_map` -- predicted probability of class 1;
- :func:`draw_boundary` -- the decision boundary (a level set of a score or probability) in red;
- :func:`snapshot_figure`, :func:`layer_figure`, :func:`magnification_plot`, :func:`epoch_slider` -- the chapter's
  composite figures.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure

from .data import Grid

__all__ = [
    "LOG_VOLUME_LABEL",
    "RICCI_LABEL",
    "heatmap",
    "draw_boundary",
    "scatter_data",
    "log_volume_map",
    "ricci_limit",
    "ricci_map",
    "prediction_map",
    "snapshot_figure",
    "layer_figure",
    "magnification_plot",
    "epoch_slider",
]

LOG_VOLUME_LABEL = r"$\log_{10}\sqrt{\det g}$"
RICCI_LABEL = r"Ricci scalar $R$"
BOUNDARY_COLOR = "red"


def _image(values: object, grid: Grid, name: str) -> np.ndarray:
    if not isinstance(grid, Grid):
        raise TypeError(f"grid must be a paperlib.data.Grid; got {type(grid).__name__}")
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().double().numpy()
    if not isinstance(values, np.ndarray):
        raise TypeError(f"{name} must be a torch.Tensor or numpy array of shape {grid.shape}; "
                        f"got {type(values).__name__}")
    if values.shape != grid.shape:
        raise ValueError(f"{name} must have the grid's shape (ny, nx) = {grid.shape}; got {values.shape}")
    return values.astype(np.float64)


def _ax(ax: Axes | None) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=(4.2, 3.6))
    elif not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None; got {type(ax).__name__}")
    return ax


def heatmap(
    values: torch.Tensor | np.ndarray,
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
) -> Axes:
    """Image of ``values: (ny, nx)`` over the grid's extent (``origin="lower"``); NaN drawn in light grey.

    Returns:
        The ``Axes``.
    """
    img = _image(values, grid, "values")
    ax = _ax(ax)
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
    return ax


def draw_boundary(
    ax: Axes,
    field: torch.Tensor | np.ndarray,
    grid: Grid,
    *,
    level: float = 0.0,
    color: str = BOUNDARY_COLOR,
    linewidth: float = 1.5,
    **kwargs,
) -> Axes:
    """Draw the level set ``field = level`` (a decision boundary: the logit difference at 0, or a probability at
    0.5) as a contour. Does nothing (and warns nothing) when the field does not cross ``level`` on the grid.

    Returns:
        The ``Axes``.
    """
    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes; got {type(ax).__name__}")
    img = _image(field, grid, "field")
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


def log_volume_map(
    log_volume: torch.Tensor | np.ndarray,
    grid: Grid,
    *,
    ax: Axes | None = None,
    boundary: torch.Tensor | np.ndarray | None = None,
    level: float = 0.0,
    vmin: float | None = None,
    vmax: float | None = None,
    cmap: str = "viridis",
    colorbar: bool = True,
    title: str | None = None,
) -> Axes:
    r"""Heat map of :math:`\log_{10}\sqrt{\det g}` (``(ny, nx)``), i.e. the volume element on a log colour scale.

    Args:
        log_volume: base-10 log volume element on the grid.
        grid: the grid.
        ax: axes to draw into (a new figure if ``None``).
        boundary: optional field whose ``level`` set (default 0: a logit difference) is drawn in red.
        vmin, vmax, cmap, colorbar, title: as in :func:`heatmap` (colour bar labelled
            :math:`\log_{10}\sqrt{\det g}`).

    Returns:
        The ``Axes``.
    """
    ax = heatmap(log_volume, grid, ax=ax, cmap=cmap, vmin=vmin, vmax=vmax, colorbar=colorbar,
                 label=LOG_VOLUME_LABEL, title=title)
    if boundary is not None:
        draw_boundary(ax, boundary, grid, level=level)
    return ax


def ricci_limit(ricci: torch.Tensor | np.ndarray, percentile: float = 95.0) -> float:
    """The ``percentile``-th percentile of ``|R|`` over the finite values (1 if there are none or all are 0)."""
    if isinstance(percentile, bool) or not isinstance(percentile, (int, float)) or not 0 < percentile <= 100:
        raise ValueError(f"percentile must be in (0, 100]; got {percentile!r}")
    arr = ricci.detach().cpu().double().numpy() if isinstance(ricci, torch.Tensor) else np.asarray(ricci, float)
    finite = np.abs(arr[np.isfinite(arr)])
    lim = float(np.percentile(finite, percentile)) if finite.size else 0.0
    return lim if lim > 0 else 1.0


def ricci_map(
    ricci: torch.Tensor | np.ndarray,
    grid: Grid,
    *,
    ax: Axes | None = None,
    boundary: torch.Tensor | np.ndarray | None = None,
    level: float = 0.0,
    percentile: float = 95.0,
    limit: float | None = None,
    cmap: str = "RdBu_r",
    colorbar: bool = True,
    title: str | None = None,
) -> Axes:
    r"""Heat map of the Ricci scalar ``(ny, nx)``: diverging colour map centred at 0 (red positive, blue negative),
    colour range :math:`[-c, c]` with :math:`c` the ``percentile``-th percentile of :math:`|R|` (or ``limit``);
    values beyond are clipped to the end colours, NaN (degenerate points) drawn grey.

    Returns:
        The ``Axes``.
    """
    c = ricci_limit(ricci, percentile) if limit is None else float(limit)
    if not c > 0:
        raise ValueError(f"limit must be positive; got {limit!r}")
    ax = heatmap(ricci, grid, ax=ax, cmap=cmap, norm=TwoSlopeNorm(0.0, -c, c), colorbar=colorbar,
                 label=RICCI_LABEL, title=title)
    if boundary is not None:
        draw_boundary(ax, boundary, grid, level=level)
    return ax


def prediction_map(
    probability: torch.Tensor | np.ndarray,
    grid: Grid,
    *,
    ax: Axes | None = None,
    boundary: torch.Tensor | np.ndarray | None = None,
    level: float | None = None,
    data: tuple[torch.Tensor, torch.Tensor] | None = None,
    cmap: str = "coolwarm",
    colorbar: bool = True,
    title: str | None = None,
) -> Axes:
    r"""Heat map of the predicted probability of class 1 (``(ny, nx)``, in [0, 1]) with the decision boundary in
    red: the ``level`` set of ``boundary`` (default: ``probability`` itself at 0.5) and, optionally, the training
    points ``data = (x, y)``.

    Returns:
        The ``Axes``.
    """
    ax = heatmap(probability, grid, ax=ax, cmap=cmap, vmin=0.0, vmax=1.0, colorbar=colorbar,
                 label="P(class 1)", title=title)
    if boundary is None:
        draw_boundary(ax, probability, grid, level=0.5 if level is None else level)
    else:
        draw_boundary(ax, boundary, grid, level=0.0 if level is None else level)
    if data is not None:
        scatter_data(ax, *data)
    return ax


def _get(snap: object, name: str):
    return snap[name] if isinstance(snap, Mapping) else getattr(snap, name)


def _first_layer(values):
    if values is None:
        return None
    return values[0] if values.ndim == 3 else values


def snapshot_figure(
    snapshots: Sequence[object],
    grid: Grid,
    *,
    data: tuple[torch.Tensor, torch.Tensor] | None = None,
    layer: int = 1,
    shared_scale: bool = True,
    percentile: float = 95.0,
    labels: Sequence[str] | None = None,
    panel_size: float = 3.3,
) -> Figure:
    r"""Fig. 1 layout: one row per snapshot, columns log volume element, Ricci scalar (if present) and prediction,
    each with the decision boundary in red.

    Args:
        snapshots: objects (or mappings) with ``epoch``, ``log_volume`` (``(L, ny, nx)`` or ``(ny, nx)``),
            ``ricci`` (``(ny, nx)`` or ``None``), ``probability`` and ``margin`` (``(ny, nx)``), e.g.
            :class:`paperlib.experiments.Snapshot`.
        grid: their grid.
        data: training points to overlay on the prediction panels.
        layer: which hidden layer's log volume element to show (1-based).
        shared_scale: one colour range for the log volume element across rows (so growth is visible).
        percentile: Ricci clipping percentile (per row).
        labels: row labels for the panel titles (default ``"epoch {epoch}"``).

    Returns:
        The ``Figure``.
    """
    if isinstance(snapshots, (str, bytes)) or not isinstance(snapshots, Sequence) or not snapshots:
        raise ValueError("snapshots must be a non-empty sequence of snapshots")
    has_ricci = all(_get(s, "ricci") is not None for s in snapshots)
    ncols = 3 if has_ricci else 2

    def logv(s):
        v = _get(s, "log_volume")
        return v[layer - 1] if v.ndim == 3 else v

    vmin = vmax = None
    if shared_scale:
        vals = torch.cat([logv(s).flatten() for s in snapshots])
        vals = vals[torch.isfinite(vals)]
        if vals.numel():
            vmin, vmax = float(vals.min()), float(vals.max())
    labels = _labels(snapshots, labels)
    fig, axes = plt.subplots(len(snapshots), ncols, figsize=(panel_size * ncols * 1.15, panel_size * len(snapshots)),
                             squeeze=False, layout="constrained")
    for row, s, name in zip(axes, snapshots, labels):
        margin = _get(s, "margin")
        log_volume_map(logv(s), grid, ax=row[0], boundary=margin, vmin=vmin, vmax=vmax,
                       title=f"{name}: volume element")
        if has_ricci:
            ricci_map(_get(s, "ricci"), grid, ax=row[1], boundary=margin, percentile=percentile,
                      title=f"{name}: Ricci scalar")
        prediction_map(_get(s, "probability"), grid, ax=row[-1], boundary=margin, data=data,
                       title=f"{name}: prediction")
    return fig


def _labels(snapshots: Sequence[object], labels: Sequence[str] | None) -> list[str]:
    if labels is None:
        return [f"epoch {_get(s, 'epoch')}" for s in snapshots]
    if isinstance(labels, str) or len(labels) != len(snapshots):
        raise ValueError(f"labels must be a sequence of {len(snapshots)} strings, one per snapshot")
    return [str(label) for label in labels]


def layer_figure(
    snapshots: Sequence[object],
    grid: Grid,
    *,
    shared_scale: bool = False,
    labels: Sequence[str] | None = None,
    panel_size: float = 3.3,
) -> Figure:
    r"""One row per snapshot, one column per hidden layer: :math:`\log_{10}\sqrt{\det g}` of each layer's features,
    with the decision boundary in red. ``snapshots`` as in :func:`snapshot_figure` with ``log_volume`` of shape
    ``(L, ny, nx)``; ``labels`` as there.

    Returns:
        The ``Figure``.
    """
    if isinstance(snapshots, (str, bytes)) or not isinstance(snapshots, Sequence) or not snapshots:
        raise ValueError("snapshots must be a non-empty sequence of snapshots")
    n_layers = _get(snapshots[0], "log_volume").shape[0]
    vmin = vmax = None
    if shared_scale:
        vals = torch.cat([_get(s, "log_volume").flatten() for s in snapshots])
        vals = vals[torch.isfinite(vals)]
        vmin, vmax = float(vals.min()), float(vals.max())
    fig, axes = plt.subplots(len(snapshots), n_layers, figsize=(panel_size * n_layers * 1.15,
                                                                 panel_size * len(snapshots)),
                             squeeze=False, layout="constrained")
    for row, s, name in zip(axes, snapshots, _labels(snapshots, labels)):
        lv = _get(s, "log_volume")
        for layer, ax in enumerate(row, start=1):
            log_volume_map(lv[layer - 1], grid, ax=ax, boundary=_get(s, "margin"), vmin=vmin, vmax=vmax,
                           title=f"{name}: layer {layer}")
    return fig


def magnification_plot(
    curves: Mapping[object, tuple[torch.Tensor, torch.Tensor]],
    *,
    ax: Axes | None = None,
    label_format: str = "seed {}",
    ylabel: str = "magnification $M$ (decades)",
    linthresh: float = 10.0,
) -> Axes:
    r"""Curves ``{label: (epochs (S,), values (S,))}`` against epoch, on a symmetric-log epoch axis (linear below
    ``linthresh``, so epoch 0 is shown).

    Returns:
        The ``Axes``.
    """
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError("curves must be a non-empty mapping {label: (epochs, values)}")
    ax = _ax(ax)
    for label, (epochs, values) in curves.items():
        e = torch.as_tensor(epochs).double().numpy()
        v = torch.as_tensor(values).double().numpy()
        if e.shape != v.shape:
            raise ValueError(f"curve {label!r}: epochs and values must have the same shape")
        ax.plot(e, v, marker="o", ms=3, label=label_format.format(label))
    ax.set_xscale("symlog", linthresh=linthresh)
    ax.axhline(0.0, color="0.6", lw=0.8)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.legend()
    return ax


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

    if isinstance(epochs, (str, bytes)) or not isinstance(epochs, Sequence) or not epochs:
        raise ValueError("epochs must be a non-empty sequence of integers")
    if not callable(draw):
        raise TypeError(f"draw must be callable epoch -> Figure; got {type(draw).__name__}")
    epochs = [int(e) for e in epochs]
    value = epochs[-1] if value is None else value
    if value not in epochs:
        raise ValueError(f"value must be one of epochs {epochs}; got {value!r}")
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
