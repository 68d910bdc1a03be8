r"""Chapter 8 (Figs. 5-6 of arXiv:2301.11375): ResNet backbones trained without labels by Barlow Twins or SimCLR
(several seeds each); the geometry of their features along lines and on a plane through test images, coloured by a
linear probe, and the claims of the chapter tested against nulls that lack the effect (:func:`run`,
:meth:`SSLExperiment.claims`). Figures: :mod:`paperlib.chapters.selfsup_figures`."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import math
import warnings
from dataclasses import dataclass
from typing import Sequence

import torch

from .. import cache as _cache
from .. import geometry as _geometry
from .. import slices as _slices
from .. import ssl as _ssl
from .. import train as _train
from .. import workers as _workers
from .._checks import check_choice, check_int, check_ints, check_number
from ..models import ResNet
from .core import (LineGeometry, LocationTest, PlaneGeometry, cached, class_entropy, line_statistics,
                   location_test, mean_sd, pearson, random_line_pairs, resolve)
from . import deep as _deep
from .deep import DeepPreset, NetworkJob, NetworkOutcome, run_networks, train_options
from .registry import Options, as_options

__all__ = ["SSLPreset", "PRESETS", "SSLExperiment", "run", "views", "control_lines", "THRESHOLDS", "CLAIMS"]

_METHODS = ("barlow", "simclr")

#: The margins of the chapter's claims, fixed before any measurement (reasons in :data:`CLAIMS` and the chapter):
#: ``probe``: accuracy (a fraction of the test images); ``growth``, ``specific``: decades of the volume element;
#: ``location``: units of the line parameter :math:`t`; ``alpha``: the permutation tests' level; ``entropy``: a
#: difference of correlations.
THRESHOLDS = {"probe": 0.02, "growth": 0.5, "specific": 0.5, "location": 0.05, "alpha": 0.05, "entropy": 0.2}

#: What each claim says, its statistic and its null (:meth:`SSLExperiment.claims`). A claim holds for a method at a
#: ``k`` when it passes at every seed.
CLAIMS = {
    "probe": "self-supervised training learned features that a linear probe reads better than the standardised "
             "raw pixels and better than the random backbone (test accuracy, margin per seed)",
    "growth": "training grows an interior peak of the volume element on lines between classes (prominence over "
              "the larger end, trained minus initial)",
    "specific": "the peak is higher on lines between classes than on lines between two images of one class "
                "(trained prominence, cross-class minus same-class)",
    "location": "the peak sits at the probe's class transition (mean distance below the midpoint and "
                "shuffled-transition nulls, and the peak tracks the transition across lines)",
    "entropy": "the volume element follows the probe's uncertainty along lines between classes beyond both being "
               "larger mid-line (partial correlation given the distance to the nearest anchor, trained minus "
               "initial)",
}


@dataclass(frozen=True)
class SSLPreset(DeepPreset):
    r"""Settings of :func:`run`: those of :class:`~paperlib.chapters.deep.DeepPreset` (data, backbone,
    optimiser, slices; ``activations[0]`` is the backbone's activation, ``seeds`` the seeds of every method;
    ``lines`` and ``same_lines`` the control lines drawn per seed), and

    Attributes:
        methods: ``"barlow"`` and/or ``"simclr"``, one backbone each per seed.
        barlow_head, simclr_head: the projector of each method (:func:`paperlib.ssl.projector`: ``"linear"``, the
            authors' Barlow Twins projector; ``"two_layer"``, SimCLR's head; ``"three_layer"``, Barlow Twins'
            standard head); barlow_dim, simclr_dim: their outputs; head_hidden: hidden width of the multi-layer
            heads (``None``: the feature dimension); head_activation: of the two-layer head.
        lambd, temperature: of the two losses.
        crop_scale: area range of the random resized crops of digits (:func:`paperlib.ssl.digit_views`).
        probe_size: training images the probes are fitted on (``None``: all).
        ks: the ``k`` at which the line statistics are computed, with the preset's own ``k`` (:attr:`rank`) and
            without those above the feature dimension (:attr:`size`); each is the sum of the ``k`` largest log
            singular values, stored once per point.

    The fields ``augment``, ``padding``, ``flip``, ``relu_k``, ``pairs``, ``same_class`` and ``block_classes`` of
    :class:`~paperlib.chapters.deep.DeepPreset` are not used here.
    """

    methods: tuple[str, ...] = _METHODS
    activations: tuple[str, ...] = ("gelu",)
    seeds: tuple[int, ...] = (0, 1, 2)
    lr: float = 0.05
    batch_size: int = 256
    epochs: int = 5
    snapshots: tuple[int, ...] = (0, 2, 5)
    figure_epochs: tuple[int, ...] = (0, 2, 5)
    barlow_head: str = "linear"
    simclr_head: str = "two_layer"
    barlow_dim: int = 64
    simclr_dim: int = 32
    head_hidden: int | None = None
    head_activation: str = "gelu"
    lambd: float = 0.005
    temperature: float = 0.07
    crop_scale: tuple[float, float] = (0.6, 1.0)
    probe_size: int | None = None
    line_steps: int = 12
    plane_steps: int = 10
    lines: int = 30
    same_lines: int = 8
    ks: tuple[int, ...] = (8, 16, 32, 64)
    blocks: tuple[int, ...] = (4,)
    dtype: str = "float64"
    chunk_size: int | None = 8

    def __post_init__(self) -> None:
        super().__post_init__()
        set_ = functools.partial(object.__setattr__, self)
        if isinstance(self.methods, str) or not self.methods:
            raise ValueError(f"methods must be a non-empty sequence of {_METHODS}; got {self.methods!r}")
        set_("methods", tuple(dict.fromkeys(check_choice(m, "methods", _METHODS) for m in self.methods)))
        check_choice(self.barlow_head, "barlow_head", _ssl.HEADS)
        check_choice(self.simclr_head, "simclr_head", _ssl.HEADS)
        check_int(self.barlow_dim, "barlow_dim", min=1)
        check_int(self.simclr_dim, "simclr_dim", min=1)
        check_int(self.head_hidden, "head_hidden", min=1, none_ok=True)
        check_choice(self.head_activation, "head_activation", ("relu", "gelu"))
        check_number(self.lambd, "lambd", min=0)
        check_number(self.temperature, "temperature", min=0, open_min=True)
        lo, hi = (check_number(v, "crop_scale", min=0, max=1, open_min=True) for v in self.crop_scale)
        if lo > hi:
            raise ValueError(f"crop_scale must be (low, high) with low <= high; got {self.crop_scale!r}")
        set_("crop_scale", (lo, hi))
        check_int(self.probe_size, "probe_size", min=10, none_ok=True)
        ks = check_ints(self.ks, "ks", min=1, nonempty=False)
        set_("ks", tuple(sorted({k for k in ks if k <= self.size} | {self.rank})))
        if self.lines < 3:
            raise ValueError(f"lines must be at least 3 (the location test needs three lines); got {self.lines}")

    def head(self, method: str) -> tuple[str, int]:
        """``(kind, output dimension)`` of ``method``'s projector."""
        check_choice(method, "method", _METHODS)
        return (self.barlow_head, self.barlow_dim) if method == "barlow" else (self.simclr_head, self.simclr_dim)

    def model(self, method: str) -> functools.partial:
        """The model factory of a backbone trained by ``method``: :class:`paperlib.ssl.SSLModel` of a
        :class:`paperlib.models.ResNet` and the method's projector (the backbone is built first, so every method
        starts from the same backbone at a given seed)."""
        kind, dim = self.head(method)
        return functools.partial(_build_model, tuple(self.depths), self.width, self.activations[0], self.channels,
                                 kind, dim, self.head_hidden, self.head_activation)

    def loss(self, method: str, views) -> _ssl.TwoViewLoss:
        """The trainer's two-view loss of ``method`` with the augmentation ``views``."""
        return _ssl.TwoViewLoss(method, views, lambd=self.lambd, temperature=self.temperature)

    def networks(self) -> list[tuple[str, int]]:
        """``(method, seed)`` of every backbone; the first seed of each method draws its figures."""
        return [(m, s) for m in self.methods for s in self.seeds]

    def head_text(self, method: str) -> str:
        """The projector of ``method`` in words."""
        kind, dim = self.head(method)
        hidden = self.head_hidden or (8 * self.width if kind == "two_layer" else dim)
        if kind == "linear":
            return f"bias-free linear map to {dim} + batch norm"
        if kind == "two_layer":
            return f"two-layer Linear({hidden})-{self.head_activation.upper()}-Linear({dim})"
        return f"three-layer (Linear({hidden})-BN-ReLU) x 2 + Linear({dim})"


