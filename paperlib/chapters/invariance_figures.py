r"""Figures of chapter 9 (the geometric invariance hypothesis, arXiv:2410.12025), each taking the experiment of
:mod:`paperlib.chapters.invariance` and registered by name (:mod:`paperlib.chapters.registry`):

===============================  ======================  =========================================================
figure                           function                what
===============================  ======================  =========================================================
``invariance-spectra``           :func:`spectra`         eigenvalues of the average geometry G per architecture
``invariance-eigenvectors``      :func:`eigenvectors`    eigenvectors of G as images and their power spectra
``invariance-alignment``         :func:`alignment`       debiased alignments of Delta^0, 95 % intervals
``invariance-circles``           :func:`circles`         decision regions on the aligned and unaligned planes
``invariance-axis-accuracy``     :func:`axis_accuracy`   balanced axis accuracy; against the sensitivity
``invariance-sweep``             :func:`sweep`           test accuracy (mean, SE) against the eigen-index
===============================  ======================  =========================================================

Building blocks (they take :class:`paperlib.gih.AverageGeometry` objects, rows of the experiment, or the
experiment): :func:`spectra_plot`, :func:`eigen_figure`, :func:`alignment_plot`, :func:`circles_figure`,
:func:`axis_accuracy_plot`, :func:`mechanism_plot`, :func:`sweep_plot`.
"""

from __future__ import annotations

import functools
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from .. import gih as _gih
from ..plot._util import get_axes, get_field
from . import invariance as _invariance
from .registry import PRESETS, Drawn
from .registry import figure as _figure

__all__ = ["spectra", "eigenvectors", "alignment", "circles", "axis_accuracy", "sweep", "spectra_plot", "eigen_figure",
           "alignment_plot", "circles_figure", "axis_accuracy_plot", "mechanism_plot", "sweep_plot", "EIGEN_INDICES"]

#: this chapter's experiment has every preset, ``"hours"`` included
figure = functools.partial(_figure, presets=PRESETS)

#: Display names and colours of the architectures.
NAMES = {"linear": "linear", "mlp": "MLP", "lenet": "LeNet", "resnet": "ResNet"}
COLORS = {"linear": "0.5", "mlp": "tab:blue", "lenet": "tab:green", "resnet": "tab:red"}
PLANE_STYLE = {"aligned": "-", "unaligned": "--"}


def spectra_plot(geometries: Mapping[str, object], *, ax: Axes | None = None) -> Axes:
    r"""Eigenvalues :math:`\lambda_i / \lambda_0` of each architecture's :math:`\hat G` against the index ``i``
    (log scale; values below :math:`10^{-12}` are clipped), with the participation ratio in the legend."""
    ax = get_axes(ax)
    for arch, g in geometries.items():
        lam = get_field(g, "eigen")[0].double().numpy()
        ax.semilogy(np.clip(lam / lam[0], 1e-12, None), color=COLORS.get(arch), lw=1.5,
                    label=f"{NAMES.get(arch, arch)} (PR {_gih.participation_ratio(get_field(g, 'G')):.0f})")
    ax.set(xlabel="eigen-index $i$", ylabel=r"$\lambda_i / \lambda_0$", title="spectrum of the average geometry $G$")
    ax.legend(frameon=False)
    return ax


def eigen_figure(geometries: Mapping[str, object], indices: Sequence[int] = (0, 1, 2, 5, 20, 100, 1023)) -> Figure:
    r"""For each architecture (a pair of rows): the eigenvectors ``indices`` of :math:`\hat G` as 32 x 32 images
    (symmetric colour scale), and their centred power spectra :math:`|\mathcal F u|^2` (log scale)."""
    archs = list(geometries)
    fig, axes = plt.subplots(2 * len(archs), len(indices), figsize=(1.35 * len(indices), 2.8 * len(archs)),
                             squeeze=False, layout="constrained")
    for r, arch in enumerate(archs):
        g = geometries[arch]
        vectors = get_field(g, "eigen")[1]
        imgs = _gih.eigen_images(vectors[:, list(indices)], get_field(g, "in_shape"))[:, 0]
        spec = _gih.power_spectrum(imgs)
        for c, i in enumerate(indices):
            a, b = axes[2 * r, c], axes[2 * r + 1, c]
            lim = float(imgs[c].abs().max())
            a.imshow(imgs[c].numpy(), cmap="RdBu_r", vmin=-lim, vmax=lim)
            b.imshow(np.log10(spec[c].numpy() + 1e-12 * float(spec[c].max())), cmap="magma")
            a.set_title(f"$u_{{{i}}}$", fontsize=9)
            for ax in (a, b):
                ax.set_xticks([])
                ax.set_yticks([])
        axes[2 * r, 0].set_ylabel(NAMES.get(arch, arch))
        axes[2 * r + 1, 0].set_ylabel(r"$|\mathcal{F}u|^2$")
    return fig


