r"""Figures of chapter 7 (a ResNet, Figs. 3-4), each taking the experiment of :mod:`paperlib.chapters.deep` and
registered by name (:mod:`paperlib.chapters.registry`):

==================  ================  ======================================================================
figure              function          what
==================  ================  ======================================================================
``deep-line``       :func:`line`      Fig. 3: the features' volume element along a line through test images
``deep-relative``   :func:`relative`  the same line relative to its anchors, every snapshot
``deep-plane``      :func:`plane`     Fig. 3: classes, entropy and volume element on a plane
``deep-ternary``    :func:`ternary`   the same plane in ternary coordinates
``deep-blocks``     :func:`blocks`    Fig. 4: one line after each block, start and end of training
``deep-depth``      :func:`depth`     the control lines' prominence against the block
``deep-location``   :func:`location`  peak position against class transition over the control lines
==================  ================  ======================================================================

Building blocks: :func:`blocks_figure` (one line, one panel per block, two epochs), :func:`depth_plot` (prominence
against the block) and :func:`location_plot` (peaks against transitions), beside the line and plane panels of
:mod:`paperlib.plot`.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from .. import plot as _plot
from ..plot._util import as_array, get_axes, get_field
from ..plot.core import LOG_VOLUME_LABEL, interpolation_plot
from . import deep as _deep
from .registry import PRESETS, Drawn
from .registry import figure as _figure

__all__ = ["line", "relative", "plane", "ternary", "blocks", "depth", "location", "blocks_figure", "depth_plot",
           "location_plot", "BLOCK_NAMES"]

#: this chapter's experiment has every preset, ``"hours"`` included
figure = functools.partial(_figure, presets=PRESETS)

#: Names of the blocks of :class:`paperlib.models.ResNet` (0 = the stem, 1..4 = the stages).
BLOCK_NAMES = {0: "stem", 1: "block 1", 2: "block 2", 3: "block 3", 4: "block 4 (features)"}


def blocks_figure(blocks: Mapping[int, object], *, panel_size: tuple[float, float] = (3.2, 2.7)) -> Figure:
    r"""Fig. 4: the log volume element along one line after each block (columns) at the first and the last epoch
    (rows), each panel coloured by the predicted class of the whole network, with the peak (dashed) and the class
    changes (red). ``blocks`` maps a block to its line geometry, e.g. the ``blocks`` of a
    :class:`paperlib.chapters.deep.DeepExperiment` (``epochs``: two epochs; ``line.t: (T,)``; ``log_volume``,
    ``predicted``: ``(2, T)``; ``digits``).

    Returns:
        The ``Figure``.
    """
    if not isinstance(blocks, Mapping) or not blocks:
        raise ValueError("blocks must be a non-empty mapping {block: line geometry}")
    first = next(iter(blocks.values()))
    epochs = list(get_field(first, "epochs"))
    d = get_field(first, "digits")
    w, h = panel_size
    fig, axes = plt.subplots(len(epochs), len(blocks), figsize=(w * len(blocks), h * len(epochs)), squeeze=False,
                             layout="constrained")
    for col, (block, lg) in enumerate(blocks.items()):
        t = get_field(lg, "line").t
        for row, e in enumerate(epochs):
            i = list(get_field(lg, "epochs")).index(e)
            interpolation_plot(t, get_field(lg, "log_volume")[i], get_field(lg, "predicted")[i], ax=axes[row, col],
                               legend=col == 0 and row == len(epochs) - 1, ylabel=LOG_VOLUME_LABEL if col == 0 else "",
                               title=f"{BLOCK_NAMES.get(block, f'block {block}')}, epoch {e}")
    fig.suptitle(f"{d[0]} → {d[1]} after each block: start (top) and end (bottom) of training")
    return fig


def depth_plot(profiles: Mapping[str, Mapping[str, Sequence[float]]], *, ax=None, title: str | None = None):
    r"""Prominence of lines (:func:`paperlib.chapters.core.line_prominence`: the interior peak of the log volume
    element over the larger of its two ends, in decades; negative without an interior peak) against the block,
    after training (solid) and at initialisation (dashed),
    one colour per profile. ``profiles`` maps a label to ``{"blocks": (nb,), "final": (nb,), "init": (nb,)}``, e.g.
    :meth:`paperlib.chapters.deep.DeepExperiment.depth_profile` of several networks, or
    ``{"final": (seeds, nb), ...}`` to draw the mean with a band of one standard deviation over seeds.

    Returns:
        The ``Axes``.
    """
    if not isinstance(profiles, Mapping) or not profiles:
        raise ValueError("profiles must be a non-empty mapping {label: {'blocks', 'init', 'final'}}")
    ax = get_axes(ax) if ax is not None else plt.subplots(figsize=(6.0, 3.6), layout="constrained")[1]
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for j, (label, p) in enumerate(profiles.items()):
        blocks = as_array(p["blocks"], f"profiles[{label!r}]['blocks']", ("nb",), sequences=True)
        for key, ls in (("final", "-"), ("init", "--")):
            v = np.atleast_2d(as_array(p[key], f"profiles[{label!r}][{key!r}]", (blocks.size,), ("S", blocks.size),
                                    sequences=True))
            mean = np.nanmean(v, 0)
            colour = colours[j % len(colours)]
            ax.plot(blocks, mean, ls, color=colour, marker="o", ms=4,
                    label=f"{label}, {'trained' if key == 'final' else 'initialisation'}")
            if v.shape[0] > 1:
                sd = np.nanstd(v, 0, ddof=1)
                ax.fill_between(blocks, mean - sd, mean + sd, color=colour, alpha=0.15, lw=0)
    ax.set_xticks(blocks, [BLOCK_NAMES.get(int(b), str(b)).replace(" (features)", "") for b in blocks])
    ax.set_xlabel("block")
    ax.axhline(0, color="0.6", lw=0.6)
    ax.set_ylabel("prominence (decades)")
    ax.legend(fontsize=7)
    ax.set_title(title or "prominence along the control lines against depth")
    return ax


def location_plot(points: Mapping[str, Mapping[str, Sequence[float]]], *, ax=None, title: str | None = None):
    r"""Where the peak of the volume element sits on each line against where the class changes: one point per line,
    x the centre of the trained network's transition interval (a horizontal bar spans it), y the peak position
    :math:`t^*`; the diagonal is "peak at the transition", the dotted line "peak at the midpoint". ``points`` maps a
    label to ``{"peak": (L,), "lower": (L,), "upper": (L,)}``.

    Returns:
        The ``Axes``.
    """
    if not isinstance(points, Mapping) or not points:
        raise ValueError("points must be a non-empty mapping {label: {'peak', 'lower', 'upper'}}")
    ax = get_axes(ax) if ax is not None else plt.subplots(figsize=(4.8, 4.4), layout="constrained")[1]
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for j, (label, p) in enumerate(points.items()):
        peak = as_array(p["peak"], f"points[{label!r}]['peak']", ("L",), sequences=True)
        lo = as_array(p["lower"], f"points[{label!r}]['lower']", (peak.size,), sequences=True)
        hi = as_array(p["upper"], f"points[{label!r}]['upper']", (peak.size,), sequences=True)
        centre = 0.5 * (lo + hi)
        hollow = "initialisation" in label
        colour = "0.55" if hollow else colours[j % len(colours)]
        ax.errorbar(centre, peak, xerr=[centre - lo, hi - centre], fmt="o", ms=4, lw=0.6, color=colour,
                    mfc="none" if hollow else colour, label=label)
    ax.plot([0, 1], [0, 1], color="k", lw=0.8)
    ax.axhline(0.5, color="k", lw=0.6, ls=":")
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.02, 1)
    ax.set_xlabel("class transition along the line, $t$")
    ax.set_ylabel("peak of the volume element, $t^*$")
    ax.legend(fontsize=7)
    ax.set_title(title or "peaks against transitions, cross-class lines")
    return ax


# ------------------------------------------------------------------------------------------------------------------
# the chapter's figures
# ------------------------------------------------------------------------------------------------------------------


def _common(ex: _deep.DeepExperiment) -> dict:
    return {"settings": ex.settings, "describe": ex.describe(), "anchors": ex.anchors,
            "test_accuracy": ex.test_accuracy, "summaries": {name: ex.summary(name) for name in ex.training}}


def _plane_numbers(ex: _deep.DeepExperiment) -> dict:
    return {**_common(ex), "plane": ex.plane.numbers(ex.plane_correlation)}


@figure("deep-line", chapter=7, source=_deep.run,
        description="Fig. 3: volume element of a ResNet's features along the line 7 -> 6 (CIFAR-10 horse -> frog "
                    "with the paper preset)")
def line(ex: _deep.DeepExperiment) -> Drawn:
    """Fig. 3, the line at the figure epochs (:func:`paperlib.plot.line_figure`)."""
    fig = _plot.line_figure(ex.line, ex.settings.figure_epochs)
    return Drawn((("", fig),), {**_common(ex), "figure_epochs": list(ex.settings.figure_epochs),
                                "line": ex.line.numbers()})


@figure("deep-relative", chapter=7, source=_deep.run,
        description="the Fig. 3 line relative to its anchors, at every snapshot")
def relative(ex: _deep.DeepExperiment) -> Drawn:
    """The Fig. 3 line relative to its anchors at every snapshot (:func:`paperlib.plot.relative_line_plot`)."""
    ax = _plot.relative_line_plot({"features": ex.line})
    return Drawn((("", ax.figure),), {**_common(ex), "line": ex.line.numbers()})


@figure("deep-plane", chapter=7, source=_deep.run,
        description="Fig. 3: classes, entropy and volume element on the plane through three anchors")
def plane(ex: _deep.DeepExperiment) -> Drawn:
    """Fig. 3, the plane (:func:`paperlib.plot.plane_figure`)."""
    return Drawn((("", _plot.plane_figure(ex.plane)),), _plane_numbers(ex))


@figure("deep-ternary", chapter=7, source=_deep.run, description="the Fig. 3 plane in ternary coordinates")
def ternary(ex: _deep.DeepExperiment) -> Drawn:
    """The Fig. 3 plane in ternary coordinates (:func:`paperlib.plot.ternary_figure`)."""
    return Drawn((("", _plot.ternary_figure(ex.plane)),), _plane_numbers(ex))


@figure("deep-blocks", chapter=7, source=_deep.run,
        description="Fig. 4: volume element along one line after each block, start and end of training")
def blocks(ex: _deep.DeepExperiment) -> Drawn:
    """Fig. 4 (:func:`blocks_figure`)."""
    return Drawn((("", blocks_figure(ex.blocks)),),
                 {**_common(ex), "blocks": {b: lg.numbers() for b, lg in ex.blocks.items()}})


def depth_profiles(ex: _deep.DeepExperiment) -> dict:
    """The prominence profiles against the block that :func:`depth` draws: per activation, the mean over its
    networks (one network: that network's profile), and for the first activation the same-class lines too."""
    profiles = {}
    for i, activation in enumerate(ex.settings.activations):
        names = [name for name in ex.training if name.startswith(activation + " ")]
        label = {"gelu": "GELU", "relu": "ReLU"}.get(activation, activation)
        profiles[label] = ex.depth_profiles(names) if len(names) > 1 else ex.depth_profile(names[0])
        if i == 0 and ex.settings.same_lines:
            profiles[f"{label}, same-class lines"] = (ex.depth_profiles(names, "same") if len(names) > 1
                                                      else ex.depth_profile(names[0], "same"))
    return profiles


@figure("deep-depth", chapter=7, source=_deep.run,
        description="prominence of the control lines against the block, initialisation and trained")
def depth(ex: _deep.DeepExperiment) -> Drawn:
    """The control lines' prominence against the block, at initialisation and after training
    (:func:`depth_profiles`, :func:`depth_plot`)."""
    profiles = depth_profiles(ex)
    ax = depth_plot(profiles)
    return Drawn((("", ax.figure),), {**_common(ex), "profiles": profiles,
                                      "layout": "init/final [network][block index] (one network: [block index])"})


def location_points(ex: _deep.DeepExperiment) -> dict:
    """Per network of the first activation (and for the first network at initialisation): the peak and the
    transition interval of every cross-class control line with a transition (after the last block)."""
    out = {}
    names = [name for name in ex.training if name.startswith(ex.settings.activations[0] + " ")]
    for i, name in enumerate(names):
        rows = [r for r in ex.control_table("cross", name, ex.settings.blocks[-1], ex.network_k(name))
                if r["transition_lower"] == r["transition_lower"]]  # not NaN
        pick = {"lower": [r["transition_lower"] for r in rows], "upper": [r["transition_upper"] for r in rows]}
        out[f"{name}, trained"] = {"peak": [r["peak_final"] for r in rows], **pick}
        if i == 0:
            out[f"{name}, initialisation"] = {"peak": [r["peak_init"] for r in rows], **pick}
    return out


@figure("deep-location", chapter=7, source=_deep.run,
        description="peak of the volume element against the class transition on the cross-class control lines")
def location(ex: _deep.DeepExperiment) -> Drawn:
    """Peaks against transitions over the cross-class control lines (:func:`location_points`,
    :func:`location_plot`), with the location test of every network."""
    points = location_points(ex)
    ax = location_plot(points)
    tests = {}
    for name in ex.training:
        try:
            tests[name] = dataclasses.asdict(ex.location(name))
        except ValueError as err:  # too few lines with a class transition (e.g. an untrained network)
            tests[name] = {"error": str(err)}
    return Drawn((("", ax.figure),), {**_common(ex), "points": points, "location_tests": tests})
