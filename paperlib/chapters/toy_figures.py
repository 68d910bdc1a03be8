r"""Figures of chapter 5 (toy networks on planar inputs: sinusoid, XOR, a deep MLP per layer).

Registered figures (:mod:`paperlib.chapters.registry`), each taking the experiment of :mod:`paperlib.chapters.toy`:
:func:`sinusoid` (``toy-sinusoid``, Fig. 1), :func:`magnification` (``toy-magnification``), :func:`xor`
(``toy-xor``), :func:`deep_layers` (``toy-deep-layers``), :func:`deep_magnification` (``toy-deep-magnification``).
Building blocks:

- :func:`snapshot_figure` -- Fig. 1: log volume element, Ricci scalar and prediction per snapshot;
- :func:`xor_figure` -- the XOR networks after training, one row per width (:func:`snapshot_figure` with a legend);
- :func:`layer_figure` -- the log volume element of each hidden layer per snapshot;
- :func:`magnification_plot` -- magnification near the decision boundary against epoch.

The snapshots are :class:`paperlib.chapters.toy.Snapshot` objects or mappings with the same fields.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .._checks import check_int, check_number
from ..data import Grid
from ..plot._util import as_array, check_sequence, finite_range, get_axes, get_field
from ..plot.core import BOUNDARY_COLOR, log_volume_map, prediction_map, ricci_map, scatter_data
from . import toy as _toy
from .core import grid_numbers
from .registry import Drawn, figure

__all__ = ["sinusoid", "magnification", "xor", "deep_layers", "deep_magnification", "snapshot_figure", "xor_figure",
           "layer_figure", "magnification_plot"]

#: What the classes of :func:`paperlib.data.xor` are (the legend of :func:`xor_figure`).
XOR_CLASSES = (r"class 0 ($x_1 x_2 > 0$)", r"class 1 ($x_1 x_2 < 0$)")


def _snapshot_rows(snapshots: Sequence[object], labels: Sequence[str] | None, ncols: int, panel_size: float,
                   ) -> tuple[Figure, np.ndarray, list[str]]:
    """Checks ``snapshots`` and ``labels``; a figure with one row of ``ncols`` panels per snapshot, its axes
    ``(S, ncols)`` and the row labels (default ``"epoch {epoch}"``)."""
    if labels is None:
        labels = [f"epoch {get_field(s, 'epoch')}" for s in snapshots]
    check_sequence(labels, f"labels must be a sequence of {len(snapshots)} strings, one per snapshot",
                   length=len(snapshots))
    fig, axes = plt.subplots(len(snapshots), ncols, figsize=(panel_size * ncols * 1.15, panel_size * len(snapshots)),
                             squeeze=False, layout="constrained")
    return fig, axes, [str(label) for label in labels]


def _check_snapshots(snapshots: object) -> Sequence[object]:
    return check_sequence(snapshots, "snapshots must be a non-empty sequence of snapshots")


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
    legend: bool = False,
    class_names: Sequence[str] = ("class 0", "class 1"),
    point_size: float = 9.0,
) -> Figure:
    r"""Fig. 1 layout: one row per snapshot, columns log volume element, Ricci scalar (if present) and prediction,
    each with the decision boundary in red.

    Args:
        snapshots: objects (or mappings) with ``epoch``, ``log_volume`` (``(L, ny, nx)`` or ``(ny, nx)``),
            ``ricci`` (``(ny, nx)`` or ``None``), ``probability`` and ``margin`` (``(ny, nx)``), e.g.
            :class:`paperlib.chapters.toy.Snapshot`.
        grid: their grid.
        data: training points ``(x (N, 2), y (N,))`` to overlay on the prediction panels.
        layer: which hidden layer's log volume element to show (1-based).
        shared_scale: one colour range for the log volume element across rows (so growth is visible).
        percentile: Ricci clipping percentile (per row).
        labels: row labels for the panel titles (default ``"epoch {epoch}"``).
        panel_size: height of one panel in inches.
        legend: a legend under the panels: the decision boundary (red line) and, with ``data``, the training
            points of each class (white: class 0, black: class 1), named by ``class_names``.
        class_names: the legend's names of classes 0 and 1.
        point_size: marker area of the training points (points squared).

    Returns:
        The ``Figure``.
    """
    _check_snapshots(snapshots)
    check_int(layer, "layer", min=1)
    check_sequence(class_names, "class_names must be a pair of strings (class 0, class 1)", length=2)
    check_number(point_size, "point_size", min=0, open_min=True)
    has_ricci = all(get_field(s, "ricci") is not None for s in snapshots)

    def logv(s):
        v = get_field(s, "log_volume")
        return v[layer - 1] if v.ndim == 3 else v

    vmin, vmax = finite_range([as_array(logv(s), "log_volume") for s in snapshots]) if shared_scale else (None, None)
    fig, axes, names = _snapshot_rows(snapshots, labels, 3 if has_ricci else 2, panel_size)
    for row, s, name in zip(axes, snapshots, names):
        margin = get_field(s, "margin")
        log_volume_map(logv(s), grid, ax=row[0], boundary=margin, vmin=vmin, vmax=vmax,
                       title=f"{name}: volume element")
        if has_ricci:
            ricci_map(get_field(s, "ricci"), grid, ax=row[1], boundary=margin, percentile=percentile,
                      title=f"{name}: Ricci scalar")
        prediction_map(get_field(s, "probability"), grid, ax=row[-1], boundary=margin, title=f"{name}: prediction")
        if data is not None:
            scatter_data(row[-1], *data, size=point_size)
    if legend:
        handles = [Line2D([], [], color=BOUNDARY_COLOR, lw=1.5, label="decision boundary (logits equal)")]
        if data is not None:
            handles += [Line2D([], [], ls="", marker="o", ms=7, mfc=face, mec="0.3", mew=0.8,
                               label=f"training points, {str(cls)}")
                        for face, cls in zip(("white", "black"), class_names)]
        fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), frameon=False)
    return fig


def xor_figure(experiment: object, *, seed: int | None = None, panel_size: float = 3.3) -> Figure:
    r"""The XOR figure of chapter 5: one row per hidden width (the experiment's ``settings.hidden``), the network
    of ``seed`` (default: the first of ``settings.seeds``) after training; columns log volume element, Ricci
    scalar and prediction with the four training points, each with its decision boundary in red; a colour scale
    per row; a legend of the boundary and the classes (:data:`XOR_CLASSES`).

    Args:
        experiment: the result of :func:`paperlib.chapters.toy.xor` (runs keyed ``(width, seed)``).
        seed: which seed's networks to show.
        panel_size: height of one panel in inches.

    Returns:
        The ``Figure``.
    """
    settings = get_field(experiment, "settings")
    widths = list(settings.hidden)
    seed = settings.seeds[0] if seed is None else seed
    snaps = [experiment.run((w, seed)).final for w in widths]
    return snapshot_figure(snaps, experiment.grid, data=(experiment.x, experiment.y), shared_scale=False,
                           labels=[f"width {w}" for w in widths], panel_size=panel_size, legend=True,
                           class_names=XOR_CLASSES, point_size=36.0)


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
    _check_snapshots(snapshots)
    n_layers = get_field(snapshots[0], "log_volume").shape[0]
    vmin, vmax = (finite_range([as_array(get_field(s, "log_volume"), "log_volume") for s in snapshots])
                  if shared_scale else (None, None))
    fig, axes, names = _snapshot_rows(snapshots, labels, n_layers, panel_size)
    for row, s, name in zip(axes, snapshots, names):
        lv = get_field(s, "log_volume")
        for layer, ax in enumerate(row, start=1):
            log_volume_map(lv[layer - 1], grid, ax=ax, boundary=get_field(s, "margin"), vmin=vmin, vmax=vmax,
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
    ax = get_axes(ax)
    for label, (epochs, values) in curves.items():
        e = as_array(epochs, f"curve {label!r}: epochs", sequences=True)
        v = as_array(values, f"curve {label!r}: values", e.shape, sequences=True)
        ax.plot(e, v, marker="o", ms=3, label=label_format.format(label))
    ax.set_xscale("symlog", linthresh=linthresh)
    ax.axhline(0.0, color="0.6", lw=0.8)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.legend()
    return ax


# ------------------------------------------------------------------------------------------------------------------
# the chapter's figures
# ------------------------------------------------------------------------------------------------------------------


@figure("toy-sinusoid", chapter=5, source=_toy.sinusoid,
        description="Fig. 1: volume element, Ricci scalar and prediction of a [2, 250, 2] network on the sinusoid "
                    "task during training")
def sinusoid(sin: _toy.ToyExperiment) -> Drawn:
    """Fig. 1: the first seed's snapshots at the figure epochs (:func:`snapshot_figure`) with the training points."""
    run = sin.run(0)
    snaps = [run.snapshots[e] for e in sin.figure_epochs]
    fig = snapshot_figure(snaps, sin.grid, data=(sin.x, sin.y))
    numbers = {"settings": sin.settings, "describe": sin.describe(), "grid": grid_numbers(sin.grid),
               "data": {"x": sin.x, "y": sin.y}, "seed": run.label, "snapshots": [s.numbers() for s in snaps],
               "gain_task": sin.gains(boundary="task"), "gain_control": sin.gains(boundary="control"),
               "seeds": list(sin.runs)}
    return Drawn((("", fig),), numbers)


@figure("toy-magnification", chapter=5, source=_toy.sinusoid,
        description="magnification around the true boundary, a control curve and the network's own boundary, "
                    "per seed")
def magnification(sin: _toy.ToyExperiment) -> Drawn:
    """The magnification of every seed against epoch, around the task's boundary, the mirrored control curve and
    the network's own boundary (:func:`magnification_plot`, three panels)."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 4), sharey=True, layout="constrained")
    curves = {}
    for ax, boundary, title in zip(axes, ("task", "control", "own"),
                                   ("true boundary of the task", "control: the mirrored curve",
                                    "the network's own boundary")):
        curves[boundary] = {seed: run.magnification(boundary=boundary) for seed, run in sin.runs.items()}
        magnification_plot(curves[boundary], ax=ax)
        ax.set_title(title)
    numbers = {"settings": sin.settings, "describe": sin.describe(),
               "magnification": {b: {seed: {"epochs": e, "M": m} for seed, (e, m) in c.items()}
                                 for b, c in curves.items()},
               "gain_task": sin.gains(boundary="task"), "gain_control": sin.gains(boundary="control")}
    return Drawn((("", fig),), numbers)


@figure("toy-xor", chapter=5, source=_toy.xor,
        description="XOR: volume element, Ricci scalar and prediction after training, widths 2 to 250")
def xor(xo: _toy.ToyExperiment) -> Drawn:
    """The XOR networks of the first seed after training, one row per width (:func:`xor_figure`)."""
    widths = xo.settings.hidden
    snaps = [xo.run((w, xo.settings.seeds[0])).final for w in widths]
    fig = xor_figure(xo)
    gains = {w: xo.gains(boundary="final", labels=[(w, s) for s in xo.settings.seeds]) for w in widths}
    numbers = {"settings": xo.settings, "describe": xo.describe(), "grid": grid_numbers(xo.grid),
               "data": {"x": xo.x, "y": xo.y}, "seed": xo.settings.seeds[0],
               "final_snapshots": {w: s.numbers() for w, s in zip(widths, snaps)},
               "final_accuracy": {label: run.final.accuracy for label, run in xo.runs.items()},
               "gain_final_boundary": {w: {"seeds": list(xo.settings.seeds), "gain": g} for w, g in gains.items()}}
    return Drawn((("", fig),), numbers)


@figure("toy-deep-layers", chapter=5, source=_toy.deep_mlp,
        description="deep MLP [2, 8, 8, 8, 2]: volume element after each hidden layer")
def deep_layers(deep: _toy.ToyExperiment) -> Drawn:
    """The first seed's log volume element after each hidden layer at the figure epochs (:func:`layer_figure`)."""
    run = deep.run(0)
    snaps = [run.snapshots[e] for e in deep.figure_epochs]
    fig = layer_figure(snaps, deep.grid)
    numbers = {"settings": deep.settings, "describe": deep.describe(), "grid": grid_numbers(deep.grid),
               "seed": run.label, "snapshots": [s.numbers(layers=True) for s in snaps],
               "layout": "snapshots[k].log_volume[layer - 1][i][j]"}
    return Drawn((("", fig),), numbers)


@figure("toy-deep-magnification", chapter=5, source=_toy.deep_mlp,
        description="deep MLP: magnification of each layer during training")
def deep_magnification(deep: _toy.ToyExperiment) -> Drawn:
    """The first seed's magnification of each layer against epoch (:func:`magnification_plot`); the numbers hold
    every seed's layer increments and gains."""
    run = deep.run(0)
    fig, ax = plt.subplots(figsize=(6, 4))
    layers = range(1, run.depth + 1)
    curves = {f"layer {layer}": run.magnification(layer) for layer in layers}
    magnification_plot(curves, ax=ax, label_format="{}")
    numbers = {"settings": deep.settings, "describe": deep.describe(), "seed": run.label,
               "magnification": {k: {"epochs": e, "M": m} for k, (e, m) in curves.items()},
               "layer_increments_init": torch.stack([r.layer_increments(0) for r in deep.runs.values()]),
               "layer_increments_final": torch.stack([r.layer_increments() for r in deep.runs.values()]),
               "gain_task": torch.stack([deep.gains(layer, boundary="task") for layer in layers], 1),
               "gain_control": torch.stack([deep.gains(layer, boundary="control") for layer in layers], 1),
               "seeds": list(deep.runs), "layout": "increments and gains [seed][layer - 1]"}
    return Drawn((("", fig),), numbers)