def alignment_plot(rows: Sequence[Mapping], view: str = "beyond", *, ax: Axes | None = None) -> Axes:
    r"""Bars of the debiased :math:`-\tilde\rho(\Delta^0, M)` for :math:`M = G S G`, :math:`S` and :math:`G R G`
    (random :math:`R` with :math:`S`'s spectrum), one group per architecture, with their 95 % jackknife intervals
    (rows of the ``alignments`` of a :class:`paperlib.chapters.invariance.GIHExperiment` of one ``view``:
    ``"full"`` or ``"beyond"`` the top eigenvector of :math:`S`)."""
    ax = get_axes(ax)
    rows = [r for r in rows if r["view"] == view]
    keys = [("GSG", "$GSG$", "tab:red"), ("S", "$S$", "tab:orange"), ("random", "$GRG$ (control)", "0.6")]
    x = np.arange(len(rows))
    for k, (key, label, color) in enumerate(keys):
        v = np.array([-r[key].value for r in rows])  # the interval of -rho is [-high, -low]
        err = np.nan_to_num(np.array([[v[i] + r[key].high, -r[key].low - v[i]] for i, r in enumerate(rows)]).T,
                            nan=0.0).clip(0)
        ax.bar(x + (k - 1) * 0.27, np.nan_to_num(v), 0.27, yerr=err, capsize=2, label=label, color=color)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(x, [NAMES.get(r["architecture"], r["architecture"]) for r in rows])
    title = "beyond the top direction of $S$" if view == "beyond" else "full matrices"
    ax.set(ylabel=r"$-\tilde\rho(\Delta^0, M)$ (debiased)", title=title)
    ax.legend(frameon=False, fontsize=8)
    return ax


def circles_figure(experiment: object, *, points: int = 400) -> Figure:
    """Decision regions on the aligned and the unaligned plane (columns) of each trained architecture (rows), first
    seed, with ``points`` training points; axes are the in-plane coordinates along the two eigenvectors."""
    boundaries = get_field(experiment, "boundaries")
    data = get_field(experiment, "circle_data")
    s = get_field(experiment, "settings")
    archs = list(dict.fromkeys(a for a, _ in boundaries))
    planes = ["aligned", "unaligned"]
    fig, axes = plt.subplots(len(archs), 2, figsize=(6.4, 3.1 * len(archs)), squeeze=False, layout="constrained")
    cmap = ListedColormap(["#c6dbef", "#fdd0a2"])
    for r, arch in enumerate(archs):
        for c, plane in enumerate(planes):
            ax = axes[r, c]
            coords, pred = boundaries[arch, plane]
            ext = [float(coords[..., 0].min()), float(coords[..., 0].max()), float(coords[..., 1].min()),
                   float(coords[..., 1].max())]
            ax.imshow(pred.numpy(), origin="lower", extent=ext, cmap=cmap, vmin=0, vmax=1)
            xy, y = data[plane]
            ax.scatter(xy[:points, 0], xy[:points, 1], c=np.where(y[:points].numpy() == 1, "tab:orange", "tab:blue"),
                       s=4)
            i, j = getattr(s, plane)
            ax.set(xlabel=f"$u_{{{i}}}$", ylabel=f"$u_{{{j}}}$", title=f"{NAMES.get(arch, arch)}, {plane} plane")
            ax.set_aspect("equal")
    return fig


