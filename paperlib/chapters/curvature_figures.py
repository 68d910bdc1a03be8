r"""Figures of chapter 4 (curvature).

The registered figures (data from :mod:`paperlib.chapters.curvature`):

- :func:`ricci_accuracy` -- ``curvature-ricci-accuracy``: each Ricci-scalar route's error against 50 digits,
  against :math:`\operatorname{cond}(g)` along a ray;
- :func:`relu_gelu` -- ``curvature-relu-gelu``: volume element and Ricci scalar of an 8-unit ReLU and GELU
  network, with its hyperplanes;
- :func:`three_units` -- ``curvature-three-units``: the paper's Fig. D.1, three erf units 120 degrees apart, bias
  0 and 1;
- :func:`unit_circle` -- ``curvature-unit-circle``: the same network along the unit circle.

Their drawings, for any data of the same form (the chapter's interactive cells call these, so that each registered
function is called by one cell of the chapter):

- :func:`volume_ricci_figure` -- volume element and Ricci scalar side by side, one row per case, with the hidden
  units' lines (:func:`paperlib.plot.shallow.draw_hyperplanes`);
- :func:`three_units_figure` -- Fig. D.1's layout for any three-unit fields (the interactive panel uses it);
- :func:`unit_circle_figure` -- volume element and Ricci scalar along the unit circle, against the angle.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from .._checks import check_number
from ..data import Grid
from ..plot._util import as_array, check_sequence
from ..plot.core import LOG_VOLUME_LABEL, RICCI_LABEL, log_volume_map, ricci_map
from ..plot.shallow import draw_hyperplanes
from . import curvature as _chapter
from . import registry

__all__ = ["ricci_accuracy", "relu_gelu", "three_units", "unit_circle", "volume_ricci_figure", "three_units_figure",
           "unit_circle_figure"]


def _check(data: object, kind: type, producer: str) -> None:
    if not isinstance(data, kind):
        raise TypeError(f"expected the result of paperlib.chapters.curvature.{producer}; got {type(data).__name__}")


def _grid_numbers(grid: Grid) -> dict:
    return {"xs": grid.xs, "ys": grid.ys, "layout": "images [row i, column j] at (xs[j], ys[i])"}


# ------------------------------------------------------------------------------------------------------------------
# drawings
# ------------------------------------------------------------------------------------------------------------------


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
            unit lines :math:`w_j\cdot x + b_j = 0` are drawn dashed on both panels (see
            :func:`paperlib.plot.shallow.draw_hyperplanes`), or ``None`` for none.
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


# ------------------------------------------------------------------------------------------------------------------
# the registered figures
# ------------------------------------------------------------------------------------------------------------------


@registry.figure("curvature-ricci-accuracy", chapter=4,
                 description="error of every Ricci-scalar route against 50-digit sympy along a ray, against cond(g)",
                 source=registry.closed_form(_chapter.ricci_accuracy), presets=())
def ricci_accuracy(acc: _chapter.RicciAccuracy) -> registry.Drawn:
    r"""Each route's relative error against the 50-digit Christoffel route (floored at :math:`10^{-17}` to show
    exact agreement), against :math:`\operatorname{cond}(g)` along the ray, log-log, with the tolerance
    :math:`10^{-9}` dotted.

    Args:
        acc: the result of :func:`paperlib.chapters.curvature.ricci_accuracy`.

    Returns:
        :class:`~paperlib.chapters.registry.Drawn`: the figure and its numbers (``W``, ``b``, ``activation``,
        ``ray``, ``cond``, ``ricci_50_digits``, ``ricci[route]``, ``relative_error[route]``).
    """
    _check(acc, _chapter.RicciAccuracy, "ricci_accuracy")
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, err in acc.errors.items():
        ax.loglog(acc.cond, err.clamp_min(1e-17), marker="o", ms=3, label=name)
    ax.axhline(1e-9, color="0.5", lw=0.8, ls=":")
    ax.set_xlabel(r"cond$(g)$ along the ray")
    ax.set_ylabel("relative error vs 50 digits")
    ax.legend(fontsize="small")
    numbers = {"W": acc.W, "b": acc.b, "activation": acc.activation, "ray": acc.ray, "cond": acc.cond,
               "ricci_50_digits": acc.reference, "ricci": dict(acc.routes), "relative_error": dict(acc.errors)}
    return registry.Drawn((("", fig),), numbers)


@registry.figure("curvature-relu-gelu", chapter=4,
                 description="volume element and Ricci scalar of an 8-unit ReLU and GELU network with its "
                             "hyperplanes",
                 source=registry.closed_form(_chapter.relu_gelu), presets=())
def relu_gelu(rg: _chapter.ReluGelu) -> registry.Drawn:
    r"""One row per activation (ReLU, GELU): :math:`\log_{10}\sqrt{\det g}` and :math:`R` of the same weights, with
    the units' lines dashed (:func:`volume_ricci_figure`).

    Args:
        rg: the result of :func:`paperlib.chapters.curvature.relu_gelu`.

    Returns:
        :class:`~paperlib.chapters.registry.Drawn`: the figure and its numbers (``grid``, ``W``, ``b``,
        ``network``, ``log_volume[activation]``, ``ricci[activation]``: images ``(ny, nx)``).
    """
    _check(rg, _chapter.ReluGelu, "relu_gelu")
    rows = [(act, rg.log_volume[act], rg.ricci[act]) for act in rg.log_volume]
    fig = volume_ricci_figure(rows, rg.grid, hyperplanes=[(rg.W, rg.b)] * len(rows))
    numbers = {"grid": _grid_numbers(rg.grid), "W": rg.W, "b": rg.b, "network": rg.network,
               "log_volume": dict(rg.log_volume), "ricci": dict(rg.ricci)}
    return registry.Drawn((("", fig),), numbers)


def _activation_text(activation: str) -> str:
    return "erf(z / sqrt 2)" if activation == "erf" else activation


def three_units_figure(fields: _chapter.ThreeUnitFields) -> Figure:
    r"""The drawing of :func:`three_units`, for any result of :func:`paperlib.chapters.curvature.three_unit_fields`
    (e.g. other biases or angles, as in the chapter's interactive panel): one row per bias,
    :math:`\log_{10}\sqrt{\det g}` and :math:`R` clipped at the 90th percentile of :math:`|R|`, the unit lines
    :math:`w_j\cdot x + \beta = 0` dashed.

    Returns:
        The ``Figure``.
    """
    _check(fields, _chapter.ThreeUnitFields, "three_unit_fields")
    grid = fields.grid
    rows = [(f"bias {bias:g}", grid.image(lv), grid.image(R)) for bias, (_, _, lv, R) in fields.fields.items()]
    return volume_ricci_figure(rows, grid, hyperplanes=[(fields.W_unit, torch.full((3,), bias, dtype=torch.float64))
                                                        for bias in fields.fields], percentile=90.0)


@registry.figure("curvature-three-units", chapter=4,
                 description="volume element and Ricci scalar of three erf units 120 degrees apart, bias 0 and 1",
                 source=registry.closed_form(_chapter.three_unit_fields), presets=())
def three_units(fields: _chapter.ThreeUnitFields) -> registry.Drawn:
    r"""The paper's Fig. D.1: one row per bias, :math:`\log_{10}\sqrt{\det g}` and :math:`R` (clipped at the 90th
    percentile of :math:`|R|`), with the unit lines :math:`w_j\cdot x + \beta = 0` dashed
    (:func:`three_units_figure`).

    Args:
        fields: the result of :func:`paperlib.chapters.curvature.three_unit_fields`.

    Returns:
        :class:`~paperlib.chapters.registry.Drawn`: the figure and its numbers (``grid``, ``activation``, ``W``:
        the unit weight vectors, ``biases``, ``log_volume[bias]``, ``ricci[bias]``: images ``(ny, nx)``).
    """
    fig = three_units_figure(fields)
    grid = fields.grid
    numbers = {"grid": _grid_numbers(grid), "activation": _activation_text(fields.activation), "W": fields.W_unit,
               "biases": fields.biases, "log_volume": {b: grid.image(v[2]) for b, v in fields.fields.items()},
               "ricci": {b: grid.image(v[3]) for b, v in fields.fields.items()}}
    return registry.Drawn((("", fig),), numbers)


@registry.figure("curvature-unit-circle", chapter=4,
                 description="the same network's volume element and Ricci scalar on the unit circle",
                 source=registry.closed_form(_chapter.unit_circle), presets=())
def unit_circle(circle: _chapter.UnitCircle) -> registry.Drawn:
    r"""Fig. D.1's network along the unit circle: :math:`\log_{10}\sqrt{\det g}` and :math:`R` against the angle,
    one curve per bias (:func:`unit_circle_figure`).

    Args:
        circle: the result of :func:`paperlib.chapters.curvature.unit_circle`.

    Returns:
        :class:`~paperlib.chapters.registry.Drawn`: the figure and its numbers (``angle`` in radians,
        ``angle_unit``, ``point``, ``activation``, ``W``, ``biases``, ``log_volume[bias]``, ``ricci[bias]``).
    """
    _check(circle, _chapter.UnitCircle, "unit_circle")
    fig = unit_circle_figure(circle.angle, {f"bias {bias:g}": (circle.log_volume[bias], circle.ricci[bias])
                                            for bias in circle.biases})
    numbers = {"angle": circle.angle, "angle_unit": "radians", "point": "x = (cos angle, sin angle)",
               "activation": _activation_text(circle.activation), "W": circle.W_unit, "biases": circle.biases,
               "log_volume": dict(circle.log_volume), "ricci": dict(circle.ricci)}
    return registry.Drawn((("", fig),), numbers)