def _build_model(depths, width, activation, channels, kind, dim, hidden, head_activation) -> _ssl.SSLModel:
    backbone = ResNet(depths, width, activation, in_channels=channels)
    return _ssl.SSLModel(backbone, _ssl.projector(kind, backbone.feature_dim, dim, hidden,
                                                  activation=head_activation))


#: The presets. ``"paper"`` has the authors' settings (ResNet-34 GELU, 1000 epochs, batch 1024, lr 0.01; Barlow
#: Twins with lambda 0.005 and the authors' linear projector to 128; SimCLR with temperature 0.07 and the authors'
#: head Linear(512, 512)-GELU-Linear(512, 10)) at three seeds, for a GPU; ``"book"`` runs on an idle 2-core CPU in
#: six to seven minutes; ``"hours"``: the book's data and backbones with five seeds, 30 epochs and twice the lines
#: (about an hour on a 2-core CPU), for the claims the book scale leaves open; ``"tiny"``: seconds, a smoke test
#: (its numbers mean nothing).
PRESETS: dict[str, SSLPreset] = {
    "paper": SSLPreset(data="cifar10", depths=(3, 4, 6, 3), width=64, activations=("gelu",), seeds=(0, 1, 2),
                       optimizer="sgd", lr=0.01, momentum=0.9, weight_decay=1e-4, batch_size=1024, epochs=1000,
                       snapshots=(0, 100, 500, 1000), figure_epochs=(0, 100, 500, 1000), line_steps=64,
                       plane_steps=80, line_classes=(1, 5), plane_classes=(7, 6, 1), block_classes=(1, 6),
                       pairs=((1, 5), (1, 6), (7, 6), (3, 5), (0, 8), (7, 1)), same_class=(7, 6, 1, 5),
                       lines=60, same_lines=20, ks=(8, 32, 128, 512), blocks=(4,), block_size=512, dtype="float64",
                       chunk_size=None, barlow_head="linear", barlow_dim=128, simclr_head="two_layer",
                       simclr_dim=10, head_hidden=512, head_activation="gelu"),
    "book": SSLPreset(),
    "hours": SSLPreset(seeds=(0, 1, 2, 3, 4), epochs=30, snapshots=(0, 10, 30), figure_epochs=(0, 10, 30),
                       lines=60, same_lines=16),
    "tiny": SSLPreset(train_size=256, seeds=(0,), epochs=1, snapshots=(0, 1), figure_epochs=(0, 1), line_steps=6,
                      plane_steps=6, lines=4, same_lines=2, pairs=((1, 5),), same_class=(7,), probe_size=256),
}