def axis_accuracy_plot(experiment: object, *, ax: Axes | None = None) -> Axes:
    """Balanced axis accuracy after every epoch (mean over seeds, thin lines per seed), per architecture (colour) and plane
    (solid: aligned, dashed: unaligned)."""
    ax = get_axes(ax)
    rows = get_field(experiment, "circles")
    for arch in dict.fromkeys(r["architecture"] for r in rows):
        for plane in ("aligned", "unaligned"):
            h = np.array([r["axis_history"] for r in rows if r["architecture"] == arch and r["plane"] == plane])
            ax.plot(h.T, color=COLORS.get(arch), ls=PLANE_STYLE[plane], lw=0.6, alpha=0.5)
            ax.plot(h.mean(0), color=COLORS.get(arch), ls=PLANE_STYLE[plane], lw=2,
                    label=f"{NAMES.get(arch, arch)}, {plane}")
    ax.set(xlabel="epoch", ylabel="balanced axis accuracy", ylim=(0.4, 1.02),
           title="points that only the second direction separates")
    ax.legend(frameon=False, fontsize=7)
    return ax


def mechanism_plot(experiment: object, *, ax: Axes | None = None) -> Axes:
    r"""Per trained network (colour: architecture; marker: plane): the balanced axis accuracy against the
    trained network's sensitivity along the second direction relative to the first,
    :math:`\log_{10} e_2^\top G_t e_2 / e_1^\top G_t e_1` (:func:`paperlib.chapters.invariance.sensitivity_ratio`)."""
    ax = get_axes(ax)
    rows = get_field(experiment, "circles")
    for arch in dict.fromkeys(r["architecture"] for r in rows):
        for plane, marker in (("aligned", "o"), ("unaligned", "^")):
            pts = [(r["sensitivity"], r["axis_accuracy"]) for r in rows if r["architecture"] == arch
                   and r["plane"] == plane]
            ax.scatter([p[0] for p in pts], [p[1] for p in pts], color=COLORS.get(arch), marker=marker, s=30,
                       label=f"{NAMES.get(arch, arch)}, {plane}")
    ax.set(xlabel=r"$\log_{10}\, e_2^\top G_t e_2 / e_1^\top G_t e_1$ (trained)",
           ylabel="balanced axis accuracy", title="invariance along the second direction")
    ax.legend(frameon=False, fontsize=7)
    return ax


def sweep_plot(rows: Sequence[Mapping], *, ax: Axes | None = None) -> Axes:
    r"""Test accuracy (mean over seeds, error bars: standard error) against the eigen-index ``k`` of the
    direction :math:`u_k` carrying the label, per architecture (rows of
    :attr:`paperlib.chapters.invariance.GIHExperiment.sweep`)."""
    ax = get_axes(ax)
    for arch in dict.fromkeys(r["architecture"] for r in rows):
        ks = sorted({r["index"] for r in rows if r["architecture"] == arch})
        acc = [np.array([r["accuracy"] for r in rows if r["architecture"] == arch and r["index"] == k]) for k in ks]
        se = [a.std(ddof=1) / np.sqrt(len(a)) if len(a) > 1 else 0.0 for a in acc]
        ax.errorbar(ks, [a.mean() for a in acc], yerr=se, fmt="o-", capsize=3, color=COLORS.get(arch),
                    label=NAMES.get(arch, arch))
    ax.set_xscale("symlog", linthresh=1)
    ax.set(xlabel="eigen-index $k$ of the ResNet's $G$", ylabel="test accuracy", ylim=(0.45, 1.02),
           title="a label along one eigenvector $u_k$")
    ax.legend(frameon=False)
    return ax


# ------------------------------------------------------------------------------------------------------------------
# the chapter's figures
# ------------------------------------------------------------------------------------------------------------------

#: The eigen-indices whose eigenvectors :func:`eigenvectors` shows (0-based, descending eigenvalues).
EIGEN_INDICES = (0, 1, 5, 6, 50, 200, 1023)


@figure("invariance-spectra", chapter=9, source=_invariance.run,
        description="spectra of the average geometry G of random MLPs, LeNets and ResNets")
def spectra(ex: _invariance.GIHExperiment) -> Drawn:
    """The eigenvalues of each architecture's :math:`G` (:func:`spectra_plot`)."""
    fig, ax = plt.subplots(figsize=(6, 3.6), layout="constrained")
    spectra_plot(ex.geometry, ax=ax)
    numbers = {"settings": ex.settings, "geometry": {
        arch: {"eigenvalues": g.eigen[0], "participation_ratio": g.participation_ratio,
               "participation_interval": g.participation_interval(), "anisotropy": g.anisotropy_interval(),
               "isotropy_ratio": g.isotropy_ratio, "relative_error": g.relative_error, "networks": g.networks,
               "inputs": g.inputs, "route": g.route} for arch, g in ex.geometry.items()},
        "control_anisotropy": ex.control.anisotropy_interval(), "control_truth": ex.settings.control_anisotropy}
    return Drawn((("", fig),), numbers)


