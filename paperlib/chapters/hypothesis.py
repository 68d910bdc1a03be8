r"""Chapter 10: what the geometric invariance hypothesis predicts during training (Movahedi et al.,
arXiv:2410.12025).

:func:`run` measures, for one preset (figures: :mod:`paperlib.chapters.hypothesis_figures`),

1. **G during training**: the average geometry :math:`\hat G_t` over many training runs (seeds: initialisation
   and minibatch order) of an MLP, a LeNet, a small ResNet and a small vision transformer on two MNIST digits
   (squared error on targets :math:`\pm 1`, and the same with random labels), at every epoch
   (:func:`paperlib.gih.geometry_during_training`, one network at a time). Its change :math:`\hat G_t - \hat G_0`
   (paired: the same networks at the same input points) is compared with :math:`G_0 S G_0`, with :math:`S`, and
   with the rotated control :math:`G_0 R G_0` (:math:`R`: :math:`S`'s eigenvalues, random eigenvectors), where
   :math:`G_0` is an *independent* estimate over many fresh networks; the runs are split into groups that give
   independent estimates (mean ± sd over groups). Also :math:`\rho(\hat G_t, \cdot)` itself, as the paper plots
   it, and the velocity :math:`1 - \rho(\hat G_{t+1}, \hat G_t)`;
2. **memorisation along and against the geometry**: random labels on Gaussian inputs :math:`N(0, c\,G_0)` of
   each low-rank architecture's own :math:`G_0`, against the same eigenvectors with the eigenvalue order reversed
   (:func:`paperlib.data.gih_gaussian`); the speed of memorisation is the mean training accuracy over the epochs,
   and the MLP trained on the same two sets is the control (its initial law is nearly rotation invariant, so
   where the variance sits should not matter to it);
3. **eigen-index sweep** on real images: labels of the two-digit images replaced by a function of the projection
   on the ``k``-th eigenvector of :math:`G S G` (LeNet's :math:`G`; linear, quadratic and sinusoidal forms,
   :func:`paperlib.gih.projection_labels`), test accuracy against ``k`` for LeNet and for the MLP on the same
   labels (the control: its :math:`G \propto I` has no preferred directions);
4. **simplicity bias**: the circles in the plane of LeNet's top two eigenvectors of :math:`G` plus a linear feature
   along its ``k``-th eigenvector that decides the class too (:func:`paperlib.data.gih_shortcut`); the reliance on
   the shortcut is the test accuracy minus the accuracy when the linear feature contradicts the circles, against
   ``k``, for LeNet and the MLP;
5. **projecting out directions**: a two-digit task with the top ``m`` eigenvectors of :math:`G S G` removed from
   every image, against ``m`` random directions and the bottom ``m``;
6. **pruning by geometry**: training images scored by :math:`s(x) = \hat x^\top G \hat x`, the highest-scoring
   fraction kept, against a random fraction and the lowest-scoring one.

The numbering is the issue's and the chapter's; :func:`claims` gives each experiment's verdicts against its null.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from .. import cache as _cache
from .. import data as _data
from .. import gih as _gih
from .. import models as _models
from .. import train as _train
from .. import workers as _workers
from .._checks import check_choice, check_int, check_ints, check_number, resolve_device
from .core import Preset, cached, mean_sd, resolve
from .registry import Options, as_options

__all__ = ["HypothesisPreset", "PRESETS", "HypothesisExperiment", "ARCHITECTURES", "build_network",
           "squared_error", "digit_pair", "random_labels", "Accuracies", "run", "Claim", "claims"]

#: The architectures of the chapter (``"vit"``: :class:`paperlib.models.VisionTransformer`).
ARCHITECTURES = ("mlp", "lenet", "resnet", "vit")
#: The data sets of the image tasks: the offline MNIST subset (``(1, 32, 32)``, zero-padded digits in [0, 1]) or
#: CIFAR-10 (``(3, 32, 32)``, standardised per channel; the paper's "CIFAR-2" is two of its classes).
DATA = ("mnist", "cifar10")


@dataclass(frozen=True)
class HypothesisPreset(Preset):
    r"""Settings of :func:`run`.

    Attributes:
        data: of the image tasks, a name of :data:`DATA`; ``"cifar10"`` (the paper preset) needs the CIFAR-10
            archive (``Options.data_dir``, ``Options.download``) and makes every input ``(3, 32, 32)``.
        architectures: of experiment 1 (names of :data:`ARCHITECTURES`); activation: of every network;
            resnet_depths, resnet_width: the ResNet; vit_patch, vit_dim, vit_depth, vit_heads: the transformer.
        train_images: two-class training images of experiment 1 (the first half of each class of
            ``sweep_digits``, targets -1 / +1);
            runs: training runs per architecture and labelling, split into ``groups`` groups of consecutive
            seeds; epochs, lr, momentum, clip_norm, batch_size: SGD (learning rate decayed linearly to 0) on
            the squared error; inputs, sigma_x: input points per network for :math:`\hat G_t`;
            reference_networks, reference_inputs: fresh networks of the independent :math:`G_0` and inputs per
            network (many rows, so that the estimate of an isotropic :math:`G_0` is nearly isotropic); rotations:
            draws of the rotated control.
        direction_networks, direction_sigma_x: LeNet's :math:`G` whose eigenvectors (and those of :math:`G S G`)
            give the directions of experiments 3-6 (:func:`paperlib.gih.average_geometry`, one input per network).
        memorise_architectures: the low-rank architectures of experiment 2 (each also trains the MLP on its sets);
            memorise_size: Gaussian inputs with random balanced labels; memorise_epochs: their training.
        sweep_digits: the two classes (digits, or CIFAR-10 classes) of experiment 1 and of the images
            relabelled in the sweep; sweep_architectures: trained in experiments 3-5;
            sweep_forms, sweep_indices: label forms and eigen-indices; shortcut_plane: eigen-indices of LeNet's
            :math:`G` spanning the circles of experiment 4; shortcut_indices: of the linear feature's direction;
            shortcut_train, shortcut_test, shortcut_epsilon, shortcut_r_outer, shortcut_r_inner: its data
            (:func:`paperlib.data.gih_shortcut`, unit noise); task_digits: the two classes of the task of
            experiments 5-6;
            project_counts: directions removed; prune_fractions: fractions kept; seeds: of experiments 2-6;
            task_epochs, task_lr, task_batch_size: their training (cross-entropy, SGD as above).
    """

    data: str = "mnist"
    architectures: tuple[str, ...] = ARCHITECTURES
    activation: str = "gelu"
    resnet_depths: tuple[int, ...] = (1, 1, 1, 1)
    resnet_width: int = 4
    vit_patch: int = 8
    vit_dim: int = 32
    vit_depth: int = 1
    vit_heads: int = 2
    train_images: int = 256
    runs: int = 24
    groups: int = 3
    epochs: int = 4
    lr: float = 0.2
    momentum: float = 0.9
    clip_norm: float = 0.5
    batch_size: int = 32
    inputs: int = 8
    sigma_x: float = 1.0
    reference_networks: int = 1024
    reference_inputs: int = 16
    rotations: int = 3
    direction_networks: int = 4096
    direction_sigma_x: float = 1e-3
    memorise_architectures: tuple[str, ...] = ("lenet", "resnet", "vit")
    memorise_size: int = 256
    memorise_epochs: int = 10
    shortcut_plane: tuple[int, int] = (0, 1)
    shortcut_indices: tuple[int, ...] = (2, 20, 100, 500)
    shortcut_train: int = 1_000
    shortcut_test: int = 1_000
    shortcut_epsilon: float = 1.0
    shortcut_r_outer: float = 1.5
    shortcut_r_inner: float = 0.25
    sweep_digits: tuple[int, int] = (0, 1)
    sweep_architectures: tuple[str, ...] = ("lenet", "mlp")
    sweep_forms: tuple[str, ...] = ("linear", "quadratic", "sinusoidal")
    sweep_indices: tuple[int, ...] = (0, 10, 50, 200)
    task_digits: tuple[int, int] = (4, 9)
    project_counts: tuple[int, ...] = (5, 20, 80)
    prune_fractions: tuple[float, ...] = (0.1, 0.25, 0.5)
    seeds: tuple[int, ...] = (0, 1, 2)
    task_epochs: int = 5
    task_lr: float = 0.2
    task_batch_size: int = 32

    def __post_init__(self) -> None:
        check_choice(self.data, "data", DATA)
        d = self.shape[0] * self.shape[1] * self.shape[2]
        for a in self.architectures + self.sweep_architectures:
            check_choice(a, "architectures", ARCHITECTURES)
        for a in self.memorise_architectures:
            check_choice(a, "memorise_architectures", ARCHITECTURES[1:])
        if len(check_ints(self.shortcut_plane, "shortcut_plane", min=0, max=d - 1)) != 2 or \
                self.shortcut_plane[0] == self.shortcut_plane[1]:
            raise ValueError(f"shortcut_plane must be two different eigen-indices; got {self.shortcut_plane!r}")
        check_ints(self.shortcut_indices, "shortcut_indices", min=0, max=d - 1)
        if set(self.shortcut_indices) & set(self.shortcut_plane):
            raise ValueError("shortcut_indices must not contain the circles' plane (shortcut_plane)")
        for name in ("memorise_size", "shortcut_train", "shortcut_test"):
            if check_int(getattr(self, name), name, min=2) % 2:
                raise ValueError(f"{name} must be even (balanced classes); got {getattr(self, name)}")
        check_int(self.memorise_epochs, "memorise_epochs", min=1)
        check_number(self.shortcut_epsilon, "shortcut_epsilon", min=0, open_min=True)
        check_number(self.shortcut_r_outer, "shortcut_r_outer", min=0, open_min=True)
        check_number(self.shortcut_r_inner, "shortcut_r_inner", min=0, max=self.shortcut_r_outer)
        for f in self.sweep_forms:
            check_choice(f, "sweep_forms", _gih.LABEL_FORMS)
        for name in ("resnet_width", "vit_patch", "vit_dim", "vit_depth", "vit_heads", "train_images", "runs",
                     "groups", "epochs", "batch_size", "inputs", "reference_networks", "reference_inputs", "rotations",
                     "direction_networks", "task_epochs", "task_batch_size"):
            check_int(getattr(self, name), name, min=1)
        check_ints(self.resnet_depths, "resnet_depths", min=1)
        if self.runs % self.groups or self.runs // self.groups < 2:
            raise ValueError(f"runs must be a multiple of groups with at least 2 runs per group; got runs={self.runs}, "
                             f"groups={self.groups}")
        if self.train_images % 2:
            raise ValueError(f"train_images must be even; got {self.train_images}")
        check_ints(self.sweep_indices, "sweep_indices", min=0, max=d - 1)
        check_ints(self.project_counts, "project_counts", min=1, max=d // 2)
        check_ints(self.seeds, "seeds", min=0)
        for name in ("sweep_digits", "task_digits"):
            classes = check_ints(getattr(self, name), name, min=0, max=9)
            if len(classes) != 2 or classes[0] == classes[1]:
                raise ValueError(f"{name} must be two different classes; got {classes!r}")
        for f in self.prune_fractions:
            check_number(f, "prune_fractions", min=0, open_min=True, max=1)
        for name in ("lr", "clip_norm", "sigma_x", "direction_sigma_x", "task_lr"):
            check_number(getattr(self, name), name, min=0, open_min=True)
        check_number(self.momentum, "momentum", min=0, max=0.99)

    @property
    def shape(self) -> tuple[int, int, int]:
        """The shape of one input: ``(1, 32, 32)`` for MNIST, ``(3, 32, 32)`` for CIFAR-10."""
        return (1, 32, 32) if self.data == "mnist" else (3, 32, 32)

    def network_kwargs(self, architecture: str) -> dict:
        """Keyword arguments of :func:`build_network` for ``architecture`` (``in_channels`` only where it is not
        1)."""
        if architecture == "vit":
            kw = {"patch": self.vit_patch, "dim": self.vit_dim, "depth": self.vit_depth, "heads": self.vit_heads}
        else:
            kw = {"activation": self.activation}
        if architecture == "resnet":
            kw.update(depths=self.resnet_depths, width=self.resnet_width)
        if self.shape[0] != 1:
            kw["in_channels"] = self.shape[0]
        return kw

    def factory(self, architecture: str, num_classes: int) -> functools.partial:
        """A picklable factory of freshly initialised networks ``(B, *shape) -> (B, num_classes)``."""
        return functools.partial(build_network, architecture, num_classes=num_classes,
                                 **self.network_kwargs(architecture))

    def config(self, seed: int, *, task: bool = False, epochs: int | None = None) -> _train.TrainConfig:
        """SGD with the learning rate decayed linearly to 0; experiment 1 keeps a snapshot at every epoch; the
        tasks train ``epochs`` (default ``task_epochs``) epochs."""
        if task:
            return _train.TrainConfig(lr=self.task_lr, momentum=self.momentum, schedule="linear",
                                      clip_norm=self.clip_norm, batch_size=self.task_batch_size,
                                      epochs=epochs or self.task_epochs, seed=seed)
        return _train.TrainConfig(lr=self.lr, momentum=self.momentum, schedule="linear", clip_norm=self.clip_norm,
                                  batch_size=self.batch_size, epochs=self.epochs,
                                  snapshots=tuple(range(self.epochs + 1)), seed=seed)


#: ``"book"``: a 2-core CPU in minutes; ``"hours"``: the book's networks with 2.5 times the runs and epochs, twice
#: the images, five seeds and longer tasks (a few hours on a 2-core CPU, minutes on a GPU): what would decide the
#: claims the book scale leaves open; ``"paper"``: closer to the paper's settings, for a GPU (ResNet-18, more runs
#: and epochs, all indices, two CIFAR-10 classes: airplane / automobile for experiments 1 and 3, cat / dog for 5
#: and 6); ``"tiny"``: seconds, a smoke test.
PRESETS = {
    "book": HypothesisPreset(),
    "hours": HypothesisPreset(train_images=512, runs=60, groups=5, epochs=10, reference_networks=4096,
                              direction_networks=16_384, memorise_size=512, memorise_epochs=20, shortcut_train=4_000,
                              shortcut_test=2_000, sweep_indices=(0, 10, 50, 100, 200, 400),
                              project_counts=(5, 10, 20, 40, 80), prune_fractions=(0.1, 0.2, 0.3, 0.5),
                              seeds=(0, 1, 2, 3, 4), task_epochs=15),
    "paper": HypothesisPreset(data="cifar10", sweep_digits=(0, 1), task_digits=(3, 5), resnet_depths=(2, 2, 2, 2),
                              resnet_width=64, vit_patch=4, vit_dim=64, vit_depth=4, vit_heads=4, train_images=800,
                              runs=150, groups=5, epochs=20, inputs=32, reference_networks=10_000, rotations=10,
                              direction_networks=100_000, sweep_indices=(0, 5, 10, 20, 50, 100, 200, 400, 600),
                              project_counts=(5, 10, 20, 50, 100, 200),
                              prune_fractions=(0.1, 0.2, 0.3, 0.5, 0.7), seeds=(0, 1, 2, 3, 4), task_epochs=30,
                              memorise_size=2_000, memorise_epochs=30, shortcut_train=10_000, shortcut_test=2_000,
                              shortcut_indices=(2, 10, 20, 50, 100, 200, 500, 1000)),
    "tiny": HypothesisPreset(architectures=("mlp", "lenet"), train_images=32, runs=4, groups=2, epochs=1, inputs=2,
                             reference_networks=16, reference_inputs=2, rotations=1, direction_networks=16, sweep_forms=("linear",),
                             sweep_indices=(0, 50), project_counts=(5,), prune_fractions=(0.5,), seeds=(0,),
                             task_epochs=1, memorise_architectures=("lenet",), memorise_size=32, memorise_epochs=1,
                             shortcut_indices=(2, 500), shortcut_train=64, shortcut_test=64),
}


def build_network(architecture: str, *, num_classes: int = 1, **kwargs) -> torch.nn.Module:
    """A freshly initialised network of :data:`ARCHITECTURES` on ``(B, in_channels, 32, 32)`` images (``kwargs``
    may set ``in_channels``, default 1): ``"mlp"``, ``"lenet"``, ``"resnet"`` from :func:`paperlib.gih.network`
    (their ``kwargs``), ``"vit"`` a :class:`paperlib.models.VisionTransformer` (``patch``, ``dim``, ``depth``,
    ``heads``)."""
    check_choice(architecture, "architecture", ARCHITECTURES)
    if architecture == "vit":
        kwargs = {"in_channels": 1, **kwargs}
        return _models.VisionTransformer(image_size=32, num_classes=num_classes, **kwargs).eval()
    return _gih.network(architecture, num_classes=num_classes, **kwargs)


def squared_error(model: torch.nn.Module, batch) -> torch.Tensor:
    r"""The squared error :math:`\tfrac{1}{2B} \sum_b (f(x_b) - y_b)^2` of a one-output network, ``batch = (x: (B,
    1, 32, 32), y: (B,) float)`` (the loss of the paper's :math:`\Delta^0 \propto G S G`)."""
    x, y = batch
    return 0.5 * (model(x).flatten() - y).square().mean()


def digit_pair(digits: tuple[int, int], split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """All images of two digits in ``split`` (``"train"`` or ``"test"``) of the MNIST subset, pixels in [0, 1]
    zero-padded to ``(N, 1, 32, 32)`` (no axis permuted), labels 0 (first digit) and 1 (second)."""
    x, y = _data.mnist(split, source="subset", scale="unit")
    keep = (y == digits[0]) | (y == digits[1])
    return F.pad(x[keep].reshape(-1, 1, 28, 28), (2, 2, 2, 2)), (y[keep] == digits[1]).long()


class _Images:
    """The two-class image sets of one run, read once: :meth:`pair` (all images of two classes, labels 0 / 1) and
    :meth:`first` (experiment 1's balanced training images, targets -1 / +1), from the MNIST subset or CIFAR-10
    (``options.data_dir``, ``options.download``; standardised per channel, in the channel x height x width order
    the networks read)."""

    def __init__(self, s: HypothesisPreset, options: Options):
        self.s, self.options, self._splits = s, options, {}

    def _split(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        if split not in self._splits:
            self._splits[split] = _data.cifar10(split, data_dir=self.options.data_dir, download=self.options.download)
        return self._splits[split]

    def pair(self, classes: tuple[int, int], split: str) -> tuple[torch.Tensor, torch.Tensor]:
        if self.s.data == "mnist":
            return digit_pair(classes, split)
        x, y = self._split(split)
        keep = (y == classes[0]) | (y == classes[1])
        return x[keep], (y[keep] == classes[1]).long()

    def first(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The first ``n / 2`` training images of each class of ``sweep_digits``, the first class first; targets
        -1 and +1 (for MNIST zeros and ones, the images of :func:`paperlib.chapters.invariance.two_digit_data`)."""
        x, y = self.pair(self.s.sweep_digits, "train")
        idx = torch.cat([torch.nonzero(y == c).flatten()[: n - n // 2 if c else n // 2] for c in (0, 1)])
        if len(idx) < n:
            raise ValueError(f"train_images={n} needs {n // 2} training images per class; the data have fewer")
        return x[idx], 2.0 * y[idx].float() - 1


@dataclass
class HypothesisExperiment:
    r"""Result of :func:`run`.

    Attributes:
        preset, settings: the preset's name and the :class:`HypothesisPreset`.
        reference: ``{architecture: AverageGeometry}``, the independent :math:`G_0` of experiment 1.
        training: rows ``{"architecture", "labels", "group", "epoch", "rho_S", "rho_GSG", "rho_rot", "d_S",
            "d_GSG", "d_rot", "velocity"}``: :math:`\rho(\hat G_t, X)` and :math:`\rho(\hat G_t - \hat G_0, X)` for
            :math:`X = S, G_0 S G_0, G_0 R G_0` (the last a mean over rotations), per group of runs;
        init_check: rows ``{"architecture", "labels", "group", "distance", "tolerance"}``: the Frobenius distance
            between a group's :math:`\hat G_0` and the reference and three combined standard errors.
        training_loss: ``{(architecture, labels): (final training loss mean, sd over runs)}``.
        directions: ``(values (D,), vectors (D, D))`` of :math:`G S G` (LeNet's :math:`G`, the sweep images' S).
        memorise: rows ``{"architecture", "geometry", "mode" ("along" | "reversed"), "seed", "curve", "speed"}``:
            the training accuracy after every epoch (``curve``, epoch 0 first) of ``architecture`` on the Gaussian
            set shaped by ``geometry``'s :math:`G_0`, and its mean over epochs 1.. (``speed``).
        sweep: rows ``{"architecture", "form", "index", "seed", "accuracy"}``.
        shortcut: rows ``{"architecture", "index", "seed", "accuracy", "flipped", "reliance"}``: test accuracy, the
            accuracy with the linear feature contradicting the circles, and their difference.
        project: rows ``{"architecture", "mode" ("top" | "random" | "bottom"), "count", "seed", "accuracy"}``
            (count 0: nothing removed).
        prune: rows ``{"mode", "fraction", "seed", "accuracy"}``; scores: the training images' geometry scores.
    """

    preset: str
    settings: HypothesisPreset
    reference: dict = field(default_factory=dict)
    training: list = field(default_factory=list)
    init_check: list = field(default_factory=list)
    training_loss: dict = field(default_factory=dict)
    directions: tuple = ()
    direction_geometry: object = None
    memorise: list = field(default_factory=list)
    sweep: list = field(default_factory=list)
    shortcut: list = field(default_factory=list)
    project: list = field(default_factory=list)
    prune: list = field(default_factory=list)
    scores: torch.Tensor | None = None

    def rows(self, table: str, **match) -> list:
        """The rows of ``table`` whose fields equal ``match``."""
        return [r for r in getattr(self, table) if all(r[k] == v for k, v in match.items())]

    def change_margin(self, architecture: str, labels: str = "true", epoch: int | None = None) -> list[float]:
        r"""Per group, at ``epoch`` (default the last): :math:`|\rho(\Delta G, G_0SG_0)| - \max(|\rho(\Delta G, S)|,
        |\rho(\Delta G, G_0RG_0)|)` with :math:`\Delta G = \hat G_t - \hat G_0`."""
        t = self.settings.epochs if epoch is None else epoch
        return [abs(r["d_GSG"]) - max(abs(r["d_S"]), abs(r["d_rot"]))
                for r in self.rows("training", architecture=architecture, labels=labels, epoch=t)]

    def accuracy(self, table: str, value: str = "accuracy", **match) -> tuple[float, float]:
        """Mean and sd over the matching rows' ``value`` (default their accuracies)."""
        return mean_sd(r[value] for r in self.rows(table, **match))

    def paired(self, table: str, key: str, a: dict, b: dict, value: str = "accuracy") -> list[float]:
        """``value`` (default the accuracy) of the rows matching ``a`` minus that of the rows matching ``b``,
        paired by ``key`` (and seed): one difference per pair."""
        left = {(r[key], r["seed"]): r[value] for r in self.rows(table, **a)}
        right = {(r[key], r["seed"]): r[value] for r in self.rows(table, **b)}
        return [left[k] - right[k] for k in sorted(left) if k in right]

    def memorise_gap(self, architecture: str, geometry: str) -> dict[int, float]:
        """Per seed: memorisation speed of ``architecture`` on the set along ``geometry``'s :math:`G_0` minus on
        the reversed set."""
        v = {(r["mode"], r["seed"]): r["speed"] for r in self.rows("memorise", architecture=architecture,
                                                                   geometry=geometry)}
        return {k: v["along", k] - v["reversed", k] for m, k in sorted(v) if m == "along" and ("reversed", k) in v}

    def project_cost(self, architecture: str) -> dict[int, float]:
        """Per seed, at the largest number of directions removed: the accuracy with that many random directions
        removed minus with the top ones of :math:`G S G` removed."""
        m = max(self.settings.project_counts)
        v = {(r["mode"], r["seed"]): r["accuracy"] for r in self.rows("project", architecture=architecture, count=m)}
        return {k: v["random", k] - v["top", k] for mode, k in sorted(v) if mode == "random" and ("top", k) in v}

    def shortcut_drop(self, architecture: str) -> dict[int, float]:
        """Per seed: the reliance on the shortcut at the first index minus at the last."""
        first, last = self.settings.shortcut_indices[0], self.settings.shortcut_indices[-1]
        v = {(r["index"], r["seed"]): r["reliance"] for r in self.rows("shortcut", architecture=architecture)}
        return {k: v[first, k] - v[last, k] for i, k in sorted(v) if i == first and (last, k) in v}


def _reference(s: HypothesisPreset, arch: str, networks: int, inputs: int, sigma_x: float, store,
               dev) -> _gih.AverageGeometry:
    """An independent :math:`G_0` of ``arch`` over ``networks`` fresh networks with ``inputs`` inputs (cached)."""
    kw = s.network_kwargs(arch)
    desc = {"kind": "hypothesis-G0", "architecture": arch, "networks": networks, "inputs": inputs, "sigma_x": sigma_x,
            "network": {k: list(v) if isinstance(v, tuple) else v for k, v in kw.items()},
            "code": _cache.code_digest(_gih.average_geometry, _gih._Sums.add, build_network)}

    def compute():
        if arch == "vit":
            e = _gih.average_geometry(s.factory(arch, 1), networks, in_shape=s.shape, inputs=inputs, sigma_x=sigma_x,
                                      route="modules", seed=1, device=dev)
        else:
            e = _gih.average_geometry(arch, networks, inputs=inputs, sigma_x=sigma_x, route="stacked", seed=1,
                                      device=dev, num_classes=1, **kw)
        return {"G": e.G.cpu(), "sum_sq": e.sum_sq, "route": e.route}
    p = cached(store, desc, compute)
    return _gih.AverageGeometry(p["G"], networks, inputs, sigma_x, "mean", p["route"], s.shape, p["sum_sq"])


def _training_job(job: dict) -> dict:
    """One run of experiment 1 in a worker: train (cached), then the gradient rows of its snapshot at every epoch
    at the run's own points (``(epochs + 1, inputs, D)``, a small tensor to send back) and its final loss."""
    job = dict(job)
    index, inputs, sigma_x, shape = job.pop("index"), job.pop("inputs"), job.pop("sigma_x"), job.pop("shape")
    r = _train.train(**job)
    rows = torch.stack([_gih.network_rows(r.model(t), index, shape, inputs=inputs, sigma_x=sigma_x)
                        for t in r.epochs])
    return {"rows": rows, "loss": float(r.history["train_loss"][-1])}


def _task_job_run(job: dict) -> dict:
    """One run of experiments 2-6 in a worker: train (cached) and return its ``evaluate`` history (a few floats
    per epoch, epoch 0 first)."""
    return {k: [float(v) for v in values] for k, values in _train.train(**job).history.items()}


class Accuracies:
    """``evaluate(model) -> {name: accuracy}`` over several labelled sets ``sets = {name: (x: (N, ...), y: (N,)
    long)}`` (:func:`paperlib.train.classification_metrics` of each); picklable, with a ``description`` for the
    training cache's key."""

    def __init__(self, sets: dict):
        self.metrics = {name: _train.classification_metrics(x, y) for name, (x, y) in sets.items()}
        self.description = {"accuracies": {name: m.description for name, m in self.metrics.items()}}

    def __call__(self, model: torch.nn.Module) -> dict:
        return {name: m(model)["accuracy"] for name, m in self.metrics.items()}


def random_labels(n: int, seed: int) -> torch.Tensor:
    """``(n,)`` long labels, exactly ``n // 2`` ones (``n`` even), in an order drawn with ``seed``."""
    gen = torch.Generator().manual_seed(check_int(seed, "seed"))
    return (torch.arange(check_int(n, "n", min=1)) % 2)[torch.randperm(n, generator=gen)]


def _job(item: tuple) -> object:
    kind, job = item
    return _training_job(job) if kind == "training" else _task_job_run(job)


def _training_rows(s: HypothesisPreset, exp: HypothesisExperiment, arch: str, labels: str, rows: torch.Tensor,
                   targets: dict) -> None:
    """The rows of :attr:`HypothesisExperiment.training` from the runs' gradient rows ``(runs, epochs + 1, M, D)``;
    ``targets``: ``{"S": S, "GSG": G0 S G0, "rot": [G0 R G0, ...]}``."""
    ref = exp.reference[arch]
    size = s.runs // s.groups

    def aligned(A: torch.Tensor, prefix: str) -> dict:
        return {f"{prefix}_S": _gih.alignment(A, targets["S"]), f"{prefix}_GSG": _gih.alignment(A, targets["GSG"]),
                f"{prefix}_rot": sum(_gih.alignment(A, R) for R in targets["rot"]) / len(targets["rot"])}
    for g in range(s.groups):
        part = rows[g * size: (g + 1) * size]
        est = [_gih.geometry_from_rows(part[:, t], s.shape, sigma_x=s.sigma_x) for t in range(part.shape[1])]
        Gs = [e.G for e in est]
        exp.init_check.append({"architecture": arch, "labels": labels, "group": g,
                               "distance": float(torch.linalg.matrix_norm(Gs[0] - ref.G)),
                               "tolerance": 3.0 * (est[0].standard_error ** 2 + ref.standard_error ** 2) ** 0.5})
        for t in range(len(Gs)):
            row = {"architecture": arch, "labels": labels, "group": g, "epoch": t, **aligned(Gs[t], "rho"),
                   "velocity": float("nan") if t == 0 else 1.0 - _gih.alignment(Gs[t], Gs[t - 1])}
            row.update(aligned(Gs[t] - Gs[0], "d") if t > 0 else {"d_S": float("nan"), "d_GSG": float("nan"),
                                                                  "d_rot": float("nan")})
            exp.training.append(row)


def _training_jobs(s: HypothesisPreset, x: torch.Tensor, y: torch.Tensor) -> tuple[list, list]:
    y_random = y[torch.randperm(len(y), generator=torch.Generator().manual_seed(12345))]
    jobs, keys = [], []
    for arch in sorted(s.architectures, key=lambda a: a != "resnet"):  # the long runs first
        for labels, targets in (("true", y), ("random", y_random)):
            for seed in range(s.runs):
                jobs.append({"model": s.factory(arch, 1), "data": (x, targets), "config": s.config(seed),
                             "loss": squared_error, "index": seed, "inputs": s.inputs, "sigma_x": s.sigma_x,
                             "shape": s.shape})
                keys.append(("training", arch, labels, seed))
    return jobs, keys


def _task_job(s: HypothesisPreset, arch: str, data, test, seed: int, epochs: int | None = None) -> dict:
    return {"model": s.factory(arch, 2), "data": data, "config": s.config(seed, task=True, epochs=epochs),
            "evaluate": _train.classification_metrics(*test)}


def _task_jobs(s: HypothesisPreset, exp: HypothesisExperiment, images: _Images) -> tuple[list, list]:
    jobs, keys = [], []
    values, U = exp.directions
    # 2. memorisation: random labels on Gaussian sets shaped by each low-rank architecture's G_0 (along) and by
    # the same eigenvectors with the eigenvalues reversed; the architecture and the MLP on the same sets
    for geometry in s.memorise_architectures:
        ref = exp.reference[geometry]
        for seed in s.seeds:
            y = random_labels(s.memorise_size, 7919 + seed)
            for mode in ("along", "reversed"):
                x = _data.gih_gaussian(ref.G, s.memorise_size, reverse=mode == "reversed", in_shape=s.shape,
                                       seed=seed, eigen=ref.eigen)
                for arch in (geometry, "mlp"):
                    jobs.append({"model": s.factory(arch, 2), "data": (x, y),
                                 "config": s.config(seed, task=True, epochs=s.memorise_epochs),
                                 "evaluate": _train.classification_metrics(x, y)})
                    keys.append(("memorise", arch, geometry, mode, seed))
    # 3. the eigen-index sweep: the sweep images relabelled by their projection on u_k
    xs, _ = images.pair(s.sweep_digits, "train")
    xt, _ = images.pair(s.sweep_digits, "test")
    for form in s.sweep_forms:
        for k in s.sweep_indices:
            y_train = _gih.projection_labels(xs, U[:, k], form)
            y_test = _gih.projection_labels(xt, U[:, k], form, reference=xs)
            for arch in s.sweep_architectures:
                for seed in s.seeds:
                    jobs.append(_task_job(s, arch, (xs, y_train), (xt, y_test), seed))
                    keys.append(("sweep", arch, form, k, seed))
    # 4. simplicity bias: the circles on LeNet's top eigenvectors of G plus a linear feature along u_k of G; the
    # same test set with the feature flipped tells a network that reads it from one that reads the circles
    _, V = exp.direction_geometry.eigen
    u1, u2 = (V[:, i].reshape(s.shape) for i in s.shortcut_plane)
    shape = {"epsilon": s.shortcut_epsilon, "r_outer": s.shortcut_r_outer, "r_inner": s.shortcut_r_inner}
    for k in s.shortcut_indices:
        u3 = V[:, k].reshape(s.shape)
        for seed in s.seeds:
            train_set = _data.gih_shortcut(u1, u2, u3, s.shortcut_train, seed=seed, **shape)
            sets = {"accuracy": _data.gih_shortcut(u1, u2, u3, s.shortcut_test, seed=10_000 + seed, **shape),
                    "flipped": _data.gih_shortcut(u1, u2, u3, s.shortcut_test, seed=10_000 + seed, flip=True, **shape)}
            for arch in s.sweep_architectures:
                jobs.append({"model": s.factory(arch, 2), "data": train_set, "config": s.config(seed, task=True),
                             "evaluate": Accuracies(sets)})
                keys.append(("shortcut", arch, k, seed))
    # 5. projecting out directions from the two-digit task
    x_train, y_train = images.pair(s.task_digits, "train")
    x_test, y_test = images.pair(s.task_digits, "test")
    Gd = exp.direction_geometry.G
    _, Ut = _gih.eigen_directions(Gd, _gih.second_moment(x_train))
    for arch in s.sweep_architectures:
        for seed in s.seeds:
            jobs.append(_task_job(s, arch, (x_train, y_train), (x_test, y_test), seed))
            keys.append(("project", arch, "none", 0, seed))
            for m in s.project_counts:
                for mode, V in (("top", Ut[:, :m]), ("random", _gih.random_directions(Ut.shape[0], m, seed=1000 + m)),
                                ("bottom", Ut[:, -m:])):
                    data = (_gih.project_out(x_train, V), y_train)
                    jobs.append(_task_job(s, arch, data, (_gih.project_out(x_test, V), y_test), seed))
                    keys.append(("project", arch, mode, m, seed))
    # 6. pruning by geometry (LeNet): the scores of the training images in their own order; a pruned set is
    # trained for task_epochs / fraction epochs, the optimiser steps of the full set
    exp.scores = _gih.geometry_scores(x_train, Gd)
    for f in s.prune_fractions:
        for mode in _gih.PRUNE_MODES:
            for seed in s.seeds:
                keep = _gih.prune(exp.scores, f, mode, seed=seed)
                jobs.append(_task_job(s, "lenet", (x_train[keep], y_train[keep]), (x_test, y_test), seed,
                                      epochs=max(s.task_epochs, round(s.task_epochs / f))))
                keys.append(("prune", "lenet", mode, f, seed))
    return jobs, keys


def run(preset: str | HypothesisPreset = "book", options: Options | None = None, **overrides) -> HypothesisExperiment:
    r"""Run chapter 10's measurements (see the module docstring) for ``preset`` (``"book"``, ``"paper"``,
    ``"tiny"`` or a :class:`HypothesisPreset`) with ``overrides`` of its fields. Every training run goes through the
    training cache of :func:`paperlib.train.train` (resumable), in ``options.workers`` worker processes
    (:func:`paperlib.workers.parallel_map`; each sends back only the gradient rows or the accuracy it measured);
    the reference geometries are cached with a digest of the code that measures them.

    Returns:
        :class:`HypothesisExperiment`.
    """
    options = as_options(options)
    s = resolve(PRESETS, preset, **overrides)
    exp = HypothesisExperiment(preset if isinstance(preset, str) else "custom", s)
    with _workers.threads(options.num_threads):  # one thread: the linear algebra is far faster on a shared CPU
        _measure(s, exp, options)
    return exp


def _measure(s: HypothesisPreset, exp: HypothesisExperiment, options: Options) -> None:
    dev = resolve_device(options.device)
    store = options.store()
    for arch in dict.fromkeys(s.architectures + s.memorise_architectures):
        exp.reference[arch] = _reference(s, arch, s.reference_networks, s.reference_inputs, s.sigma_x, store, dev)
    exp.direction_geometry = _reference(s, "lenet", s.direction_networks, 1, s.direction_sigma_x, store, dev)
    images = _Images(s, options)
    xs, _ = images.pair(s.sweep_digits, "train")
    exp.directions = _gih.eigen_directions(exp.direction_geometry.G, _gih.second_moment(xs))
    x_first, y_first = images.first(s.train_images)
    (jobs, keys), (tjobs, tkeys) = _training_jobs(s, x_first, y_first), _task_jobs(s, exp, images)
    common = {"cache": options.cache, "cache_dir": options.cache_dir, "progress": options.progress, "device": dev}
    items = [("training", {**common, **j}) for j in jobs] + [("task", {**common, **j}) for j in tjobs]
    workers = options.workers if options.workers or dev.type == "cpu" else 1
    results = _workers.parallel_map(_job, items, workers=workers)
    S = _gih.second_moment(x_first)
    rotations = [_gih.rotated_like(S, seed=r) for r in range(s.rotations)]
    by_run: dict = {}
    for key, r in zip(keys, results[: len(jobs)]):
        by_run.setdefault(key[1:3], []).append(r)
    for arch in s.architectures:
        G0 = exp.reference[arch].G
        targets = {"S": S, "GSG": G0 @ S @ G0, "rot": [G0 @ R @ G0 for R in rotations]}
        for labels in ("true", "random"):
            runs = by_run[arch, labels]
            _training_rows(s, exp, arch, labels, torch.stack([r["rows"] for r in runs]), targets)
            exp.training_loss[arch, labels] = mean_sd(r["loss"] for r in runs)
    for key, history in zip(tkeys, results[len(jobs):]):
        acc = history["accuracy"][-1]
        if key[0] == "memorise":
            curve = history["accuracy"]
            exp.memorise.append({"architecture": key[1], "geometry": key[2], "mode": key[3], "seed": key[4],
                                 "curve": curve, "speed": sum(curve[1:]) / (len(curve) - 1)})
        elif key[0] == "shortcut":
            exp.shortcut.append({"architecture": key[1], "index": key[2], "seed": key[3], "accuracy": acc,
                                 "flipped": history["flipped"][-1], "reliance": acc - history["flipped"][-1]})
        elif key[0] == "sweep":
            exp.sweep.append({"architecture": key[1], "form": key[2], "index": key[3], "seed": key[4], "accuracy": acc})
        elif key[0] == "project":
            exp.project.append({"architecture": key[1], "mode": key[2], "count": key[3], "seed": key[4],
                                "accuracy": acc})
        else:
            exp.prune.append({"mode": key[2], "fraction": key[3], "seed": key[4], "accuracy": acc})


# -- the chapter's claims, with thresholds fixed before looking -------------------------------------------------------

#: Margins of the claims (:func:`claims`), fixed before any result was seen.
CHANGE_MARGIN = 0.1  # |rho(dG, G0 S G0)| above both controls, mean over groups (each group above 0)
MLP_TOLERANCE = 0.1  # the MLP: |rho(dG, G0 S G0)| and |rho(dG, S)| within this (its G0 is proportional to I)
MEMORISE_MARGIN = 0.05  # speed along G0 minus reversed exceeds the MLP's on the same sets (mean; every seed > 0)
SWEEP_MARGIN = 0.1  # LeNet's accuracy drop from the first to the last eigen-index exceeds the MLP's by this
SHORTCUT_MARGIN = 0.1  # LeNet's drop in shortcut reliance, first to last index, exceeds the MLP's (every seed > 0)
PROJECT_MARGIN = 0.05  # LeNet's cost of the top directions over random ones exceeds the MLP's (every seed > 0)
PRUNE_SE = 2.0  # geometry pruning beats random pruning by this many standard errors of the paired mean


@dataclass(frozen=True)
class Claim:
    """One claim's verdict: ``values`` (one per independent repeat: group of runs, or seed), their mean and sd,
    the pre-registered ``threshold`` and whether the claim ``holds``; ``text`` says what is compared."""

    name: str
    text: str
    values: tuple
    mean: float
    sd: float
    threshold: float
    holds: bool

    def line(self) -> str:
        """One printed line: name, mean ± sd, threshold and verdict."""
        verdict = "holds" if self.holds else "not reproduced at this scale"
        return f"{self.name}: {self.mean:+.2f} ± {self.sd:.2f} (threshold {self.threshold:+.2f}) -> {verdict}"


def _claim(name: str, text: str, values, threshold: float, holds: bool) -> Claim:
    m, sd = mean_sd(values)
    return Claim(name, text, tuple(round(float(v), 6) for v in values), m, sd, threshold, bool(holds))


def claims(ex: HypothesisExperiment) -> dict[str, Claim]:
    """Every claim of the chapter against its null (margins :data:`CHANGE_MARGIN` ... :data:`PRUNE_SE`), computed
    from ``ex``; ``{name: Claim}`` in the chapter's order."""
    s, out = ex.settings, {}
    for arch in s.architectures:
        rows = ex.rows("init_check", architecture=arch, labels="true")
        ratios = [r["distance"] / r["tolerance"] for r in rows]
        out[f"init/{arch}"] = _claim(f"init/{arch}", "distance(G_0 of the runs, reference G_0) / 3 SE", ratios, 1.0,
                                     all(v <= 1.0 for v in ratios))
        # the MLP's prediction is "no difference", evidence only where its geometry moves: with random labels,
        # which the book's few epochs barely fit, it would pass whatever the hypothesis says, so it is not a claim
        for labels in ("true",) if arch == "mlp" else ("true", "random"):
            if arch == "mlp":
                rows = ex.rows("training", architecture=arch, labels=labels, epoch=s.epochs)
                v = [abs(r["d_GSG"]) - abs(r["d_S"]) for r in rows]
                out[f"change/{arch}/{labels}"] = _claim(
                    f"change/{arch}/{labels}", "|rho(dG, G0SG0)| - |rho(dG, S)| (MLP: G0 ~ I, no difference)", v,
                    MLP_TOLERANCE, abs(mean_sd(v)[0]) < MLP_TOLERANCE)
            else:
                v = ex.change_margin(arch, labels)
                out[f"change/{arch}/{labels}"] = _claim(
                    f"change/{arch}/{labels}", "|rho(dG, G0SG0)| - max(|rho(dG, S)|, |rho(dG, G0RG0)|)", v,
                    CHANGE_MARGIN, mean_sd(v)[0] > CHANGE_MARGIN and min(v) > 0)
    for geometry in s.memorise_architectures if ex.memorise else ():
        own, mlp = ex.memorise_gap(geometry, geometry), ex.memorise_gap("mlp", geometry)
        v = [own[k] - mlp[k] for k in own if k in mlp]
        out[f"memorise/{geometry}"] = _claim(
            f"memorise/{geometry}", "memorisation speed along G0 minus reversed, minus the MLP's on the same sets", v,
            MEMORISE_MARGIN, mean_sd(v)[0] > MEMORISE_MARGIN and min(v) > 0)
    first, last = s.sweep_indices[0], s.sweep_indices[-1]
    if ex.sweep and "lenet" in s.sweep_architectures and "mlp" in s.sweep_architectures:
        for form in s.sweep_forms:
            drop = {a: dict(zip(s.seeds, ex.paired("sweep", "form", {"architecture": a, "form": form, "index": first},
                                                   {"architecture": a, "form": form, "index": last})))
                    for a in ("lenet", "mlp")}
            v = [drop["lenet"][k] - drop["mlp"][k] for k in s.seeds]
            out[f"sweep/{form}"] = _claim(f"sweep/{form}", f"LeNet's accuracy drop from k={first} to k={last} minus "
                                          "the MLP's", v, SWEEP_MARGIN, mean_sd(v)[0] > SWEEP_MARGIN)
    if ex.shortcut and "lenet" in s.sweep_architectures and "mlp" in s.sweep_architectures:
        lenet, mlp = ex.shortcut_drop("lenet"), ex.shortcut_drop("mlp")
        v = [lenet[k] - mlp[k] for k in lenet if k in mlp]
        out["shortcut"] = _claim("shortcut", f"LeNet's drop in reliance on the shortcut from k={s.shortcut_indices[0]} "
                                 f"to k={s.shortcut_indices[-1]} minus the MLP's", v, SHORTCUT_MARGIN,
                                 mean_sd(v)[0] > SHORTCUT_MARGIN and min(v) > 0)
    if ex.project and "lenet" in s.sweep_architectures and "mlp" in s.sweep_architectures:
        lenet, mlp = ex.project_cost("lenet"), ex.project_cost("mlp")
        v = [lenet[k] - mlp[k] for k in lenet if k in mlp]
        m = max(s.project_counts)
        out["project"] = _claim("project", f"LeNet's accuracy with {m} random directions removed minus with the top "
                                f"{m} of G S G removed, minus the MLP's", v, PROJECT_MARGIN,
                                mean_sd(v)[0] > PROJECT_MARGIN and min(v) > 0)
    for other in ("random", "reverse") if ex.prune else ():
        v = ex.paired("prune", "fraction", {"mode": "geometry"}, {"mode": other})
        m, sd = mean_sd(v)
        se = sd / len(v) ** 0.5 if len(v) > 1 else float("inf")
        out[f"prune/{other}"] = _claim(f"prune/{other}", f"accuracy after geometry pruning minus after {other} "
                                       f"pruning (paired over fractions and seeds; holds above {PRUNE_SE:g} SE)", v,
                                       PRUNE_SE * se, m > PRUNE_SE * se)
    return out