def control_lines(s: SSLPreset, y_test: torch.Tensor, seed: int) -> list[tuple[str, tuple[int, int],
                                                                              tuple[int, int]]]:
    """The control lines of the backbones with ``seed`` (both methods: the same lines): ``s.lines`` between test
    images of two random different classes and ``s.same_lines`` between two images of one class
    (:func:`~paperlib.chapters.core.random_line_pairs`, seeds ``draw_seed + seed`` and ``draw_seed + seed +
    10000``), so that every seed is measured on other lines."""
    base = s.draw_seed + check_int(seed, "seed")
    same = random_line_pairs(y_test, s.same_lines, base + 10000, same_class=True) if s.same_lines else []
    return random_line_pairs(y_test, s.lines, base) + same


@dataclass
class SSLExperiment:
    """Result of :func:`run`.

    Attributes:
        preset, settings: as in :class:`~paperlib.chapters.deep.DeepExperiment`.
        training: ``{"<method> seed <s>": TrainResult}``.
        x_test, y_test, anchors: the test images (normalised), labels, and the anchors of the slices.
        probes: ``{network: {epoch: LinearProbe}}`` at the first, figure and last epochs.
        pixel_probe: the same probe on the standardised raw pixels (same split): the control of the features.
        lines: ``{method: LineGeometry}`` (``line_classes``, figure epochs, the first seed), classes and entropy
            from each epoch's probe.
        planes: ``{method: PlaneGeometry}`` (``plane_classes``, figure epochs, the first seed), classes and entropy
            from each epoch's probe.
        spectra: ``{method: {"epochs", "classes", "values"}}``: singular values ``(E, 3, K)`` of the backbone's
            Jacobian at the plane's anchors at the figure epochs (the first seed).
        controls: one row per network, control line and ``k`` (:func:`~paperlib.chapters.core.line_statistics`
            at initialisation against training, transitions and entropy of the final probe), with ``network``,
            ``method``, ``seed``, ``kind``, ``pair``, ``anchors``, ``line`` and ``k``.
    """

    preset: str
    settings: SSLPreset
    training: dict[str, _train.TrainResult]
    x_test: torch.Tensor
    y_test: torch.Tensor
    anchors: dict[int, int]
    probes: dict[str, dict[int, _ssl.LinearProbe]]
    pixel_probe: _ssl.LinearProbe
    lines: dict[str, LineGeometry]
    planes: dict[str, PlaneGeometry]
    spectra: dict[str, dict]
    controls: list[dict] = dataclasses.field(default_factory=list)
    _tests: dict = dataclasses.field(default_factory=dict, repr=False)

    def describe(self) -> str:
        """One line with the settings (machine-independent, for printing)."""
        s = self.settings
        data = "the offline MNIST subset padded to 32 x 32" if s.data == "mnist" else "CIFAR-10"
        return (f"self_supervised ({self.preset} preset): {' and '.join(s.methods)}; ResNet depths {list(s.depths)}, "
                f"width {s.width}, {s.activations[0]}; SGD lr {s.lr:g}, batch {s.batch_size}, {s.epochs} epochs on "
                f"{data}; projectors: Barlow Twins {s.head_text('barlow')} (lambda {s.lambd:g}), SimCLR "
                f"{s.head_text('simclr')} (temperature {s.temperature:g}); seeds {list(s.seeds)}; per seed "
                f"{s.lines} cross-class and {s.same_lines} same-class lines of {s.line_steps} steps; plane "
                f"{s.plane_steps}x{s.plane_steps}; top-k log pseudo-determinants of the {s.size} backbone features "
                f"at k = {list(s.ks)} (main k = {s.rank}) in {s.dtype}")

    def names(self, method: str) -> list[str]:
        """The networks of ``method``, one per seed."""
        check_choice(method, "method", self.settings.methods)
        return [f"{method} seed {seed}" for seed in self.settings.seeds]

    def probe_accuracy(self, network: str, epoch: int | None = None) -> float:
        """Test accuracy of ``network``'s probe at ``epoch`` (default: the last; the first epoch is the random
        backbone, the control)."""
        probes = self.probes[network]
        return probes[max(probes) if epoch is None else epoch].test_accuracy

    def probe_table(self, method: str) -> dict[str, list[float] | float]:
        """Per seed of ``method``: the probe's test accuracy on the trained and on the random backbone, and the
        gains over the random backbone and over the pixel probe (``"pixel"``: its accuracy)."""
        trained = [self.probe_accuracy(n) for n in self.names(method)]
        random = [self.probe_accuracy(n, min(self.probes[n])) for n in self.names(method)]
        pixel = self.pixel_probe.test_accuracy
        return {"trained": trained, "random": random, "pixel": pixel,
                "over_random": [a - b for a, b in zip(trained, random)], "over_pixel": [a - pixel for a in trained]}

    def plane_correlation(self, method: str, epoch: int, entropy_epoch: int | None = None) -> float:
        r"""Pearson correlation over ``method``'s plane between :math:`\log_{10}\sqrt{\det g}` at ``epoch`` and
        :math:`\log_{10}` of the probe's entropy at ``entropy_epoch`` (default: the last epoch, so that the
        initial value is the null of the trained one: the same entropy, the untrained backbone)."""
        if method not in self.planes:
            raise ValueError(f"method must be one of {list(self.planes)}; got {method!r}")
        plane = self.planes[method]
        h = plane.at(plane.epochs[-1] if entropy_epoch is None else entropy_epoch)["entropy"]
        return pearson(plane.at(epoch)["log_volume"].flatten(), torch.log10(h).flatten())

    def control_values(self, kind: str, network: str, key: str, k: int | None = None) -> list[float]:
        """The statistic ``key`` (a field of :func:`~paperlib.chapters.core.line_statistics`) of ``network``'s
        control lines of ``kind`` (``"cross"``/``"same"``) at ``k`` (default: the preset's)."""
        k = self.settings.rank if k is None else k
        rows = [r[key] for r in self.controls if r["kind"] == kind and r["network"] == network and r["k"] == k]
        if not rows:
            raise ValueError(f"no control lines of kind {kind!r} for network {network!r} at k = {k}")
        return rows

    def control_mean(self, kind: str, network: str, key: str, k: int | None = None) -> float:
        """Mean of :meth:`control_values` (NaN values, e.g. lines without a class change, left out)."""
        return mean_sd(self.control_values(kind, network, key, k))[0]

    def seed_values(self, method: str, kind: str, key: str, k: int | None = None) -> list[float]:
        """Per seed of ``method``: :meth:`control_mean`."""
        return [self.control_mean(kind, n, key, k) for n in self.names(method)]

    def location(self, network: str, k: int | None = None, *, initial: bool = False) -> LocationTest:
        """:func:`~paperlib.chapters.core.location_test` of the peaks of ``network``'s cross-class lines at ``k``
        (the trained backbone's, or with ``initial`` the random backbone's) against the transitions of the final
        probe's predicted class along each line (computed once; 500 permutations: p-values down to 0.002)."""
        k = self.settings.rank if k is None else k
        key = (network, k, initial)
        if key not in self._tests:
            peaks = self.control_values("cross", network, "peak_init" if initial else "peak_final", k)
            self._tests[key] = location_test(peaks, self.control_values("cross", network, "transition_lower", k),
                                             self.control_values("cross", network, "transition_upper", k),
                                             permutations=500)
        return self._tests[key]

    def summary(self, network: str, k: int | None = None) -> dict[str, float]:
        """Means over ``network``'s control lines at ``k`` (cross-class; ``same_*``: same-class) and its probe's
        test accuracy at initialisation and after training."""
        keys = ("distance_init", "distance_final", "prominence_init", "prominence_final", "contrast_init",
                "contrast_final", "entropy_corr_init", "entropy_corr_final", "entropy_partial_init",
                "entropy_partial_final")
        out = {key: self.control_mean("cross", network, key, k) for key in keys}
        if self.settings.same_lines:
            out |= {f"same_{key}": self.control_mean("same", network, key, k) for key in keys[2:]}
        first = min(self.probes[network])
        return out | {"probe_init": self.probe_accuracy(network, first), "probe_final": self.probe_accuracy(network)}

    def claim(self, name: str, method: str, k: int | None = None) -> dict:
        """One claim of :data:`CLAIMS` for ``method`` at ``k`` against its null and :data:`THRESHOLDS`:
        ``{"claim", "method", "k", "values" (per seed), "passes" (at every seed), "text"}`` (``text``: the
        numbers, mean ± sd over seeds)."""
        check_choice(name, "name", tuple(CLAIMS))
        k, T = (self.settings.rank if k is None else k), THRESHOLDS
        seeds = functools.partial(self.seed_values, method)

        def ms(v):
            m, sd = mean_sd(v)
            return f"{m:.2f} ± {0.0 if math.isnan(sd) else sd:.2f}"

        if name == "probe":
            p = self.probe_table(method)
            values = [min(a, b) for a, b in zip(p["over_pixel"], p["over_random"])]
            passes = all(v > T["probe"] for v in values)
            text = (f"trained {ms(p['trained'])}, random backbone {ms(p['random'])}, pixels {p['pixel']:.2f}: gain "
                    f"over pixels {ms(p['over_pixel'])}, over the random backbone {ms(p['over_random'])} "
                    f"(margin {T['probe']:g})")
        elif name in ("growth", "specific", "entropy"):
            if name == "growth":
                a, b = seeds("cross", "prominence_final", k), seeds("cross", "prominence_init", k)
                what = f"prominence {ms(b)} -> {ms(a)} decades"
            elif name == "specific":
                a, b = seeds("cross", "prominence_final", k), seeds("same", "prominence_final", k)
                what = f"trained prominence {ms(a)} (cross-class) vs {ms(b)} (same-class) decades"
            else:
                a, b = seeds("cross", "entropy_partial_final", k), seeds("cross", "entropy_partial_init", k)
                same = seeds("same", "entropy_partial_final", k) if self.settings.same_lines else [math.nan]
                raw = seeds("cross", "entropy_corr_final", k)
                what = (f"partial correlation {ms(b)} -> {ms(a)} (same-class lines, trained: {ms(same)}; Pearson, "
                        f"trained: {ms(raw)})")
            values = [x - y for x, y in zip(a, b)]
            passes = all(v > T[name] for v in values)
            text = f"{what}; difference {ms(values)} (margin {T[name]:g})"
        else:
            try:
                tests = [self.location(n, k) for n in self.names(method)]
            except ValueError as err:  # fewer than three lines with a class transition
                return {"claim": name, "method": method, "k": k, "values": [], "passes": False, "text": str(err)}
            init = seeds("cross", "distance_init", k)
            values = [t.distance for t in tests]
            passes = all(t.passes(margin=T["location"], alpha=T["alpha"]) for t in tests)
            text = (f"distance of the peak from the transition {ms(values)} (random backbone "
                    f"{ms(init)}); midpoint null {ms([t.midpoint for t in tests])}, shuffled "
                    f"{ms([t.shuffled for t in tests])}, p {ms([t.p_shuffled for t in tests])}; rank correlation "
                    f"{ms([t.rank_correlation for t in tests])}, p {ms([t.p_rank for t in tests])} (margin "
                    f"{T['location']:g}, level {T['alpha']:g})")
        return {"claim": name, "method": method, "k": k, "values": values, "passes": bool(passes), "text": text}

    def claims(self, k: int | None = None) -> list[dict]:
        """Every claim of :data:`CLAIMS` for every method at ``k`` (default: the preset's) (:meth:`claim`)."""
        return [self.claim(name, m, k) for name in CLAIMS for m in self.settings.methods]

    def verdicts(self) -> list[dict]:
        """Per claim and method: the ``k`` of :attr:`SSLPreset.ks` at which it passes and whether it is
        reproduced (at every ``k``; the probe claim has no ``k``), with the numbers at the preset's ``k``."""
        s, out = self.settings, []
        for name in CLAIMS:
            for m in s.methods:
                ks = (s.rank,) if name == "probe" else s.ks
                passing = [k for k in ks if self.claim(name, m, k)["passes"]]
                out.append({"claim": name, "method": m, "passes_at": passing, "reproduced": passing == list(ks),
                            "text": self.claim(name, m)["text"]})
        return out

    def report(self) -> str:
        """The chapter's summary of the claims, computed: "Reproduced" lists the claims that passed their nulls
        (every seed, every ``k``); the others are listed as not reproduced at this scale, with their numbers."""
        names = {"barlow": "Barlow Twins", "simclr": "SimCLR"}
        v = self.verdicts()
        lines = ["Reproduced at this scale (every seed, every k):"]
        lines += [f"- {names[r['method']]}: {CLAIMS[r['claim']]}" for r in v if r["reproduced"]] or ["- none"]
        lines.append("Not reproduced at this scale:")
        for r in v:
            if not r["reproduced"]:
                at = f"passes only at k = {r['passes_at']}" if r["passes_at"] else "passes at no k"
                k = "" if r["claim"] == "probe" else f" ({at}; numbers at k = {self.settings.rank})"
                lines.append(f"- {names[r['method']]}: {CLAIMS[r['claim']]}{k}: {r['text']}")
        return "\n".join(lines)


