r"""Seeded, cached, resumable training of any ``nn.Module``: one trainer for every chapter.

:func:`train` takes

- a **model factory** (any callable returning an ``nn.Module``, e.g. ``functools.partial(MLP, (2, 250, 2))`` or
  ``lambda: ResNet(...)``), called with the global RNG seeded by ``config.seed`` (inside
  :func:`torch.random.fork_rng`, so the caller's RNG is untouched): the seed determines the initialisation;
- a **loss** ``loss(model, batch) -> scalar tensor`` (default :func:`cross_entropy`: ``batch = (x, y)``); a
  self-supervised loss receives two augmented views in its batch;
- **data**: a tuple of tensors ``(x, y, ...)`` held in memory, cut into mini-batches of ``config.batch_size`` by
  a seeded permutation each epoch; or a :class:`torch.utils.data.DataLoader` (per-sample augmentation, any
  collate), or any re-iterable of batches;
- a :class:`TrainConfig`: optimiser (SGD with momentum, Adam; weight decay), learning-rate schedule (constant,
  linear decay to 0, cosine), gradient-norm clipping, precision, epochs, snapshot epochs and seed.

:func:`train_many` runs independent runs (seeds, controls) in parallel worker processes (:func:`parallel_map`).

Structure. :func:`train` drives a private ``_Trainer`` through the steps of a run, in the shape of d2l's
``Trainer``: look the finished run up in the cache, prepare (device, precision, optimiser, schedule, data), restore
(the last checkpoint, else the initialisation), distribute (DDP), fit (per epoch: ``fit_epoch``, record,
checkpoint) and finish (the final entry). The process pool, threads and progress bars live in
:mod:`paperlib.workers`, the model and data fingerprints in :mod:`paperlib.cache`.

Randomness and exact resuming. Every epoch runs with the global RNG (and the loader's own generator, if it has
one) seeded by ``(config.seed, epoch)``, so the batch order, the augmentations drawn in the main process and
dropout depend on the seed and the epoch only. A checkpoint (model, optimiser state with momentum buffers, history,
snapshots so far) is written at every snapshot epoch and at least every ``checkpoint_seconds``; an interrupted run
(an exception, a killed kernel) resumes from it to the identical state (same machine, thread count and, with a
``DataLoader``, ``num_workers=0`` or seeded workers). The checkpoint is removed once the final entry is written.

Modes. The model trains in ``train()`` mode (batch norm uses batch statistics and updates its running ones) and is
evaluated, snapshotted and returned in ``eval()`` mode, the mode :mod:`paperlib.geometry` needs.

Snapshots. **Epoch 0 is the initialisation, before any optimiser step**; epoch ``e`` is the state after ``e``
passes over the data. (The authors' scripts label the state after the first epoch "epoch 0"; ours is the
untrained network.) The last epoch is always kept.

Cache. Runs are stored by :mod:`paperlib.cache` under ``train/<key>.pt``, where the key is the SHA-256 of the
configuration, a fingerprint of the model's definition (its class, the class's source, ``repr`` and the initial
parameters and buffers), of the data (:func:`data_fingerprint`), the loss and evaluation functions (their
``description`` attribute, else their qualified names and a digest of their code) and the device type.

Distributed training. Under ``torchrun --nproc_per_node=N`` (after :func:`paperlib.distributed.init_from_env`)
:func:`train` runs one run across the ``N`` ranks: the model is wrapped in
:class:`~torch.nn.parallel.DistributedDataParallel` and every rank takes its contiguous part of each mini-batch of
the same seeded order, scaling its loss by its share of the rows, so that the gradient DDP averages is the gradient
of the loss of the whole mini-batch, as in one process (for a loss that is a mean over the rows of its batch, such
as :func:`cross_entropy`). The augmentation of an :class:`augmented` loss is drawn for the whole mini-batch on every
rank before the rows are split, so the augmented images are those of one process too; batch norm is synchronised
over the ranks (:class:`~torch.nn.SyncBatchNorm`, CUDA only). Rank 0 alone writes the checkpoints and the final
entry, under the single-process key (the same run), and decides whether there is one to read; every rank returns
the result.
Supported: in-memory tensor data, losses that are means over rows (not Barlow Twins or SimCLR, whose losses couple
the rows of a batch); random layers such as dropout draw different numbers than in one process.

Progress. ``progress=None`` shows a tqdm bar only when it can be seen without side effects
(:func:`progress_enabled`: ``$PAPERLIB_PROGRESS``, else whether standard error is a terminal, which notebook kernels,
pytest and nbval are not), so committed notebook outputs never hold progress bars.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import math
import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from . import cache as _cache
from . import distributed as _dist
from ._checks import check_choice, check_int, check_ints, check_number, resolve_device
from .cache import _is_tensor_data, data_fingerprint, model_fingerprint
from .workers import parallel_map, progress_bar, progress_enabled, threads

__all__ = [
    "augmented",
    "TrainConfig",
    "TrainResult",
    "train",
    "train_many",
    "run_key",
    "cross_entropy",
    "classification_metrics",
    "OPTIMIZERS",
    "SCHEDULES",
]

OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("constant", "linear", "cosine")
_DTYPES = {"float32": torch.float32, "float64": torch.float64}

Loss = Callable[[nn.Module, Any], torch.Tensor]
Evaluate = Callable[[nn.Module], dict]
Factory = Callable[[], nn.Module]


@dataclass(frozen=True)
class TrainConfig:
    r"""Everything about a training run except the model, the loss and the data.

    Attributes:
        optimizer: ``"sgd"`` or ``"adam"``.
        lr: base learning rate (> 0).
        momentum: SGD momentum in ``[0, 1)`` (must be 0 for Adam).
        weight_decay: L2 weight decay (>= 0), PyTorch's ``weight_decay``.
        schedule: learning rate at optimiser step :math:`t` of :math:`T`: ``"constant"``; ``"linear"``
            :math:`\eta (1 - t/T)`; ``"cosine"`` :math:`\tfrac\eta2 (1 + \cos(\pi t / T))`.
        clip_norm: clip the gradient's global 2-norm to this value before each step (``None``: no clipping).
        batch_size: mini-batch size for in-memory tensors (``None``: one full batch per epoch); with a
            ``DataLoader`` it must be ``None`` or the loader's batch size.
        epochs: passes over the data (>= 0).
        snapshots: epochs (``0..epochs``) whose ``state_dict`` is kept; 0 is the initialisation. Stored sorted and
            unique, with ``epochs`` added.
        seed: seeds the initialisation and each epoch's randomness.
        dtype: ``"float32"`` or ``"float64"``: precision of the parameters and of floating in-memory data.
    """

    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "constant"
    clip_norm: float | None = None
    batch_size: int | None = 50
    epochs: int = 1000
    snapshots: tuple[int, ...] = (0,)
    seed: int = 0
    dtype: str = "float32"

    def __post_init__(self) -> None:
        check_choice(self.optimizer, "optimizer", OPTIMIZERS)
        check_choice(self.schedule, "schedule", SCHEDULES)
        check_choice(self.dtype, "dtype", tuple(_DTYPES))
        set_ = functools.partial(object.__setattr__, self)
        set_("lr", check_number(self.lr, "lr", min=0, open_min=True))
        set_("momentum", check_number(self.momentum, "momentum", min=0))
        if self.momentum >= 1:
            raise ValueError(f"momentum must be a number in [0, 1); got {self.momentum!r}")
        if self.optimizer == "adam" and self.momentum != 0:
            raise ValueError("momentum must be 0 with optimizer='adam' (Adam has its own betas)")
        set_("weight_decay", check_number(self.weight_decay, "weight_decay", min=0))
        set_("clip_norm", check_number(self.clip_norm, "clip_norm", min=0, open_min=True, none_ok=True))
        check_int(self.batch_size, "batch_size", min=1, none_ok=True)
        check_int(self.epochs, "epochs", min=0)
        snaps = check_ints(self.snapshots, "snapshots", min=0, max=self.epochs, nonempty=False)
        set_("snapshots", tuple(sorted(set(snaps) | {self.epochs})))
        check_int(self.seed, "seed")

    def to_dict(self) -> dict:
        """JSON-able dict of all fields (the configuration part of the cache key)."""
        d = dataclasses.asdict(self)
        d["snapshots"] = list(self.snapshots)
        return d

    @property
    def torch_dtype(self) -> torch.dtype:
        """``dtype`` as a :class:`torch.dtype`."""
        return _DTYPES[self.dtype]


@dataclass
class TrainResult:
    """Outcome of :func:`train`.

    Attributes:
        config: the :class:`TrainConfig`.
        factory: the model factory (rebuilds the architecture for :meth:`model`).
        snapshots: ``{epoch: state_dict}`` (CPU tensors) at ``config.snapshots``.
        history: ``{"train_loss": (epochs + 1,), <metric>: (epochs + 1,), ...}``: the mean training loss of each
            epoch (index 0, the initialisation, is NaN) and every metric of ``evaluate`` at the initialisation and
            after each epoch (absent without ``evaluate``).
        key: the cache key (hex).
        source: ``"trained"`` (from scratch), ``"resumed"`` (from a checkpoint) or ``"cache"`` (loaded, no training).
        steps: optimiser steps taken by this call (0 on a cache hit).
    """

    config: TrainConfig
    factory: Factory
    snapshots: dict[int, dict[str, torch.Tensor]]
    history: dict[str, torch.Tensor]
    key: str
    source: str = "trained"
    steps: int = 0

    @property
    def epochs(self) -> list[int]:
        """Sorted snapshot epochs."""
        return sorted(self.snapshots)

    def model(self, epoch: int | None = None) -> nn.Module:
        """A fresh model from the factory holding the snapshot of ``epoch`` (default: the last), in ``eval()``
        mode, on the CPU, in the run's precision."""
        epoch = self.config.epochs if epoch is None else epoch
        if epoch not in self.snapshots:
            raise ValueError(f"epoch must be one of the snapshot epochs {self.epochs}; got {epoch!r}")
        m = _build(self.factory, self.config.seed).to(self.config.torch_dtype)
        m.load_state_dict(self.snapshots[epoch])
        return m.eval()


