r"""The toy experiments of Zavatone-Veth et al., arXiv:2301.11375 (Fig. 1, XOR, deep MLP), one function each.

Each function trains its networks through the cache of :mod:`paperlib.train`, measures the geometry of the hidden
representation on a regular grid at every snapshot, and returns a :class:`ToyExperiment`:

- :func:`sinusoid` -- ``[2, 250, 2]`` sigmoid networks on the sinusoid task (Fig. 1), one run per seed (five);
- :func:`xor` -- ``[2, w, 2]`` sigmoid networks on XOR, one run per width ``w`` and seed (three);
- :func:`deep_mlp` -- ``[2, 8, 8, 8, 2]`` sigmoid networks on the sinusoid task, volume element after each hidden
  layer, one run per seed (three).

Presets (:data:`PRESETS`): ``"paper"`` is the authors' setting (with our seeds); ``"book"`` runs on a 2-core CPU.
What ``"book"`` changes: for the sinusoid, 1,000 epochs at learning rate 1.0 instead of 10,000 at 0.1 -- the same
"gradient-flow time" ``lr x epochs = 1,000``, snapshots rescaled (chapter 5 measures that both schedules give the
same magnification within the seed-to-seed spread); nothing for XOR and the deep MLP (the deep MLP does *not*
reach the same magnification with the rescaled schedule, so the book trains it with the authors' schedule).
Runs are trained in parallel worker processes (:func:`paperlib.train.train_many`).

``epochs=`` overrides the number of epochs of either preset; the snapshot schedule is then rescaled in proportion
(``round(s * epochs / preset_epochs)``, always including 0 and the last epoch).

The magnification statistic (:func:`magnification`) is, for a log volume element :math:`\ell(x) =
\log_{10}\sqrt{\det g(x)}` on the grid and the distance :math:`D(x)` of each grid point to a decision boundary,

.. math::  M = \operatorname{mean}\{\ell(x) : D(x) \le \delta\} - \operatorname{mean}\{\ell(x) : D(x) > D_{far}\},

in decades (:math:`M = 0.3` means the area element near the boundary is :math:`10^{0.3} \approx 2` times that far
from it), with :math:`\delta = 0.1` and :math:`D_{far} = 0.3` (input units) by default. Distances are Euclidean, to
the boundary located to sub-grid accuracy (:func:`boundary_points`). Each snapshot records ``M`` for several
curves: the network's own decision boundary at that snapshot (``magnification``; NaN when the network has no
boundary inside the grid, e.g. at initialisation if it predicts one class everywhere) and fixed curves, the same
masks at every epoch, so that their change over training reflects the geometry alone (``Snapshot.fixed``): the
task's true boundary and, for the sinusoid, its mirror image as a control the networks were not trained on.
:meth:`Run.magnification` also measures every snapshot around the network's *final* boundary.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Sequence

import torch

from .. import data as _data
from .. import geometry as _geometry
from .. import shallow as _shallow
from .. import train as _train
from .. import workers as _workers
from .._checks import check_choice, check_int, check_ints, check_number
from ..models import MLP
from .core import TrainingPreset, resolve
from .registry import Options, as_options

__all__ = [
    "ToyPreset",
    "PRESETS",
    "boundary_points",
    "boundary_distance",
    "magnification",
    "Snapshot",
    "Run",
    "ToyExperiment",
    "measure",
    "sinusoid",
    "xor",
    "deep_mlp",
]


@dataclass(frozen=True)
class ToyPreset(TrainingPreset):
    """Settings of one toy experiment: the ``[2, ..., 2]`` MLP and its training (:class:`TrainingPreset`), the
    runs and the evaluation grid.

    Attributes:
        seeds: network seeds (one run each; XOR: one run per width and seed).
        hidden: XOR's hidden widths, replacing the hidden width of ``widths`` (one run each), or ``()``.
        lim: the grid covers ``[lim[0], lim[1]]^2``; size: grid points per axis.
    """

    widths: tuple[int, ...] = (2, 250, 2)
    epochs: int = 10_000
    seeds: tuple[int, ...] = (0,)
    hidden: tuple[int, ...] = ()
    lim: tuple[float, float] = (-1.0, 1.0)
    size: int = 80

    def __post_init__(self) -> None:
        super().__post_init__()
        set_ = functools.partial(object.__setattr__, self)
        set_("seeds", check_ints(self.seeds, "seeds"))
        set_("hidden", check_ints(self.hidden, "widths", min=1, nonempty=False))
        check_int(self.size, "grid_size", min=4)
        lo, hi = (check_number(v, "lim") for v in self.lim)
        if not lo < hi:
            raise ValueError(f"lim must be (lo, hi) with lo < hi; got {self.lim!r}")
        set_("lim", (lo, hi))


_SINUSOID_SNAPS = (0, 10, 20, 50, 100, 200, 500, 1000, 2000, 3000, 5000, 7500, 10_000)
_SINUSOID_PAPER = ToyPreset(widths=(2, 250, 2), lr=0.1, epochs=10_000, snapshots=_SINUSOID_SNAPS,
                            figure_epochs=(0, 200, 5_000, 10_000), seeds=(0, 1, 2, 3, 4))
_DEEP_PAPER = _SINUSOID_PAPER.replace(widths=(2, 8, 8, 8, 2), figure_epochs=(0, 10_000), seeds=(0, 1, 2))
_XOR_PAPER = ToyPreset(widths=(2, 250, 2), lr=0.02, weight_decay=1e-4, batch_size=None, epochs=2_000,
                       snapshots=(0, 100, 200, 500, 1000, 2000), seeds=(0, 1, 2), hidden=(2, 10, 100, 250),
                       lim=(-1.5, 1.5), size=40)

#: ``PRESETS[experiment][preset]``: ``"paper"`` is the authors' setting (with our seeds); ``"book"`` runs on a
#: 2-core CPU (see the module docstring for what it changes).
PRESETS: dict[str, dict[str, ToyPreset]] = {
    "sinusoid": {"paper": _SINUSOID_PAPER,
                 "book": _SINUSOID_PAPER.replace(lr=1.0, epochs=1_000,
                                                 snapshots=tuple(s // 10 for s in _SINUSOID_SNAPS),
                                                 figure_epochs=(0, 500, 1_000))},
    "xor": {"paper": _XOR_PAPER, "book": _XOR_PAPER},
    "deep_mlp": {"paper": _DEEP_PAPER, "book": _DEEP_PAPER},
}
# "tiny": seconds, a smoke test of the pipeline (registered figures, command line); its numbers mean nothing.
PRESETS["sinusoid"]["tiny"] = PRESETS["sinusoid"]["book"].replace(
    epochs=20, snapshots=(0, 10, 20), figure_epochs=(0, 10, 20), seeds=(0, 1), size=16)
PRESETS["deep_mlp"]["tiny"] = PRESETS["sinusoid"]["tiny"].replace(widths=(2, 8, 8, 8, 2), figure_epochs=(0, 20))
PRESETS["xor"]["tiny"] = _XOR_PAPER.replace(epochs=20, snapshots=(0, 10, 20), seeds=(0,), hidden=(2, 10), size=12)


# ------------------------------------------------------------------------------------------------------------------
# decision boundaries and the magnification statistic
# ------------------------------------------------------------------------------------------------------------------


def _grid_image(values: object, grid: _data.Grid, name: str) -> torch.Tensor:
    if not isinstance(grid, _data.Grid):
        raise TypeError(f"grid must be a paperlib.data.Grid; got {type(grid).__name__}")
    if not isinstance(values, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape {grid.shape}; got {type(values).__name__}")
    if tuple(values.shape) != grid.shape:
        raise ValueError(f"{name} must have the grid's shape (ny, nx) = {grid.shape}; got {tuple(values.shape)}")
    return values


def boundary_points(field: torch.Tensor, grid: _data.Grid) -> torch.Tensor:
    r"""Points of a decision boundary on the edges of a grid: ``(M, 2)`` float64.

    ``field`` is an image ``(ny, nx)`` on ``grid``:

    - a floating score whose zero level set is the boundary (e.g. the logit difference :math:`z_1 - z_0`, or
      :func:`paperlib.data.sinusoid_score`): on every horizontal or vertical edge between neighbouring grid points
      where it changes sign, the crossing is located by linear interpolation,
      :math:`x^* = x_a + (x_b - x_a)\, f_a/(f_a - f_b)`; grid points where it is exactly 0 are included;
    - integer or boolean labels (e.g. the argmax of many classes): the midpoint of every edge whose two ends have
      different labels.

    Vectorised over the grid; ``M = 0`` when the boundary does not cross the grid.
    """
    field = _grid_image(field, grid, "field")
    xs, ys = grid.xs.to(torch.float64), grid.ys.to(torch.float64)
    pts = []
    if field.dtype.is_floating_point:
        f = field.to(torch.float64)
        if not bool(torch.isfinite(f).all()):
            raise ValueError("field contains NaN or inf")
        for a, b, along_x in ((f[:, :-1], f[:, 1:], True), (f[:-1, :], f[1:, :], False)):
            cross = (a * b < 0)
            t = a / torch.where(cross, a - b, torch.ones_like(a))
            if along_x:
                px = xs[:-1][None, :] + t * (xs[1:] - xs[:-1])[None, :]
                py = ys[:, None].expand_as(px)
            else:
                py = ys[:-1][:, None] + t * (ys[1:] - ys[:-1])[:, None]
                px = xs[None, :].expand_as(py)
            pts.append(torch.stack([px[cross], py[cross]], -1))
        zero = f == 0
        yy, xx = torch.meshgrid(ys, xs, indexing="ij")
        pts.append(torch.stack([xx[zero], yy[zero]], -1))
    else:
        lab = field
        for a, b, along_x in ((lab[:, :-1], lab[:, 1:], True), (lab[:-1, :], lab[1:, :], False)):
            cross = a != b
            if along_x:
                px = (0.5 * (xs[:-1] + xs[1:]))[None, :].expand(cross.shape)
                py = ys[:, None].expand(cross.shape)
            else:
                py = (0.5 * (ys[:-1] + ys[1:]))[:, None].expand(cross.shape)
                px = xs[None, :].expand(cross.shape)
            pts.append(torch.stack([px[cross], py[cross]], -1))
    return torch.cat(pts)


def boundary_distance(field: torch.Tensor, grid: _data.Grid, *, chunk_size: int = 4096) -> torch.Tensor:
    r"""Euclidean distance of every grid point to the decision boundary of ``field``: ``(ny, nx)`` float64.

    :math:`D(x) = \min_m |x - p_m|` over the boundary points :math:`p_m` of :func:`boundary_points` (computed with
    :func:`torch.cdist`, ``chunk_size`` grid points at a time). ``inf`` everywhere when the boundary does not
    cross the grid. Accuracy: about the squared grid spacing times the boundary's curvature (linear
    interpolation) plus the spacing between boundary points along the boundary (at most one grid spacing).
    """
    check_int(chunk_size, "chunk_size", min=1)
    pts = boundary_points(field, grid)
    P = grid.points.to(torch.float64)
    if pts.shape[0] == 0:
        return torch.full(grid.shape, math.inf, dtype=torch.float64)
    dist = torch.cat([torch.cdist(chunk, pts).min(1).values for chunk in P.split(chunk_size)])
    return grid.image(dist)


def magnification(
    log_volume: torch.Tensor, distance: torch.Tensor, *, delta: float = 0.1, far: float = 0.3
) -> torch.Tensor:
    r"""Magnification statistic :math:`M = \overline{\ell}_{D \le \delta} - \overline{\ell}_{D > D_{far}}`.

    Mean log volume element (any base; decades for ``log10``) over the points within ``delta`` of the boundary,
    minus its mean over the points farther than ``far``. Non-finite volume elements (rank-deficient points) are
    left out of both means.

    Args:
        log_volume: ``(..., P)`` or ``(..., ny, nx)`` log volume element; leading dimensions are batch dimensions
            (e.g. one per layer).
        distance: distances to the boundary, shaped like the trailing dimensions of ``log_volume``.
        delta: half-width of the band around the boundary (> 0, input units).
        far: distance beyond which a point counts as far (>= delta).

    Returns:
        Tensor of ``log_volume``'s leading shape (a 0-dim tensor for a single map); NaN where the band or the far
        set is empty (e.g. no boundary on the grid).
    """
    if not isinstance(log_volume, torch.Tensor) or not isinstance(distance, torch.Tensor):
        raise TypeError("log_volume and distance must be torch tensors")
    check_number(delta, "delta", min=0, open_min=True)
    check_number(far, "far", min=0, open_min=True)
    if far < delta:
        raise ValueError(f"far must be >= delta; got far={far!r}, delta={delta!r}")
    if distance.ndim == 0 or tuple(log_volume.shape[log_volume.ndim - distance.ndim:]) != tuple(distance.shape):
        raise ValueError(f"distance {tuple(distance.shape)} must match the trailing dimensions of log_volume "
                         f"{tuple(log_volume.shape)}")
    lv = log_volume.to(torch.float64)
    finite = torch.isfinite(lv)
    lv = torch.where(finite, lv, torch.zeros_like(lv))
    dims = tuple(range(lv.ndim - distance.ndim, lv.ndim))

    def mean(mask: torch.Tensor) -> torch.Tensor:
        m = mask & finite
        count = m.sum(dims)
        total = torch.where(m, lv, torch.zeros_like(lv)).sum(dims)
        return torch.where(count > 0, total / count.clamp_min(1), torch.full_like(total, math.nan))

    return mean(distance <= delta) - mean(distance > far)


# ------------------------------------------------------------------------------------------------------------------
# measurements
# ------------------------------------------------------------------------------------------------------------------


@dataclass
class Snapshot:
    r"""Geometry and predictions of one network at one epoch, on a grid of shape ``(ny, nx)``.

    Attributes:
        epoch: the epoch (0 = initialisation).
        log_volume: ``(L, ny, nx)`` :math:`\log_{10}\sqrt{\det g}` of the feature map after each hidden layer
            (``log_volume[l - 1]`` for layer ``l``; features :math:`h_\ell/\sqrt{n_\ell}`).
        ricci: ``(ny, nx)`` Ricci scalar of the first hidden layer's map (NaN at numerically degenerate points),
            or ``None`` when not computed.
        probability: ``(ny, nx)`` predicted probability of class 1 (softmax).
        margin: ``(ny, nx)`` logit difference :math:`z_1 - z_0`; its zero set is the decision boundary.
        distance: ``(ny, nx)`` distance to the network's decision boundary (``inf`` if none on the grid).
        magnification: ``(L,)`` statistic w.r.t. the network's boundary (NaN if none on the grid).
        fixed: ``{name: (L,)}`` statistic w.r.t. fixed boundaries (e.g. ``"task"``, the task's true boundary, and
            ``"control"``, a boundary the network was not trained on), the same masks at every epoch.
        accuracy: training accuracy at this epoch.
    """

    epoch: int
    log_volume: torch.Tensor
    ricci: torch.Tensor | None
    probability: torch.Tensor
    margin: torch.Tensor
    distance: torch.Tensor
    magnification: torch.Tensor
    fixed: dict[str, torch.Tensor]
    accuracy: float = math.nan

    @property
    def magnification_task(self) -> torch.Tensor | None:
        """``fixed["task"]``, or ``None`` when no task boundary was given."""
        return self.fixed.get("task")

    def numbers(self, layers: bool = False) -> dict:
        """The snapshot's images and statistics for a figure's numbers (``layers``: every layer's log volume
        element, else the first layer's)."""
        return {"epoch": self.epoch, "log_volume": self.log_volume if layers else self.log_volume[0],
                "ricci": self.ricci, "probability": self.probability, "margin": self.margin,
                "magnification": self.magnification, "magnification_fixed": self.fixed, "accuracy": self.accuracy}


def measure(
    model: MLP,
    grid: _data.Grid,
    *,
    curvature: bool = True,
    boundaries: dict[str, torch.Tensor] | None = None,
    delta: float = 0.1,
    far: float = 0.3,
    epoch: int = -1,
    accuracy: float = math.nan,
) -> Snapshot:
    r"""Measure a two-class :class:`~paperlib.models.MLP` on ``grid`` (all points in one batch).

    Log volume element of :math:`\Phi^{(\ell)} = h_\ell/\sqrt{n_\ell}` for every hidden layer (closed form of
    :mod:`paperlib.shallow` for the first layer, autodiff :func:`paperlib.geometry.log_volume_element` for deeper
    ones), the Ricci scalar of the first layer's map (closed form, Gauss-equation method, when ``curvature``), the
    prediction, the distance to the decision boundary and the magnification statistics (see :func:`magnification`).
    With two hidden units the first layer maps the plane into :math:`\mathbb{R}^2` by a local diffeomorphism,
    whose pullback metric is flat: ``ricci`` is then exactly 0 (the closed form would only return round-off,
    which is huge where the two weight vectors are nearly parallel); with one unit the metric is degenerate and
    ``ricci`` is NaN.

    Args:
        model: an MLP with inputs of dimension 2 and 2 classes.
        grid: the grid (:func:`paperlib.data.grid`).
        curvature: compute the Ricci scalar (first layer).
        boundaries: ``{name: (ny, nx)}`` distances of the grid points to fixed boundaries (e.g. ``"task"``,
            ``"control"``), for ``Snapshot.fixed``.
        delta, far: parameters of :func:`magnification`.
        epoch, accuracy: recorded in the snapshot.

    Returns:
        :class:`Snapshot`.
    """
    if not isinstance(model, MLP):
        raise TypeError(f"model must be a paperlib.models.MLP; got {type(model).__name__}")
    if model.widths[0] != 2 or model.widths[-1] != 2 or model.depth < 1:
        raise ValueError(f"model must map 2 inputs to 2 classes through >= 1 hidden layer; widths {model.widths}")
    if not isinstance(grid, _data.Grid):
        raise TypeError(f"grid must be a paperlib.data.Grid; got {type(grid).__name__}")
    boundaries = dict(boundaries or {})
    for name, dist in boundaries.items():
        _grid_image(dist, grid, f"boundaries[{name!r}]")
    P = grid.points.to(torch.float64)
    W, b = model.layers[0].weight.detach().double(), model.layers[0].bias.detach().double()
    logv = [_shallow.log_volume_element(W, b, P, model.activation, device=None)]
    for layer in range(2, model.depth + 1):
        logv.append(_geometry.log_volume_element(model.feature_map(layer), P, device=None).detach())
    log_volume = torch.stack([grid.image(v) for v in logv])
    ricci = None
    n1 = W.shape[0]
    if curvature and n1 > 2:
        ricci = grid.image(_shallow.ricci_scalar(W, b, P, model.activation, method="gauss", degenerate="nan",
                                                 device=None))
    elif curvature:  # n = d = 2: a local diffeomorphism onto its image in R^2 pulls back a flat metric
        ricci = torch.zeros(grid.shape, dtype=torch.float64) if n1 == 2 else torch.full(grid.shape, math.nan,
                                                                                     dtype=torch.float64)
    with torch.no_grad():
        logits = torch.func.functional_call(
            model, {k: v.double() for k, v in model.state_dict().items()}, (P,))
    margin = grid.image(logits[:, 1] - logits[:, 0])
    probability = grid.image(torch.softmax(logits, 1)[:, 1])
    distance = boundary_distance(margin, grid)
    mag = magnification(log_volume, distance, delta=delta, far=far)
    fixed = {name: magnification(log_volume, dist, delta=delta, far=far) for name, dist in boundaries.items()}
    return Snapshot(int(epoch), log_volume, ricci, probability, margin, distance, mag, fixed, float(accuracy))


BOUNDARIES = ("own", "final", "task", "control")


@dataclass
class Run:
    """One trained network: its training result and a :class:`Snapshot` per snapshot epoch."""

    label: object
    training: _train.TrainResult
    snapshots: dict[int, Snapshot]
    delta: float = 0.1
    far: float = 0.3

    @property
    def config(self) -> _train.TrainConfig:
        """The run's :class:`~paperlib.train.TrainConfig`."""
        return self.training.config

    @property
    def depth(self) -> int:
        """Number of hidden layers measured."""
        return int(self.final.log_volume.shape[0])

    @property
    def epochs(self) -> list[int]:
        """Sorted snapshot epochs."""
        return sorted(self.snapshots)

    def model(self, epoch: int | None = None) -> MLP:
        """The network at ``epoch`` (default: the last), in ``eval()`` mode."""
        return self.training.model(epoch)

    def magnification(self, layer: int = 1, *, boundary: str = "own") -> tuple[torch.Tensor, torch.Tensor]:
        """``(epochs (S,), M (S,))``: the statistic of hidden layer ``layer`` at every snapshot, w.r.t.

        - ``"own"``: the network's own decision boundary at that epoch (NaN where it has none on the grid);
        - ``"final"``: the network's decision boundary at the *last* epoch, the same masks at every epoch, so the
          change over training is a change of the geometry alone (defined at initialisation too);
        - ``"task"``, ``"control"``: the fixed boundaries the experiment measured (``Snapshot.fixed``).
        """
        check_int(layer, "layer", min=1, max=self.depth)
        check_choice(boundary, "boundary", BOUNDARIES)
        eps = self.epochs
        vals = []
        for e in eps:
            s = self.snapshots[e]
            if boundary == "own":
                m = s.magnification
            elif boundary == "final":
                m = magnification(s.log_volume, self.final.distance, delta=self.delta, far=self.far)
            else:
                if boundary not in s.fixed:
                    raise ValueError(f"boundary={boundary!r} was not measured in this experiment; it has "
                                     f"{sorted(s.fixed)}")
                m = s.fixed[boundary]
            vals.append(m[layer - 1])
        return torch.tensor(eps), torch.stack(vals)

    def magnification_gain(self, layer: int = 1, *, boundary: str = "task") -> float:
        r"""Change of the statistic over training, :math:`M(\text{last epoch}) - M(\text{first snapshot})`
        (decades), w.r.t. a fixed ``boundary`` (``"task"``, ``"control"`` or ``"final"``; see
        :meth:`magnification`)."""
        if boundary == "own":
            raise ValueError("boundary must be a fixed boundary ('task', 'control' or 'final') for a gain: the own "
                             "boundary moves, and need not exist at initialisation")
        _, m = self.magnification(layer, boundary=boundary)
        return float(m[-1] - m[0])

    def layer_increments(self, epoch: int | None = None, *, boundary: str = "final") -> torch.Tensor:
        r"""``(L,)``: how much each hidden layer adds to the magnification, :math:`M_\ell - M_{\ell-1}`
        (:math:`M_0 = 0`), at ``epoch`` (default: the last), w.r.t. ``boundary`` (see :meth:`magnification`)."""
        epoch = self.epochs[-1] if epoch is None else epoch
        check_choice(epoch, "epoch", tuple(self.epochs))
        i = self.epochs.index(epoch)
        m = torch.stack([self.magnification(layer, boundary=boundary)[1][i] for layer in range(1, self.depth + 1)])
        return torch.diff(m, prepend=torch.zeros(1, dtype=m.dtype))

    @property
    def final(self) -> Snapshot:
        """The snapshot of the last epoch."""
        return self.snapshots[self.epochs[-1]]


@dataclass
class ToyExperiment:
    """Result of :func:`sinusoid`, :func:`xor` or :func:`deep_mlp`.

    Attributes:
        name, preset: which experiment and preset.
        x, y: the training data ``(N, 2)``, ``(N,)``.
        grid: the evaluation grid.
        distances: ``{name: (ny, nx)}`` distance of each grid point to the fixed boundaries: ``"task"`` (the
            task's true boundary) and, for the sinusoid, ``"control"`` (a boundary the networks were not trained
            on, :func:`paperlib.data.sinusoid_control_score`).
        runs: ``{label: Run}`` -- labels are seeds (sinusoid, deep MLP) or ``(width, seed)`` (XOR).
        figure_epochs: the epochs the paper's figure shows (start, middle, end), in this run's schedule.
        settings: the :class:`ToyPreset` after overrides.
        delta, far: parameters of the magnification statistic.
    """

    name: str
    preset: str
    x: torch.Tensor
    y: torch.Tensor
    grid: _data.Grid
    distances: dict[str, torch.Tensor]
    runs: dict
    figure_epochs: tuple[int, ...]
    settings: ToyPreset
    delta: float
    far: float

    @property
    def task_distance(self) -> torch.Tensor:
        """``distances["task"]``."""
        return self.distances["task"]

    def describe(self) -> str:
        """One line with the preset's training settings (machine-independent, for printing)."""
        s = self.settings
        opt = f"SGD lr {s.lr:g}, momentum {s.momentum:g}" if s.optimizer == "sgd" else f"Adam lr {s.lr:g}"
        if s.weight_decay:
            opt += f", weight decay {s.weight_decay:g}"
        batch = "full batch" if s.batch_size is None else f"batch {s.batch_size}"
        arch = "[2, w, 2]" if self.name == "xor" else str(list(s.widths))
        runs = (f"widths {list(s.hidden)} x seeds {list(s.seeds)}" if self.name == "xor" else f"seeds {list(s.seeds)}")
        return (f"{self.name} ({self.preset} preset): {arch} {s.activation}, {opt}, {batch}, {s.epochs} epochs, "
                f"{runs}, grid {s.size}x{s.size} on [{s.lim[0]:g}, {s.lim[1]:g}]^2")

    def run(self, label: object | None = None) -> Run:
        """The run of ``label`` (default: the first)."""
        if label is None:
            return next(iter(self.runs.values()))
        if label not in self.runs:
            raise ValueError(f"label must be one of {list(self.runs)}; got {label!r}")
        return self.runs[label]

    def gains(self, layer: int = 1, *, boundary: str = "task", labels: Sequence | None = None) -> torch.Tensor:
        """``(R,)`` :meth:`Run.magnification_gain` of the runs ``labels`` (default: all), float64."""
        labels = list(self.runs) if labels is None else list(labels)
        return torch.tensor([self.run(lab).magnification_gain(layer, boundary=boundary) for lab in labels],
                            dtype=torch.float64)


# ------------------------------------------------------------------------------------------------------------------
# experiments
# ------------------------------------------------------------------------------------------------------------------


def _run_all(name: str, preset: str, settings: ToyPreset, x: torch.Tensor, y: torch.Tensor, scores: dict,
             runs: dict, *, curvature: str, delta: float, far: float, options: Options) -> ToyExperiment:
    """Train each run (``{label: (widths, seed)}``) through the cache (in parallel processes, :func:`paperlib.
    train.train_many`) and measure it at every snapshot against its own boundary and the fixed ones (``scores``:
    ``{name: score function}``)."""
    check_choice(curvature, "curvature", ("first", "all", "none"))
    magnification(torch.zeros(1), torch.zeros(1), delta=delta, far=far)  # validate delta/far early
    options.store()  # the cache root is checked before any work
    grid = _data.grid(settings.lim[0], settings.lim[1], settings.size)
    distances = {k: boundary_distance(grid.image(score(grid.points)), grid) for k, score in scores.items()}
    evaluate = _train.classification_metrics(x, y)
    jobs = [{"model": settings.model(widths), "config": settings.train_config(seed)} for widths, seed in runs.values()]
    results = _train.train_many(jobs, workers=options.workers, data=(x, y), evaluate=evaluate, cache=options.cache,
                                cache_dir=options.cache_dir, progress=options.progress,
                                num_threads=options.num_threads)
    out = {}
    with _workers.threads(options.num_threads):
        for i, (label, result) in enumerate(zip(runs, results)):
            want_curv = curvature == "all" or (curvature == "first" and i == 0)
            snaps = {e: measure(result.model(e), grid, curvature=want_curv, boundaries=distances,
                                delta=delta, far=far, epoch=e, accuracy=float(result.history["accuracy"][e]))
                     for e in result.epochs}
            out[label] = Run(label, result, snaps, float(delta), float(far))
    return ToyExperiment(name, preset, x, y, grid, distances, out, settings.figure_epochs, settings,
                         float(delta), float(far))


def _settings(name: str, preset: str | ToyPreset, epochs: int | None, grid_size: int | None, **overrides
              ) -> ToyPreset:
    return resolve(PRESETS[name], preset, size=grid_size, **overrides).with_epochs(epochs)


_COMMON = """
        epochs: override the number of epochs (snapshot and figure epochs rescaled in proportion).
        grid_size: override the grid resolution.
        delta, far: parameters of :func:`magnification`.
        options: cache, progress, threads (1 is fastest here) and worker processes training the runs in parallel
            (:class:`~paperlib.chapters.registry.Options`; the networks are trained and measured on the CPU)."""


def sinusoid(
    preset: str | ToyPreset = "book",
    options: Options | None = None,
    *,
    seeds: Sequence[int] | None = None,
    epochs: int | None = None,
    grid_size: int | None = None,
    data_seed: int = 0,
    curvature: str = "first",
    delta: float = 0.1,
    far: float = 0.3,
) -> ToyExperiment:
    r"""Fig. 1: ``[2, 250, 2]`` sigmoid networks (``init="paper"``) trained on the sinusoid task, one per seed.

    Data: :func:`paperlib.data.sinusoid` (400 points, ``seed=data_seed``). Grid ``size x size`` on
    :math:`[-1, 1]^2` (80 x 80). At every snapshot: log volume element, Ricci scalar (``curvature="first"``: for
    the first seed only, which the figure shows; ``"all"``; ``"none"``), prediction and magnification statistics
    (w.r.t. the network's boundary, the true boundary :math:`x_2 = \tfrac35\sin(7x_1 - 1)` and its mirror image, a
    control the networks were not trained on).

    Args:
        preset: ``"book"``, ``"paper"``, ``"tiny"`` (:data:`PRESETS`) or a :class:`ToyPreset`.
        seeds: network seeds (default: the preset's five).
        data_seed: seed of the training points.
        curvature: see above.{common}

    Returns:
        :class:`ToyExperiment` with runs keyed by seed.
    """
    return _on_sinusoid("sinusoid", preset, seeds, epochs, grid_size, data_seed, curvature=curvature, delta=delta,
                        far=far, options=as_options(options))


def xor(
    preset: str | ToyPreset = "book",
    options: Options | None = None,
    *,
    widths: Sequence[int] | None = None,
    epochs: int | None = None,
    grid_size: int | None = None,
    seeds: Sequence[int] | None = None,
    curvature: str = "all",
    delta: float = 0.1,
    far: float = 0.3,
) -> ToyExperiment:
    r"""XOR: ``[2, w, 2]`` sigmoid networks trained full-batch on the four points :math:`(\pm1, \pm1)`.

    Widths ``w`` in ``(2, 10, 100, 250)`` by default; SGD lr 0.02, momentum 0.9, weight decay 1e-4, 2,000 epochs;
    grid 40 x 40 on :math:`[-1.5, 1.5]^2`. The task boundary is the two axes (zero set of :math:`-x_1 x_2`).
    Width 2 has no curvature (:math:`R \equiv 0` for two hidden units in d = 2).

    Args:
        preset: ``"book"`` or ``"paper"`` (identical here), or a :class:`ToyPreset`.
        widths: hidden widths; seeds: network seeds (one run per width and seed, keyed ``(width, seed)``).
        curvature: as in :func:`sinusoid` (default ``"all"``: every width).{common}

    Returns:
        :class:`ToyExperiment` with runs keyed by ``(width, seed)``.
    """
    settings = _settings("xor", preset, epochs, grid_size, hidden=widths, seeds=seeds)
    x, y = _data.xor()
    runs = {(w, s): ((2, w, 2), s) for w in settings.hidden for s in settings.seeds}
    return _run_all("xor", _name(preset), settings, x, y, {"task": _data.xor_score}, runs, curvature=curvature,
                    delta=delta, far=far, options=as_options(options))


def deep_mlp(
    preset: str | ToyPreset = "book",
    options: Options | None = None,
    *,
    seeds: Sequence[int] | None = None,
    epochs: int | None = None,
    grid_size: int | None = None,
    data_seed: int = 0,
    delta: float = 0.1,
    far: float = 0.3,
) -> ToyExperiment:
    r"""Deep MLP: ``[2, 8, 8, 8, 2]`` sigmoid networks on the sinusoid task; volume element after each hidden layer.

    ``snapshot.log_volume[l - 1]`` is :math:`\log_{10}\sqrt{\det g}` of :math:`h_\ell/\sqrt 8` (autodiff for
    layers 2 and 3); ``snapshot.magnification`` has one entry per layer. No curvature.

    Args:
        preset, seeds, data_seed: as in :func:`sinusoid`.{common}

    Returns:
        :class:`ToyExperiment` with runs keyed by seed.
    """
    return _on_sinusoid("deep_mlp", preset, seeds, epochs, grid_size, data_seed, curvature="none", delta=delta,
                        far=far, options=as_options(options))


def _on_sinusoid(name: str, preset: str | ToyPreset, seeds, epochs, grid_size, data_seed: int, **common
                 ) -> ToyExperiment:
    """The sinusoid experiments: one run per seed on :func:`paperlib.data.sinusoid` data, measured around the true
    boundary (``"task"``) and its mirror image (``"control"``, :func:`paperlib.data.sinusoid_control_score`)."""
    settings = _settings(name, preset, epochs, grid_size, seeds=seeds)
    x, y = _data.sinusoid(400, check_int(data_seed, "data_seed"))
    runs = {s: (settings.widths, s) for s in settings.seeds}
    scores = {"task": _data.sinusoid_score, "control": _data.sinusoid_control_score}
    return _run_all(name, _name(preset), settings, x, y, scores, runs, **common)


def _name(preset: str | ToyPreset) -> str:
    return preset if isinstance(preset, str) else "custom"


for _f in (sinusoid, xor, deep_mlp):
    _f.__doc__ = _f.__doc__.replace("{common}", _COMMON)
