r"""Figures of chapter 10 (what the geometric invariance hypothesis predicts during training, arXiv:2410.12025),
each taking the experiment of :mod:`paperlib.chapters.hypothesis` and registered by name
(:mod:`paperlib.chapters.registry`):

- ``hypothesis-alignment`` (:func:`alignment`): alignment of :math:`G_t` with :math:`S`, :math:`G_0SG_0` and the
  rotated control during training, per architecture;
- ``hypothesis-change`` (:func:`change`): alignment of the change :math:`G_t - G_0` at the last epoch with the same
  three matrices, true and random labels;
- ``hypothesis-velocity`` (:func:`velocity`): :math:`1 - \rho(G_{t+1}, G_t)` per epoch;
- ``hypothesis-memorise`` (:func:`memorise`): training accuracy on random labels, Gaussian data along each
  architecture's :math:`G_0` and with its spectrum reversed, the architecture and the MLP;
- ``hypothesis-directions`` (:func:`directions`): eigenvectors of :math:`G S G` used by the sweep, as images;
- ``hypothesis-sweep`` (:func:`sweep`): test accuracy against the eigen-index of the label's direction;
- ``hypothesis-shortcut`` (:func:`shortcut`): reliance on a linear shortcut against the eigen-index of its
  direction, LeNet and the MLP;
- ``hypothesis-project`` (:func:`project`): test accuracy against the number of directions removed;
- ``hypothesis-prune`` (:func:`prune`): test accuracy against the fraction of training images kept.
"""

from __future__ import annotations

import functools

import matplotlib.pyplot as plt
import numpy as np

from .. import gih as _gih
from . import hypothesis as _hypothesis
from .core import mean_sd
from .registry import PRESETS, Drawn
from .registry import figure as _figure

__all__ = ["alignment", "change", "velocity", "memorise", "directions", "sweep", "shortcut", "project", "prune"]

#: this chapter's experiment has every preset, ``"hours"`` included
figure = functools.partial(_figure, presets=PRESETS)

NAMES = {"mlp": "MLP", "lenet": "LeNet", "resnet": "ResNet", "vit": "ViT"}
COLORS = {"mlp": "tab:blue", "lenet": "tab:green", "resnet": "tab:red", "vit": "tab:purple"}
TARGETS = {"GSG": ("$G_0 S G_0$", "tab:red"), "S": ("$S$", "tab:blue"), "rot": ("$G_0 R G_0$ (rotated)", "0.5")}
MODES = {"top": "tab:red", "random": "0.4", "bottom": "tab:blue", "geometry": "tab:red", "reverse": "tab:blue"}


def _curve(rows, key, epochs):
    """Mean and sd over groups of ``key`` per epoch."""
    stats = [mean_sd(r[key] for r in rows if r["epoch"] == t) for t in epochs]
    return np.array([m for m, _ in stats]), np.array([sd for _, sd in stats])


@figure("hypothesis-alignment", chapter=10, source=_hypothesis.run,
        description="alignment of the average geometry G_t during training with S, G0 S G0 and a rotated control")
def alignment(ex: _hypothesis.HypothesisExperiment) -> Drawn:
    r""":math:`\rho(\hat G_t, X)` against the epoch for :math:`X = S, G_0SG_0, G_0RG_0`, one panel per architecture
    (true labels solid, random labels dashed; mean ± sd over groups of runs)."""
    s = ex.settings
    epochs = list(range(s.epochs + 1))
    fig, axes = plt.subplots(1, len(s.architectures), figsize=(3.2 * len(s.architectures), 3.2), squeeze=False,
                             sharey=True, layout="constrained")
    numbers = {"settings": s, "epochs": epochs, "curves": {}}
    for ax, arch in zip(axes[0], s.architectures):
        for labels, style in (("true", "-"), ("random", "--")):
            rows = ex.rows("training", architecture=arch, labels=labels)
            for key, (name, color) in TARGETS.items():
                m, sd = _curve(rows, f"rho_{key}", epochs)
                ax.errorbar(epochs, m, sd, color=color, ls=style, marker="o", ms=3, capsize=2,
                            label=f"{name}, {labels} labels")
                numbers["curves"][f"{arch}/{labels}/{key}"] = {"mean": m, "sd": sd}
        ax.set(title=NAMES[arch], xlabel="epoch")
    axes[0, 0].set_ylabel(r"$\rho(\hat G_t, X)$")
    axes[0, -1].legend(frameon=False, fontsize=7)
    return Drawn((("", fig),), numbers)


@figure("hypothesis-change", chapter=10, source=_hypothesis.run,
        description="alignment of the change G_t - G_0 with G0 S G0, S and a rotated control, per architecture")
