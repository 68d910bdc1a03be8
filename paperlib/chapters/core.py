r"""The small core every chapter's experiments stand on.

- :class:`Preset`: presets are frozen dataclasses, checked in ``__post_init__``, overridden with
  :meth:`Preset.replace` (``dataclasses.replace``, which checks again) and serialised into cache keys
  (:meth:`Preset.to_dict`); :func:`resolve` turns a preset name or object plus overrides into one;
  :class:`TrainingPreset` holds what every MLP experiment shares (network, optimiser, schedule, figure epochs);
- :func:`rescale_epochs`: a snapshot schedule stretched to another number of epochs;
- :func:`mean_sd`, :func:`mean_sd_text`, :func:`pearson`: the summaries the chapters report over seeds and points;
- :func:`cached`: a measurement computed once and kept in the cache of :mod:`paperlib.cache`;
- the geometry along lines and on planes through anchor inputs that chapters 6-8 measure on trained classifiers
  (:class:`LineGeometry`, :class:`PlaneGeometry`) with their statistics (:func:`class_entropy`,
  :func:`class_changes`, :func:`peak_boundary_distance`, :func:`line_contrast`, :func:`line_prominence`,
  :func:`partial_correlation`, :func:`line_statistics`), the test of where peaks sit against its nulls
  (:func:`location_test`) and the choice of anchors (:func:`anchor_indices`, :func:`control_anchor_pairs`,
  :func:`random_line_pairs`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Sequence

import torch

from .. import activations as _act
from .. import cache as _cache
from .. import slices as _slices
from .. import train as _train
from .._checks import check_choice, check_int, check_ints
from ..models import INITS, MLP

__all__ = [
    "Preset",
    "TrainingPreset",
    "resolve",
    "rescale_epochs",
    "cached",
    "anchor_indices",
    "control_anchor_pairs",
    "class_entropy",
    "class_changes",
    "peak_boundary_distance",
    "line_contrast",
    "line_prominence",
    "partial_correlation",
    "spearman",
    "line_statistics",
    "LocationTest",
    "location_test",
    "location_table",
    "random_line_pairs",
    "spread_selection",
    "pearson",
    "mean_sd",
    "mean_sd_text",
    "LineGeometry",
    "PlaneGeometry",
    "grid_numbers",
]


def grid_numbers(grid) -> dict:
    """A :class:`paperlib.data.Grid`'s coordinates for a figure's numbers."""
    return {"xs": grid.xs, "ys": grid.ys, "layout": "images [row i, column j] at (xs[j], ys[i])"}


@dataclass(frozen=True)
class Preset:
    """Base of every experiment's preset: a frozen dataclass whose subclasses check their fields in
    ``__post_init__``."""

    def to_dict(self) -> dict:
        """JSON-able dict of all fields (tuples become lists): the preset's part of cache keys."""
        def plain(v):
            if isinstance(v, (tuple, list)):
                return [plain(u) for u in v]
            return v
        return {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def replace(self, **changes) -> "Preset":
        """A copy with ``changes`` applied and checked again (``dataclasses.replace``)."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise TypeError(f"unknown preset fields {sorted(unknown)} for {type(self).__name__}")
        return dataclasses.replace(self, **changes)

    def with_epochs(self, epochs: int | None) -> "Preset":
        """For presets with ``epochs``, ``snapshots`` and ``figure_epochs`` fields: the preset with ``epochs`` total
        epochs and its snapshot and figure epochs rescaled in proportion (:func:`rescale_epochs`, always with 0 and
        the last epoch); ``None``: unchanged."""
        if epochs is None:
            return self
        check_int(epochs, "epochs", min=1)
        return self.replace(epochs=epochs,
                            snapshots=tuple(sorted(set(rescale_epochs(self.snapshots, self.epochs, epochs)) | {0})),
                            figure_epochs=rescale_epochs(self.figure_epochs, self.epochs, epochs))


@dataclass(frozen=True)
class TrainingPreset(Preset):
    """The part of a preset shared by every experiment that trains :class:`paperlib.models.MLP` classifiers: the
    network, its optimiser and schedule, and the epochs the figures show.

    Attributes:
        widths: MLP widths; activation, init: of :class:`paperlib.models.MLP`.
        optimizer, lr, momentum, weight_decay, batch_size, epochs, snapshots: of
            :class:`paperlib.train.TrainConfig` (snapshots are stored sorted, with the last epoch).
        figure_epochs: the epochs the paper's figures show (kept where they are snapshot epochs).
    """

    widths: tuple[int, ...] = ()
    activation: str = "sigmoid"
    init: str = "paper"
    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 0.0
    batch_size: int | None = 50
    epochs: int = 1000
    snapshots: tuple[int, ...] = (0,)
    figure_epochs: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        set_ = functools.partial(object.__setattr__, self)
        set_("widths", check_ints(self.widths, "widths", min=1))
        _act.check_name(self.activation)
        check_choice(self.init, "init", INITS)
        cfg = self.train_config(0)  # checks the optimiser fields and the snapshots
        set_("snapshots", cfg.snapshots)
        figure = check_ints(self.figure_epochs, "figure_epochs", min=0, max=self.epochs, nonempty=False)
        set_("figure_epochs", tuple(e for e in figure if e in cfg.snapshots))

    def train_config(self, seed: int) -> _train.TrainConfig:
        """The :class:`~paperlib.train.TrainConfig` of the run with ``seed``."""
        return _train.TrainConfig(optimizer=self.optimizer, lr=self.lr, momentum=self.momentum,
                                  weight_decay=self.weight_decay, batch_size=self.batch_size, epochs=self.epochs,
                                  snapshots=self.snapshots, seed=seed)

    def model(self, widths: tuple[int, ...] | None = None) -> functools.partial:
        """The model factory of a run: :class:`paperlib.models.MLP` with ``widths`` (default: the preset's), this
        preset's activation and initialisation."""
        return functools.partial(MLP, widths or self.widths, self.activation, init=self.init)


def resolve(presets: Mapping[str, Preset], preset: str | Preset, **overrides) -> Preset:
    """The preset named ``preset`` in ``presets`` (or ``preset`` itself when it is a preset object of the right
    type) with ``overrides`` applied (:meth:`Preset.replace`; ``None`` values ignored)."""
    kind = type(next(iter(presets.values())))
    if isinstance(preset, kind):
        base = preset
    else:
        base = presets[check_choice(preset, "preset", tuple(presets))]
    return base.replace(**{k: v for k, v in overrides.items() if v is not None})


def rescale_epochs(epochs: Iterable[int], old: int, new: int) -> tuple[int, ...]:
    """A schedule of epochs for ``old`` total epochs stretched to ``new``: ``round(e * new / old)``, kept in
    ``0..new``, sorted, without repeats (order kept for the figure epochs)."""
    return tuple(dict.fromkeys(min(new, round(e * new / old)) for e in epochs))


def pearson(a: torch.Tensor, b: torch.Tensor) -> float:
    r"""Pearson correlation :math:`\rho = \frac{\sum (a_i - \bar a)(b_i - \bar b)}{\sqrt{\sum (a_i - \bar a)^2
    \sum (b_i - \bar b)^2}}` of two ``(P,)`` tensors over the points where both are finite (NaN if fewer than two
    such points or a constant)."""
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor) or a.shape != b.shape or a.ndim != 1:
        raise ValueError("a and b must be 1-d tensors of the same length")
    a, b = a.double(), b.double()
    keep = torch.isfinite(a) & torch.isfinite(b)
    a, b = a[keep] - a[keep].mean(), b[keep] - b[keep].mean()
    den = float((a.square().sum() * b.square().sum()).sqrt())
    return float((a * b).sum()) / den if keep.sum() >= 2 and den > 0 else math.nan


def mean_sd(values: Iterable[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (``n - 1``) of the finite ``values`` (NaN when there are none; sd NaN for
    one value)."""
    v = torch.tensor([float(u) for u in values], dtype=torch.float64)
    v = v[torch.isfinite(v)]
    if v.numel() == 0:
        return math.nan, math.nan
    return float(v.mean()), float(v.std()) if v.numel() > 1 else math.nan


def mean_sd_text(values: Iterable[float], digits: int = 2) -> str:
    """``"mean ± sd"`` of :func:`mean_sd`, both with ``digits`` decimals (for the chapters' tables)."""
    m, s = mean_sd(values)
    return f"{m:.{digits}f} ± {s:.{digits}f}"


def cached(store: _cache.Cache, description: dict, compute: Callable[[], dict]) -> dict:
    """``compute()`` once, then from the cache: the payload stored under ``key(description)`` in the
    ``geometry`` namespace (a dict of tensors and plain values). A failing cache never loses the result."""
    key = _cache.key({"kind": "geometry", **description})
    payload = store.load("geometry", key)
    if payload is None:
        payload = compute()
        store.save("geometry", key, payload)
    return payload


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


def control_anchor_pairs(y: torch.Tensor, pairs: Sequence[tuple[int, int]], same_class: Sequence[int],
                         seed: int) -> list[tuple[str, tuple[int, int], tuple[int, int]]]:
    """Anchors of the control lines, drawn at random from ``y`` (the test labels) by a generator seeded with
    ``seed``: for each digit pair ``(c1, c2)`` one image of ``c1`` and one of ``c2`` (kind ``"cross"``), and for each
    digit ``c`` in ``same_class`` two different images of ``c`` (kind ``"same"``: the line crosses no boundary of
    the task). Returns ``[(kind, (c1, c2), (i, j))]`` with indices into ``y``."""
    gen = torch.Generator().manual_seed(check_int(seed, "seed"))

    def draw(c: int, count: int) -> list[int]:
        idx = torch.nonzero(y == c).flatten()
        if len(idx) < count:
            raise ValueError(f"the test split has {len(idx)} images of digit {c}; {count} needed")
        return idx[torch.randperm(len(idx), generator=gen)[:count]].tolist()

    out = []
    for c1, c2 in pairs:
        out.append(("cross", (c1, c2), (draw(c1, 1)[0], draw(c2, 1)[0])))
    for c in same_class:
        i, j = draw(c, 2)
        out.append(("same", (c, c), (i, j)))
    return out


def random_line_pairs(y: torch.Tensor, count: int, seed: int, *, same_class: bool = False,
                      classes: Sequence[int] | None = None) -> list[tuple[str, tuple[int, int], tuple[int, int]]]:
    """``count`` lines between test images drawn at random by a generator seeded with ``seed``: for each, two
    different classes (``same_class=False``, kind ``"cross"``) or one class twice (kind ``"same"``) drawn uniformly
    from ``classes`` (default: every class in ``y``), then an image of each at random (two different images for a
    same-class line). Different seeds give different lines, so the spread over seeds includes the spread over
    lines. Returns ``[(kind, (c1, c2), (i, j))]`` with indices into ``y: (N,)``."""
    check_int(count, "count", min=1)
    gen = torch.Generator().manual_seed(check_int(seed, "seed"))
    pool = sorted(set(y.tolist())) if classes is None else list(check_ints(classes, "classes", min=0))
    if len(pool) < (1 if same_class else 2):
        raise ValueError(f"classes must hold at least {1 if same_class else 2} classes; got {pool}")
    members = {c: torch.nonzero(y == c).flatten() for c in pool}
    if any(len(m) < 2 for m in members.values()):
        raise ValueError("every class must have at least two images in y")
    out = []
    for _ in range(count):
        if same_class:
            c = pool[int(torch.randint(len(pool), (1,), generator=gen))]
            i, j = members[c][torch.randperm(len(members[c]), generator=gen)[:2]].tolist()
            out.append(("same", (c, c), (i, j)))
        else:
            a, b = torch.randperm(len(pool), generator=gen)[:2].tolist()
            c1, c2 = pool[a], pool[b]
            i = int(members[c1][torch.randint(len(members[c1]), (1,), generator=gen)])
            j = int(members[c2][torch.randint(len(members[c2]), (1,), generator=gen)])
            out.append(("cross", (c1, c2), (i, j)))
    return out


def spread_selection(centres: Sequence[float], count: int, *, low: float = 0.15, high: float = 0.85) -> list[int]:
    """Indices of ``count`` lines whose class transitions spread evenly over ``[low, high]``: for each target
    :math:`q_i = low + (high - low)(i + 1/2)/count` in turn, the unused line whose transition centre is nearest
    (lines whose centre is NaN, without a transition, are never chosen). Lines drawn at random between two typical
    images have transitions near their middle, where a peak in the middle of *any* line would also sit; spreading
    them gives a test of where the peak sits its power (:func:`location_test`). The choice uses only where the
    predicted class changes, never the volume element. ``centres: (L,)``; returns sorted indices.
    """
    c = torch.as_tensor([float(v) for v in centres], dtype=torch.float64)
    check_int(count, "count", min=1)
    if not 0 <= low < high <= 1:
        raise ValueError(f"low and high must satisfy 0 <= low < high <= 1; got {low}, {high}")
    free = torch.isfinite(c)
    if int(free.sum()) < count:
        raise ValueError(f"only {int(free.sum())} of the {len(c)} candidate lines have a class transition; "
                         f"{count} needed: draw more candidates")
    chosen = []
    for i in range(count):
        q = low + (high - low) * (i + 0.5) / count
        gap = torch.where(free, (c - q).abs(), torch.full_like(c, math.inf))
        j = int(torch.argmin(gap))
        chosen.append(j)
        free[j] = False
    return sorted(chosen)


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


def line_prominence(log_volume: torch.Tensor, end_values: torch.Tensor) -> float:
    r"""Prominence of an interior peak of the log volume element along a line over the *larger* of its two ends,

    .. math::  P = \max_{0 < t_i < 1} \ell(t_i) - \max\big(\ell(x_1), \ell(x_2)\big) \quad \text{(decades)}.

    Unlike :func:`line_contrast`, a monotone curve (largest at an end) scores :math:`P \le 0`: only a peak inside
    the line is positive. ``log_volume: (T,)`` at :math:`t_i = i/T` (the first sample is :math:`x_1` itself and is
    left out of the maximum), ``end_values: (2,)`` the values at :math:`x_1` and :math:`x_2`.
    """
    if not isinstance(log_volume, torch.Tensor) or log_volume.ndim != 1 or log_volume.numel() < 2:
        raise ValueError("log_volume must be a 1-d tensor of at least two samples")
    if not isinstance(end_values, torch.Tensor) or end_values.shape != (2,):
        raise ValueError("end_values must be a tensor of shape (2,): the values at x1 and x2")
    return float(log_volume[1:].max() - end_values.max())


def partial_correlation(a: torch.Tensor, b: torch.Tensor, control: torch.Tensor) -> float:
    r"""Partial correlation of ``a`` and ``b`` given ``control``: the :func:`pearson` correlation of the residuals
    of ``a`` and of ``b`` after a least-squares fit of each on :math:`[1, c]`,

    .. math::  \rho_{ab\cdot c} = \frac{\rho_{ab} - \rho_{ac}\rho_{bc}}{\sqrt{(1-\rho_{ac}^2)(1-\rho_{bc}^2)}}.

    On a line, with :math:`c = \min(t, 1 - t)` (distance to the nearest anchor), it asks whether the volume element
    follows the prediction entropy beyond both being larger in the middle of the line. ``a, b, control: (P,)``
    (points where any is not finite are left out; NaN when undefined).
    """
    for name, v in (("a", a), ("b", b), ("control", control)):
        if not isinstance(v, torch.Tensor) or v.ndim != 1 or v.shape != a.shape:
            raise ValueError(f"{name} must be a 1-d tensor of the same length as a")
    keep = torch.isfinite(a) & torch.isfinite(b) & torch.isfinite(control)
    a, b, c = a[keep].double(), b[keep].double(), control[keep].double()
    if a.numel() < 4:
        return math.nan
    X = torch.stack([torch.ones_like(c), c], 1)

    def residual(v):
        coef = torch.linalg.lstsq(X, v.unsqueeze(1)).solution
        return v - (X @ coef).squeeze(1)

    return pearson(residual(a), residual(b))


def spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    """Spearman rank correlation of two ``(P,)`` tensors (ties get their average rank; non-finite pairs left out):
    the :func:`pearson` correlation of the ranks."""
    from scipy.stats import rankdata  # noqa: PLC0415 (scipy only where used)
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor) or a.shape != b.shape or a.ndim != 1:
        raise ValueError("a and b must be 1-d tensors of the same length")
    keep = torch.isfinite(a) & torch.isfinite(b)
    ra = torch.from_numpy(rankdata(a[keep].double().numpy()))
    rb = torch.from_numpy(rankdata(b[keep].double().numpy()))
    return pearson(ra, rb)


@dataclass(frozen=True)
class LocationTest:
    r"""Whether the peaks of the volume element along lines sit at the lines' class transitions, against two nulls
    (:func:`location_test`).

    Attributes:
        lines: lines with a class transition (the others are left out).
        distance: mean over lines of the distance of the peak from the line's transition interval.
        midpoint: the same for a "peak" at :math:`t = 1/2` on every line (the midpoint null: a network whose peak
            sits in the middle of any line, wherever its boundary is).
        shuffled: the mean distance of the peak of line :math:`i` from the transition of line :math:`j \ne i`
            (the shuffled-transition null: peaks and transitions of the same lines, paired wrongly).
        p_shuffled: permutation p-value of ``distance`` against random pairings :math:`\pi`,
            :math:`(1 + \#\{\pi: \bar D_\pi \le \bar D\}) / (1 + n_\pi)`.
        rank_correlation: Spearman correlation across lines of the peak position with the centre of the
            transition interval (does the peak *track* the transition?).
        p_rank: its one-sided permutation p-value, :math:`(1 + \#\{\pi: r_\pi \ge r\}) / (1 + n_\pi)`.
        transition_sd: standard deviation of the transition centres over lines (how far they spread around the
            middle: the test has power only when they do).
    """

    lines: int
    distance: float
    midpoint: float
    shuffled: float
    p_shuffled: float
    rank_correlation: float
    p_rank: float
    transition_sd: float

    def passes(self, *, margin: float, alpha: float) -> bool:
        """Whether the peaks sit at the transitions: ``distance`` below both nulls by more than ``margin`` (units of
        :math:`t`), and both permutation p-values below ``alpha``."""
        return bool(self.distance < min(self.midpoint, self.shuffled) - margin and self.p_shuffled < alpha
                    and self.p_rank < alpha)


def location_test(peaks: Sequence[float], lower: Sequence[float], upper: Sequence[float], *,
                  permutations: int = 10000, seed: int = 0) -> LocationTest:
    r"""Test whether peaks along lines sit at the lines' class transitions (:class:`LocationTest`).

    With the peak :math:`t^*_i` of line :math:`i`, its transition interval :math:`[c^-_i, c^+_i]` (the first and
    the last class change, :func:`class_changes`) and :math:`D(t, i) = \operatorname{dist}(t, [c^-_i, c^+_i])`,
    the statistic is :math:`\bar D = \operatorname{mean}_i D(t^*_i, i)`. It is compared with the midpoint null
    :math:`\operatorname{mean}_i D(1/2, i)`, with the mean of :math:`D(t^*_i, j)` over the wrong pairings
    :math:`i \ne j`, and with ``permutations`` random pairings (generator seeded with ``seed``). The rank
    correlation of :math:`t^*_i` with :math:`(c^-_i + c^+_i)/2` is tested against the same permutations.

    Args:
        peaks, lower, upper: ``(L,)`` per line; lines whose ``lower`` or ``upper`` is NaN (no class change) are
            left out.
    """
    p, lo, hi = (torch.as_tensor([float(v) for v in vals], dtype=torch.float64) for vals in (peaks, lower, upper))
    if not (p.shape == lo.shape == hi.shape) or p.ndim != 1:
        raise ValueError("peaks, lower and upper must have the same length")
    check_int(permutations, "permutations", min=1)
    keep = torch.isfinite(p) & torch.isfinite(lo) & torch.isfinite(hi)
    p, lo, hi = p[keep], lo[keep], hi[keep]
    n = int(p.numel())
    if n < 3:
        raise ValueError(f"location_test needs at least 3 lines with a class transition; got {n}")
    if bool((hi < lo).any()):
        raise ValueError("upper must not be below lower")

    def dist(t, a, b):
        return (a - t).clamp_min(0) + (t - b).clamp_min(0)

    observed = float(dist(p, lo, hi).mean())
    midpoint = float(dist(torch.full_like(p, 0.5), lo, hi).mean())
    pair = dist(p[:, None], lo[None, :], hi[None, :])  # (i, j): peak i against transition j
    shuffled = float((pair.sum() - pair.diagonal().sum()) / (n * (n - 1)))
    gen = torch.Generator().manual_seed(check_int(seed, "seed"))
    perms = torch.argsort(torch.rand(permutations, n, generator=gen), dim=1)
    d_perm = dist(p[None, :], lo[perms], hi[perms]).mean(1)
    centre = 0.5 * (lo + hi)
    r = spearman(p, centre)
    # the rank correlation under every pairing at once: the Pearson correlation of the peaks' ranks with the
    # permuted ranks of the transitions (ranks are permuted with the values)
    from scipy.stats import rankdata  # noqa: PLC0415 (scipy only where used)
    rp, rc = (torch.from_numpy(rankdata(v.numpy())) for v in (p, centre))
    rp, rc = rp - rp.mean(), rc - rc.mean()
    den = float((rp.square().sum() * rc.square().sum()).sqrt())
    r_perm = (rc[perms[: min(permutations, 2000)]] * rp).sum(1) / den if den > 0 else torch.full((1,), math.nan)
    p_rank = (1 + int((r_perm >= r - 1e-12).sum())) / (1 + len(r_perm)) if math.isfinite(r) else math.nan
    return LocationTest(n, observed, midpoint, shuffled,
                        (1 + int((d_perm <= observed + 1e-12).sum())) / (1 + permutations), r, p_rank,
                        float(centre.std()))


def location_table(tests: dict[str, LocationTest], initial: dict[str, LocationTest] | None = None) -> str:
    """A text table of :class:`~paperlib.chapters.core.LocationTest` results, one row per network (and per network
    at initialisation where ``initial`` is given): lines, mean distance of the peaks from their transition, the
    midpoint and shuffled-transition nulls, the permutation p-value, the rank correlation and its p-value."""
    head = (f"{'network':>28} {'lines':>5} {'D':>6} {'midpoint':>8} {'shuffled':>8} {'p':>7} {'rank r':>7} "
            f"{'p(r)':>7}")
    rows = [head]
    for label, group in (("trained", tests), ("initialisation", initial or {})):
        for name, t in group.items():
            rows.append(f"{name + ', ' + label:>28} {t.lines:5d} {t.distance:6.3f} {t.midpoint:8.3f} "
                        f"{t.shuffled:8.3f} {t.p_shuffled:7.4f} {t.rank_correlation:7.2f} {t.p_rank:7.4f}")
    return "\n".join(rows)


def line_statistics(t: torch.Tensor, initial: torch.Tensor, initial_ends: torch.Tensor, final: torch.Tensor,
                    final_ends: torch.Tensor, predicted: torch.Tensor, entropy: torch.Tensor) -> dict:
    r"""The control statistics of one line, initialisation against training (chapters 7-8):

    - ``contrast_init``, ``contrast_final``: :func:`line_contrast` of the initial and the trained log volume
      element (decades; positive for any monotone curve too);
    - ``prominence_init``, ``prominence_final``: :func:`line_prominence` (positive only for an interior peak);
    - ``peak_init``, ``peak_final``: :math:`t` of the maximum of the initial and of the trained log volume element;
    - ``transition_lower``, ``transition_upper``: the first and the last class change of the trained network
      (:func:`class_changes`; NaN without one);
    - ``distance_final``, ``distance_init``: :func:`peak_boundary_distance` of the trained and of the initial peak
      from the trained classes' transition (NaN without a class change);
    - ``entropy_corr_final``, ``entropy_corr_init``: :func:`pearson` correlation along the line of the trained and
      of the initial log volume element with :math:`\log_{10}` of the trained prediction entropy;
    - ``entropy_partial_final``, ``entropy_partial_init``: the same as a :func:`partial_correlation` given the
      distance to the nearest anchor, :math:`\min(t, 1 - t)`;
    - ``changes``: number of class changes along the line.

    ``t, initial, final, predicted, entropy: (T,)``; ``initial_ends, final_ends: (2,)`` the values at the anchors.
    """
    log_h = torch.log10(entropy)
    near = torch.minimum(t, 1 - t).double()
    changes = class_changes(t, predicted)
    lower, upper = (float(changes[0]), float(changes[-1])) if changes.numel() else (math.nan, math.nan)
    return {"contrast_init": line_contrast(initial, initial_ends), "contrast_final": line_contrast(final, final_ends),
            "prominence_init": line_prominence(initial, initial_ends),
            "prominence_final": line_prominence(final, final_ends),
            "peak_init": float(t[int(torch.argmax(initial))]), "peak_final": float(t[int(torch.argmax(final))]),
            "transition_lower": lower, "transition_upper": upper,
            "distance_final": peak_boundary_distance(t, final, predicted),
            "distance_init": peak_boundary_distance(t, initial, predicted),
            "entropy_corr_final": pearson(final, log_h), "entropy_corr_init": pearson(initial, log_h),
            "entropy_partial_final": partial_correlation(final.double(), log_h, near),
            "entropy_partial_init": partial_correlation(initial.double(), log_h, near),
            "changes": int((predicted[1:] != predicted[:-1]).sum())}


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

    def numbers(self) -> dict:
        """The values along the line and, per epoch, the statistics the chapters quote (a figure's numbers)."""
        epochs = list(self.epochs)
        return {"digits": list(self.digits), "t": self.line.t, "epochs": epochs, "log_volume": self.log_volume,
                "end_log_volume": self.end_log_volume, "predicted": self.predicted, "entropy": self.entropy,
                "contrast": {e: self.contrast(e) for e in epochs}, "peak": {e: self.peak(e) for e in epochs},
                "class_changes": {e: self.changes(e) for e in epochs},
                "boundary_distance": {e: self.boundary_distance(e) for e in epochs}}


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

    def numbers(self, correlation: Callable[[int], float] | None = None) -> dict:
        """The values per epoch and point (``steps * steps`` points, row-major over the plane's ``(a, b)``
        coordinates) for a figure's numbers; ``correlation(epoch)``, where given, adds the correlation of the log
        volume element with the log entropy per epoch."""
        out = {"digits": list(self.digits), "a": self.plane.a, "b": self.plane.b, "ternary": self.plane.ternary,
               "inside": self.plane.inside, "epochs": list(self.epochs), "log_volume": self.log_volume,
               "predicted": self.predicted, "entropy": self.entropy}
        if correlation is not None:
            out["correlation_log_volume_log_entropy"] = {e: correlation(e) for e in self.epochs}
        return out
