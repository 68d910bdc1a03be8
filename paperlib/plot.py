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

import math
from typing import Callable, Mapping, Sequence

import matplotlib
import matplotlib.lines
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.transforms import blended_transform_factory

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
    "infinite_width_profiles",
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
    ``settings``. The values are computed by :mod:`paperlib.infinite` at the points :math:`x = r e_1`; the metric
    is rotation invariant, so every direction gives the same curves.

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
    from . import activations as _act
    from . import infinite

    names = [activations] if isinstance(activations, str) else activations
    if isinstance(names, (bytes, Mapping)) or not isinstance(names, Sequence) or not names:
        raise ValueError("activations must be an activation name or a non-empty sequence of names")
    names = [_act.check_name(a, "activations") for a in names]
    if isinstance(settings, (str, bytes)) or not isinstance(settings, Sequence) or not settings:
        raise ValueError("settings must be a non-empty sequence of (sigma, zeta) pairs")
    pairs = []
    for pair in settings:
        if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise ValueError(f"settings must contain (sigma, zeta) pairs; got {pair!r}")
        sigma, zeta = float(pair[0]), float(pair[1])
        if not (0 < sigma < float("inf") and 0 <= zeta < float("inf")):
            raise ValueError(f"settings: need sigma > 0 and zeta >= 0 (finite); got {pair!r}")
        pairs.append((sigma, zeta))
    if isinstance(d, bool) or not isinstance(d, int) or d < 1:
        raise ValueError(f"d must be an integer >= 1; got {d!r}")
    if isinstance(radius, bool) or not isinstance(radius, (int, float)) or not 0 < radius < float("inf"):
        raise ValueError(f"radius must be a positive finite number; got {radius!r}")
    if isinstance(points, bool) or not isinstance(points, int) or points < 2:
        raise ValueError(f"points must be an integer >= 2; got {points!r}")
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


# ---------------------------------------------------------------------------------------------------------------
# Curvature figures (chapter 4): volume element and Ricci scalar side by side, hidden-unit hyperplanes
# ---------------------------------------------------------------------------------------------------------------

__all__ += ["draw_hyperplanes", "volume_ricci_figure"]


