r"""Chapter 8 (Figs. 5-6 of arXiv:2301.11375): a ResNet backbone trained without labels by Barlow Twins or SimCLR;
the geometry of its features along lines and on a plane through test images, coloured by a linear probe
(:func:`run`). Figures: :mod:`paperlib.chapters.selfsup_figures`."""

from __future__ import annotations

import dataclasses
import functools
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
from .._checks import check_choice, check_int, check_number
from ..models import ResNet
from .core import LineGeometry, PlaneGeometry, cached, class_entropy, line_statistics, mean_sd, pearson, resolve
from . import deep as _deep
from .deep import DeepPreset, NetworkJob, NetworkOutcome, run_networks, train_options
from .registry import Options, as_options

__all__ = ["SSLPreset", "PRESETS", "SSLExperiment", "run", "views"]

_METHODS = ("barlow", "simclr")


@dataclass(frozen=True)
class SSLPreset(DeepPreset):
    r"""Settings of :func:`run`: those of :class:`~paperlib.chapters.deep.DeepPreset` (data, backbone,
    optimiser, slices, control lines; ``activations[0]`` is the backbone's activation, ``seeds`` the seeds of every
    method), and

    Attributes:
        methods: ``"barlow"`` and/or ``"simclr"``, one backbone each per seed.
        barlow_dim: output of the Barlow Twins projector (the authors' bias-free linear map + batch norm).
        simclr_dim, simclr_hidden: the SimCLR projector (the 3-layer MLP of :func:`paperlib.ssl.projector`; hidden
            width ``None``: the feature dimension).
        lambd, temperature: of the two losses.
        crop_scale: area range of the random resized crops of digits (:func:`paperlib.ssl.digit_views`).
        probe_size: training images the probe is fitted on (``None``: all).

    The fields ``augment``, ``padding``, ``flip`` and ``relu_k`` of :class:`~paperlib.chapters.deep.DeepPreset` are not
    used: the two views replace the crops, and the backbone's activation is ``activations[0]``.
    """

    methods: tuple[str, ...] = _METHODS
    activations: tuple[str, ...] = ("gelu",)
    seeds: tuple[int, ...] = (0,)
    lr: float = 0.05
    batch_size: int = 256
    epochs: int = 10
    snapshots: tuple[int, ...] = (0, 2, 5, 10)
    figure_epochs: tuple[int, ...] = (0, 2, 10)
    barlow_dim: int = 64
    simclr_dim: int = 32
    simclr_hidden: int | None = None
    lambd: float = 0.005
    temperature: float = 0.07
    crop_scale: tuple[float, float] = (0.6, 1.0)
    probe_size: int | None = None
    plane_steps: int = 14
    blocks: tuple[int, ...] = (4,)
    dtype: str = "float64"

    def __post_init__(self) -> None:
        super().__post_init__()
        set_ = functools.partial(object.__setattr__, self)
        if isinstance(self.methods, str) or not self.methods:
            raise ValueError(f"methods must be a non-empty sequence of {_METHODS}; got {self.methods!r}")
        set_("methods", tuple(dict.fromkeys(check_choice(m, "methods", _METHODS) for m in self.methods)))
        check_int(self.barlow_dim, "barlow_dim", min=1)
        check_int(self.simclr_dim, "simclr_dim", min=1)
        check_int(self.simclr_hidden, "simclr_hidden", min=1, none_ok=True)
        check_number(self.lambd, "lambd", min=0)
        check_number(self.temperature, "temperature", min=0, open_min=True)
        lo, hi = (check_number(v, "crop_scale", min=0, max=1, open_min=True) for v in self.crop_scale)
        if lo > hi:
            raise ValueError(f"crop_scale must be (low, high) with low <= high; got {self.crop_scale!r}")
        set_("crop_scale", (lo, hi))
        check_int(self.probe_size, "probe_size", min=10, none_ok=True)

    def model(self, method: str) -> functools.partial:
        """The model factory of a backbone trained by ``method``: :class:`paperlib.ssl.SSLModel` of a
        :class:`paperlib.models.ResNet` and the method's projector."""
        check_choice(method, "method", _METHODS)
        return functools.partial(_build_model, tuple(self.depths), self.width, self.activations[0], self.channels,
                                 method, self.barlow_dim if method == "barlow" else self.simclr_dim,
                                 self.simclr_hidden)

    def loss(self, method: str, views) -> _ssl.TwoViewLoss:
        """The trainer's two-view loss of ``method`` with the augmentation ``views``."""
        return _ssl.TwoViewLoss(method, views, lambd=self.lambd, temperature=self.temperature)

    def networks(self) -> list[tuple[str, int]]:
        """``(method, seed)`` of every backbone; the first draws the figures of its method."""
        return [(m, s) for m in self.methods for s in self.seeds]


