r"""Figures of chapter 8 (self-supervised backbones, Figs. 5-6): the line and plane figures of chapters 6-7
(:func:`~paperlib.plot.digits.line_figure`, :func:`~paperlib.plot.digits.plane_figure`,
:func:`~paperlib.plot.digits.ternary_figure`) drawn per method, and

- :func:`methods_line_figure` -- one line, one panel per method, at one epoch;
- :func:`probe_plot` -- the probe's test accuracy at initialisation and after training, per backbone.

They take the results of :func:`paperlib.experiments.self_supervised` (or objects with the same fields).
"""

from __future__ import annotations

from typing import Mapping

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from ._util import get_axes, get_field, pick_epochs
from .core import interpolation_plot

__all__ = ["methods_line_figure", "probe_plot"]

#: Display names of the methods.
METHOD_NAMES = {"barlow": "Barlow Twins", "simclr": "SimCLR"}


def methods_line_figure(lines: Mapping[str, object], epoch: int | None = None, *,
                        panel_size: tuple[float, float] = (4.2, 3.2)) -> Figure:
    r"""The log volume element of the backbone's features along one line, one panel per method (side by side), at
    ``epoch`` (default: the last), coloured by the probe's predicted class. ``lines`` maps a method to its line
    geometry (:attr:`paperlib.experiments.SSLExperiment.lines`).

    Returns:
        The ``Figure``.
    """
    if not isinstance(lines, Mapping) or not lines:
        raise ValueError("lines must be a non-empty mapping {method: line geometry}")
    w, h = panel_size
    fig, axes = plt.subplots(1, len(lines), figsize=(w * len(lines), h), squeeze=False, layout="constrained")
    for ax, (method, lg) in zip(axes[0], lines.items()):
        eps = list(get_field(lg, "epochs"))
        e = pick_epochs(eps, None if epoch is None else [epoch])[-1]
        i = eps.index(e)
        d = get_field(lg, "digits")
        interpolation_plot(get_field(lg, "line").t, get_field(lg, "log_volume")[i], get_field(lg, "predicted")[i],
                           ax=ax, title=f"{METHOD_NAMES.get(method, method)}: {d[0]} → {d[1]}, epoch {e}")
    return fig


def probe_plot(accuracy: Mapping[str, tuple[float, float]], *, ax=None, chance: float | None = 0.1):
    """Bars of the probe's test accuracy per backbone: at initialisation (a random backbone, light) and after
    training (dark). ``accuracy`` maps a label to ``(initial, final)``; ``chance`` draws a dotted line.

    Returns:
        The ``Axes``.
    """
    if not isinstance(accuracy, Mapping) or not accuracy:
        raise ValueError("accuracy must be a non-empty mapping {label: (initial, final)}")
    ax = get_axes(ax) if ax is not None else plt.subplots(figsize=(5.0, 3.2), layout="constrained")[1]
    labels = list(accuracy)
    vals = np.array([[float(v) for v in accuracy[k]] for k in labels])
    pos = np.arange(len(labels))
    ax.bar(pos - 0.2, vals[:, 0], 0.4, color="0.75", label="random backbone (initialisation)")
    ax.bar(pos + 0.2, vals[:, 1], 0.4, color="C0", label="after training")
    for p, (a, b) in zip(pos, vals):
        ax.text(p - 0.2, a, f"{a:.2f}", ha="center", va="bottom", fontsize=7)
        ax.text(p + 0.2, b, f"{b:.2f}", ha="center", va="bottom", fontsize=7)
    if chance is not None:
        ax.axhline(chance, color="0.4", ls=":", lw=1)
    ax.set_xticks(pos, labels)
    ax.set_ylim(0, 1.08)
    ax.set_ylabel("probe test accuracy")
    ax.legend(fontsize=7, loc="lower right")
    return ax