def change(ex: _hypothesis.HypothesisExperiment) -> Drawn:
    r""":math:`|\rho(\hat G_T - \hat G_0, X)|` at the last epoch :math:`T`, bars per architecture and target, true
    labels (left) and random labels (right); mean ± sd over groups of runs."""
    s = ex.settings
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), sharey=True, layout="constrained")
    numbers = {"settings": s, "epoch": s.epochs, "bars": {}}
    width = 0.8 / len(TARGETS)
    for ax, labels in zip(axes, ("true", "random")):
        for j, (key, (name, color)) in enumerate(TARGETS.items()):
            stats = [mean_sd(abs(r[f"d_{key}"]) for r in ex.rows("training", architecture=a, labels=labels,
                                                                 epoch=s.epochs)) for a in s.architectures]
            m = np.array([u for u, _ in stats])
            sd = np.array([v for _, v in stats])
            ax.bar(np.arange(len(s.architectures)) + (j - 1) * width, m, width, yerr=sd, color=color, capsize=2,
                   label=name)
            numbers["bars"][f"{labels}/{key}"] = {"mean": m, "sd": sd}
        ax.set_xticks(range(len(s.architectures)), [NAMES[a] for a in s.architectures])
        ax.set(title=f"{labels} labels, epoch {s.epochs}")
    axes[0].set_ylabel(r"$|\rho(\hat G_T - \hat G_0, X)|$")
    axes[0].legend(frameon=False, fontsize=8)
    numbers["architectures"] = list(s.architectures)
    return Drawn((("", fig),), numbers)


@figure("hypothesis-velocity", chapter=10, source=_hypothesis.run,
        description="velocity 1 - rho(G_{t+1}, G_t) of the average geometry during training")
def velocity(ex: _hypothesis.HypothesisExperiment) -> Drawn:
    r""":math:`1 - \rho(\hat G_t, \hat G_{t-1})` against the epoch per architecture (log scale; true labels solid,
    random dashed; mean ± sd over groups)."""
    s = ex.settings
    epochs = list(range(1, s.epochs + 1))
    fig, ax = plt.subplots(figsize=(5.5, 3.4), layout="constrained")
    numbers = {"settings": s, "epochs": epochs, "velocity": {}}
    for arch in s.architectures:
        for labels, style in (("true", "-"), ("random", "--")):
            m, sd = _curve(ex.rows("training", architecture=arch, labels=labels), "velocity", epochs)
            ax.errorbar(epochs, m, sd, color=COLORS[arch], ls=style, marker="o", ms=3, capsize=2,
                        label=f"{NAMES[arch]}, {labels}")
            numbers["velocity"][f"{arch}/{labels}"] = {"mean": m, "sd": sd}
    ax.set(yscale="log", xlabel="epoch $t$", ylabel=r"$1 - \rho(\hat G_t, \hat G_{t-1})$",
           title="velocity of the average geometry")
    ax.legend(frameon=False, fontsize=7, ncol=2)
    return Drawn((("", fig),), numbers)


@figure("hypothesis-memorise", chapter=10, source=_hypothesis.run,
        description="memorising random labels on Gaussian data along each architecture's G0 and with its spectrum "
                    "reversed")
def memorise(ex: _hypothesis.HypothesisExperiment) -> Drawn:
    r"""Training accuracy against the epoch on random labels, one panel per low-rank architecture: the
    architecture (colour) and the MLP (grey) on inputs :math:`N(0, c\,G_0)` (solid) and with the eigenvalue order
    reversed (dashed); mean ± sd over seeds."""
    s = ex.settings
    archs = list(s.memorise_architectures)
    epochs = list(range(s.memorise_epochs + 1))
    fig, axes = plt.subplots(1, len(archs), figsize=(3.3 * len(archs), 3.2), squeeze=False, sharey=True,
                             layout="constrained")
    numbers = {"settings": s, "epochs": epochs, "curves": {}, "gaps": {}}
    for ax, geometry in zip(axes[0], archs):
        for arch, color in ((geometry, COLORS[geometry]), ("mlp", "0.55")):
            for mode, style in (("along", "-"), ("reversed", "--")):
                curves = np.array([r["curve"] for r in ex.rows("memorise", architecture=arch, geometry=geometry,
                                                               mode=mode)])
                m, sd = curves.mean(0), curves.std(0, ddof=1) if len(curves) > 1 else np.zeros(len(epochs))
                ax.errorbar(epochs, m, sd, color=color, ls=style, marker="o", ms=2.5, capsize=2,
                            label=f"{NAMES[arch]}, {'along $G_0$' if mode == 'along' else 'reversed'}")
                numbers["curves"][f"{geometry}/{arch}/{mode}"] = {"mean": m, "sd": sd}
            numbers["gaps"][f"{geometry}/{arch}"] = ex.memorise_gap(arch, geometry)
        ax.set(title=f"data shaped by {NAMES[geometry]}'s $G_0$", xlabel="epoch")
        ax.axhline(0.5, color="0.8", lw=0.8)
        ax.legend(frameon=False, fontsize=7)
    axes[0, 0].set_ylabel("training accuracy (random labels)")
    return Drawn((("", fig),), numbers)


