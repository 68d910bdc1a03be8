r"""Figures of chapter 6 (Fig. 2 of arXiv:2301.11375: a ``[784, n, 10]`` network on MNIST), each taking an
experiment of :mod:`paperlib.chapters.mnist` and registered by name (:mod:`paperlib.chapters.registry`).

=========================  =====================  ==============================================================
figure                     function               what
=========================  =====================  ==============================================================
``mnist-line``             :func:`line`           Fig. 2: the line 7 -> 6 at the start, middle and end of training
``mnist-relative``         :func:`relative`       the same line relative to its anchors (all and live pixels)
``mnist-pairs``            :func:`pairs`          every digit pair's line after training
``mnist-plane``            :func:`plane`          Fig. 2: classes, entropy, volume element on the plane 7/6/1
``mnist-ternary``          :func:`ternary`        the same plane in ternary coordinates
``mnist-spectra``          :func:`spectra`        singular values of the Jacobian at the plane's anchors
``mnist-authors-init``     :func:`authors_init`   the line from the authors' N(0, 1) initialisation
``mnist-relu``             :func:`relu`           the line of a ReLU network (top-100 pseudo-determinant)
=========================  =====================  ==============================================================

The panels are the chapter-free building blocks of :mod:`paperlib.plot`.
"""

from __future__ import annotations

import matplotlib.pyplot as plt

from .. import plot as _plot
from . import mnist as _mnist
from .registry import Drawn, figure

__all__ = ["line", "relative", "pairs", "plane", "ternary", "spectra", "authors_init", "relu"]


def _common(mn: _mnist.MnistExperiment) -> dict:
    return {"settings": mn.settings, "describe": mn.describe(), "anchors": mn.anchors,
            "test_accuracy": mn.test_accuracy}


def _plane_numbers(mn: _mnist.MnistExperiment) -> dict:
    return {**_common(mn), "plane": mn.plane.numbers(mn.plane_correlation)}


@figure("mnist-line", chapter=6, source=_mnist.run,
        description="Fig. 2: volume element along the line 7 -> 6 through MNIST digits at the start, middle and "
                    "end of training")
def line(mn: _mnist.MnistExperiment) -> Drawn:
    """Fig. 2, the line: the main pair's line at the figure epochs (:func:`paperlib.plot.line_figure`)."""
    main = mn.lines[mn.settings.main_pair]
    fig = _plot.line_figure(main, mn.figure_epochs)
    return Drawn((("", fig),), {**_common(mn), "figure_epochs": list(mn.figure_epochs), "line": main.numbers(),
                                "claims": mn.claims()})


@figure("mnist-relative", chapter=6, source=_mnist.run,
        description="the 7 -> 6 line relative to its anchors, several epochs (all and live pixels)")
def relative(mn: _mnist.MnistExperiment) -> Drawn:
    """The main line relative to its anchors at epochs 0, 2, 10 and the last, on all pixels and, where measured,
    on the live pixels (:func:`paperlib.plot.relative_line_plot`)."""
    main = mn.lines[mn.settings.main_pair]
    lines = {f"{mn.settings.pixels} pixels": main}
    if mn.live_line is not None:
        lines["live pixels"] = mn.live_line
    wanted = list(dict.fromkeys([e for e in (0, 2, 10) if e in main.epochs] + [mn.epochs[-1]]))
    ax = _plot.relative_line_plot(lines, wanted)
    return Drawn((("", ax.figure),), {**_common(mn), "epochs": wanted,
                                      "lines": {label: lg.numbers() for label, lg in lines.items()}})


@figure("mnist-pairs", chapter=6, source=_mnist.run,
        description="volume element along the lines of every digit pair after training")
def pairs(mn: _mnist.MnistExperiment) -> Drawn:
    """Every pair's line, first and last epoch (:func:`paperlib.plot.pairs_figure`)."""
    fig = _plot.pairs_figure(mn.lines)
    return Drawn((("", fig),), {**_common(mn), "lines": {pair: lg.numbers() for pair, lg in mn.lines.items()},
                                "claims": mn.claims()})


@figure("mnist-plane", chapter=6, source=_mnist.run,
        description="Fig. 2: classes, entropy and volume element on the plane through 7, 6 and 1")
def plane(mn: _mnist.MnistExperiment) -> Drawn:
    """Fig. 2, the plane (:func:`paperlib.plot.plane_figure`)."""
    return Drawn((("", _plot.plane_figure(mn.plane)),), _plane_numbers(mn))


@figure("mnist-ternary", chapter=6, source=_mnist.run,
        description="the same plane in ternary coordinates (the anchors' triangle)")
def ternary(mn: _mnist.MnistExperiment) -> Drawn:
    """The plane in ternary coordinates (:func:`paperlib.plot.ternary_figure`)."""
    return Drawn((("", _plot.ternary_figure(mn.plane)),), _plane_numbers(mn))


@figure("mnist-spectra", chapter=6, source=_mnist.run,
        description="singular values of the Jacobian at the three plane anchors")
def spectra(mn: _mnist.MnistExperiment) -> Drawn:
    """The singular values of :math:`J` at the plane's anchors at the figure epochs, one panel per anchor
    (:func:`paperlib.plot.spectrum_plot`)."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), layout="constrained")
    for ax, digit in zip(axes, mn.plane.digits):
        _plot.spectrum_plot(mn.spectra[digit], list(mn.spectra_epochs), ax=ax, title=f"anchor {digit}")
    numbers = {**_common(mn), "epochs": list(mn.spectra_epochs),
               "singular_values": {d: mn.spectra[d] for d in mn.plane.digits},
               "layout": "singular_values[digit][epoch index][i], descending"}
    return Drawn((("", fig),), numbers)


@figure("mnist-authors-init", chapter=6, source=_mnist.authors_init,
        description="the 7 -> 6 line from the authors' N(0, 1) initialisation")
def authors_init(authors: _mnist.MnistExperiment) -> Drawn:
    """The main line of the network from the authors' initialisation
    (:func:`paperlib.chapters.mnist.authors_init`), first and last epoch."""
    main = authors.lines[authors.settings.main_pair]
    fig = _plot.line_figure(main, [authors.epochs[0], authors.epochs[-1]])
    return Drawn((("", fig),), {**_common(authors), "line": main.numbers(), "claims": authors.claims()})


@figure("mnist-relu", chapter=6, source=_mnist.relu,
        description="the 7 -> 6 line of a ReLU network (top-100 pseudo-determinant)")
def relu(rl: _mnist.MnistExperiment) -> Drawn:
    """The line 7 -> 6 of the ReLU network (:func:`paperlib.chapters.mnist.relu`), first and last epoch."""
    line_76 = rl.lines[(7, 6)]
    fig = _plot.line_figure(line_76, [line_76.epochs[0], line_76.epochs[-1]])
    return Drawn((("", fig),), {**_common(rl), "lines": {pair: lg.numbers() for pair, lg in rl.lines.items()},
                                "claims": rl.claims()})
