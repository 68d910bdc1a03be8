r"""Figures of chapter 7 (a ResNet, Figs. 3-4). The line, plane and ternary figures of Fig. 3 are those of chapter 6
(:func:`paperlib.plot.digits.line_figure`, :func:`~paperlib.plot.digits.plane_figure`,
:func:`~paperlib.plot.digits.ternary_figure`, re-exported here); this module adds

- :func:`blocks_figure` -- Fig. 4: one line, one panel per block, at the start and the end of training;
- :func:`depth_plot` -- the contrast of the control lines against the block, at initialisation and after training.

They take the results of :func:`paperlib.experiments.deep` (or objects with the same fields).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from ._util import as_array, get_axes, get_field
from .core import LOG_VOLUME_LABEL, interpolation_plot
from .digits import line_figure, plane_figure, relative_line_plot, ternary_figure

__all__ = ["blocks_figure", "depth_plot", "line_figure", "plane_figure", "relative_line_plot", "ternary_figure"]

#: Names of the blocks of :class:`paperlib.models.ResNet` (0 = the stem, 1..4 = the stages).
BLOCK_NAMES = {0: "stem", 1: "block 1", 2: "block 2", 3: "block 3", 4: "block 4 (features)"}


def blocks_figure(blocks: Mapping[int, object], *, panel_size: tuple[float, float] = (3.2, 2.7)) -> Figure:
    r"""Fig. 4: the log volume element along one line after each block (columns) at the first and the last epoch
    (rows), each panel coloured by the predicted class of the whole network, with the peak (dashed) and the class
    changes (red). ``blocks`` maps a block to its line geometry, e.g. :attr:`paperlib.experiments.DeepExperiment.
    blocks` (``epochs``: two epochs; ``line.t: (T,)``; ``log_volume``, ``predicted``: ``(2, T)``; ``digits``).

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
    r"""Contrast of lines (:func:`paperlib.experiments.core.line_contrast`: the peak of the log volume element minus
    its mean at the anchors, in decades) against the block, after training (solid) and at initialisation (dashed),
    one colour per profile. ``profiles`` maps a label to ``{"blocks": (nb,), "final": (nb,), "init": (nb,)}``, e.g.
    :meth:`paperlib.experiments.DeepExperiment.depth_profile` of several networks, or
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
    ax.set_ylabel("contrast (decades)")
    ax.legend(fontsize=7)
    ax.set_title(title or "contrast along the control lines against depth")
    return ax