@figure("hypothesis-directions", chapter=10, source=_hypothesis.run,
        description="eigenvectors of G S G (LeNet's G, two-class images) used by the eigen-index sweep")
def directions(ex: _hypothesis.HypothesisExperiment) -> Drawn:
    r"""The eigenvectors :math:`u_k` of :math:`G S G` at the sweep's indices as 32 x 32 images (one channel: a
    symmetric colour scale; three channels: RGB, each image scaled to [0, 1]), with :math:`\lambda_k /
    \lambda_0` in the titles."""
    s = ex.settings
    values, U = ex.directions
    idx = list(s.sweep_indices)
    imgs = _gih.eigen_images(U[:, idx], s.shape)  # (K, C, 32, 32)
    fig, axes = plt.subplots(1, len(idx), figsize=(1.6 * len(idx), 2.0), squeeze=False, layout="constrained")
    for ax, k, img in zip(axes[0], idx, imgs):
        if img.shape[0] == 1:
            lim = float(img.abs().max())
            ax.imshow(img[0].numpy(), cmap="RdBu_r", vmin=-lim, vmax=lim)
        else:
            ax.imshow(((img - img.min()) / (img.max() - img.min())).permute(1, 2, 0).numpy())
        ratio = float(values[k] / values[0])
        ax.set_title(f"$u_{{{k}}}$ ({ratio:.0e})" if ratio < 0.01 else f"$u_{{{k}}}$ ({ratio:.2f})", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    return Drawn((("", fig),), {"settings": s, "indices": idx, "eigenvalue_ratios": values[idx] / values[0],
                                "eigenvectors": imgs})


def _accuracy_lines(ax, rows, key, groups, colors, labels=None):
    out = {}
    for name, match in groups.items():
        xs = sorted({r[key] for r in rows if all(r[k] == v for k, v in match.items())})
        stats = [mean_sd(r["accuracy"] for r in rows if r[key] == x and all(r[k] == v for k, v in match.items()))
                 for x in xs]
        m, sd = np.array([u for u, _ in stats]), np.array([v for _, v in stats])
        ax.errorbar(xs, m, sd, marker="o", ms=3, capsize=2, color=colors[name], label=(labels or {}).get(name, name))
        out[name] = {key: xs, "mean": m, "sd": sd}
    return out


@figure("hypothesis-sweep", chapter=10, source=_hypothesis.run,
        description="test accuracy against the eigen-index of the direction the label depends on (real images)")
def sweep(ex: _hypothesis.HypothesisExperiment) -> Drawn:
    """Test accuracy against the eigen-index ``k`` of :math:`u_k`, one panel per label form, LeNet and the MLP
    (mean ± sd over seeds)."""
    s = ex.settings
    fig, axes = plt.subplots(1, len(s.sweep_forms), figsize=(3.3 * len(s.sweep_forms), 3.2), squeeze=False,
                             sharey=True, layout="constrained")
    numbers = {"settings": s, "sweep": ex.sweep, "curves": {}}
    for ax, form in zip(axes[0], s.sweep_forms):
        rows = ex.rows("sweep", form=form)
        curves = _accuracy_lines(ax, rows, "index", {a: {"architecture": a} for a in s.sweep_architectures},
                                 COLORS, NAMES)
        numbers["curves"][form] = curves
        ax.set(xscale="symlog", xlabel="eigen-index $k$ of $G S G$", title=f"{form} label")
        ax.axhline(0.5, color="0.7", lw=0.8)
    axes[0, 0].set_ylabel("test accuracy")
    axes[0, 0].legend(frameon=False)
    return Drawn((("", fig),), numbers)


@figure("hypothesis-shortcut", chapter=10, source=_hypothesis.run,
        description="reliance on a linear shortcut against the eigen-index of its direction in G (circles + shortcut)")
def shortcut(ex: _hypothesis.HypothesisExperiment) -> Drawn:
    """Left: the reliance on the shortcut (test accuracy minus the accuracy with the linear feature flipped)
    against the eigen-index ``k`` of its direction in LeNet's :math:`G`, LeNet and the MLP; right: the two
    accuracies themselves (solid: feature agrees with the circles, dashed: flipped). Mean ± sd over seeds."""
    s = ex.settings
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.2), layout="constrained")
    numbers = {"settings": s, "shortcut": ex.shortcut, "curves": {}}
    for arch in s.sweep_architectures:
        rows = ex.rows("shortcut", architecture=arch)
        for ax, key, style in ((axes[0], "reliance", "-"), (axes[1], "accuracy", "-"), (axes[1], "flipped", "--")):
            stats = [mean_sd(r[key] for r in rows if r["index"] == k) for k in s.shortcut_indices]
            m, sd = np.array([u for u, _ in stats]), np.array([v for _, v in stats])
            ax.errorbar(list(s.shortcut_indices), m, sd, color=COLORS[arch], ls=style, marker="o", ms=3, capsize=2,
                        label=NAMES[arch] if key != "flipped" else f"{NAMES[arch]}, flipped")
            numbers["curves"][f"{arch}/{key}"] = {"index": list(s.shortcut_indices), "mean": m, "sd": sd}
    axes[0].axhline(0.0, color="0.7", lw=0.8)
    axes[1].axhline(0.5, color="0.7", lw=0.8)
    axes[0].set(xscale="log", xlabel="eigen-index $k$ of the shortcut's direction in $G$",
                ylabel="reliance: accuracy - flipped accuracy", title="reliance on the linear shortcut")
    axes[1].set(xscale="log", xlabel="eigen-index $k$", ylabel="test accuracy", title="with / against the shortcut")
    for ax in axes:
        ax.set_xticks(list(s.shortcut_indices), [str(k) for k in s.shortcut_indices])
        ax.minorticks_off()
        ax.legend(frameon=False, fontsize=8)
    return Drawn((("", fig),), numbers)