def _as_float_tensor(value: object, name: str) -> torch.Tensor:
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(value)
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor or numpy array; got {type(value).__name__}")
    return value.detach().cpu().double()


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
    W = _as_float_tensor(W, "W")
    b = _as_float_tensor(b, "b")
    if W.ndim != 2 or W.shape[1] != 2:
        raise ValueError(f"W must have shape (n, 2) (planar inputs); got {tuple(W.shape)}")
    if b.shape != (W.shape[0],):
        raise ValueError(f"b must have shape (n,) = ({W.shape[0]},) to match W; got {tuple(b.shape)}")
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

    The Ricci panel uses :func:`ricci_map`: a diverging colour map centred at 0 (red positive, blue negative),
    clipped at the ``percentile``-th percentile of :math:`|R|` of that row (or at ``limits[row]``); NaN
    (degenerate points) is grey. Each row has its own colour scales.

    Args:
        rows: ``(label, log_volume, ricci)`` triples, both images of the grid's shape ``(ny, nx)``; the label
            starts each panel title.
        grid: their grid.
        hyperplanes: optional, one entry per row: ``(W, b)`` of a shallow map on planar inputs, whose unit lines
            :math:`w_j\cdot x + b_j = 0` are drawn dashed on both panels (see :func:`draw_hyperplanes`), or
            ``None`` for none.
        percentile: Ricci clipping percentile in (0, 100].
        limits: optional, one entry per row: a positive Ricci colour limit, or ``None`` to use ``percentile``.
        panel_size: height of one panel in inches.

    Returns:
        The ``Figure`` (axes ``len(rows) x 2``, plus the colour bars).
    """
    if isinstance(rows, (str, bytes)) or not isinstance(rows, Sequence) or not rows:
        raise ValueError("rows must be a non-empty sequence of (label, log_volume, ricci) triples")
    for row in rows:
        if isinstance(row, (str, bytes)) or not isinstance(row, Sequence) or len(row) != 3:
            raise ValueError(f"rows must contain (label, log_volume, ricci) triples; got {row!r:.80}")
    for name, per_row in (("hyperplanes", hyperplanes), ("limits", limits)):
        if per_row is not None and (isinstance(per_row, (str, bytes)) or not isinstance(per_row, Sequence)
                                    or len(per_row) != len(rows)):
            raise ValueError(f"{name} must be None or a sequence with one entry per row ({len(rows)})")
    if isinstance(panel_size, bool) or not isinstance(panel_size, (int, float)) or not panel_size > 0:
        raise ValueError(f"panel_size must be a positive number; got {panel_size!r}")
    fig, axes = plt.subplots(len(rows), 2, figsize=(panel_size * 2.5, panel_size * len(rows)), squeeze=False,
                             layout="constrained")
    for k, ((label, log_volume, ricci), (left, right)) in enumerate(zip(rows, axes)):
        log_volume_map(log_volume, grid, ax=left, title=f"{label}: volume element")
        limit = None if limits is None else limits[k]
        ricci_map(ricci, grid, ax=right, percentile=percentile, limit=limit, title=f"{label}: Ricci scalar")
        if hyperplanes is not None and hyperplanes[k] is not None:
            pair = hyperplanes[k]
            if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2:
                raise ValueError(f"hyperplanes[{k}] must be a (W, b) pair or None")
            for ax in (left, right):
                draw_hyperplanes(ax, *pair)
    return fig


# ------------------------------------------------------------------------------------------------------------------
# Slices through images (MNIST, Fig. 2): interpolation lines, plane panels, ternary plots, spectra
# ------------------------------------------------------------------------------------------------------------------


__all__ += [
    "CLASS_CMAP",
    "ENTROPY_LABEL",
    "class_colors",
    "interpolation_plot",
    "line_figure",
    "pairs_figure",
    "plane_panels",
    "plane_figure",
    "ternary_triangles",
    "ternary_panels",
    "ternary_figure",
    "spectrum_plot",
]

#: Categorical colour map of the ten classes (matplotlib's ``tab10``: class ``c`` has colour ``tab10(c)``).
CLASS_CMAP = ListedColormap(matplotlib.colormaps["tab10"].colors, name="classes")
_CLASS_NORM = BoundaryNorm(np.arange(-0.5, 10.5), CLASS_CMAP.N)
ENTROPY_LABEL = r"$\log_{10} H$ (entropy, nats)"
_ENTROPY_FLOOR = 1e-16


def class_colors(classes: Sequence[int] | torch.Tensor | np.ndarray) -> np.ndarray:
    """RGBA colours ``(N, 4)`` of class indices ``(N,)`` in :data:`CLASS_CMAP` (classes 0..9)."""
    c = np.asarray(torch.as_tensor(classes).cpu()).astype(int).reshape(-1)
    if c.size and (c.min() < 0 or c.max() > 9):
        raise ValueError(f"classes must lie in 0..9; got values in [{c.min()}, {c.max()}]")
    return CLASS_CMAP(c)


def _vec(values: object, name: str, length: int | None = None) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().double().numpy()
    if not isinstance(values, np.ndarray):
        raise TypeError(f"{name} must be a torch.Tensor or numpy array; got {type(values).__name__}")
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or (length is not None and values.shape[0] != length):
        want = f"({length},)" if length is not None else "(T,)"
        raise ValueError(f"{name} must have shape {want}; got {values.shape}")
    return values


def _as_image(img: object, name: str) -> np.ndarray:
    if isinstance(img, torch.Tensor):
        img = img.detach().cpu().double().numpy()
    if not isinstance(img, np.ndarray):
        raise TypeError(f"{name} must be a torch.Tensor or numpy array; got {type(img).__name__}")
    img = np.squeeze(img)
    if img.ndim == 1:
        side = int(round(math.sqrt(img.size)))
        if side * side != img.size:
            raise ValueError(f"{name}: a flat image must have a square number of pixels; got {img.size}")
        img = img.reshape(side, side)
    if img.ndim != 2:
        raise ValueError(f"{name} must be an image (H, W), (1, H, W) or flat (H*W,); got shape {img.shape}")
    return img


def interpolation_plot(
    t: torch.Tensor | np.ndarray,
    log_volume: torch.Tensor | np.ndarray,
    predicted: torch.Tensor | np.ndarray,
    *,
    images: Sequence[torch.Tensor | np.ndarray] | None = None,
    ax: Axes | None = None,
    mark_peak: bool = True,
    mark_changes: bool = True,
    title: str | None = None,
    ylabel: str = LOG_VOLUME_LABEL,
    legend: bool = True,
) -> Axes:
    r"""The log volume element along an interpolation line :math:`x(t) = x_1 + (x_2 - x_1)t`, coloured by the
    predicted class (:data:`CLASS_CMAP`), with small images of :math:`x_1`, the midpoint and :math:`x_2` above the
    plot at :math:`t = 0, \tfrac12, 1`.

    Args:
        t: ``(T,)`` positions; log_volume: ``(T,)`` values; predicted: ``(T,)`` classes 0..9.
        images: three images (flat ``(H*W,)``, ``(H, W)`` or ``(1, H, W)``) shown at ``t = 0, 0.5, 1``, or ``None``.
        mark_peak: a dashed black line at the maximum; mark_changes: thin red lines where the class changes.
        legend: a legend of the classes present.

    Returns:
        The ``Axes``.
    """
    tv = _vec(t, "t")
    lv = _vec(log_volume, "log_volume", tv.size)
    pr = _vec(predicted, "predicted", tv.size).astype(int)
    ax = _ax(ax)
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
        if isinstance(images, (str, bytes)) or not isinstance(images, Sequence) or len(images) != 3:
            raise ValueError("images must be a sequence of three images (x1, midpoint, x2) or None")
        trans = blended_transform_factory(ax.transData, ax.transAxes)
        for pos, img, name in zip((0.0, 0.5, 1.0), images, ("images[0]", "images[1]", "images[2]")):
            arr = _as_image(img, name)
            ins = ax.inset_axes([pos - 0.09, 1.03, 0.18, 0.3], transform=trans)
            ins.imshow(arr, cmap="gray_r", interpolation="nearest")
            ins.set_axis_off()
    if title:
        ax.set_title(title, pad=48 if images is not None else 6)
    return ax


def _get_attr(obj: object, name: str):
    if not hasattr(obj, name):
        raise TypeError(f"expected an object with attribute {name!r} (e.g. paperlib.experiments.LineGeometry); "
                        f"got {type(obj).__name__}")
    return getattr(obj, name)


def _pick_epochs(available: Sequence[int], epochs: Sequence[int] | None) -> list[int]:
    available = [int(e) for e in available]
    if epochs is None:
        return available
    if isinstance(epochs, (str, bytes)) or not isinstance(epochs, Sequence) or not epochs:
        raise ValueError("epochs must be a non-empty sequence of epochs or None")
    bad = [e for e in epochs if e not in available]
    if bad:
        raise ValueError(f"epochs {bad} are not available; choose from {available}")
    return [int(e) for e in epochs]


def line_figure(
    line_geometry: object,
    epochs: Sequence[int] | None = None,
    *,
    panel_size: tuple[float, float] = (3.6, 3.0),
) -> Figure:
    r"""One :func:`interpolation_plot` per epoch (side by side) for a line between two anchors, e.g.
    :class:`paperlib.experiments.LineGeometry` (attributes ``digits``, ``line`` with ``t`` and ``anchors``,
    ``epochs``, ``log_volume: (S, T)``, ``predicted: (S, T)``). Each panel has its own vertical scale (the
    level of :math:`\log_{10}\sqrt{\det g}` moves by many decades during training; the shape is what matters).

    Returns:
        The ``Figure``.
    """
    line = _get_attr(line_geometry, "line")
    avail = list(_get_attr(line_geometry, "epochs"))
    chosen = _pick_epochs(avail, epochs)
    lv, pr = _get_attr(line_geometry, "log_volume"), _get_attr(line_geometry, "predicted")
    digits = _get_attr(line_geometry, "digits")
    anchors = line.anchors
    images = [anchors[0], 0.5 * (anchors[0] + anchors[1]), anchors[1]]
    w, h = panel_size
    fig, axes = plt.subplots(1, len(chosen), figsize=(w * len(chosen), h + 0.9), squeeze=False, layout="constrained")
    for ax, e in zip(axes[0], chosen):
        i = avail.index(e)
        interpolation_plot(line.t, lv[i], pr[i], images=images, ax=ax, title=f"{digits[0]} → {digits[1]}, epoch {e}")
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
    :attr:`paperlib.experiments.MnistExperiment.lines`.

    Returns:
        The ``Figure``.
    """
    if not isinstance(lines, Mapping) or not lines:
        raise ValueError("lines must be a non-empty mapping {label: line geometry}")
    if isinstance(ncols, bool) or not isinstance(ncols, int) or ncols < 1:
        raise ValueError(f"ncols must be a positive integer; got {ncols!r}")
    ncols = min(ncols, len(lines))
    nrows = -(-len(lines) // ncols)
    w, h = panel_size
    fig, axes = plt.subplots(nrows, ncols, figsize=(w * ncols, h * nrows), squeeze=False, layout="constrained")
    for ax, lg in zip(axes.flat, lines.values()):
        avail = list(_get_attr(lg, "epochs"))
        e = avail[-1] if epoch is None else _pick_epochs(avail, [epoch])[0]
        i = avail.index(e)
        d = _get_attr(lg, "digits")
        interpolation_plot(_get_attr(lg, "line").t, lg.log_volume[i], lg.predicted[i], ax=ax,
                           title=f"{d[0]} → {d[1]}, epoch {e}")
    for ax in list(axes.flat)[len(lines):]:
        ax.set_axis_off()
    return fig


def _plane_values(plane: object, values: object, name: str) -> np.ndarray:
    steps = _get_attr(plane, "steps")
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().double().numpy()
    if not isinstance(values, np.ndarray):
        raise TypeError(f"{name} must be a torch.Tensor or numpy array; got {type(values).__name__}")
    values = np.asarray(values, dtype=np.float64)
    if values.shape == (steps, steps):
        values = values.reshape(-1)
    if values.shape != (steps * steps,):
        raise ValueError(f"{name} must have shape ({steps * steps},) or ({steps}, {steps}); got {values.shape}")
    return values


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


def _log_entropy(entropy: np.ndarray) -> np.ndarray:
    return np.log10(np.maximum(entropy, _ENTROPY_FLOOR))


def _panel_values(plane, predicted, entropy, log_volume, labels):
    """Flat per-point arrays (predicted class, log10 entropy, log volume) of a plane's panels; checks ``labels``."""
    if len(labels) != 3:
        raise ValueError("labels must hold three anchor labels")
    return (_plane_values(plane, predicted, "predicted"), _log_entropy(_plane_values(plane, entropy, "entropy")),
            _plane_values(plane, log_volume, "log_volume"))


def _figure_rows(plane_geometry):
    """``(plane, epochs, digit labels)`` of a :class:`paperlib.experiments.PlaneGeometry`."""
    return (_get_attr(plane_geometry, "plane"), list(_get_attr(plane_geometry, "epochs")),
            [str(d) for d in _get_attr(plane_geometry, "digits")])


def _anchor_marks(ax: Axes, labels: Sequence[str]) -> None:
    from .slices import ANCHOR_COORDS

    ac = ANCHOR_COORDS.numpy()
    ax.plot(np.append(ac[:, 0], ac[0, 0]), np.append(ac[:, 1], ac[0, 1]), color="white", lw=0.8, ls=":")
    for (a, b), lab in zip(ac, labels):
        ax.scatter([a], [b], s=30, c="white", edgecolors="black", linewidths=0.8, zorder=4)
        ax.annotate(lab, (a, b), xytext=(4, 4), textcoords="offset points", color="white", fontsize=9,
                    fontweight="bold")


def plane_panels(
    plane: object,
    predicted: torch.Tensor | np.ndarray,
    entropy: torch.Tensor | np.ndarray,
    log_volume: torch.Tensor | np.ndarray,
    *,
    axes: Sequence[Axes] | None = None,
    labels: Sequence[str] = ("x1", "x2", "x3"),
    title: str | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    boundaries: bool = True,
) -> list[Axes]:
    r"""Three heat maps over the plane coordinates :math:`(a, b) \in [-1, 1]^2` of a
    :class:`paperlib.slices.Plane`: the predicted class (:data:`CLASS_CMAP`), :math:`\log_{10}` of the prediction
    entropy and :math:`\log_{10}\sqrt{\det g}`; the anchors are marked (white dots, ``labels``) with their triangle
    dotted.

    Args:
        plane: the plane (``steps``, ``grid``); predicted, entropy, log_volume: ``(steps**2,)`` or
            ``(steps, steps)`` per-point values (entropy in nats; floored at 1e-16 before the log).
        axes: three ``Axes`` to draw into (a new row if ``None``).
        vmin, vmax: colour range of the log volume element.
        boundaries: draw the decision boundaries (where the predicted class changes) in red on the entropy and
            volume-element panels.

    Returns:
        The three ``Axes``.
    """
    grid = _get_attr(plane, "grid")
    steps = _get_attr(plane, "steps")
    pred, ent, lv = (v.reshape(steps, steps) for v in _panel_values(plane, predicted, entropy, log_volume, labels))
    if axes is None:
        _, axes = plt.subplots(1, 3, figsize=(12.5, 3.6), layout="constrained")
    if len(axes) != 3 or not all(isinstance(a, Axes) for a in axes):
        raise TypeError("axes must be a sequence of three matplotlib Axes")
    heatmap(pred, grid, ax=axes[0], cmap=CLASS_CMAP, norm=_CLASS_NORM, label="predicted class",
            title=f"{title}: prediction" if title else "prediction")
    cb = axes[0].images[-1].colorbar
    if cb is not None:
        cb.set_ticks(range(10))
    heatmap(ent, grid, ax=axes[1], cmap="magma", label=ENTROPY_LABEL,
            title=f"{title}: entropy" if title else "entropy")
    heatmap(lv, grid, ax=axes[2], cmap="viridis", vmin=vmin, vmax=vmax, label=LOG_VOLUME_LABEL,
            title=f"{title}: volume element" if title else "volume element")
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


def plane_figure(plane_geometry: object, epochs: Sequence[int] | None = None, *, panel_size: float = 3.4) -> Figure:
    r"""Fig. 2 plane: one row of :func:`plane_panels` per epoch for a
    :class:`paperlib.experiments.PlaneGeometry` (``plane``, ``digits``, ``epochs``, ``predicted``, ``entropy``,
    ``log_volume`` of shape ``(S, steps**2)``).

    Returns:
        The ``Figure``.
    """
    plane, avail, labels = _figure_rows(plane_geometry)
    chosen = _pick_epochs(avail, epochs)
    fig, axes = plt.subplots(len(chosen), 3, figsize=(panel_size * 3 * 1.4, panel_size * len(chosen)),
                             squeeze=False, layout="constrained")
    for row, e in zip(axes, chosen):
        i = avail.index(e)
        plane_panels(plane, plane_geometry.predicted[i], plane_geometry.entropy[i], plane_geometry.log_volume[i],
                     axes=row, labels=labels, title=f"epoch {e}")
    return fig


def ternary_triangles(plane: object) -> tuple[np.ndarray, np.ndarray]:
    r"""Triangulation of the plane's grid points inside the anchors' triangle: the Delaunay triangulation of the
    ``inside`` points in :math:`(a, b)` coordinates (their convex hull, which fills the triangle up to the grid
    resolution).

    Returns:
        ``index: (M,)`` indices of the inside points (into the plane's points) and ``triangles: (K, 3)`` vertex
        indices into ``index``.
    """
    from matplotlib.tri import Triangulation

    inside = np.asarray(_get_attr(plane, "inside").cpu()).reshape(-1)
    index = np.flatnonzero(inside)
    if index.size < 3:
        return index, np.zeros((0, 3), dtype=int)
    ab = np.asarray(_get_attr(plane, "coords").cpu(), dtype=np.float64)[index]
    return index, np.asarray(Triangulation(ab[:, 0], ab[:, 1]).triangles, dtype=int)


def _mode_rows(values: np.ndarray) -> np.ndarray:
    """Per row of ``(K, 3)`` class labels: the label held by at least two vertices, else the first."""
    a, b, c = values[:, 0], values[:, 1], values[:, 2]
    return np.where((b == c) & (a != b), b, a)


def ternary_panels(
    plane: object,
    predicted: torch.Tensor | np.ndarray,
    entropy: torch.Tensor | np.ndarray,
    log_volume: torch.Tensor | np.ndarray,
    *,
    axes: Sequence[Axes] | None = None,
    labels: Sequence[str] = ("x1", "x2", "x3"),
    title: str | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
) -> list[Axes]:
    r"""The panels of :func:`plane_panels` on ternary axes (``mpltern``), keeping only the triangle of the
    anchors: a point with barycentric coordinates :math:`(\lambda_1, \lambda_2, \lambda_3)` is drawn at
    :math:`(t, l, r) = (\lambda_1, \lambda_2, \lambda_3)`, so :math:`x_1` is the top corner, :math:`x_2` the
    bottom-left and :math:`x_3` the bottom-right one. Continuous values are shaded smoothly (Gouraud) over
    :func:`ternary_triangles`; the predicted class colours each triangle by the class of at least two of its
    corners.

    Args:
        axes: three ternary ``Axes`` (``projection="ternary"``), or ``None`` for a new row.
        Others: as in :func:`plane_panels`.

    Returns:
        The three ``Axes``.
    """
    import mpltern  # noqa: F401 - registers the "ternary" projection

    steps = _get_attr(plane, "steps")
    pred, ent, lv = _panel_values(plane, predicted, entropy, log_volume, labels)
    index, tris = ternary_triangles(plane)
    if tris.shape[0] == 0:
        raise ValueError(f"the plane has no grid cell inside the triangle (steps = {steps}); use more steps")
    lam = np.asarray(_get_attr(plane, "ternary").cpu(), dtype=np.float64)[index].clip(0.0, 1.0)
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
    names = ("prediction", "entropy", "volume element")
    cbar_labels = ("predicted class", ENTROPY_LABEL, LOG_VOLUME_LABEL)
    for ax, pc, name, cl in zip(axes, pcs, names, cbar_labels):
        cb = ax.figure.colorbar(pc, ax=ax, fraction=0.046, pad=0.1)
        cb.set_label(cl)
        if name == "prediction":
            cb.set_ticks(range(10))
        ax.set_tlabel(labels[0])
        ax.set_llabel(labels[1])
        ax.set_rlabel(labels[2])
        ax.taxis.set_ticks([])
        ax.laxis.set_ticks([])
        ax.raxis.set_ticks([])
        ax.set_title(f"{title}: {name}" if title else name, pad=18)
    return list(axes)


def ternary_figure(plane_geometry: object, epochs: Sequence[int] | None = None, *,
                   panel_size: float = 3.4) -> Figure:
    r"""One row of :func:`ternary_panels` per epoch for a :class:`paperlib.experiments.PlaneGeometry`.

    Returns:
        The ``Figure``.
    """
    import mpltern  # noqa: F401

    plane, avail, labels = _figure_rows(plane_geometry)
    chosen = _pick_epochs(avail, epochs)
    fig = plt.figure(figsize=(panel_size * 3 * 1.3, panel_size * 1.15 * len(chosen)), layout="constrained")
    for r, e in enumerate(chosen):
        i = avail.index(e)
        axes = [fig.add_subplot(len(chosen), 3, 3 * r + k + 1, projection="ternary") for k in range(3)]
        ternary_panels(plane, plane_geometry.predicted[i], plane_geometry.entropy[i], plane_geometry.log_volume[i],
                       axes=axes, labels=labels, title=f"epoch {e}")
    return fig


def spectrum_plot(
    spectra: torch.Tensor | np.ndarray,
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
    if isinstance(spectra, torch.Tensor):
        spectra = spectra.detach().cpu().double().numpy()
    if not isinstance(spectra, np.ndarray) or spectra.ndim != 2:
        raise ValueError("spectra must be a 2-d array (S, m): one row of singular values per epoch")
    if isinstance(epochs, (str, bytes)) or not isinstance(epochs, Sequence) or len(epochs) != spectra.shape[0]:
        raise ValueError(f"epochs must be a sequence of {spectra.shape[0]} epochs, one per row of spectra")
    ax = _ax(ax)
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
