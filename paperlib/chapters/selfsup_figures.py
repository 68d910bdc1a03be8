r"""Figures of chapter 8 (self-supervised backbones, Figs. 5-6), each taking what :mod:`paperlib.chapters.selfsup`
computes and registered by name (:mod:`paperlib.chapters.registry`):

- ``selfsup-views`` (:func:`views`): four test digits and two random views of each;
- ``selfsup-probe`` (:func:`probe`): the linear probe's test accuracy, random and trained backbones;
- ``selfsup-lines`` (:func:`lines`): Fig. 5, one line, both methods, first and last epoch (two figures);
- ``selfsup-barlow-line`` (:func:`barlow_line`): the Barlow Twins line at the figure epochs;
- ``selfsup-planes`` (:func:`planes`): Fig. 6, probe classes, entropy and volume element on a plane, per method;
- ``selfsup-spectra`` (:func:`spectra`): singular values of the backbone's Jacobian at the plane's anchors;
- ``selfsup-controls`` (:func:`controls`): the control lines' prominence against ``k`` and their peaks against the
  probe's transitions, per method.

Building blocks: :func:`methods_line_figure` (one line, one panel per method, at one epoch), :func:`probe_plot`
(the probe's accuracy at initialisation and after training, per backbone, beside the pixel probe) and
:func:`prominence_plot` (prominence against ``k``), beside the line and plane panels of :mod:`paperlib.plot` and
:func:`paperlib.chapters.deep_figures.location_plot`.
"""

from __future__ import annotations

import functools
from typing import Mapping

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from .. import plot as _plot
from ..plot._util import get_axes, get_field, pick_epochs
from ..plot.core import interpolation_plot
from . import selfsup as _selfsup
from .deep_figures import location_plot
from .registry import PRESETS, Drawn
from .registry import figure as _figure

__all__ = ["views", "probe", "lines", "barlow_line", "planes", "spectra", "controls", "methods_line_figure",
           "probe_plot", "prominence_plot", "control_curves", "location_points", "METHOD_NAMES"]

#: this chapter's experiment has every preset, ``"hours"`` included
figure = functools.partial(_figure, presets=PRESETS)

#: Display names of the methods.
METHOD_NAMES = {"barlow": "Barlow Twins", "simclr": "SimCLR"}