@figure("hypothesis-project", chapter=10, source=_hypothesis.run,
        description="test accuracy with the top / random / bottom eigenvectors of G S G projected out")
def project(ex: _hypothesis.HypothesisExperiment) -> Drawn:
    """Test accuracy against the number of directions removed (top, random, bottom eigenvectors of :math:`G S G`),
    one panel per architecture; the dotted line is nothing removed (mean ± sd over seeds)."""
    s = ex.settings
    archs = list(s.sweep_architectures)
    fig, axes = plt.subplots(1, len(archs), figsize=(3.6 * len(archs), 3.2), squeeze=False, sharey=True,
                             layout="constrained")
    numbers = {"settings": s, "project": ex.project, "curves": {}}
    for ax, arch in zip(axes[0], archs):
        rows = ex.rows("project", architecture=arch)
        numbers["curves"][arch] = _accuracy_lines(ax, rows, "count", {m: {"mode": m} for m in ("top", "random", "bottom")},
                                                  MODES)
        base, _ = ex.accuracy("project", architecture=arch, mode="none")
        ax.axhline(base, color="k", ls=":", lw=1, label="nothing removed")
        ax.set(xscale="log", xlabel="directions removed $m$", title=NAMES[arch])
        ax.set_xticks(list(s.project_counts), [str(m) for m in s.project_counts])
        ax.minorticks_off()
    axes[0, 0].set_ylabel("test accuracy")
    axes[0, 0].legend(frameon=False, fontsize=8)
    return Drawn((("", fig),), numbers)


@figure("hypothesis-prune", chapter=10, source=_hypothesis.run,
        description="test accuracy against the fraction of training images kept, pruned by geometry / random / reverse")
def prune(ex: _hypothesis.HypothesisExperiment) -> Drawn:
    r"""LeNet's test accuracy against the fraction of training images kept, by the geometry score
    :math:`s(x) = \hat x^\top G \hat x` (highest kept), at random, and by the reverse (lowest kept); mean ± sd over
    seeds. The numbers also hold the quartiles of the training images' scores."""
    s = ex.settings
    fig, ax = plt.subplots(figsize=(5.2, 3.4), layout="constrained")
    numbers = {"settings": s, "prune": ex.prune,
               "curves": _accuracy_lines(ax, ex.prune, "fraction", {m: {"mode": m} for m in _gih.PRUNE_MODES}, MODES)}
    ax.set(xscale="log", xlabel="fraction of training images kept", ylabel="test accuracy",
           title=f"LeNet, {'digits' if s.data == 'mnist' else 'CIFAR-10 classes'} {s.task_digits[0]} vs "
                 f"{s.task_digits[1]}")
    ax.set_xticks(list(s.prune_fractions), [f"{f:g}" for f in s.prune_fractions])
    ax.minorticks_off()
    ax.legend(frameon=False)
    if ex.scores is not None:
        numbers["score_quartiles"] = np.quantile(np.asarray(ex.scores, dtype=float), (0.25, 0.5, 0.75),
                                                 method="lower").tolist()
    return Drawn((("", fig),), numbers)