@figure("invariance-eigenvectors", chapter=9, source=_invariance.run,
        description="eigenvectors of G as images and their power spectra")
def eigenvectors(ex: _invariance.GIHExperiment) -> Drawn:
    """The eigenvectors :data:`EIGEN_INDICES` of each architecture's :math:`G` as images (:func:`eigen_figure`)."""
    indices = list(EIGEN_INDICES)
    fig = eigen_figure(ex.geometry, indices=EIGEN_INDICES)
    numbers = {"settings": ex.settings, "indices": indices,
               "eigenvalues": {a: g.eigen[0][indices] for a, g in ex.geometry.items()},
               "eigenvectors": {a: g.eigen[1][:, indices].T.reshape(len(indices), *g.in_shape)
                                for a, g in ex.geometry.items()},
               "layout": "eigenvectors[architecture][k] is u_{indices[k]} as an image of the input shape"}
    return Drawn((("", fig),), numbers)


@figure("invariance-alignment", chapter=9, source=_invariance.run,
        description="debiased alignment of Delta^0 with G S G, S and a random control, with 95 % intervals")
def alignment(ex: _invariance.GIHExperiment) -> Drawn:
    r"""The debiased alignments of :math:`\Delta^0` per architecture, full and beyond the top direction of
    :math:`S` (:func:`alignment_plot`)."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), layout="constrained", sharey=True)
    for ax, view in zip(axes, ("full", "beyond")):
        alignment_plot(ex.alignments, view, ax=ax)
    return Drawn((("", fig),), {"settings": ex.settings, "alignments": ex.alignments, "data_mean": ex.data_mean,
                                "plane_curvature": ex.plane_curvature})


@figure("invariance-circles", chapter=9, source=_invariance.run,
        description="decision regions of the networks trained on circles in an aligned and an unaligned plane")
def circles(ex: _invariance.GIHExperiment) -> Drawn:
    """The first seed's decision regions on both planes, per architecture, with 400 training points
    (:func:`circles_figure`)."""
    points = 400
    fig = circles_figure(ex, points=points)
    numbers = {"settings": ex.settings,
               "boundaries": {k: {"coords": c, "predicted": p} for k, (c, p) in ex.boundaries.items()},
               "training_points": {plane: {"coords": c[:points], "labels": y[:points]}
                                   for plane, (c, y) in ex.circle_data.items()},
               "circles": [{k: v for k, v in r.items() if k != "axis_history"} for r in ex.circles],
               "circle_gap_accuracy": {a: ex.circle_gap(a, "accuracy") for a in ex.settings.circle_architectures}}
    return Drawn((("", fig),), numbers)


@figure("invariance-axis-accuracy", chapter=9, source=_invariance.run,
        description="balanced axis accuracy during training, and against the trained networks' sensitivity")
def axis_accuracy(ex: _invariance.GIHExperiment) -> Drawn:
    """The balanced axis accuracy against epoch per architecture and plane (:func:`axis_accuracy_plot`), and
    after training against the sensitivity along the second direction (:func:`mechanism_plot`)."""
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
    axis_accuracy_plot(ex, ax=ax)
    mechanism_plot(ex, ax=bx)
    return Drawn((("", fig),), {"settings": ex.settings, "circles": ex.circles,
                                "circle_gap_axis_accuracy": {a: ex.circle_gap(a)
                                                             for a in ex.settings.circle_architectures}})


@figure("invariance-sweep", chapter=9, source=_invariance.run,
        description="test accuracy against the eigen-index of the direction carrying the label")
def sweep(ex: _invariance.GIHExperiment) -> Drawn:
    """Test accuracy against the eigen-index per architecture (:func:`sweep_plot`)."""
    fig, ax = plt.subplots(figsize=(5.5, 3.4), layout="constrained")
    sweep_plot(ex.sweep, ax=ax)
    return Drawn((("", fig),), {"settings": ex.settings, "sweep": ex.sweep})