def methods_line_figure(lines: Mapping[str, object], epoch: int | None = None, *,
                        panel_size: tuple[float, float] = (4.2, 3.2)) -> Figure:
    r"""The log volume element of the backbone's features along one line, one panel per method (side by side), at
    ``epoch`` (default: the last), coloured by the probe's predicted class. ``lines`` maps a method to its line
    geometry (:attr:`paperlib.chapters.selfsup.SSLExperiment.lines`).

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


def probe_plot(accuracy: Mapping[str, tuple[float, float]], *, ax=None, chance: float | None = 0.1,
               pixel: float | None = None):
    """Bars of the probe's test accuracy per backbone: at initialisation (a random backbone, light) and after
    training (dark). ``accuracy`` maps a label to ``(initial, final)``; ``chance`` draws a dotted line and
    ``pixel`` (the same probe on the raw pixels) a dashed one.

    Returns:
        The ``Axes``.
    """
    if not isinstance(accuracy, Mapping) or not accuracy:
        raise ValueError("accuracy must be a non-empty mapping {label: (initial, final)}")
    ax = get_axes(ax) if ax is not None else plt.subplots(figsize=(6.4, 3.6), layout="constrained")[1]
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
    if pixel is not None:
        ax.axhline(float(pixel), color="C3", ls="--", lw=1, label=f"probe on the pixels ({float(pixel):.2f})")
    ax.set_xticks(pos, labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 1.08)
    ax.set_ylabel("probe test accuracy")
    ax.legend(fontsize=7, loc="lower right")
    return ax


def prominence_plot(curves: Mapping[str, Mapping[str, Sequence[float]]], *, ax=None, title: str | None = None):
    r"""Prominence of the control lines (:func:`paperlib.chapters.core.line_prominence`: the interior peak of the log
    volume element over the larger end, decades; negative without an interior peak) against ``k``, mean and one
    standard deviation over seeds. ``curves`` maps a label to ``{"k": (K,), "values": (seeds, K)}``.

    Returns:
        The ``Axes``.
    """
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError("curves must be a non-empty mapping {label: {'k', 'values'}}")
    ax = get_axes(ax) if ax is not None else plt.subplots(figsize=(4.8, 3.6), layout="constrained")[1]
    for label, c in curves.items():
        ks = np.asarray(c["k"], dtype=float)
        v = np.asarray(c["values"], dtype=float).reshape(-1, ks.size)
        sd = v.std(0, ddof=1) if len(v) > 1 else np.zeros(ks.size)
        ax.errorbar(ks, v.mean(0), yerr=sd, marker="o", ms=4, capsize=3, label=label,
                    ls="--" if "initial" in label else "-")
    ax.set_xscale("log", base=2)
    ax.axhline(0, color="0.6", lw=0.6)
    ax.set_xlabel("$k$ (top singular values in the volume element)")
    ax.set_ylabel("prominence (decades)")
    ax.legend(fontsize=7)
    if title:
        ax.set_title(title)
    return ax


# ------------------------------------------------------------------------------------------------------------------
# the chapter's figures
# ------------------------------------------------------------------------------------------------------------------


def _common(ex: _selfsup.SSLExperiment) -> dict:
    return {"settings": ex.settings, "describe": ex.describe(), "anchors": ex.anchors,
            "probe_accuracy": {name: {"init": ex.probe_accuracy(name, min(ex.probes[name])),
                                      "final": ex.probe_accuracy(name)} for name in ex.training},
            "pixel_probe_accuracy": ex.pixel_probe.test_accuracy,
            "summaries": {name: ex.summary(name) for name in ex.training}}


@figure("selfsup-views", chapter=8, source=_selfsup.views,
        description="four test digits and two random views of each (the self-supervised augmentation)")
def views(shown: dict) -> Drawn:
    """The images of :func:`paperlib.chapters.selfsup.views`: originals in the first row, a view of each in the
    second and another in the third."""
    images = shown["images"]
    fig, axes = plt.subplots(len(images), images.shape[1], figsize=(6, 4.6), layout="constrained")
    for row, imgs in zip(axes, images):
        for ax, img in zip(row, imgs):
            ax.imshow(img[0] if img.shape[0] == 1 else img.permute(1, 2, 0).clamp(-3, 3), cmap="gray_r")
            ax.set_axis_off()
    numbers = {"settings": shown["settings"], "labels": shown["labels"], "images": images[:, :, 0],
               "layout": "images[row: original, view 1, view 2][k][i][j] (first channel)",
               "torch_seed": shown["torch_seed"]}
    return Drawn((("", fig),), numbers)


@figure("selfsup-probe", chapter=8, source=_selfsup.run,
        description="linear-probe test accuracy of the Barlow Twins and SimCLR backbones, random and trained, "
                    "and of the pixel probe")
def probe(ex: _selfsup.SSLExperiment) -> Drawn:
    """The probe's test accuracy on the random (first epoch) and the trained backbone of every network, and on
    the raw pixels (:func:`probe_plot`)."""
    ax = probe_plot({name: (ex.probe_accuracy(name, min(ex.probes[name])), ex.probe_accuracy(name))
                     for name in ex.training}, pixel=ex.pixel_probe.test_accuracy)
    return Drawn((("", ax.figure),), _common(ex))


@figure("selfsup-lines", chapter=8, source=_selfsup.run,
        description="Fig. 5: volume element of the backbones' features along a line, both methods, at the first "
                    "and the last epoch (two figures)")
def lines(ex: _selfsup.SSLExperiment) -> Drawn:
    """Fig. 5: the line of both methods side by side, at the first and at the last epoch
    (:func:`methods_line_figure`; image suffixes ``-epoch<e>``)."""
    first = next(iter(ex.lines.values()))
    figures = tuple((f"-epoch{e}", methods_line_figure(ex.lines, e)) for e in (first.epochs[0], first.epochs[-1]))
    return Drawn(figures, {**_common(ex), "lines": {m: lg.numbers() for m, lg in ex.lines.items()}})


@figure("selfsup-barlow-line", chapter=8, source=_selfsup.run, description="the Barlow Twins line at the figure epochs")
def barlow_line(ex: _selfsup.SSLExperiment) -> Drawn:
    """The Barlow Twins backbone's line at the figure epochs (:func:`paperlib.plot.line_figure`; the first method
    when Barlow Twins was not trained)."""
    method = "barlow" if "barlow" in ex.lines else next(iter(ex.lines))
    fig = _plot.line_figure(ex.lines[method])
    return Drawn((("", fig),), {**_common(ex), "method": method, "line": ex.lines[method].numbers()})


@figure("selfsup-planes", chapter=8, source=_selfsup.run,
        description="Fig. 6: probe classes, entropy and volume element on a plane, one figure per method")
def planes(ex: _selfsup.SSLExperiment) -> Drawn:
    """Fig. 6: the plane of each method (:func:`paperlib.plot.plane_figure`, titled; image suffixes
    ``-<method>``)."""
    figures = []
    for method, plane in ex.planes.items():
        fig = _plot.plane_figure(plane)
        fig.suptitle(METHOD_NAMES.get(method, method))
        figures.append((f"-{method}", fig))
    numbers = {m: p.numbers(lambda e, m=m: ex.plane_correlation(m, e)) for m, p in ex.planes.items()}
    return Drawn(tuple(figures), {**_common(ex), "planes": numbers,
                                  "correlation_note": "with the last epoch's probe entropy at every epoch"})


@figure("selfsup-spectra", chapter=8, source=_selfsup.run,
        description="singular values of the backbone's Jacobian at the plane's anchors, per method and epoch")
def spectra(ex: _selfsup.SSLExperiment) -> Drawn:
    """The singular values of the backbone's Jacobian at the three anchors of the plane at the figure epochs, one
    row per method and one panel per anchor (:func:`paperlib.plot.spectrum_plot`)."""
    methods = list(ex.spectra)
    classes = ex.spectra[methods[0]]["classes"]
    fig, axes = plt.subplots(len(methods), len(classes), figsize=(4.2 * len(classes), 3.3 * len(methods)),
                             squeeze=False, layout="constrained", sharey=True)
    for row, m in zip(axes, methods):
        sp = ex.spectra[m]
        for i, (ax, c) in enumerate(zip(row, classes)):
            _plot.spectrum_plot(sp["values"][:, i], list(sp["epochs"]), ax=ax,
                                title=f"{METHOD_NAMES.get(m, m)}: anchor {ex.settings.class_name(c)}")
            for k in ex.settings.ks:
                ax.axvline(k, color="0.8", lw=0.6, zorder=0)
    numbers = {**_common(ex), "spectra": {m: {"epochs": list(v["epochs"]), "classes": list(v["classes"]),
                                               "singular_values": v["values"]} for m, v in ex.spectra.items()},
               "layout": "singular_values[epoch index][anchor index][i], descending; grey lines: the ks"}
    return Drawn((("", fig),), numbers)


def control_curves(ex: _selfsup.SSLExperiment, method: str) -> dict:
    """The prominence curves against ``k`` that :func:`controls` draws for ``method``: per seed, the mean over its
    cross-class lines after training and at initialisation, and over its same-class lines after training."""
    ks = list(ex.settings.ks)
    curve = {"cross-class, trained": ("cross", "prominence_final"), "same-class, trained": ("same", "prominence_final"),
             "cross-class, initialisation": ("cross", "prominence_init")}
    if not ex.settings.same_lines:
        curve.pop("same-class, trained")
    return {label: {"k": ks, "values": [[ex.control_mean(kind, n, key, k) for k in ks] for n in ex.names(method)]}
            for label, (kind, key) in curve.items()}


def location_points(ex: _selfsup.SSLExperiment, method: str, k: int | None = None) -> dict:
    """Peaks against transitions of ``method``'s cross-class lines, every seed pooled, at ``k``: trained and at
    initialisation (for :func:`~paperlib.chapters.deep_figures.location_plot`)."""
    def values(key):
        return [v for n in ex.names(method) for v in ex.control_values("cross", n, key, k)]
    lo, hi = values("transition_lower"), values("transition_upper")
    return {"trained": {"peak": values("peak_final"), "lower": lo, "upper": hi},
            "initialisation": {"peak": values("peak_init"), "lower": lo, "upper": hi}}


@figure("selfsup-controls", chapter=8, source=_selfsup.run,
        description="control lines: prominence against k, and peaks against the probe's transitions, per method")
def controls(ex: _selfsup.SSLExperiment) -> Drawn:
    """Per method (one row): the prominence of the control lines against ``k`` (:func:`prominence_plot`, mean and
    sd over seeds) and the peaks of its cross-class lines against the final probe's transitions at the preset's
    ``k``, all seeds pooled (:func:`~paperlib.chapters.deep_figures.location_plot`)."""
    methods = list(ex.settings.methods)
    fig, axes = plt.subplots(len(methods), 2, figsize=(10, 4.0 * len(methods)), squeeze=False, layout="constrained")
    numbers = {**_common(ex), "curves": {}, "points": {}, "k": ex.settings.rank}
    for (a, b), m in zip(axes, methods):
        name = METHOD_NAMES.get(m, m)
        numbers["curves"][m] = control_curves(ex, m)
        numbers["points"][m] = location_points(ex, m)
        prominence_plot(numbers["curves"][m], ax=a, title=f"{name}: prominence of the control lines")
        location_plot(numbers["points"][m], ax=b, title=f"{name}: peaks against the probe's transitions "
                                                        f"(k = {ex.settings.rank})")
    return Drawn((("", fig),), numbers)