def _representation(model: _ssl.SSLModel, X: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Backbone features ``(B, D)`` in float64, eval mode, in batches of 500."""
    m = model.to(device, torch.float64).eval()
    with torch.no_grad():
        return torch.cat([m.representation(xc.to(device, torch.float64)) for xc in X.split(500)]).cpu()


def _probe_split(d: dict, s: SSLPreset) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = d["x"], d["y"]
    return (x, y) if s.probe_size is None else (x[: s.probe_size], y[: s.probe_size])


def _probe(model: _ssl.SSLModel, d: dict, s: SSLPreset, device: torch.device) -> _ssl.LinearProbe:
    x, y = _probe_split(d, s)
    return _ssl.linear_probe(_representation(model, x, device), y, _representation(model, d["x_test"], device),
                             d["y_test"])


def _pixel_probe(d: dict, s: SSLPreset) -> dict:
    """The probe of :func:`paperlib.ssl.linear_probe` on the raw (flattened) images, standardised per pixel with the
    training statistics, on the same split as the backbones' probes."""
    x, y = _probe_split(d, s)
    return dataclasses.asdict(_ssl.linear_probe(x.flatten(1).double(), y, d["x_test"].flatten(1).double(),
                                                d["y_test"]))


def _cached_pixel_probe(s: SSLPreset, options: Options, d: dict) -> _ssl.LinearProbe:
    """:func:`_pixel_probe` on the data ``d`` of :func:`~paperlib.chapters.deep.deep_data`, cached (run in a
    thread of :func:`run` while the workers train)."""
    desc = {"what": "pixel probe", "data": _cache.fingerprint(d["x"], d["x_test"]), "probe_size": s.probe_size,
            "train_size": s.train_size, "code": _cache.code_digest(_pixel_probe, _probe_split, _ssl.linear_probe)}
    payload = cached(options.store(), desc, lambda: _pixel_probe(d, s))
    return _ssl.LinearProbe(**{k: v for k, v in payload.items() if k != "key"})


def _log_singular_values(model: _ssl.SSLModel, points: torch.Tensor, s: SSLPreset,
                         device: torch.device) -> torch.Tensor:
    r"""``(B, K)`` float64 :math:`\log_{10}` of the singular values (descending) of the Jacobian of the backbone's
    pooled features at ``points``: the top-``k`` log volume element is the sum of the first ``k``."""
    sv = _geometry.spectrum(model.backbone.feature_map(4, s.size), points, dtype=getattr(torch, s.dtype),
                            device=device, chunk_size=s.chunk_size)
    return sv.cpu().double().log10()


def _line_points(lines: list, x_test: torch.Tensor, steps: int) -> torch.Tensor:
    """The ``steps`` points of every line and its end ``x2``: ``(L * (steps + 1), C, H, W)``."""
    out = []
    for _, _, (i, j) in lines:
        ln = _slices.line(x_test[i].double(), x_test[j].double(), steps)
        out.append(torch.cat([ln.points, ln.anchors[1:]]))
    return torch.cat(out)


def _line_spectra(model: _ssl.SSLModel, lines: list, x_test: torch.Tensor, s: SSLPreset,
                  device: torch.device) -> dict:
    """``{"log_s": (L, T + 1, K)}``: :func:`_log_singular_values` along every line (``T`` steps and ``x2``)."""
    pts = _line_points(lines, x_test, s.line_steps)
    return {"log_s": _log_singular_values(model, pts, s, device).reshape(len(lines), s.line_steps + 1, -1)}


def _record(model: _ssl.SSLModel, probe: _ssl.LinearProbe, points: torch.Tensor, s: SSLPreset,
            device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Top-``k`` log volume element of the backbone's features, the probe's class and entropy at ``points``."""
    lv = _log_singular_values(model, points, s, device)[:, : s.rank].sum(1)
    logits = probe.logits(_representation(model, points, device))
    return lv, logits.argmax(1), class_entropy(logits)


def _measure(result: _train.TrainResult, s: SSLPreset, d: dict, anchor_img: dict, lines: list, figures: bool,
             device: torch.device) -> dict:
    """The probes at the first, figure and last epochs; for the figures' network the line, the plane and the
    spectra at the plane's anchors at the figure epochs; the log singular values of the trained backbone along the
    control lines, with the final probe's class and entropy there."""
    epochs = result.epochs
    first, last = epochs[0], epochs[-1]
    wanted = sorted({first, last} | ({e for e in s.figure_epochs if e in epochs} if figures else set()))
    models = {e: result.model(e) for e in wanted}
    probes = {e: _probe(models[e], d, s, device) for e in wanted}
    out: dict = {"probes": {e: dataclasses.asdict(p) for e, p in probes.items()}, "line": None, "plane": None,
                 "spectra": None}
    if figures:
        fig_eps = [e for e in s.figure_epochs if e in epochs]
        ln = _slices.line(*(anchor_img[c] for c in s.line_classes), s.line_steps)
        pts = torch.cat([ln.points, ln.anchors[1:]])
        recs = [_record(models[e], probes[e], pts, s, device) for e in fig_eps]
        out["line"] = {"epochs": fig_eps, "log_volume": torch.stack([r[0][:-1] for r in recs]),
                       "end": torch.stack([torch.stack([r[0][0], r[0][-1]]) for r in recs]),
                       "predicted": torch.stack([r[1][:-1] for r in recs]),
                       "entropy": torch.stack([r[2][:-1] for r in recs])}
        pl = _slices.plane(*(anchor_img[c] for c in s.plane_classes), s.plane_steps)
        recs = [_record(models[e], probes[e], pl.points, s, device) for e in fig_eps]
        out["plane"] = {"epochs": fig_eps, **{k: torch.stack([r[i] for r in recs])
                                               for i, k in enumerate(("log_volume", "predicted", "entropy"))}}
        anchors = torch.stack([anchor_img[c] for c in s.plane_classes])
        out["spectra"] = {"epochs": fig_eps, "classes": list(s.plane_classes),
                          "values": torch.stack([10 ** _log_singular_values(models[e], anchors, s, device)
                                                 for e in fig_eps])}
    pts = _line_points(lines, d["x_test"], s.line_steps).reshape(len(lines), s.line_steps + 1, *d["x_test"].shape[1:])
    logits = probes[last].logits(_representation(models[last], pts[:, :-1].flatten(0, 1), device))
    out["lines"] = {**_line_spectra(models[last], lines, d["x_test"], s, device),
                    "predicted": probes[last].classes[logits.argmax(1)].reshape(len(lines), -1),
                    "entropy": class_entropy(logits).reshape(len(lines), -1)}
    return out


def _network_job(job: NetworkJob) -> NetworkOutcome:
    """Train one backbone of :func:`run` and measure it (cached), in a worker process or here. The random
    backbone's spectra along the control lines are cached under the backbone's weights: both methods start from
    the same backbone at a seed and are measured on the same lines, so the second method finds them."""
    c, method, seed = job.context, job.name, job.seed
    s, d, device = c.s, c.data, c.device
    figures = seed == s.seeds[0]
    lines = control_lines(s, d["y_test"], seed)
    result = _train.train(s.model(method), (d["x"], d["y"]), s.train_config(seed),
                          loss=s.loss(method, _views(s, d)), device=device, **train_options(c.options))
    settings = {k: v for k, v in s.to_dict().items()
                if k in ("line_steps", "plane_steps", "figure_epochs", "line_classes", "plane_classes", "block_size",
                         "k", "dtype", "probe_size")}
    plain_lines = [[kind, list(p), list(ij)] for kind, p, ij in lines]
    desc = {"what": "self-supervised geometry", "train": result.key, "figures": figures, "settings": settings,
            "lines": plain_lines, "data": _cache.fingerprint(d["x"][:1000], d["x_test"]),
            "code": _cache.code_digest(_measure, _record, _probe, _representation, _line_spectra, _line_points,
                                       _log_singular_values, _ssl.linear_probe)}
    initial = result.model(result.epochs[0])
    init_desc = {"what": "self-supervised initial line spectra",
                 "backbone": _cache.fingerprint(*initial.backbone.state_dict().values()),
                 "settings": {k: settings[k] for k in ("line_steps", "block_size", "dtype")}, "lines": plain_lines,
                 "data": _cache.fingerprint(d["x_test"]),
                 "code": _cache.code_digest(_line_spectra, _line_points, _log_singular_values)}
    with _workers.threads(c.options.num_threads):
        out = cached(c.store, desc, lambda: _measure(result, s, d, c.anchor_img, lines, figures, device))
        init = cached(c.store, init_desc, lambda: _line_spectra(initial, lines, d["x_test"], s, device))
    return NetworkOutcome(result, extra={**{k: out[k] for k in ("probes", "line", "plane", "spectra", "lines")},
                                         "init": init, "control_lines": lines})


def _rows(s: SSLPreset, method: str, seed: int, out: NetworkOutcome) -> list[dict]:
    """The control rows of one backbone: :func:`~paperlib.chapters.core.line_statistics` per line and ``k``."""
    t = _slices.line(torch.zeros(2), torch.ones(2), s.line_steps).t
    lv0 = out.extra["init"]["log_s"].cumsum(-1)  # [..., k - 1]: the top-k log volume element
    lv1 = out.extra["lines"]["log_s"].cumsum(-1)
    pred, ent = out.extra["lines"]["predicted"], out.extra["lines"]["entropy"]
    rows = []
    for li, (kind, pair, ij) in enumerate(out.extra["control_lines"]):
        for k in s.ks:
            a, b = lv0[li, :, k - 1], lv1[li, :, k - 1]
            rows.append({"network": f"{method} seed {seed}", "method": method, "seed": seed, "kind": kind,
                         "pair": list(pair), "anchors": list(ij), "line": li, "k": k,
                         **line_statistics(t, a[:-1], torch.stack([a[0], a[-1]]), b[:-1], torch.stack([b[0], b[-1]]),
                                           pred[li], ent[li])})
    return rows


def _views(s: SSLPreset, d: dict):
    """The two-view augmentation of the data set (digits or CIFAR-10)."""
    if s.data == "mnist":
        return _ssl.digit_views(d["mean"], d["std"], scale=s.crop_scale)
    return _ssl.cifar10_views(d["mean"], d["std"])


def views(preset: str | SSLPreset = "book", options: Options | None = None, *, count: int = 4,
          seed: int = 0) -> dict:
    """``count`` test images spread over the test split (sorted by class; ``x_test[::N // count]``) and two random
    views of each by the preset's augmentation, drawn after ``torch.manual_seed(seed)``: ``{"images": (3, count, C,
    H, W)`` (original, view 1, view 2), ``"labels": (count,)``, ``"settings"}``."""
    options = as_options(options)
    check_int(count, "count", min=1)
    s = resolve(PRESETS, preset)
    d = _deep.deep_data(s, data_dir=options.data_dir, download=options.download)
    augment = _views(s, d)
    step = len(d["y_test"]) // count
    x = d["x_test"][::step][:count]
    torch.manual_seed(seed)
    return {"images": torch.stack([x, augment(x), augment(x)]), "labels": d["y_test"][::step][:count],
            "settings": s, "torch_seed": seed}


def run(
    preset: str | SSLPreset = "book",
    options: Options | None = None,
    *,
    epochs: int | None = None,
    methods: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    url: str | None = None,
    md5: str | None = None,
    **overrides,
) -> SSLExperiment:
    r"""Figs. 5-6: ResNet backbones trained without labels by Barlow Twins and by SimCLR (:mod:`paperlib.ssl`), at
    every seed of the preset; the geometry of the *backbone's* features (the pooled last stage, not the projector)
    on lines and a plane through test images, with classes and entropy from a logistic-regression probe fitted on
    the frozen features of the training images.

    Measured, per backbone: the probe's test accuracy at initialisation (a random backbone) and after training,
    beside the same probe on the standardised raw pixels (the control of "useful features"); on the control lines
    (:func:`control_lines`: ``lines`` between random test images of two classes and ``same_lines`` within one
    class, drawn anew per seed, the same for both methods) the :math:`\log_{10}` singular values of the backbone's
    Jacobian at every point at initialisation and after training, from which the top-``k`` log volume element at
    every ``k`` of ``ks`` and :func:`~paperlib.chapters.core.line_statistics` follow (transitions and entropy of
    the final probe). For the first seed of each method, at the figure epochs: the line between the anchors of
    ``line_classes``, the plane through ``plane_classes`` (each epoch's probe) and the singular values at the
    plane's anchors. :meth:`SSLExperiment.claims` tests the chapter's claims against their nulls.

    Presets (:data:`PRESETS`; ``"tiny"``: seconds, a smoke test):

    - ``"paper"``: ResNet-34 GELU on CIFAR-10 (normalised), SGD lr 0.01, momentum 0.9, weight decay 1e-4, batch
      1024, 1000 epochs, three seeds; Barlow Twins with the authors' projector (bias-free linear map to 128, batch
      norm) and :math:`\lambda = 0.005`; SimCLR with the authors' head Linear(512, 512)-GELU-Linear(512, 10) and
      temperature 0.07 (the authors used batch 512 for SimCLR: pass ``batch_size=512``); the asymmetric views of the
      Barlow Twins recipe; line 64 steps, plane 80 x 80, 60 cross-class and 20 same-class lines per seed, ``k`` in
      8, 32, 128, 512 of the 512 backbone features (the authors' SimCLR scans used ``k = 10`` by omission). GPU
      work.
    - ``"book"``: six to seven minutes on an idle 2-core CPU from an empty cache (estimated from the measured cost
      of a training epoch and of a Jacobian; 34 minutes measured on a machine loaded about five-fold). The narrow
      ResNet of chapter 7 (width 8, 64 features) on the offline MNIST subset, 5 epochs of each method with batch 256 and lr 0.05, digit
      views (:func:`paperlib.ssl.digit_views`), seeds 0, 1, 2; Barlow Twins with the authors' projector (linear to
      64 + batch norm), SimCLR with the authors' two-layer head shape Linear(64)-GELU-Linear(32); 30 cross-class and
      8 same-class lines of 12 steps per seed, plane 10 x 10, ``k`` in 8, 16, 32, 64; float64 Jacobians (the
      smallest of the 64 singular values of a trained Barlow Twins backbone fall below the float32 numerical-rank
      threshold ``max(n, d) * eps * s_max`` at some points).

    Args:
        preset: ``"book"``, ``"paper"``, ``"tiny"`` or an :class:`SSLPreset`; epochs, methods, seeds, overrides:
            override it.
        options: as in :func:`paperlib.chapters.deep.run` (:class:`~paperlib.chapters.registry.Options`).
        url, md5: CIFAR-10 (:func:`paperlib.data.cifar10`).

    Returns:
        :class:`SSLExperiment`.
    """
    options = as_options(options)
    s = resolve(PRESETS, preset, methods=methods, seeds=seeds, **overrides).with_epochs(epochs)
    data = _deep.deep_data(s, data_dir=options.data_dir, download=options.download, url=url, md5=md5)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # the pixel probe beside the networks' workers
        pixel_job = pool.submit(_cached_pixel_probe, s, options, data)
        context, outs = run_networks(s, _network_job, options, data=data)
        pixel = pixel_job.result()
    d, anchors, anchor_img, networks = context.data, context.anchors, context.anchor_img, s.networks()
    names = [f"{m} seed {seed}" for m, seed in networks]
    line_geom, plane_geom, spectra = {}, {}, {}
    for (m, seed), out in zip(networks, outs):
        if seed != s.seeds[0]:
            continue
        li, pl = out.extra["line"], out.extra["plane"]
        ln = _slices.line(*(anchor_img[c] for c in s.line_classes), s.line_steps)
        line_geom[m] = LineGeometry(tuple(s.line_classes), ln, tuple(li["epochs"]), li["log_volume"], li["end"],
                                    li["predicted"], li["entropy"])
        plane = _slices.plane(*(anchor_img[c] for c in s.plane_classes), s.plane_steps)
        plane_geom[m] = PlaneGeometry(tuple(s.plane_classes), plane, tuple(pl["epochs"]), pl["log_volume"],
                                      pl["predicted"], pl["entropy"])
        spectra[m] = out.extra["spectra"]
    rows = [r for (m, seed), out in zip(networks, outs) for r in _rows(s, m, seed, out)]
    values = [g.log_volume for g in (*line_geom.values(), *plane_geom.values())]
    if any(bool(torch.isneginf(v).any()) for v in values):
        warnings.warn(f"the log volume element is -inf at some points: k = {s.rank} exceeds the numerical rank of the "
                      "backbone's Jacobian there (e.g. feature channels whose units are all far in GELU's flat "
                      "tail); pass a smaller k", RuntimeWarning, stacklevel=2)
    probes = {n: {e: _ssl.LinearProbe(**p) for e, p in out.extra["probes"].items()} for n, out in zip(names, outs)}
    return SSLExperiment(preset if isinstance(preset, str) else "custom", s,
                         {n: out.result for n, out in zip(names, outs)}, d["x_test"], d["y_test"], anchors, probes,
                         pixel, line_geom, plane_geom, spectra, rows)