def _build_model(depths, width, activation, channels, method, dim, hidden) -> _ssl.SSLModel:
    backbone = ResNet(depths, width, activation, in_channels=channels)
    kind = "linear" if method == "barlow" else "mlp"
    return _ssl.SSLModel(backbone, _ssl.projector(kind, backbone.feature_dim, dim, hidden or backbone.feature_dim))


#: The presets. ``"paper"`` has the authors' settings (Barlow Twins with ResNet-34 GELU, 1000 epochs, batch 1024,
#: lr 0.01, lambda 0.005 and the linear projector to 128; SimCLR with batch 512, temperature 0.07 and a 10-d
#: embedding) for a GPU; ``"book"`` runs on a 2-core CPU in about four minutes; ``"tiny"``: seconds, a smoke
#: test (its numbers mean nothing).
PRESETS: dict[str, SSLPreset] = {
    "paper": SSLPreset(data="cifar10", depths=(3, 4, 6, 3), width=64, activations=("gelu",), seeds=(0,),
                       optimizer="sgd", lr=0.01, momentum=0.9, weight_decay=1e-4, batch_size=1024, epochs=1000,
                       snapshots=(0, 100, 500, 1000), figure_epochs=(0, 100, 500, 1000), line_steps=64,
                       plane_steps=80, line_classes=(1, 5), plane_classes=(7, 6, 1), block_classes=(1, 6),
                       pairs=((1, 5), (1, 6), (7, 6), (3, 5), (0, 8), (7, 1)), same_class=(7, 6, 1, 5),
                       blocks=(4,), block_size=512, dtype="float64", barlow_dim=128, simclr_dim=10,
                       simclr_hidden=512),
    "book": SSLPreset(),
    "tiny": SSLPreset(train_size=256, epochs=1, snapshots=(0, 1), figure_epochs=(0, 1), line_steps=6, plane_steps=6,
                      pairs=((1, 5),), same_class=(7,), probe_size=256),
}


@dataclass
class SSLExperiment:
    """Result of :func:`run`.

    Attributes:
        preset, settings: as in :class:`~paperlib.chapters.deep.DeepExperiment`.
        training: ``{"<method> seed <s>": TrainResult}``.
        x_test, y_test, anchors: the test images (normalised), labels, and the anchors of the slices.
        probes: ``{network: {epoch: LinearProbe}}`` at the first, figure and last epochs.
        lines: ``{method: LineGeometry}`` (``line_classes``, figure epochs, the first seed), classes and entropy
            from each epoch's probe.
        planes: ``{method: PlaneGeometry}`` (``plane_classes``, figure epochs).
        controls: one row per network and control line (the features' block), as in chapter 7, with the
            transitions of the final probe.
    """

    preset: str
    settings: SSLPreset
    training: dict[str, _train.TrainResult]
    x_test: torch.Tensor
    y_test: torch.Tensor
    anchors: dict[int, int]
    probes: dict[str, dict[int, _ssl.LinearProbe]]
    lines: dict[str, LineGeometry]
    planes: dict[str, PlaneGeometry]
    controls: list[dict] = dataclasses.field(default_factory=list)

    def describe(self) -> str:
        """One line with the settings (machine-independent, for printing)."""
        s = self.settings
        data = "the offline MNIST subset padded to 32 x 32" if s.data == "mnist" else "CIFAR-10"
        return (f"self_supervised ({self.preset} preset): {' and '.join(s.methods)}; ResNet depths {list(s.depths)}, "
                f"width {s.width}, {s.activations[0]}; SGD lr {s.lr:g}, batch {s.batch_size}, {s.epochs} epochs on "
                f"{data}; projectors: Barlow Twins linear to {s.barlow_dim} (lambda {s.lambd:g}), SimCLR MLP to "
                f"{s.simclr_dim} (temperature {s.temperature:g}); seeds {list(s.seeds)}; line {s.line_steps} steps, "
                f"plane {s.plane_steps}x{s.plane_steps}; top-{s.rank} log pseudo-determinant of the "
                f"{s.size} backbone features in {s.dtype}")

    def probe_accuracy(self, network: str, epoch: int | None = None) -> float:
        """Test accuracy of ``network``'s probe at ``epoch`` (default: the last; the first epoch is the random
        backbone, the control)."""
        probes = self.probes[network]
        return probes[max(probes) if epoch is None else epoch].test_accuracy

    def plane_correlation(self, method: str, epoch: int) -> float:
        r"""Pearson correlation over ``method``'s plane at ``epoch`` between :math:`\log_{10}\sqrt{\det g}` and
        :math:`\log_{10}` of the probe's entropy."""
        if method not in self.planes:
            raise ValueError(f"method must be one of {list(self.planes)}; got {method!r}")
        at = self.planes[method].at(epoch)
        return pearson(at["log_volume"].flatten(), torch.log10(at["entropy"]).flatten())

    def control_mean(self, kind: str, network: str, key: str) -> float:
        """Mean of the control statistic ``key`` over the lines of ``kind`` (``"cross"``/``"same"``) of
        ``network`` (NaN values left out)."""
        rows = [r[key] for r in self.controls if r["kind"] == kind and r["network"] == network]
        if not rows:
            raise ValueError(f"no control lines of kind {kind!r} for network {network!r}")
        return mean_sd(rows)[0]

    def summary(self, network: str) -> dict[str, float]:
        """Control statistics of one backbone (means over its lines, as :meth:`DeepExperiment.summary`) and its
        probe's test accuracy at initialisation and after training."""
        out = {key: self.control_mean("cross", network, key)
               for key in ("distance_init", "distance_final", "contrast_init", "contrast_final",
                           "entropy_corr_init", "entropy_corr_final")}
        if self.settings.same_class:
            out |= {"same_contrast_init": self.control_mean("same", network, "contrast_init"),
                    "same_contrast_final": self.control_mean("same", network, "contrast_final")}
        first = min(self.probes[network])
        return out | {"probe_init": self.probe_accuracy(network, first), "probe_final": self.probe_accuracy(network)}


