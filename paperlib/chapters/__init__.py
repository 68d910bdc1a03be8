r"""The book's chapters as code: one module per chapter for its experiments and one for its figures.

- chapter 2, ``shallow`` and ``shallow_figures``: shallow networks, the volume element of random networks;
- chapter 3, ``infinite`` and ``infinite_figures``: infinite width, convergence and radial profiles;
- chapter 4, ``curvature`` and ``curvature_figures``: the Ricci scalar, the accuracy of every route, Fig. D.1;
- chapter 5, ``toy`` and ``toy_figures``: Fig. 1 (sinusoid), XOR, a deep MLP;
- chapter 6, ``mnist`` and ``mnist_figures``: Fig. 2, lines, a plane and spectra through MNIST digits;
- chapter 7, ``deep`` and ``deep_figures``: Figs. 3-4, a ResNet, its features and its blocks;
- chapter 8, ``selfsup`` and ``selfsup_figures``: Figs. 5-6, Barlow Twins and SimCLR backbones;
- chapter 9, ``invariance`` and ``invariance_figures``: the geometric invariance hypothesis (arXiv:2410.12025);
- chapter 10, ``hypothesis`` and ``hypothesis_figures``: what the invariance hypothesis predicts during training;
- chapter 11, ``usage``: measuring your own model, a volume-element penalty trained through the geometry.

Each experiment module holds its presets (frozen dataclasses: ``"book"``, ``"paper"``, ``"tiny"``), its entry
function(s) taking ``(preset, options)`` (:class:`~paperlib.chapters.registry.Options`), and the statistics its
claims assert. Each figure module holds the figure functions, registered by name in
:mod:`paperlib.chapters.registry`, which the notebook and ``python -m paperlib reproduce`` both call. :mod:`paperlib.chapters.core` holds what the experiment chapters
share (presets, cached measurements, lines and planes through anchors and their statistics).

The figure modules import matplotlib; the experiment modules do not.
"""

from .registry import Drawn, FigureSpec, Options

__all__ = ["Options", "Drawn", "FigureSpec"]