# ------------------------------------------------------------------------------------------------------------------
# losses and metrics
# ------------------------------------------------------------------------------------------------------------------


def cross_entropy(model: nn.Module, batch: Sequence[torch.Tensor]) -> torch.Tensor:
    r"""Mean cross-entropy :math:`-\frac1B \sum_b \log \operatorname{softmax}(z_b)_{y_b}` of the logits
    ``z = model(x)``, ``batch = (x: (B, ...), y: (B,) long)``."""
    x, y = batch[0], batch[1]
    return F.cross_entropy(model(x), y)


class augmented:  # noqa: N801 - used like a function: augmented(transform)
    r"""A loss that augments each training batch on its device before ``loss``: ``augmented(transform, loss)(model,
    (x, y, ...)) = loss(model, (transform(x), y, ...))``. ``transform`` maps a batch ``(B, C, H, W)`` to the same
    shape, drawing its random parameters per sample from torch's RNG (e.g.
    :func:`paperlib.data.cifar10_augmentation`, kornia), which :func:`train` seeds per epoch, so a run stays
    reproducible and resumable.

    One call per batch, not per image: on a GPU the augmentation runs there, at the cost of a few kernels, and the
    data stay in memory as tensors (no ``DataLoader`` workers). Its ``description`` (the transform's ``repr`` and
    the loss's description) enters the cache key; it pickles, so it works in worker processes."""

    def __init__(self, transform: Callable[[torch.Tensor], torch.Tensor], loss: Loss | None = None):
        if not callable(transform):
            raise TypeError(f"transform must be callable; got {type(transform).__name__}")
        if loss is not None and not callable(loss):
            raise TypeError(f"loss must be callable or None; got {type(loss).__name__}")
        self.transform, self.loss = transform, loss or cross_entropy
        self.description = {"augmented": repr(transform), "loss": _cache.describe(self.loss)}

    def __call__(self, model: nn.Module, batch: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.loss(model, (self.transform(batch[0]), *batch[1:]))


class classification_metrics:  # noqa: N801 - used like a function: classification_metrics(x, y)
    """``evaluate(model) -> {"loss": float, "accuracy": float}`` over the whole data set ``x: (N, ...)``,
    ``y: (N,)``: mean cross-entropy and fraction of argmax predictions equal to ``y`` (``batch_size`` points per
    forward pass, ``None`` = all). Its ``description`` (the data's fingerprint) enters the cache key; it pickles,
    so it also works in :func:`train_many`'s worker processes."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, *, batch_size: int | None = None):
        if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor) or y.dtype != torch.long:
            raise TypeError("x must be a tensor and y a torch.long tensor of class labels")
        if x.ndim < 1 or y.shape != x.shape[:1]:
            raise ValueError(f"y must have shape ({x.shape[0] if x.ndim else '?'},); got {tuple(y.shape)}")
        self.x, self.y = x, y
        self.batch_size = check_int(batch_size, "batch_size", min=1, none_ok=True)
        self.description = {"classification_metrics": _cache.fingerprint(x, y)}

    @torch.no_grad()
    def __call__(self, model: nn.Module) -> dict:
        p = next(model.parameters(), None)
        dev = p.device if p is not None else torch.device("cpu")
        xs = self.x.to(dev, p.dtype if p is not None and self.x.dtype.is_floating_point else self.x.dtype)
        ys = self.y.to(dev)
        bs = len(xs) if self.batch_size is None else self.batch_size
        loss, correct = 0.0, 0
        for i in range(0, len(xs), bs):
            logits = model(xs[i: i + bs])
            loss += float(F.cross_entropy(logits, ys[i: i + bs], reduction="sum"))
            correct += int((logits.argmax(1) == ys[i: i + bs]).sum())
        return {"loss": loss / len(xs), "accuracy": correct / len(xs)}


# ------------------------------------------------------------------------------------------------------------------
# seeds, the model, the key (the fingerprints it combines are in paperlib.cache)
# ------------------------------------------------------------------------------------------------------------------


def _derived_seed(tag: str, seed: int, epoch: int = 0) -> int:
    digest = hashlib.sha256(f"{tag}/{seed}/{epoch}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def _build(factory: Factory, seed: int) -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = factory()
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a factory returning an nn.Module; it returned {type(model).__name__}")
    return model


def run_key(model: nn.Module, data_key: str, config: TrainConfig, *, loss: Loss | None = None,
            evaluate: Evaluate | None = None, device: str = "cpu") -> str:
    """The cache key of a run: SHA-256 of the configuration, :func:`model_fingerprint` of the initial model, the
    data key, the descriptions of ``loss`` and ``evaluate`` and the device type."""
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig; got {type(config).__name__}")
    return _cache.key({"kind": "train", "config": config.to_dict(), "model": model_fingerprint(model),
                       "data": data_key, "loss": _cache.describe(loss or cross_entropy),
                       "evaluate": _cache.describe(evaluate), "device": str(device)})


# ------------------------------------------------------------------------------------------------------------------
# training
# ------------------------------------------------------------------------------------------------------------------


def _check_tensor_data(data: Sequence[torch.Tensor]) -> None:
    n = data[0].shape[0] if data[0].ndim else 0
    if n == 0:
        raise ValueError("data must hold at least one example (the first tensor has an empty first dimension)")
    for i, t in enumerate(data):
        if t.ndim == 0 or t.shape[0] != n:
            raise ValueError(f"data tensors must share their first dimension N = {n}; data[{i}] has shape "
                             f"{tuple(t.shape)}")
        if t.dtype.is_floating_point and not bool(torch.isfinite(t).all()):
            raise ValueError(f"data[{i}] contains NaN or inf")


def _to(batch: object, dev: torch.device, dtype: torch.dtype) -> object:
    if isinstance(batch, torch.Tensor):
        return batch.to(dev, dtype) if batch.dtype.is_floating_point else batch.to(dev)
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to(b, dev, dtype) for b in batch)
    if isinstance(batch, dict):
        return {k: _to(v, dev, dtype) for k, v in batch.items()}
    return batch


def _batches(data: object, config: TrainConfig, epoch: int) -> Iterable:
    """The batches of one epoch (to be iterated with the epoch's RNG seeded); in-memory ``data`` is already on
    the device and in the run's precision."""
    if _is_tensor_data(data):
        n = data[0].shape[0]
        bs = n if config.batch_size is None else min(config.batch_size, n)
        gen = torch.Generator().manual_seed(_derived_seed("order", config.seed, epoch))
        perm = torch.randperm(n, generator=gen).to(data[0].device)
        return (tuple(t[perm[i: i + bs]] for t in data) for i in range(0, n, bs))
    loader_gen = getattr(data, "generator", None)
    if isinstance(loader_gen, torch.Generator):
        loader_gen.manual_seed(_derived_seed("order", config.seed, epoch))
    return iter(data)


def _steps_per_epoch(data: object, config: TrainConfig) -> int | None:
    if _is_tensor_data(data):
        n = data[0].shape[0]
        return math.ceil(n / (n if config.batch_size is None else min(config.batch_size, n)))
    try:
        return len(data)  # type: ignore[arg-type]
    except TypeError:
        return None


def _lr_factor(schedule: str, step: int, total: int) -> float:
    if schedule == "constant" or total <= 0:
        return 1.0
    t = min(step / total, 1.0)
    return 1.0 - t if schedule == "linear" else 0.5 * (1.0 + math.cos(math.pi * t))


def _cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def _evaluate(model: nn.Module, evaluate: Evaluate | None) -> dict[str, float]:
    if evaluate is None:
        return {}
    model.eval()
    with torch.no_grad():
        out = evaluate(model)
    if not isinstance(out, dict) or not all(isinstance(k, str) for k in out):
        raise TypeError(f"evaluate must return a dict of named numbers; got {type(out).__name__}")
    return {k: float(v) for k, v in out.items()}


# -- distributed training ------------------------------------------------------------------------------------------


def _couples_rows(loss: Loss) -> bool:
    """Whether ``loss`` is known to couple the rows of its batch (then it is not a mean over rows, and splitting a
    mini-batch across ranks would change it): the self-supervised :class:`paperlib.ssl.TwoViewLoss`, or a loss
    with a true ``couples_rows`` attribute, also inside :class:`augmented`."""
    from .ssl import TwoViewLoss

    while isinstance(loss, augmented):
        loss = loss.loss
    return isinstance(loss, TwoViewLoss) or bool(getattr(loss, "couples_rows", False))


def _check_distributed(data: object, loss: Loss, config: TrainConfig, dev: torch.device) -> None:
    """Refuse, before any work, what distributed training does not support (the same on every rank)."""
    w = _dist.world_size()
    if not _is_tensor_data(data):
        raise NotImplementedError(
            f"distributed training (torchrun, {w} ranks) supports in-memory tensor data (x, y, ...) only: a "
            f"{type(data).__name__} is not split across ranks. Pass the tensors (augment them with "
            "paperlib.train.augmented), or train in one process (distributed=False)")
    if _couples_rows(loss):
        raise NotImplementedError(
            f"distributed training splits each mini-batch across the {w} ranks, which needs a loss that is a mean "
            f"over the rows of its batch; {type(loss).__name__} couples the rows of a batch (Barlow Twins and "
            "SimCLR compare the samples of a batch with each other), so its value would change. Train in one "
            "process (distributed=False)")
    if "nccl" in str(torch.distributed.get_backend()) and dev.type != "cuda":
        raise ValueError(f"the nccl backend trains on GPUs: pass device='cuda' (or 'auto'), not {str(dev)!r}")
    n = data[0].shape[0]
    bs = n if config.batch_size is None else min(config.batch_size, n)
    smallest = min(bs, n % bs or bs)
    if smallest < w:
        raise ValueError(f"distributed training needs at least one row per rank in every mini-batch: with "
                         f"{n} examples and batch size {bs} a mini-batch has {smallest} rows, fewer than the {w} "
                         "ranks")


def _sync_batch_norm(net: nn.Module, dev: torch.device) -> nn.Module:
    """``net`` with its batch-norm layers synchronised over the ranks (:class:`~torch.nn.SyncBatchNorm`, the
    statistics of the whole mini-batch, as in one process; the same parameters and buffers). CUDA only: on the CPU
    a network with batch norm is refused (each rank would normalise by the statistics of its own rows)."""
    bn = [name for name, m in net.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bn:
        return net
    if dev.type != "cuda":
        raise NotImplementedError(
            f"distributed training of a network with batch norm ({bn[0] or 'the top level'!r}) needs CUDA: torch's "
            "SyncBatchNorm, which normalises by the statistics of the whole mini-batch across ranks, runs on GPUs "
            "only, and per-rank statistics would make another run than one process. Pass device='cuda', or "
            "train in one process (distributed=False)")
    return nn.SyncBatchNorm.convert_sync_batchnorm(net)


def _rank_part(batch: tuple, transforms: list) -> tuple[tuple, float]:
    """This rank's contiguous rows of a mini-batch after ``transforms`` (the augmentations of :class:`augmented`,
    drawn for the whole mini-batch with the epoch's RNG, identical on every rank), and their share of its rows."""
    if transforms:
        x = batch[0]
        for t in transforms:
            x = t(x)
        batch = (x, *batch[1:])
    rows = batch[0].shape[0]
    part = _dist.shard(rows)
    return tuple(t[part] for t in batch), (part.stop - part.start) / rows


def _load_shared(store: _cache.Cache, key: str, suffix: str, split: bool) -> dict | None:
    """``store.load("train", key, suffix)``; with distributed training rank 0 reads it first and every rank gets
    the same answer: the others read the entry too, and where they cannot (a cache folder they do not share)
    rank 0 sends it."""
    if not split:
        return store.load("train", key, suffix)
    mine = store.load("train", key, suffix) if _dist.rank() == 0 else None
    if not _dist.broadcast_object(mine is not None):
        return None
    if _dist.rank() != 0:
        mine = store.load("train", key, suffix)
    lacking = _dist.all_reduce_sum(torch.tensor([int(mine is None)]))
    if int(lacking[0]):
        sent = _dist.broadcast_object(mine if _dist.rank() == 0 else None)
        mine = sent if mine is None else mine
    return mine


# -- the trainer ---------------------------------------------------------------------------------------------------


class _Trainer:
    """One call of :func:`train`, in named steps (the shape of d2l's ``Trainer``), which :func:`train` drives in
    this order: ``__init__`` (arguments checked, the cache root opened), :meth:`lookup` (the model built with the
    seed, the key, the finished run if stored), :meth:`prepare` (device and precision, optimiser, schedule, data),
    :meth:`restore` (the last checkpoint, else the initialisation recorded), :meth:`distribute` (the DDP wrapper),
    :meth:`fit` (per epoch: :meth:`fit_epoch`, :meth:`record`, :meth:`checkpoint`, progress, callback) and
    :meth:`finish` (the final entry). The order is that of the operations of one run: the RNG draws and the
    floating-point operations are those of the single function it replaces, so results and keys are unchanged."""

    def __init__(self, model: Factory, data: object, config: TrainConfig, *, loss: Loss | None,
                 evaluate: Evaluate | None, data_key: str | None, cache: bool, cache_dir: str | os.PathLike | None,
                 progress: bool | None, callback: Callable[[int, nn.Module], None] | None,
                 checkpoint_seconds: float, num_threads: int | None, device: str | torch.device,
                 distributed: bool | None):
        """Check the arguments (before any work), resolve the device, progress and distribution, open the cache
        root."""
        if isinstance(model, nn.Module) or not callable(model):
            raise TypeError("model must be a factory returning an nn.Module (e.g. functools.partial(MLP, widths) or "
                            f"lambda: MyNet()), not {type(model).__name__}: the trainer seeds and builds it")
        if not isinstance(config, TrainConfig):
            raise TypeError(f"config must be a paperlib.train.TrainConfig; got {type(config).__name__}")
        for name, fn in (("loss", loss), ("evaluate", evaluate), ("callback", callback)):
            if fn is not None and not callable(fn):
                raise TypeError(f"{name} must be callable or None; got {type(fn).__name__}")
        if _is_tensor_data(data):
            _check_tensor_data(data)
        elif isinstance(data, (str, bytes, torch.Tensor)) or not isinstance(data, Iterable):
            raise TypeError("data must be a tuple of tensors (x, y, ...), a DataLoader or a re-iterable of batches; "
                            f"got {type(data).__name__}")
        elif isinstance(data, torch.utils.data.DataLoader) and config.batch_size not in (None, data.batch_size):
            raise ValueError(f"config.batch_size = {config.batch_size} differs from the DataLoader's batch size "
                             f"{data.batch_size}; set batch_size=None (the loader decides) or make them agree")
        if data_key is not None and not isinstance(data_key, str):
            raise TypeError(f"data_key must be a string or None; got {type(data_key).__name__}")
        check_number(checkpoint_seconds, "checkpoint_seconds", min=0, open_min=True)
        check_int(num_threads, "num_threads", min=1, none_ok=True)
        self.factory, self.data, self.config, self.evaluate, self.callback = model, data, config, evaluate, callback
        self.loss, self.loss_fn, self.data_key = loss, loss or cross_entropy, data_key
        self.checkpoint_seconds, self.num_threads = checkpoint_seconds, num_threads
        self.device = resolve_device(device)
        self.show = progress_enabled(progress)
        self.split = _dist.use(distributed)  # one run across the ranks of torch.distributed
        self.writes = not self.split or _dist.rank() == 0  # whether this process writes checkpoints and the entry
        if self.split:
            _check_distributed(data, self.loss_fn, config, self.device)
            self.show = self.show and self.writes
        self.store = _cache.Cache.open(cache_dir, enabled=cache)

    def lookup(self) -> TrainResult | None:
        """Build the model from the factory with the seed, compute the run's key; the finished run if the cache
        holds it (read by rank 0 first under distributed training), else ``None``."""
        self.net = _build(self.factory, self.config.seed)
        data_key = self.data_key if self.data_key is not None else data_fingerprint(self.data)
        self.key = run_key(self.net, data_key, self.config, loss=self.loss, evaluate=self.evaluate,
                           device=self.device.type)
        payload = _load_shared(self.store, self.key, ".pt", self.split)
        if payload is None:
            return None
        return TrainResult(self.config, self.factory, payload["snapshots"], payload["history"], self.key, "cache", 0)

    def prepare(self) -> None:
        """The model on the device in the run's precision (batch norm synchronised across ranks), the optimiser,
        the schedule's length, in-memory data moved and cast once, an empty history."""
        config, dev = self.config, self.device
        self.dtype = config.torch_dtype
        self.net = self.net.to(dev, self.dtype)
        if self.split:
            self.net = _sync_batch_norm(self.net, dev)
        self.params = [p for p in self.net.parameters() if p.requires_grad]
        if not self.params:
            raise ValueError("the model has no trainable parameters")
        if config.optimizer == "sgd":
            self.optimizer: torch.optim.Optimizer = torch.optim.SGD(
                self.params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
        else:
            self.optimizer = torch.optim.Adam(self.params, lr=config.lr, weight_decay=config.weight_decay)
        per_epoch = _steps_per_epoch(self.data, config)
        if config.schedule != "constant" and per_epoch is None:
            raise ValueError(f"schedule={config.schedule!r} needs data with a length (steps per epoch); this "
                             "iterable has none")
        self.total_steps = (per_epoch or 0) * config.epochs
        self.tensors = _is_tensor_data(self.data)
        if self.tensors:  # moved and cast once, not per batch
            self.data = _to(tuple(self.data), dev, self.dtype)
        self.history: dict[str, torch.Tensor] = {"train_loss": torch.full((config.epochs + 1,), math.nan,
                                                                          dtype=torch.float64)}
        self.snapshots: dict[int, dict[str, torch.Tensor]] = {}
        self.start, self.step, self.source = 0, 0, "trained"  # epochs done, optimiser steps of the run
        self.steps = 0  # optimiser steps of this call

    def restore(self) -> None:
        """Resume from the last checkpoint (model, optimiser, history, snapshots, epoch and step), else evaluate and
        snapshot the initialisation (epoch 0)."""
        ckpt = _load_shared(self.store, self.key, ".ckpt", self.split)
        if ckpt is not None:
            self.net.load_state_dict(ckpt["model"])
            self.optimizer.load_state_dict(ckpt["optimizer"])
            self.history = {k: v.clone() for k, v in ckpt["history"].items()}
            self.snapshots = dict(ckpt["snapshots"])
            self.start, self.step, self.source = int(ckpt["epoch"]), int(ckpt["step"]), "resumed"
        else:
            with threads(self.num_threads):
                self.record(0)

    def distribute(self) -> None:
        """What the loss calls: the network, or under distributed training its DDP wrapper (made after the restore,
        from the restored state); the augmentations of :class:`augmented` losses are then drawn for the whole
        mini-batch before its rows are split (:func:`_rank_part`)."""
        self.runner, self.inner, self.transforms = self.net, self.loss_fn, []
        if self.split:
            dev = self.device
            self.runner = nn.parallel.DistributedDataParallel(
                self.net, device_ids=[dev.index if dev.index is not None else torch.cuda.current_device()]
                if dev.type == "cuda" else None)
            while isinstance(self.inner, augmented):  # drawn for the whole mini-batch, as in one process
                self.transforms.append(self.inner.transform)
                self.inner = self.inner.loss

    def fit(self) -> None:
        """The remaining epochs, each: :meth:`fit_epoch`, :meth:`record`, :meth:`checkpoint`, the progress bar and
        the callback. The network is left in ``eval()`` mode, also after an exception."""
        config = self.config
        bar = progress_bar(config.epochs, f"training {type(self.net).__name__} seed {config.seed}", self.show,
                           initial=self.start)
        self.last_checkpoint = time.monotonic()
        try:
            with threads(self.num_threads):
                for epoch in range(self.start + 1, config.epochs + 1):
                    self.fit_epoch(epoch)
                    self.record(epoch)
                    self.checkpoint(epoch)
                    if bar is not None:
                        bar.update(1)
                        bar.set_postfix(loss=f"{self.history['train_loss'][epoch]:.3g}")
                    if self.callback is not None:
                        self.callback(epoch, self.net)
        finally:
            if bar is not None:
                bar.close()
            self.net.eval()

    def fit_epoch(self, epoch: int) -> None:
        """One pass over the data in ``train()`` mode with the global RNG seeded by ``(seed, epoch)``; its mean
        training loss (over the ranks, under distributed training) goes to ``history["train_loss"][epoch]``."""
        config, dev = self.config, self.device
        cuda = [dev] if dev.type == "cuda" else []
        self.runner.train()
        total, count = torch.zeros((), dtype=torch.float64, device=dev), 0
        with torch.random.fork_rng(devices=cuda):
            epoch_seed = _derived_seed("epoch", config.seed, epoch)
            torch.default_generator.manual_seed(epoch_seed)  # torch.manual_seed would also touch CUDA
            if cuda:
                torch.cuda.manual_seed(epoch_seed)
            for batch in _batches(self.data, config, epoch):
                share = 1.0
                if self.split:  # this rank's rows of the (augmented) mini-batch, and their share of it
                    batch, share = _rank_part(batch, self.transforms)
                value = self.training_step(batch, share)
                total += value.detach() * share if self.split else value.detach()
                count += 1
        if self.split:  # the losses of the whole mini-batches
            total = _dist.all_reduce_sum(total)
        if count == 0:
            raise ValueError(f"data yielded no batch in epoch {epoch}")
        self.history["train_loss"][epoch] = float(total) / count

    def training_step(self, batch: object, share: float) -> torch.Tensor:
        """One optimiser step on ``batch``: the learning rate of the schedule, the loss, its gradient (weighed by
        this rank's ``share`` of the rows under distributed training), clipping and the step. Returns the loss."""
        config = self.config
        if config.schedule != "constant":
            for g in self.optimizer.param_groups:
                g["lr"] = config.lr * _lr_factor(config.schedule, self.step, self.total_steps)
        value = self.inner(self.runner, batch if self.tensors else _to(batch, self.device, self.dtype))
        if not isinstance(value, torch.Tensor) or value.ndim != 0:
            raise TypeError("loss must return a scalar tensor; got "
                            f"{type(value).__name__} {getattr(value, 'shape', '')}")
        self.optimizer.zero_grad(set_to_none=True)
        if self.split:  # DDP averages over the ranks: weigh each rank's mean by its share of rows
            (value * (_dist.world_size() * share)).backward()
        else:
            value.backward()
        if config.clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(self.params, config.clip_norm)
        self.optimizer.step()
        self.step += 1
        self.steps += 1
        return value

    def record(self, epoch: int) -> None:
        """Evaluate the network (``eval()`` mode, no gradients) into the history, and keep its state if ``epoch``
        is a snapshot epoch."""
        for k, v in _evaluate(self.net, self.evaluate).items():
            self.history.setdefault(k, torch.full((self.config.epochs + 1,), math.nan, dtype=torch.float64))[epoch] = v
        if epoch in self.config.snapshots:
            self.snapshots[epoch] = _cpu_state(self.net)

    def checkpoint(self, epoch: int) -> bool:
        """Write a checkpoint (atomically, rank 0 only) after ``epoch`` if one is due: at a snapshot epoch before
        the last, or ``checkpoint_seconds`` after the previous one. Returns whether one was written."""
        config = self.config
        if not (self.writes and epoch < config.epochs and (
                epoch in config.snapshots or time.monotonic() - self.last_checkpoint > self.checkpoint_seconds)):
            return False
        self.store.save("train", self.key, {"epoch": epoch, "step": self.step, "model": _cpu_state(self.net),
                                            "optimizer": self.optimizer.state_dict(), "history": self.history,
                                            "snapshots": self.snapshots}, ".ckpt")
        self.last_checkpoint = time.monotonic()
        return True

    def finish(self) -> TrainResult:
        """Write the final entry (rank 0), then remove the checkpoint; under distributed training every rank waits
        until it is written."""
        if self.writes and self.store.save("train", self.key, {"config": self.config.to_dict(),
                                                               "snapshots": self.snapshots, "history": self.history}):
            self.store.remove("train", self.key, ".ckpt")
        if self.split:  # the entry is written before any rank returns
            _dist.barrier()
        return TrainResult(self.config, self.factory, self.snapshots, self.history, self.key, self.source, self.steps)


def train(
    model: Factory,
    data: object,
    config: TrainConfig,
    *,
    loss: Loss | None = None,
    evaluate: Evaluate | None = None,
    data_key: str | None = None,
    cache: bool = True,
    cache_dir: str | os.PathLike | None = None,
    progress: bool | None = None,
    callback: Callable[[int, nn.Module], None] | None = None,
    checkpoint_seconds: float = 30.0,
    num_threads: int | None = 1,
    device: str | torch.device = "cpu",
    distributed: bool | None = None,
) -> TrainResult:
    r"""Train the model built by ``model()`` (seeded by ``config.seed``) on ``data``, minimising
    ``loss(model, batch)`` by ``config``'s optimiser and schedule; see the module docstring.

    Each optimiser step: ``lr`` set by the schedule, ``loss(model, batch).backward()``, gradient clipping to
    ``config.clip_norm``, ``optimizer.step()``.

    Args:
        model: factory ``() -> nn.Module``. Call it with the seed, not before: the run's key and its snapshots
            hold the initialisation it draws. A model instance is refused (it would be trained in place).
        data: a tuple of tensors ``(x, y, ...)`` with a shared first dimension ``N`` (mini-batches are tuples of
            rows), a ``DataLoader`` or any re-iterable of batches (tensors, tuples, lists or dicts of tensors).
        config: the :class:`TrainConfig`.
        loss: ``loss(model, batch) -> scalar`` (default :func:`cross_entropy`).
        evaluate: ``evaluate(model) -> {name: number}``, called (``eval()`` mode, no gradients) at the
            initialisation and after every epoch; recorded in ``history`` (e.g. :func:`classification_metrics`).
        data_key: a string standing for the data in the cache key, for data :func:`data_fingerprint` cannot hash.
        cache: read and write the cache and checkpoints; ``False`` always trains and stores nothing.
        cache_dir: cache root (default ``$PAPERLIB_CACHE`` or ``~/.cache/paperlib``), checked before any work.
        progress: ``True``/``False``, or ``None`` for automatic (see :func:`progress_enabled`).
        callback: ``callback(epoch, model)`` after every completed epoch (after its snapshot and checkpoint are
            saved); an exception raised there interrupts the run, which a later call resumes.
        checkpoint_seconds: also checkpoint when this many seconds have passed since the last checkpoint.
        num_threads: torch intra-op threads while training (restored afterwards); ``None`` leaves it alone.
        device: ``"cpu"`` (default), ``"cuda"`` or ``"auto"``; its type is part of the cache key.
        distributed: train across the ranks of ``torch.distributed`` (started by ``torchrun``; see the module
            docstring): ``None`` (default) when a process group with more than one rank is initialised, ``False``
            never (every rank trains on its own), ``True`` always (``RuntimeError`` without a process group).
            Every rank must make the same call. The loss then receives the ``DistributedDataParallel`` wrapper
            (call it; ``model.module`` is the network) and this rank's part of each mini-batch; ``evaluate`` and
            ``callback`` run on every rank with the network itself. Only in-memory tensor data are supported
            (``NotImplementedError`` otherwise), every mini-batch must have at least one row per rank, ``nccl``
            needs ``device="cuda"`` and batch norm needs CUDA (:class:`~torch.nn.SyncBatchNorm`). The cache
            folder should be one that every rank sees; where it is not, rank 0 sends what it read.

    Returns:
        :class:`TrainResult` (``source`` tells whether it was trained, resumed or read from the cache).
    """
    trainer = _Trainer(model, data, config, loss=loss, evaluate=evaluate, data_key=data_key, cache=cache,
                       cache_dir=cache_dir, progress=progress, callback=callback,
                       checkpoint_seconds=checkpoint_seconds, num_threads=num_threads, device=device,
                       distributed=distributed)  # arguments checked, the cache root opened
    cached = trainer.lookup()  # the model built with the seed, the key; the finished run if stored
    if cached is not None:
        return cached
    trainer.prepare()  # device and precision, optimiser, schedule, data
    trainer.restore()  # the last checkpoint, else the initialisation evaluated and snapshotted
    trainer.distribute()  # the DDP wrapper under distributed training
    trainer.fit()  # the remaining epochs: fit_epoch, record, checkpoint, progress, callback
    return trainer.finish()  # the final entry written, the checkpoint removed


def _train_job(kwargs: dict) -> TrainResult:
    return train(**kwargs)


def train_many(jobs: Sequence[dict], *, workers: int | None = None, **common) -> list[TrainResult]:
    """Several independent :func:`train` runs, ``train(**common, **job)`` for each job, in parallel worker
    processes (:func:`parallel_map`: one torch thread each; bit-identical to sequential runs; the same cache, so a
    cached run is read, not retrained). Results in the order of ``jobs``.

    Everything passed must pickle and refer to importable modules (e.g. ``functools.partial(MLP, widths)``;
    :func:`classification_metrics` pickles); jobs that refer to ``__main__`` run here one after the other.
    Callbacks are not supported.

    Args:
        jobs: keyword arguments of :func:`train` per run (e.g. ``{"model": ..., "config": ...}``).
        workers: processes (see :func:`parallel_map`); 1 runs the jobs here, one after the other. Under
            ``torchrun`` (:func:`paperlib.distributed.is_active`) the jobs run one after the other, each
            across all ranks (:func:`train`'s distributed training).
        common: keyword arguments shared by every job.
    """
    if isinstance(jobs, (str, bytes)) or not isinstance(jobs, Sequence) or not all(isinstance(j, dict) for j in jobs):
        raise TypeError("jobs must be a sequence of dicts of keyword arguments of paperlib.train.train")
    if "callback" in common or any("callback" in j for j in jobs):
        raise ValueError("callback is not supported by train_many (it would run in another process)")
    if _dist.is_active():  # under torchrun: each run across all ranks, one after the other
        workers = 1
    return parallel_map(_train_job, [{**common, **job} for job in jobs], workers=workers)