def _representation(model: _ssl.SSLModel, X: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Backbone features ``(B, D)`` in float64, eval mode, in batches of 500."""
    m = model.to(device, torch.float64)
    with torch.no_grad():
        return torch.cat([m.representation(xc.to(device, torch.float64)) for xc in X.split(500)]).cpu()


def _probe(model: _ssl.SSLModel, d: dict, s: SSLPreset, device: torch.device) -> _ssl.LinearProbe:
    x, y = d["x"], d["y"]
    if s.probe_size is not None:
        x, y = x[: s.probe_size], y[: s.probe_size]
    return _ssl.linear_probe(_representation(model, x, device), y, _representation(model, d["x_test"], device),
                             d["y_test"])


def _record(model: _ssl.SSLModel, probe: _ssl.LinearProbe, points: torch.Tensor, s: SSLPreset,
            device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Log volume element of the backbone's features, the probe's class and entropy at ``points``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", _geometry.RankDeficiencyWarning)  # -inf is reported by the caller
        lv = _geometry.log_volume_element(model.backbone.feature_map(4, s.size), points, k=s.rank,
                                          dtype=getattr(torch, s.dtype), device=device,
                                          chunk_size=s.chunk_size).cpu()
    logits = probe.logits(_representation(model, points, device))
    return lv, logits.argmax(1), class_entropy(logits)


def _measure(result: _train.TrainResult, s: SSLPreset, d: dict, anchor_img: dict, lines: list, figures: bool,
             device: torch.device) -> dict:
    """The probes at the first, figure and last epochs; for the figures' network the line and the plane at the
    figure epochs; the control lines at the first and last epochs (transitions of the last probe)."""
    epochs = result.epochs
    first, last = epochs[0], epochs[-1]
    wanted = sorted({first, last} | ({e for e in s.figure_epochs if e in epochs} if figures else set()))
    models = {e: result.model(e) for e in wanted}
    probes = {e: _probe(models[e], d, s, device) for e in wanted}
    out: dict = {"probes": {e: dataclasses.asdict(p) for e, p in probes.items()}, "line": None, "plane": None}
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
    rows = []
    for kind, pair, (i, j) in lines:
        ln = _slices.line(d["x_test"][i].double(), d["x_test"][j].double(), s.line_steps)
        pts = torch.cat([ln.points, ln.anchors[1:]])
        (lv0, _, _), (lv1, pred, ent) = (_record(models[e], probes[last], pts, s, device) for e in (first, last))
        rows.append({"kind": kind, "pair": list(pair), "anchors": [i, j],
                     **line_statistics(ln.t, lv0[:-1], torch.stack([lv0[0], lv0[-1]]), lv1[:-1],
                                       torch.stack([lv1[0], lv1[-1]]), pred[:-1], ent[:-1])})
    out["rows"] = rows
    return out


def _network_job(job: NetworkJob) -> NetworkOutcome:
    """Train one backbone of :func:`run` and measure it (cached), in a worker process or here."""
    c, method, seed = job.context, job.name, job.seed
    s, d, device = c.s, c.data, c.device
    figures = seed == s.seeds[0]
    result = _train.train(s.model(method), (d["x"], d["y"]), s.train_config(seed),
                          loss=s.loss(method, _views(s, d)), device=device, **train_options(c.options))
    settings = {k: v for k, v in s.to_dict().items()
                if k in ("line_steps", "plane_steps", "figure_epochs", "line_classes", "plane_classes", "block_size",
                         "k", "dtype", "probe_size")}
    desc = {"what": "self-supervised geometry", "train": result.key, "figures": figures, "settings": settings,
            "lines": [[kind, list(p), list(ij)] for kind, p, ij in c.lines],
            "data": _cache.fingerprint(d["x"][:1000], d["x_test"]),
            "code": _cache.code_digest(_measure, _record, _probe, _representation, _ssl.linear_probe)}
    with _workers.threads(c.options.num_threads):
        out = cached(c.store, desc, lambda: _measure(result, s, d, c.anchor_img, c.lines, figures, device))
    return NetworkOutcome(result, rows=out["rows"], extra={k: out[k] for k in ("probes", "line", "plane")})


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
    r"""Figs. 5-6: ResNet backbones trained without labels by Barlow Twins and by SimCLR
    (:mod:`paperlib.ssl`); the geometry of the *backbone's* features (the pooled last stage, not the projector) on
    lines and a plane through test images, with classes and entropy from a logistic-regression probe fitted on the
    frozen features of the training images at each measured epoch.

    Measured: the probe's test accuracy at initialisation (a random backbone: the control) and after training; the
    line between the anchors of ``line_classes`` and the plane through ``plane_classes`` at the figure epochs (the
    first seed of each method); and, for every backbone, the control lines of chapter 7 (random anchors of the class
    pairs, same-class lines) at initialisation and after training, with the class transitions of the final probe:
    contrast, distance of the peak from the transition, correlation with the probe's log entropy.

    Presets (:data:`PRESETS`; ``"tiny"``: seconds, a smoke test):

    - ``"paper"``: ResNet-34 GELU on CIFAR-10 (normalised), SGD lr 0.01, momentum 0.9, weight decay 1e-4, batch
      1024, 1000 epochs, Barlow Twins with the authors' linear projector to 128 and :math:`\lambda = 0.005`, SimCLR
      with temperature 0.07 and a 10-dimensional embedding (the authors used batch 512 for SimCLR: pass
      ``batch_size=512``); the asymmetric views of the Barlow Twins recipe; plane 80 x 80, line 64 steps, ``k =
      512`` of the 512 backbone features (the authors' SimCLR scans used ``k = 10`` by omission). GPU work.
    - ``"book"``: about four minutes on a 2-core CPU. The narrow ResNet of chapter 7 (width 8, 64 features) on the
      offline MNIST subset, 10 epochs of each method with batch 256 and lr 0.05, digit views
      (:func:`paperlib.ssl.digit_views`), projectors to 64 (Barlow Twins) and 32 (SimCLR, MLP), one seed; line 24
      steps, plane 14 x 14; float64
      Jacobians (the smallest of the 64 singular values of the trained Barlow Twins backbone fall below the float32
      numerical-rank threshold ``max(n, d) * eps * s_max = 1024 * 1.2e-7 * s_max`` at some anchors).

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
    context, outs = run_networks(s, _network_job, options, url=url, md5=md5)
    d, anchors, anchor_img, networks = context.data, context.anchors, context.anchor_img, s.networks()
    names = [f"{m} seed {seed}" for m, seed in networks]
    line_geom, plane_geom = {}, {}
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
    rows = [{"network": n, **r} for n, out in zip(names, outs) for r in out.rows]
    values = [g.log_volume for g in (*line_geom.values(), *plane_geom.values())]
    if any(bool(torch.isneginf(v).any()) for v in values):
        warnings.warn(f"the log volume element is -inf at some points: k = {s.rank} exceeds the numerical rank of the "
                      "backbone's Jacobian there (e.g. feature channels whose units are all far in GELU's flat "
                      "tail); pass a smaller k", RuntimeWarning, stacklevel=2)
    probes = {n: {e: _ssl.LinearProbe(**p) for e, p in out.extra["probes"].items()} for n, out in zip(names, outs)}
    return SSLExperiment(preset if isinstance(preset, str) else "custom", s,
                         {n: out.result for n, out in zip(names, outs)}, d["x_test"], d["y_test"], anchors, probes,
                         line_geom, plane_geom, rows)

