r"""Chapter 7 (Figs. 3-4 of arXiv:2301.11375): a CIFAR-style ResNet trained to classify images; the geometry its
features induce on the (normalised) input space along lines and on a plane through test images, and after each of
its blocks (:func:`run`). Figures: :mod:`paperlib.chapters.deep_figures`."""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from .. import activations as _act
from .. import cache as _cache
from .. import data as _data
from .. import geometry as _geometry
from .. import slices as _slices
from .. import train as _train
from .. import workers as _workers
from .._checks import check_bool, check_choice, check_int, check_ints, resolve_device
from ..models import ResNet
from .core import (LineGeometry, LocationTest, PlaneGeometry, Preset, anchor_indices, cached, class_entropy,
                   class_changes, control_anchor_pairs, line_statistics, location_test, mean_sd, mean_sd_text,
                   location_table, pearson, random_line_pairs, resolve, spread_selection)
from .registry import Options, as_options

__all__ = ["DeepPreset", "PRESETS", "CIFAR10_CLASSES", "DeepExperiment", "run", "deep_data", "NetworkContext",
           "NetworkJob", "NetworkOutcome", "run_networks", "control_lines", "control_ks"]

#: The CIFAR-10 class names, by label.
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def _pairs(value: object, name: str) -> tuple[tuple[int, int], ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
        raise ValueError(f"{name} must be a non-empty sequence of class pairs like [(7, 6)]; got {value!r}")
    pairs = [check_ints(p, name, min=0, max=9) for p in value]
    if any(len(p) != 2 or p[0] == p[1] for p in pairs):
        raise ValueError(f"{name} must hold pairs of two different classes 0..9; got {value!r}")
    return tuple(dict.fromkeys(pairs))


@dataclass(frozen=True)
class DeepPreset(Preset):
    r"""Settings of :func:`run` (see its docstring for the two presets).

    Attributes:
        data: ``"mnist"`` (the offline 5,000-image subset, padded to 1 x 32 x 32) or ``"cifar10"``;
            train_size: train on that many training images only, a fixed random subset (``None``: all).
        depths, width, activations: the :class:`paperlib.models.ResNet` (blocks per stage, base width); one network
            per activation, the first draws the figures.
        seeds: seeds of the first activation's networks (the first draws the figures; all give the control
            statistics); the other activations use the first seed.
        optimizer, lr, momentum, weight_decay, batch_size, epochs, snapshots: of
            :class:`paperlib.train.TrainConfig` (constant learning rate).
        figure_epochs: the epochs of the plane (kept where they are snapshot epochs).
        augment, padding, flip: random crop of the image padded by ``padding`` black pixels (and a horizontal flip)
            per sample of every batch (:func:`paperlib.data.cifar10_augmentation`).
        line_steps, plane_steps: points along a line and per side of the plane.
        line_classes: the anchors of the Fig. 3 line; plane_classes: of the plane; block_classes: of the Fig. 4
            line, measured after every block in ``blocks``.
        pairs: class pairs of fixed control lines (anchors drawn at random once, seed ``draw_seed``; used by the
            self-supervised chapter); same_class: classes with a same-class fixed control line.
        lines, same_lines: the control lines of :func:`run`, drawn anew for every network seed
            (:func:`~paperlib.chapters.core.random_line_pairs` with seed ``draw_seed + seed``): ``lines`` between
            test images of two random different classes and ``same_lines`` between two images of one class;
            block_lines: how many of each kind are also measured after every block of ``blocks`` (the others after
            the last block only); spread: draw ``spread`` times as many cross-class candidates and keep those whose
            trained class transitions spread evenly along the line (0: keep the first ``lines`` drawn).
        blocks: the blocks measured on the Fig. 4 line and on the first ``block_lines`` control lines (0 = stem,
            1..4 = stages; the features of the last block are the network's).
        block_size: the number each block's output is average-pooled to (``None``: the feature dimension,
            ``8 * width``); k: singular values in the top-``k`` log pseudo-determinant (``None``: ``block_size``).
        dtype: precision of the Jacobians, ``"float64"`` or ``"float32"`` (logs summed in float64 either way);
            chunk_size: points differentiated at once (``None``: automatic).
    """

    data: str = "mnist"
    train_size: int | None = None
    depths: tuple[int, ...] = (1, 1, 1, 1)
    width: int = 8
    activations: tuple[str, ...] = ("gelu", "relu")
    seeds: tuple[int, ...] = (0, 1, 2)
    optimizer: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 1e-4
    batch_size: int = 128
    epochs: int = 8
    snapshots: tuple[int, ...] = (0, 1, 2, 4, 8)
    figure_epochs: tuple[int, ...] = (0, 2, 8)
    augment: bool = True
    padding: int = 2
    flip: bool = False
    line_steps: int = 24
    plane_steps: int = 16
    line_classes: tuple[int, int] = (7, 6)
    plane_classes: tuple[int, int, int] = (7, 6, 1)
    block_classes: tuple[int, int] = (1, 5)
    pairs: tuple[tuple[int, int], ...] = ((7, 6), (1, 5), (4, 9), (3, 8), (2, 7), (0, 6))
    same_class: tuple[int, ...] = (7, 6, 1, 5)
    draw_seed: int = 0
    lines: int = 30
    same_lines: int = 10
    block_lines: int = 6
    spread: int = 8
    blocks: tuple[int, ...] = (0, 1, 2, 3, 4)
    block_size: int | None = None
    k: int | None = None
    relu_k: int | None = None
    dtype: str = "float32"
    chunk_size: int | None = None

    def __post_init__(self) -> None:
        set_ = functools.partial(object.__setattr__, self)
        check_choice(self.data, "data", ("mnist", "cifar10"))
        check_int(self.train_size, "train_size", min=1, none_ok=True)
        net = ResNet(self.depths, self.width, "gelu", in_channels=self.channels)  # checks depths and width
        if isinstance(self.activations, str) or not self.activations:
            raise ValueError(f"activations must be a non-empty sequence of names; got {self.activations!r}")
        set_("activations", tuple(dict.fromkeys(_act.check_name(a) for a in self.activations)))
        set_("seeds", check_ints(self.seeds, "seeds"))
        set_("depths", tuple(self.depths))
        cfg = self.train_config(0)  # checks the optimiser fields and the snapshots
        set_("snapshots", cfg.snapshots)
        figure = check_ints(self.figure_epochs, "figure_epochs", min=0, max=self.epochs, nonempty=False)
        set_("figure_epochs", tuple(e for e in figure if e in cfg.snapshots))
        check_bool(self.augment, "augment")
        check_bool(self.flip, "flip")
        check_int(self.padding, "padding", min=0)
        check_int(self.line_steps, "line_steps", min=2)
        check_int(self.plane_steps, "plane_steps", min=2)
        set_("line_classes", _pairs([self.line_classes], "line_classes")[0])
        set_("block_classes", _pairs([self.block_classes], "block_classes")[0])
        set_("plane_classes", check_ints(self.plane_classes, "plane_classes", min=0, max=9))
        if len(set(self.plane_classes)) != 3:
            raise ValueError(f"plane_classes must be three different classes; got {self.plane_classes!r}")
        set_("pairs", _pairs(self.pairs, "pairs"))
        set_("same_class", check_ints(self.same_class, "same_class", min=0, max=9, nonempty=False))
        check_int(self.draw_seed, "draw_seed")
        check_int(self.lines, "lines", min=0)
        check_int(self.same_lines, "same_lines", min=0)
        check_int(self.block_lines, "block_lines", min=0)
        check_int(self.spread, "spread", min=0)
        set_("blocks", tuple(sorted(set(check_ints(self.blocks, "blocks", min=0, max=4)))))
        # outputs of the blocks for a 32 x 32 input: w*32*32 (stem, stage 1), 2w*16*16, 4w*8*8, 8w*4*4
        outputs = {0: 1024 * self.width, 1: 1024 * self.width, 2: 512 * self.width, 3: 256 * self.width,
                   4: 128 * self.width}
        check_int(self.block_size, "block_size", min=1, max=min(outputs[b] for b in self.blocks), none_ok=True)
        check_int(self.k, "k", min=1, max=self.size, none_ok=True)
        check_int(self.relu_k, "relu_k", min=1, max=self.size, none_ok=True)
        check_choice(self.dtype, "dtype", ("float64", "float32"))
        check_int(self.chunk_size, "chunk_size", min=1, none_ok=True)

    @property
    def size(self) -> int:
        """Numbers each block's output is pooled to (``block_size``, default ``8 * width``)."""
        return self.block_size or 8 * self.width

    @property
    def rank(self) -> int:
        """``k`` of the top-``k`` log pseudo-determinant (default: :attr:`size`)."""
        return self.k or self.size

    def rank_for(self, activation: str) -> int:
        """``k`` for a network with ``activation``: :attr:`rank`, or for ReLU ``relu_k`` (default: half of
        :attr:`rank`). A ReLU network is piecewise linear: where all units feeding a pooled feature are inactive
        (e.g. a strip of blank border) that feature's gradient is exactly 0, so the top-``k`` volume with ``k`` at
        the feature dimension is 0 (measured in the book preset: ranks 50 to 64 of 64 at initialisation)."""
        return (self.relu_k or max(1, self.rank // 2)) if activation == "relu" else self.rank

    @property
    def channels(self) -> int:
        """Image channels of the data set."""
        return 1 if self.data == "mnist" else 3

    def model(self, activation: str) -> functools.partial:
        """The model factory of a network: :class:`paperlib.models.ResNet` with this preset's depths and width."""
        return functools.partial(ResNet, tuple(self.depths), self.width, activation, in_channels=self.channels)

    def train_config(self, seed: int) -> _train.TrainConfig:
        """The :class:`~paperlib.train.TrainConfig` of the network with ``seed``."""
        return _train.TrainConfig(optimizer=self.optimizer, lr=self.lr, momentum=self.momentum,
                                  weight_decay=self.weight_decay, batch_size=self.batch_size, epochs=self.epochs,
                                  snapshots=self.snapshots, seed=seed)

    def networks(self) -> list[tuple[str, int]]:
        """``(activation, seed)`` of every network: the first activation at every seed, then the others at the
        first seed. The first network draws the figures."""
        first = [(self.activations[0], s) for s in self.seeds]
        return first + [(a, self.seeds[0]) for a in self.activations[1:]]

    def class_name(self, c: int) -> str:
        """The name of class ``c``: the digit, or the CIFAR-10 class."""
        return str(c) if self.data == "mnist" else CIFAR10_CLASSES[c]


#: ``"paper"``: the authors' setting of Figs. 3-4 (for a GPU). ``"book"``: a 2-core CPU in about six minutes.
#: ``"hours"``: the book's data and networks with five seeds, 30 epochs and twice the lines (about an hour on a
#: 2-core CPU): decides the location claim that one of the book's three seeds fails.
#: ``"tiny"``: seconds, a smoke test (its numbers mean nothing).
PRESETS: dict[str, DeepPreset] = {
    "paper": DeepPreset(data="cifar10", depths=(3, 4, 6, 3), width=64, activations=("gelu",), seeds=(0,),
                        optimizer="sgd", lr=0.01, momentum=0.9, weight_decay=1e-4, batch_size=1024, epochs=500,
                        snapshots=(0, 50, 200, 500), figure_epochs=(0, 50, 200, 500), augment=True, padding=4,
                        flip=True, line_steps=64, plane_steps=80, line_classes=(7, 6), plane_classes=(7, 6, 1),
                        block_classes=(1, 5), pairs=((7, 6), (1, 5), (7, 1), (6, 1), (3, 5), (0, 8)),
                        same_class=(7, 6, 1, 5), lines=60, same_lines=20, block_lines=10, blocks=(0, 1, 2, 3, 4),
                        block_size=512, dtype="float64"),
    "book": DeepPreset(),
    "hours": DeepPreset(seeds=(0, 1, 2, 3, 4), epochs=30, snapshots=(0, 1, 2, 4, 8, 16, 30),
                        figure_epochs=(0, 8, 30), lines=60, same_lines=20, block_lines=10),
    "tiny": DeepPreset(train_size=256, seeds=(0,), epochs=1, snapshots=(0, 1), figure_epochs=(0, 1), line_steps=6,
                       plane_steps=6, pairs=((7, 6), (1, 5)), same_class=(7,), lines=4, same_lines=2, block_lines=1,
                       spread=0, blocks=(0, 4)),
}


def _name(activation: str, seed: int) -> str:
    return f"{activation} seed {seed}"


def deep_data(s: DeepPreset, *, data_dir: str | None = None, download: bool = True,
              url: str | None = None, md5: str | None = None) -> dict[str, torch.Tensor]:
    r"""The images of :func:`run`, normalised per channel: ``{"x", "y", "x_test", "y_test", "fill", "mean",
    "std"}`` with ``x: (N, C, 32, 32)`` float32, ``y: (N,)`` long, ``fill: (C,)`` the normalised value of a black
    pixel (the padding of the random crops), and the channel means and deviations of the normalisation.

    MNIST: the offline subset (4,000 train / 1,000 test), pixels in [0, 1] zero-padded from 28 x 28 to 32 x 32 and
    standardised, :math:`(x - 0.1307)/0.3081`. CIFAR-10: :func:`paperlib.data.cifar10` (``data_dir``, ``download``,
    ``url``, ``md5`` as there), standardised with the CIFAR means and deviations. ``train_size`` keeps that many
    training images, drawn at random once and for all (a generator seeded with 0)."""
    if s.data == "mnist":
        out = {}
        for split, key in (("train", "x"), ("test", "x_test")):
            x, y = _data.mnist(split, source="subset", scale="unit")
            out[key] = (F.pad(x.reshape(-1, 1, 28, 28), (2, 2, 2, 2)) - _data.MNIST_MEAN) / _data.MNIST_STD
            out["y" if split == "train" else "y_test"] = y
        mean, std = [_data.MNIST_MEAN], [_data.MNIST_STD]
    else:
        kw = {"data_dir": data_dir, "download": download, "url": url, "md5": md5}
        (x, y), (xt, yt) = _data.cifar10("train", **kw), _data.cifar10("test", **kw)
        out = {"x": x, "y": y, "x_test": xt, "y_test": yt}
        mean, std = list(_data.CIFAR10_MEAN), list(_data.CIFAR10_STD)
    if s.train_size is not None:  # a fixed random subset (the splits may be sorted by class)
        keep = torch.randperm(len(out["y"]), generator=torch.Generator().manual_seed(0))[: s.train_size].sort().values
        out["x"], out["y"] = out["x"][keep], out["y"][keep]
    fill = -torch.tensor(mean) / torch.tensor(std)
    return {**out, "fill": fill.float(), "mean": mean, "std": std}


@dataclass
class DeepExperiment:
    """Result of :func:`run`.

    Attributes:
        preset: ``"book"``, ``"paper"`` or ``"custom"``; settings: the :class:`DeepPreset` after overrides.
        training: ``{network name: TrainResult}``, names ``"<activation> seed <s>"``; the first draws the figures.
        x_test, y_test: the test images ``(N, C, 32, 32)`` (normalised) and labels; anchors: ``{class: index into
            x_test}`` (:func:`~paperlib.chapters.core.anchor_indices` against the training images).
        line: the Fig. 3 line (``line_classes``) at every snapshot, the last block's features.
        plane: the plane through ``plane_classes`` at the figure epochs (``None`` if ``plane_steps`` is 0).
        blocks: ``{block: LineGeometry}`` of the Fig. 4 line (``block_classes``) at the first and last epoch.
        controls: one row per network, control line and block (:func:`run`).
        test_accuracy: ``{network: {epoch: accuracy}}`` on the test images.
    """

    preset: str
    settings: DeepPreset
    training: dict[str, _train.TrainResult]
    x_test: torch.Tensor
    y_test: torch.Tensor
    anchors: dict[int, int]
    line: LineGeometry
    plane: PlaneGeometry
    blocks: dict[int, LineGeometry]
    controls: list[dict] = dataclasses.field(default_factory=list)
    test_accuracy: dict[str, dict[int, float]] = dataclasses.field(default_factory=dict)

    @property
    def figure_network(self) -> str:
        """Name of the network of the figures (the first activation, the first seed)."""
        return next(iter(self.training))

    @property
    def epochs(self) -> list[int]:
        """Snapshot epochs."""
        return self.training[self.figure_network].epochs

    def model(self, epoch: int | None = None, network: str | None = None) -> ResNet:
        """A network (default: the figures') at ``epoch`` (default: the last), in eval mode."""
        return self.training[network or self.figure_network].model(epoch)

    def class_name(self, c: int) -> str:
        """Name of class ``c`` (:meth:`DeepPreset.class_name`)."""
        return self.settings.class_name(c)

    def describe(self) -> str:
        """One line with the settings (machine-independent, for printing)."""
        s = self.settings
        data = ("the offline MNIST subset padded to 32 x 32" if s.data == "mnist" else "CIFAR-10")
        aug = (f"random crop (pad {s.padding})" + (" + flip" if s.flip else "")) if s.augment else "no augmentation"
        return (f"deep ({self.preset} preset): ResNet depths {list(s.depths)}, width {s.width}, "
                f"{'/'.join(s.activations)}; SGD lr {s.lr:g}, momentum {s.momentum:g}, weight decay "
                f"{s.weight_decay:g}, batch {s.batch_size}, {s.epochs} epochs on {data}, {aug}; seeds "
                f"{list(s.seeds)}; line {s.line_steps} steps, plane {s.plane_steps}x{s.plane_steps}; blocks pooled "
                f"to {s.size}, top-{s.rank} log pseudo-determinant in {s.dtype}")

    def plane_correlation(self, epoch: int, entropy_epoch: int | None = None) -> float:
        r"""Pearson correlation over the plane between :math:`\log_{10}\sqrt{\det g}` at ``epoch`` and
        :math:`\log_{10} H` (prediction entropy) at ``entropy_epoch`` (default: ``epoch``). With ``entropy_epoch``
        the last epoch, the correlation at initialisation is the null of the trained one: the same entropy, the
        volume element of the untrained network."""
        at = self.plane.at(epoch)
        h = self.plane.at(epoch if entropy_epoch is None else entropy_epoch)["entropy"]
        return pearson(at["log_volume"].flatten(), torch.log10(h).flatten())

    def network_k(self, network: str) -> int:
        """``k`` of the network's own statistics: :meth:`DeepPreset.rank_for` of its activation."""
        return self.settings.rank_for(network.split(" seed ")[0])

    def control_table(self, kind: str | None = None, network: str | None = None, block: int | None = None,
                      k: int | None = None, profile: bool | None = None) -> list[dict]:
        """The control rows of one line ``kind`` (``"cross"``/``"same"``), ``network``, ``block``, ``k`` and
        ``profile`` (``True``: only the lines measured after every block), or all."""
        return [r for r in self.controls if (kind is None or r["kind"] == kind)
                and (network is None or r["network"] == network) and (block is None or r["block"] == block)
                and (k is None or r["k"] == k) and (profile is None or r["profile"] == profile)]

    def control_values(self, kind: str, network: str, key: str, block: int | None = None, k: int | None = None,
                       profile: bool | None = None) -> list[float]:
        """The statistic ``key`` (e.g. ``"prominence_final"``) of the control lines of ``kind`` and ``network`` at
        ``block`` (default: the last measured block) and ``k`` (default: :meth:`network_k`)."""
        block = self.settings.blocks[-1] if block is None else block
        rows = self.control_table(kind, network, block, k or self.network_k(network), profile)
        if not rows:
            raise ValueError(f"no control lines of kind {kind!r} for network {network!r} at block {block}, k {k}")
        return [r[key] for r in rows]

    def control_mean(self, kind: str, network: str, key: str, block: int | None = None, k: int | None = None,
                     profile: bool | None = None) -> float:
        """Mean of :meth:`control_values` (NaN values, lines without a class change, left out)."""
        return mean_sd(self.control_values(kind, network, key, block, k, profile))[0]

    def seed_means(self, kind: str, key: str, block: int | None = None, k: int | None = None) -> list[float]:
        """Per seed of the first activation: the mean of ``key`` over its control lines of ``kind``."""
        s = self.settings
        return [self.control_mean(kind, _name(s.activations[0], seed), key, block, k) for seed in s.seeds]

    def location(self, network: str, *, initial: bool = False, k: int | None = None,
                 permutations: int = 10000) -> LocationTest:
        """:func:`~paperlib.chapters.core.location_test` of the peaks of ``network``'s cross-class control lines
        (after the last measured block) against the trained network's class transitions; ``initial``: the peaks
        of the network at initialisation instead (the null without training)."""
        rows = self.control_table("cross", network, self.settings.blocks[-1], k or self.network_k(network))
        key = "peak_init" if initial else "peak_final"
        return location_test([r[key] for r in rows], [r["transition_lower"] for r in rows],
                             [r["transition_upper"] for r in rows], permutations=permutations)

    def summary(self, network: str, k: int | None = None) -> dict[str, float]:
        r"""The control statistics of one network, averaged over its control lines after the last block
        (:meth:`control_mean`, at ``k``, default :meth:`network_k`):

        - ``distance_final``, ``distance_init``: distance of the trained and of the initial peak of the features'
          log volume element from the trained network's class transition (cross-class lines);
        - ``contrast_init``, ``contrast_final``: contrast (peak minus the mean of the ends: positive for any
          monotone curve too); ``prominence_init``, ``prominence_final``: peak over the larger end (positive only
          for an interior peak);
        - ``entropy_corr_init``, ``entropy_corr_final``: Pearson correlation along each line of the initial and of
          the trained log volume element with the trained network's log prediction entropy;
          ``entropy_partial_init``, ``entropy_partial_final``: the same given the distance to the nearest anchor;
        - ``same_*``: the same statistics on the same-class lines;
        - ``depth_gain``: how much more the prominence grows from the first to the last measured block after
          training than at initialisation, :math:`(P^{\text{final}}_{\text{last}} - P^{\text{final}}_{\text{first}})
          - (P^{\text{init}}_{\text{last}} - P^{\text{init}}_{\text{first}})` (the cross-class lines measured after
          every block);
        - ``accuracy``: test accuracy after training.
        """
        first, last = self.settings.blocks[0], self.settings.blocks[-1]
        mean = functools.partial(self.control_mean, network=network, k=k)
        gain = sum(sign * mean("cross", key=key, block=b, profile=True)
                   for sign, key, b in ((1, "prominence_final", last), (-1, "prominence_final", first),
                                        (-1, "prominence_init", last), (1, "prominence_init", first)))
        keys = ("contrast_init", "contrast_final", "prominence_init", "prominence_final", "entropy_corr_init",
                "entropy_corr_final", "entropy_partial_init", "entropy_partial_final")
        out = {key: mean("cross", key=key) for key in ("distance_final", "distance_init") + keys}
        if self.control_table("same", network):
            out |= {f"same_{key}": mean("same", key=key) for key in keys}
        return out | {"depth_gain": gain, "accuracy": self.test_accuracy[network][self.epochs[-1]]}

    def depth_profiles(self, networks: Sequence[str], kind: str = "cross") -> dict[str, list]:
        """:meth:`depth_profile` of several networks stacked: ``{"blocks": (nb,), "init": (N, nb), "final": (N, nb)}``
        (for :func:`~paperlib.chapters.deep_figures.depth_plot`'s mean and band over seeds)."""
        profiles = [self.depth_profile(n, kind) for n in networks]
        if not profiles:
            raise ValueError("networks must name at least one network")
        return {"blocks": profiles[0]["blocks"], **{k: [p[k] for p in profiles] for k in ("init", "final")}}

    def depth_profile(self, network: str, kind: str = "cross") -> dict[str, list[float]]:
        """Per measured block: the mean prominence of ``network``'s control lines of ``kind`` measured after every
        block, at initialisation and after training, ``{"blocks", "init", "final"}``."""
        blocks = list(self.settings.blocks)
        return {"blocks": blocks,
                "init": [self.control_mean(kind, network, "prominence_init", b, profile=True) for b in blocks],
                "final": [self.control_mean(kind, network, "prominence_final", b, profile=True) for b in blocks]}


def _predict(model: ResNet, X: torch.Tensor, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Predicted class and entropy (float64 forward pass, eval mode): ``(B, C, H, W) -> (B,), (B,)``."""
    state = {k: v.to(device, torch.float64) if v.dtype.is_floating_point else v.to(device)
             for k, v in model.state_dict().items()}
    with torch.no_grad():
        logits = torch.cat([torch.func.functional_call(model, state, (xc.to(device, torch.float64),))
                            for xc in X.split(256)]).cpu()
    return logits.argmax(1), class_entropy(logits)


def _log_volume(model: ResNet, X: torch.Tensor, block: int, s: DeepPreset, device: torch.device) -> torch.Tensor:
    """``(B,)`` top-``k`` log10 volume element of ``block``'s pooled features at ``X: (B, C, H, W)``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", _geometry.RankDeficiencyWarning)  # -inf is reported by run() itself
        return _geometry.log_volume_element(model.feature_map(block, s.size), X, k=s.rank_for(model.activation),
                                            dtype=getattr(torch, s.dtype), device=device,
                                            chunk_size=s.chunk_size).cpu()


def _line_record(model: ResNet, ln: _slices.Line, blocks: Sequence[int], s: DeepPreset,
                 device: torch.device) -> dict:
    """Log volume element along ``ln`` and at both anchors after each of ``blocks`` (``(nb, T)``, ``(nb, 2)``);
    prediction and entropy along it (``(T,)``)."""
    pts = torch.cat([ln.points, ln.anchors[1:]])
    lv = torch.stack([_log_volume(model, pts, b, s, device) for b in blocks])
    pred, ent = _predict(model, ln.points, device)
    return {"log_volume": lv[:, :-1], "end": torch.stack([lv[:, 0], lv[:, -1]], 1), "predicted": pred,
            "entropy": ent}


def _measure_figures(result: _train.TrainResult, s: DeepPreset, anchor_img: dict[int, torch.Tensor],
                     device: torch.device) -> dict:
    """The geometry of the figures (the payload of the geometry cache): the Fig. 3 line at every snapshot, the plane
    at the figure epochs, the Fig. 4 line after every block at the first and last epoch."""
    epochs = result.epochs
    first, last = epochs[0], epochs[-1]
    ln = _slices.line(*(anchor_img[c] for c in s.line_classes), s.line_steps)
    recs = [_line_record(result.model(e), ln, [4], s, device) for e in epochs]  # the features
    out: dict = {"line": {"epochs": epochs, "log_volume": torch.stack([r["log_volume"][0] for r in recs]),
                          "end": torch.stack([r["end"][0] for r in recs]),
                          "predicted": torch.stack([r["predicted"] for r in recs]),
                          "entropy": torch.stack([r["entropy"] for r in recs])}}
    bl = _slices.line(*(anchor_img[c] for c in s.block_classes), s.line_steps)
    brecs = [_line_record(result.model(e), bl, s.blocks, s, device) for e in (first, last)]
    out["blocks"] = {"epochs": [first, last], "log_volume": torch.stack([r["log_volume"] for r in brecs], 1),
                     "end": torch.stack([r["end"] for r in brecs], 1),
                     "predicted": torch.stack([r["predicted"] for r in brecs]),
                     "entropy": torch.stack([r["entropy"] for r in brecs])}
    pl = _slices.plane(*(anchor_img[c] for c in s.plane_classes), s.plane_steps)
    fig_eps = [e for e in s.figure_epochs if e in epochs]
    rows = []
    for e in fig_eps:
        m = result.model(e)
        pred, ent = _predict(m, pl.points, device)
        rows.append((_log_volume(m, pl.points, 4, s, device), pred, ent))
    out["plane"] = {"epochs": fig_eps, "log_volume": torch.stack([r[0] for r in rows]),
                    "predicted": torch.stack([r[1] for r in rows]), "entropy": torch.stack([r[2] for r in rows])}
    return out


def _log_singular_values(model: ResNet, X: torch.Tensor, block: int, s: DeepPreset,
                         device: torch.device) -> torch.Tensor:
    r"""``(B, K)`` float64 :math:`\log_{10}` of the singular values (descending) of the Jacobian of ``block``'s
    pooled features at ``X: (B, C, H, W)``: the top-``k`` log volume element is the sum of the first ``k``."""
    sv = _geometry.spectrum(model.feature_map(block, s.size), X, dtype=getattr(torch, s.dtype), device=device,
                            chunk_size=s.chunk_size)
    return sv.cpu().double().log10()


def control_ks(s: DeepPreset, activation: str) -> tuple[int, ...]:
    """The ``k`` at which a network with ``activation`` is measured on the control lines: its own
    (:meth:`DeepPreset.rank_for`) and that of every other activation of the preset that is not larger (so that a
    GELU network is also measured at the ReLU networks' ``k``)."""
    own = s.rank_for(activation)
    return tuple(sorted({own} | {s.rank_for(a) for a in s.activations if s.rank_for(a) <= own}))


def _measure_controls(result: _train.TrainResult, s: DeepPreset, x_test: torch.Tensor,
                      lines: list[tuple[str, tuple[int, int], tuple[int, int]]], ks: Sequence[int],
                      device: torch.device) -> dict:
    """Per control line, block and ``k``: :func:`~paperlib.chapters.core.line_statistics` of the network at
    initialisation against the trained one (transitions and entropy of the trained network). The first
    ``s.block_lines`` lines of each kind are measured after every block (``profile``), the others after the last."""
    m0, m1 = result.model(result.epochs[0]), result.model(result.epochs[-1])
    rows, seen = [], {"cross": 0, "same": 0}
    for index, (kind, pair, (i, j)) in enumerate(lines):
        profile = seen[kind] < s.block_lines
        seen[kind] += 1
        ln = _slices.line(x_test[i].double(), x_test[j].double(), s.line_steps)
        pts = torch.cat([ln.points, ln.anchors[1:]])
        pred, ent = _predict(m1, ln.points, device)
        for block in (s.blocks if profile else s.blocks[-1:]):
            lv0 = _log_singular_values(m0, pts, block, s, device).cumsum(1)  # column k - 1: top-k log volume
            lv1 = _log_singular_values(m1, pts, block, s, device).cumsum(1)
            for k in ks:
                a, b = lv0[:, k - 1], lv1[:, k - 1]
                rows.append({"kind": kind, "pair": list(pair), "anchors": [i, j], "line": index, "block": block,
                             "k": k, "profile": profile,
                             **line_statistics(ln.t, a[:-1], torch.stack([a[0], a[-1]]), b[:-1],
                                               torch.stack([b[0], b[-1]]), pred, ent)})
    return {"rows": rows}


def control_lines(s: DeepPreset, y_test: torch.Tensor, seed: int, *, x_test: torch.Tensor | None = None,
                  model: ResNet | None = None, device: torch.device | str = "cpu") -> list[
                      tuple[str, tuple[int, int], tuple[int, int]]]:
    r"""The control lines of the network with ``seed``: ``s.lines`` cross-class and ``s.same_lines`` same-class
    lines between test images (:func:`~paperlib.chapters.core.random_line_pairs`, seeds ``draw_seed + seed`` and
    ``draw_seed + seed + 10000``), so that every seed is measured on other lines.

    With ``s.spread`` (and the trained ``model`` and the test images ``x_test``), the cross-class lines are chosen
    from ``s.spread`` times as many random candidates so that the trained network's class transitions spread
    evenly over :math:`t \in [0.15, 0.85]` (:func:`~paperlib.chapters.core.spread_selection`: the choice sees
    only the predicted classes along the lines, never the volume element)."""
    base = s.draw_seed + seed
    same = random_line_pairs(y_test, s.same_lines, base + 10000, same_class=True) if s.same_lines else []
    if not s.lines:
        return same
    if not s.spread or model is None or x_test is None:
        return random_line_pairs(y_test, s.lines, base) + same
    candidates = random_line_pairs(y_test, s.lines * s.spread, base)
    centres = []
    for _, _, (i, j) in candidates:
        ln = _slices.line(x_test[i].double(), x_test[j].double(), s.line_steps)
        changes = class_changes(ln.t, _predict(model, ln.points, resolve_device(device))[0])
        centres.append(0.5 * float(changes[0] + changes[-1]) if changes.numel() else math.nan)
    return [candidates[i] for i in spread_selection(centres, s.lines)] + same


@dataclass(frozen=True)
class NetworkContext:
    """What every network job of :func:`run_networks` shares: the preset ``s``, the data (:func:`deep_data`), the
    anchors ``{class: test index}`` and their images, the control lines, the cache, the device and the options."""

    s: Preset
    data: dict
    anchors: dict[int, int]
    anchor_img: dict[int, torch.Tensor]
    lines: list
    store: _cache.Cache
    device: torch.device
    options: Options


@dataclass(frozen=True)
class NetworkJob:
    """One network of :func:`run_networks`: its position (0 draws the figures), name (the activation or the
    method) and seed, and the shared context."""

    index: int
    name: str
    seed: int
    context: NetworkContext


@dataclass
class NetworkOutcome:
    """What a network job returns: the training run, the figures' measurements (the first network only, else
    ``None``), the control rows and the test accuracy per epoch (or anything a chapter adds in ``extra``)."""

    result: _train.TrainResult
    figures: dict | None = None
    rows: list = dataclasses.field(default_factory=list)
    test_accuracy: dict = dataclasses.field(default_factory=dict)
    extra: dict = dataclasses.field(default_factory=dict)


def run_networks(s: DeepPreset, job: Callable[[NetworkJob], NetworkOutcome], options: Options, *,
                 url: str | None = None, md5: str | None = None,
                 data: dict | None = None) -> tuple[NetworkContext, list[NetworkOutcome]]:
    """What :func:`run` and :func:`paperlib.chapters.selfsup.run` share: load the data (:func:`deep_data`, unless
    the caller passes what it returned as ``data``), choose the anchors and the control lines, and run ``job`` for
    every network ``(name, seed)`` of ``s.networks()`` in worker processes (one per CPU core on the CPU, 1 on a
    GPU, or ``options.workers``). Returns the shared context and the jobs' outcomes, in order."""
    dev = resolve_device(options.device)
    store = options.store()
    d = deep_data(s, data_dir=options.data_dir, download=options.download, url=url, md5=md5) if data is None else data
    anchors = anchor_indices(d["x_test"], d["y_test"], d["x"], d["y"])
    needed = set(s.line_classes) | set(s.plane_classes) | set(s.block_classes) | set(s.same_class)
    missing = (needed | {c for p in s.pairs for c in p}) - set(anchors)
    if missing:
        raise ValueError(f"the data have no test images of classes {sorted(missing)}")
    context = NetworkContext(s, d, anchors, {c: d["x_test"][i].double() for c, i in anchors.items()},
                             control_anchor_pairs(d["y_test"], s.pairs, s.same_class, s.draw_seed), store, dev,
                             options)
    jobs = [NetworkJob(i, name, seed, context) for i, (name, seed) in enumerate(s.networks())]
    workers = options.workers if options.workers or dev.type == "cpu" else 1
    return context, _workers.parallel_map(job, jobs, workers=workers)


def train_options(options: Options) -> dict:
    """The keywords of :func:`paperlib.train.train` that ``options`` sets."""
    return {"cache": options.cache, "cache_dir": options.cache_dir, "progress": options.progress,
            "num_threads": options.num_threads}


def _network_job(job: NetworkJob) -> NetworkOutcome:
    """Train one network of :func:`run` and measure it (in a worker process, or here): the figures for the first,
    the control lines for every one; each measurement is cached."""
    c = job.context
    s, d, store, device = c.s, c.data, c.store, c.device
    loss = (_train.augmented(_data.cifar10_augmentation(32, s.padding, flip=s.flip, fill=d["fill"].tolist()))
            if s.augment else None)
    result = _train.train(s.model(job.name), (d["x"], d["y"]), s.train_config(job.seed), loss=loss,
                          evaluate=_train.classification_metrics(d["x_test"], d["y_test"], batch_size=500),
                          device=device, **train_options(c.options))
    out = NetworkOutcome(result)
    geometry = {k: v for k, v in s.to_dict().items() if k in ("line_steps", "blocks", "block_size", "k", "relu_k",
                                                               "dtype")}
    geometry["code"] = _cache.code_digest(_measure_figures, _measure_controls, _line_record, _log_volume, _predict,
                                          _log_singular_values)
    with _workers.threads(c.options.num_threads):
        if job.index == 0:
            fp = _cache.fingerprint(torch.stack([c.anchor_img[k] for k in sorted(c.anchor_img)]))
            desc = {"what": "deep figures", "train": result.key, "anchors": fp, "settings": geometry,
                    **{k: getattr(s, k) for k in ("plane_steps", "figure_epochs", "line_classes", "plane_classes",
                                                  "block_classes")}}
            out.figures = cached(store, desc, lambda: _measure_figures(result, s, c.anchor_img, device))
        lines = control_lines(s, d["y_test"], job.seed, x_test=d["x_test"], model=result.model(result.epochs[-1]),
                              device=device)
        if lines:
            ks = control_ks(s, job.name)
            desc = {"what": "deep controls", "train": result.key, "settings": geometry, "ks": list(ks),
                    "block_lines": s.block_lines, "lines": [[kind, list(p), list(ij)] for kind, p, ij in lines],
                    "test": _cache.fingerprint(d["x_test"])}
            out.rows = cached(store, desc, lambda: _measure_controls(result, s, d["x_test"], lines, ks,
                                                                      device))["rows"]
    out.test_accuracy = {e: float(result.history["accuracy"][e]) for e in result.epochs}
    return out


def run(
    preset: str | DeepPreset = "book",
    options: Options | None = None,
    *,
    epochs: int | None = None,
    activations: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    line_steps: int | None = None,
    plane_steps: int | None = None,
    blocks: Sequence[int] | None = None,
    k: int | None = None,
    dtype: str | None = None,
    train_size: int | None = None,
    url: str | None = None,
    md5: str | None = None,
    **overrides,
) -> DeepExperiment:
    r"""Figs. 3-4: a CIFAR-style :class:`~paperlib.models.ResNet` trained to classify images; the geometry of its
    features :math:`\Phi(x)` (the last block's output, average-pooled) on the normalised input space.

    Measured with the top-``k`` log pseudo-determinant :math:`\sum_{i \le k} \log_{10} s_i(J)` of the pooled
    features of a block (:func:`paperlib.geometry.log_volume_element`, batch norm in eval mode, TF32 off):

    - Fig. 3, line: between the anchors of ``line_classes`` (horse -> frog on CIFAR-10, 7 -> 6 on digits) at every
      snapshot: log volume element, predicted class and prediction entropy;
    - Fig. 3, plane: through the anchors of ``plane_classes`` (horse / frog / car; 7 / 6 / 1) at the figure epochs:
      the same three quantities (the ternary view keeps the triangle of the anchors);
    - Fig. 4: the line between the anchors of ``block_classes`` (car -> dog; 1 -> 5) after every block of
      ``blocks``, each block's output pooled to ``block_size`` numbers, at the first and the last epoch.

    Anchors are the test images nearest to their class's mean training image
    (:func:`~paperlib.chapters.core.anchor_indices`). Epoch 0 is the initialisation (the authors saved their
    "epoch 0" after one epoch).

    Controls (``DeepExperiment.controls``, one row per network, line, block and ``k``): every network of
    :meth:`DeepPreset.networks` (the first activation at every seed, the others at the first seed), at its
    initialisation and after training, on control lines drawn anew for each seed (:func:`control_lines`):
    ``lines`` lines between test images of two random different classes and ``same_lines`` between two test
    images of one class, which cross no boundary of the task. Per line (after the last block; the first
    ``block_lines`` of each kind after every block): :func:`~paperlib.chapters.core.line_statistics` -- contrast
    and prominence at initialisation and after training, the peak positions and the trained network's class
    transition, the correlation and the partial correlation (given the distance to the nearest anchor) along the
    line of the log volume element with the trained network's log prediction entropy -- at the network's ``k``
    and at the smaller ``k`` of the other activations (:func:`control_ks`). :meth:`DeepExperiment.summary`
    averages them per network; :meth:`DeepExperiment.location` tests whether the peaks sit at the transitions
    against a midpoint and a shuffled-transition null.

    Presets (:data:`PRESETS`; ``"tiny"``: seconds, a smoke test):

    - ``"paper"``: ResNet-34 (``depths=(3, 4, 6, 3)``, width 64), GELU (in the blocks too), CIFAR-10 normalised
      with its channel means and deviations, SGD lr 0.01, momentum 0.9, weight decay 1e-4, batch 1024, 500 epochs,
      constant learning rate, random crop (pad 4) + flip; snapshots 0/50/200/500; line 64 steps, plane 80 x 80,
      blocks pooled to 512, ``k = 512`` (ReLU: 256), float64 Jacobians; control lines for six class pairs and four
      classes. GPU work (``device="auto"``): hours of training, and minutes per plane on one GPU (estimated from
      the operation count, not measured: no GPU was available).
    - ``"book"``: about four minutes on a 2-core CPU from an empty cache. A narrow ResNet (one block per stage,
      width 8, 64 features) on the offline MNIST subset padded to 32 x 32 (CIFAR-10 cannot be downloaded where the
      book is built), SGD lr 0.05, batch 128, 8 epochs, random crop (pad 2) without flips (a mirrored digit is
      no digit); GELU at seeds 0, 1, 2 and ReLU at seed 0; line 24 steps, plane 16 x 16; blocks pooled to 64,
      ``k = 64`` (ReLU: 32), float32 Jacobians (singular values and logs in float64; the chapter compares
      them with float64 Jacobians).

    Args:
        preset: ``"book"``, ``"paper"`` or a :class:`DeepPreset`.
        epochs: train this many epochs, the snapshot and figure epochs rescaled in proportion.
        activations, seeds, line_steps, plane_steps, blocks, k, dtype, train_size, overrides: override the preset
            (any field of :class:`DeepPreset`).
        options: the device of training and geometry (``"auto"``: CUDA when present), the cache (which also
            covers the geometry), progress, torch threads per network, worker processes (one network each;
            ``None``: one per CPU core on the CPU, 1 on a GPU), where CIFAR-10 is kept and whether it may be
            downloaded (:class:`~paperlib.chapters.registry.Options`).
        url, md5: where CIFAR-10 is fetched from and its checksum (:func:`paperlib.data.cifar10`).

    Returns:
        :class:`DeepExperiment`.
    """
    options = as_options(options)
    s = resolve(PRESETS, preset, activations=activations, seeds=seeds, line_steps=line_steps,
                plane_steps=plane_steps, blocks=blocks, k=k, dtype=dtype, train_size=train_size, **overrides)
    s = s.with_epochs(epochs)
    context, outs = run_networks(s, _network_job, options, url=url, md5=md5)
    d, anchors, anchor_img, networks = context.data, context.anchors, context.anchor_img, s.networks()
    payload = outs[0].figures
    names = [_name(a, seed) for a, seed in networks]

    def geometry(classes, rec, block=None) -> LineGeometry:
        ln = _slices.line(anchor_img[classes[0]], anchor_img[classes[1]], s.line_steps)
        lv, end = (rec["log_volume"], rec["end"]) if block is None else (rec["log_volume"][block],
                                                                          rec["end"][block])
        return LineGeometry(tuple(classes), ln, tuple(rec["epochs"]), lv, end, rec["predicted"], rec["entropy"])

    pl = payload["plane"]
    plane = PlaneGeometry(tuple(s.plane_classes), _slices.plane(*(anchor_img[c] for c in s.plane_classes),
                                                                s.plane_steps),
                          tuple(pl["epochs"]), pl["log_volume"], pl["predicted"], pl["entropy"])
    blocks_geom = {b: geometry(s.block_classes, payload["blocks"], i) for i, b in enumerate(s.blocks)}
    rows = [{"network": name, "activation": act, "seed": seed, **row}
            for name, (act, seed), out in zip(names, networks, outs) for row in out.rows]
    values = [payload["line"]["log_volume"], pl["log_volume"], payload["blocks"]["log_volume"]]
    if any(bool(torch.isneginf(v).any()) for v in values):
        warnings.warn(f"the log volume element is -inf at some points: k = {s.rank_for(s.activations[0])} exceeds "
                      "the numerical rank of the Jacobian there; pass a smaller k", RuntimeWarning, stacklevel=2)
    return DeepExperiment(preset if isinstance(preset, str) else "custom", s,
                          {n: out.result for n, out in zip(names, outs)}, d["x_test"], d["y_test"], anchors,
                          geometry(s.line_classes, payload["line"]), plane, blocks_geom, rows,
                          {n: out.test_accuracy for n, out in zip(names, outs)})


# ------------------------------------------------------------------------------------------------------------------
# the chapter's claims: statistics against their nulls, with thresholds fixed before the measurement
# ------------------------------------------------------------------------------------------------------------------

#: Thresholds of :func:`line_claims`, fixed before the book preset was measured: the location margin is about one
#: sampling step of a 24-step line; 1 decade is a factor of 10 in the area element; 0.3 a moderate correlation.
CLAIM_THRESHOLDS = {"location_margin": 0.05, "alpha": 0.01, "prominence": 1.0, "partial": 0.3,
                    "plane": 0.5, "depth_gain": 0.5, "block_gain": 0.5}


#: The statistics of :func:`summary_table`, in its order.
SUMMARY_KEYS = ("prominence_init", "prominence_final", "same_prominence_init", "same_prominence_final",
                "contrast_init", "contrast_final", "entropy_corr_init", "entropy_corr_final", "same_entropy_corr_final",
                "entropy_partial_init", "entropy_partial_final", "same_entropy_partial_final", "distance_init",
                "distance_final", "depth_gain")


def summary_table(summaries: dict[str, dict], first: Sequence[str], relu: Sequence[str] = ()) -> str:
    """A text table of :meth:`DeepExperiment.summary` values: mean ± sd over the networks ``first`` (one column)
    and each network of ``relu`` (one column each); rows :data:`SUMMARY_KEYS`."""
    cols = [f"{'statistic':>27} {'GELU, ' + str(len(first)) + ' seeds':>14}"] + [f"{n:>12}" for n in relu]
    rows = [" ".join(cols)]
    for key in SUMMARY_KEYS:
        cells = [f"{key:>27} {mean_sd_text([summaries[n][key] for n in first]):>14}"]
        cells += [f"{summaries[n][key]:12.2f}" for n in relu]
        rows.append(" ".join(cells))
    return "\n".join(rows)


def line_claims(ex: DeepExperiment, networks: Sequence[str], k: int | None = None) -> dict[str, tuple[bool, str]]:
    """Claims 1-3 of chapter 7 for each of ``networks`` (at ``k``, default each network's own), with the thresholds
    of :data:`CLAIM_THRESHOLDS`: ``{claim: (holds for every network, "passes in m of n: " and the numbers per
    network)}``.

    1. ``"peak at the transition"``: :meth:`LocationTest.passes` with margin ``location_margin`` and ``alpha``;
    2. ``"peak specific to boundaries"``: cross-class prominence after training minus at initialisation, and minus
       the same-class prominence after training, both above ``prominence`` decades;
    3. ``"follows the entropy"``: partial correlation (given the distance to the nearest anchor) after training
       above ``partial`` and above the initial network's by more than ``partial``.
    """
    th = CLAIM_THRESHOLDS
    loc, prom, part = [], [], []
    texts = {"peak at the transition": [], "peak specific to boundaries": [], "follows the entropy": []}
    for name in networks:
        t = ex.location(name, k=k)
        loc.append(t.passes(margin=th["location_margin"], alpha=th["alpha"]))
        texts["peak at the transition"].append(
            f"{name}: D {t.distance:.3f} vs nulls {t.midpoint:.3f}/{t.shuffled:.3f}, p {t.p_shuffled:.4f}, "
            f"rank r {t.rank_correlation:.2f} (p {t.p_rank:.4f})")
        v = ex.summary(name, k=k)
        gain = v["prominence_final"] - v["prominence_init"]
        over_same = v["prominence_final"] - v["same_prominence_final"]
        prom.append(gain > th["prominence"] and over_same > th["prominence"])
        texts["peak specific to boundaries"].append(f"{name}: +{gain:.2f} over init, +{over_same:.2f} over same-class")
        rise = v["entropy_partial_final"] - v["entropy_partial_init"]
        part.append(v["entropy_partial_final"] > th["partial"] and rise > th["partial"])
        texts["follows the entropy"].append(f"{name}: partial r {v['entropy_partial_final']:.2f} "
                                            f"(init {v['entropy_partial_init']:.2f}, same-class "
                                            f"{v['same_entropy_partial_final']:.2f})")
    return {claim: (all(ok), f"passes in {sum(ok)} of {len(ok)}: " + "; ".join(texts[claim]))
            for claim, ok in zip(texts, (loc, prom, part))}


def block_claims(ex: DeepExperiment, networks: Sequence[str]) -> dict[int, tuple[bool, str]]:
    """Per measured block, whether training gives the cross-class lines measured after every block an interior
    peak: the mean prominence after training minus at initialisation above ``block_gain`` decades
    (:data:`CLAIM_THRESHOLDS`) for every network of ``networks``; with the numbers per network, and the same-class
    lines' prominence after training beside them. ``{block: (holds, text)}``."""
    out = {}
    for block in ex.settings.blocks:
        gains, texts = [], []
        for name in networks:
            mean = functools.partial(ex.control_mean, network=name, block=block, profile=True)
            final, init = mean("cross", key="prominence_final"), mean("cross", key="prominence_init")
            same = mean("same", key="prominence_final") if ex.control_table("same", name, block) else math.nan
            gains.append(final - init > CLAIM_THRESHOLDS["block_gain"])
            texts.append(f"{init:.2f} -> {final:.2f} (same-class {same:.2f})")
        out[block] = (all(gains), "; ".join(texts))
    return out
