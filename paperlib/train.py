r"""Seeded training of :class:`paperlib.models.MLP` classifiers, with snapshots, a progress bar and an on-disk cache.

A run is described by a :class:`TrainConfig` (architecture, initialisation, optimiser, schedule, snapshot epochs,
seed) and trained on ``(x, y)`` by :func:`train`, which minimises the cross-entropy of the logits with SGD
(optionally with momentum and weight decay) or Adam, in mini-batches drawn by a seeded random permutation each
epoch.

Snapshots. ``snapshots`` lists the epochs at which the model's ``state_dict`` is kept. **Epoch 0 is the
initialisation, before any optimiser step**; epoch ``e`` is the state after ``e`` full passes over the data.
(The authors' scripts label the state after the first epoch "epoch 0"; ours is the untrained network.) The last
epoch is always kept.

Cache. Results are stored at ``$PAPERLIB_CACHE/train/<key>.pt`` (default ``~/.cache/paperlib``), where ``key``
is the SHA-256 of the full configuration, a fingerprint of the data (:func:`paperlib.data.fingerprint`), the device
type and a format version: any change of architecture, initialisation, optimiser, seed, epochs, snapshot list or
data gives a new key. Files are written atomically (a temporary file in the same directory, then
:func:`os.replace`) and carry a SHA-256 checksum of their payload; a truncated, garbled or mismatching entry is
detected on load, reported with a :class:`CacheWarning` and recomputed.

Resuming. While training, a checkpoint ``<key>.ckpt`` (model, optimiser state including momentum buffers, the
state of the shuffling generator, history and snapshots so far) is written at every snapshot epoch and at least
every ``checkpoint_seconds``. A run that was interrupted (an exception, a killed kernel) resumes from its last
checkpoint and gives bit-for-bit the same result as an uninterrupted run (on the same machine and thread count).
The checkpoint is removed once the final entry is written.

Progress. ``progress=None`` shows a tqdm bar only when it can be seen without side effects: it is off when the
environment variable ``PAPERLIB_PROGRESS`` is ``0``/``false``/``off``/``no``, on when it is ``1``/``true``/``on``/
``yes``, and otherwise on only when standard error is a terminal. Notebook kernels, pytest and nbval are not
terminals, so committed notebook outputs never contain progress bars. When a bar is shown in a notebook it is a
widget (``tqdm.auto``), not standard-error text.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import math
import os
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal, Sequence

import torch
import torch.nn.functional as F

from . import activations as _act
from ._checks import resolve_device
from .data import fingerprint
from .models import INITS, MLP

__all__ = [
    "TrainConfig",
    "TrainResult",
    "CacheWarning",
    "train",
    "cache_dir",
    "cache_key",
    "progress_enabled",
    "CACHE_FORMAT",
]

#: Version of the cache layout; bump it to invalidate every stored entry.
CACHE_FORMAT = 1
_MAGIC = b"PAPERLIB-CACHE-1\n"
_DIGEST_LEN = 64

Optimizer = Literal["sgd", "adam"]
Callback = Callable[[int, MLP], None]


class CacheWarning(UserWarning):
    """A cache entry could not be used (corrupt, truncated, checksum or key mismatch) and is recomputed."""


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


@dataclass(frozen=True)
class TrainConfig:
    r"""Everything that determines a training run (and, with the data, its cache key).

    Attributes:
        widths: MLP layer sizes ``[d, n_1, ..., n_L, c]``.
        activation: activation name (:mod:`paperlib.activations`).
        init: ``"paper"`` or ``"pytorch"`` (see :class:`paperlib.models.MLP`).
        optimizer: ``"sgd"`` or ``"adam"``.
        lr: learning rate (> 0).
        momentum: SGD momentum in ``[0, 1)`` (must be 0 for Adam).
        weight_decay: L2 weight decay (>= 0), PyTorch's ``weight_decay``.
        batch_size: mini-batch size, or ``None`` for full-batch training.
        epochs: number of passes over the data (>= 0).
        snapshots: epochs (``0..epochs``) whose ``state_dict`` is kept; 0 is the initialisation. Stored sorted and
            unique, with ``epochs`` added.
        seed: seeds the initialisation (``seed``) and the mini-batch order (an independent generator).
    """

    widths: tuple[int, ...]
    activation: str = "sigmoid"
    init: str = "paper"
    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 0.0
    batch_size: int | None = 50
    epochs: int = 1000
    snapshots: tuple[int, ...] = (0,)
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.widths, (str, bytes)) or not isinstance(self.widths, Sequence):
            raise TypeError(f"widths must be a sequence of positive integers; got {self.widths!r}")
        widths = tuple(self.widths)
        if len(widths) < 2 or not all(_is_int(w) and w >= 1 for w in widths):
            raise ValueError(f"widths must hold at least two positive integers, e.g. [2, 250, 2]; got {self.widths!r}")
        object.__setattr__(self, "widths", widths)
        _act.check_name(self.activation)
        if self.init not in INITS:
            raise ValueError(f"init must be one of {INITS}; got {self.init!r}")
        if self.optimizer not in ("sgd", "adam"):
            raise ValueError(f"optimizer must be 'sgd' or 'adam'; got {self.optimizer!r}")
        if not _is_num(self.lr) or not self.lr > 0:
            raise ValueError(f"lr must be a positive number; got {self.lr!r}")
        if not _is_num(self.momentum) or not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be a number in [0, 1); got {self.momentum!r}")
        if self.optimizer == "adam" and self.momentum != 0:
            raise ValueError("momentum must be 0 with optimizer='adam' (Adam has its own betas)")
        if not _is_num(self.weight_decay) or self.weight_decay < 0:
            raise ValueError(f"weight_decay must be a non-negative number; got {self.weight_decay!r}")
        if self.batch_size is not None and not (_is_int(self.batch_size) and self.batch_size >= 1):
            raise ValueError(f"batch_size must be a positive integer or None (full batch); got {self.batch_size!r}")
        if not _is_int(self.epochs) or self.epochs < 0:
            raise ValueError(f"epochs must be a non-negative integer; got {self.epochs!r}")
        if isinstance(self.snapshots, (str, bytes)) or not isinstance(self.snapshots, Sequence):
            raise TypeError(f"snapshots must be a sequence of epochs; got {self.snapshots!r}")
        snaps = set(self.snapshots)
        bad = [s for s in snaps if not _is_int(s) or not 0 <= s <= self.epochs]
        if bad:
            raise ValueError(f"snapshots must be integers in 0..epochs = 0..{self.epochs}; got {sorted(map(str, bad))}")
        object.__setattr__(self, "snapshots", tuple(sorted(snaps | {self.epochs})))
        if not _is_int(self.seed):
            raise TypeError(f"seed must be an int; got {self.seed!r}")
        object.__setattr__(self, "lr", float(self.lr))
        object.__setattr__(self, "momentum", float(self.momentum))
        object.__setattr__(self, "weight_decay", float(self.weight_decay))

    def to_dict(self) -> dict:
        """JSON-able dict of all fields (the configuration part of the cache key)."""
        d = dataclasses.asdict(self)
        d["widths"], d["snapshots"] = list(self.widths), list(self.snapshots)
        return d

    def replace(self, **changes) -> "TrainConfig":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


@dataclass
class TrainResult:
    """Outcome of :func:`train`.

    Attributes:
        config: the :class:`TrainConfig`.
        snapshots: ``{epoch: state_dict}`` (CPU tensors) at ``config.snapshots``.
        history: ``{"loss": (epochs + 1,), "accuracy": (epochs + 1,)}`` full-data cross-entropy and accuracy after
            each epoch (index 0: at initialisation).
        key: the cache key (hex).
        source: ``"trained"`` (from scratch), ``"resumed"`` (from a checkpoint) or ``"cache"`` (loaded, no training).
        steps: optimiser steps taken by this call (0 on a cache hit).
    """

    config: TrainConfig
    snapshots: dict[int, dict[str, torch.Tensor]]
    history: dict[str, torch.Tensor]
    key: str
    source: str = "trained"
    steps: int = 0

    @property
    def epochs(self) -> list[int]:
        """Sorted snapshot epochs."""
        return sorted(self.snapshots)

    def model(self, epoch: int | None = None) -> MLP:
        """A fresh :class:`~paperlib.models.MLP` (``eval()`` mode) holding the snapshot of ``epoch``
        (default: the last)."""
        epoch = self.config.epochs if epoch is None else epoch
        if epoch not in self.snapshots:
            raise ValueError(f"epoch must be one of the snapshot epochs {self.epochs}; got {epoch!r}")
        m = MLP(self.config.widths, self.config.activation, init=self.config.init, seed=0)
        m.load_state_dict(self.snapshots[epoch])
        return m.eval()


# ------------------------------------------------------------------------------------------------------------------
# cache files
# ------------------------------------------------------------------------------------------------------------------


def cache_dir(path: str | os.PathLike | None = None) -> Path:
    """The cache root: ``path`` if given, else ``$PAPERLIB_CACHE``, else ``~/.cache/paperlib``."""
    if path is None:
        path = os.environ.get("PAPERLIB_CACHE") or Path.home() / ".cache" / "paperlib"
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"cache_dir must be a path or None; got {type(path).__name__}")
    return Path(path).expanduser()


_cache_root = cache_dir  # ``train`` shadows the name with its argument


def cache_key(config: TrainConfig, x: torch.Tensor, y: torch.Tensor, device: str = "cpu") -> str:
    """SHA-256 (hex) of the format version, ``config.to_dict()``, the device type and the data fingerprint."""
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig; got {type(config).__name__}")
    blob = json.dumps(
        {"format": CACHE_FORMAT, "config": config.to_dict(), "device": str(device), "data": fingerprint(x, y)},
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def _write_atomic(path: Path, payload: dict) -> None:
    """Serialise ``payload`` with a checksum header and move it into place atomically."""
    buf = io.BytesIO()
    torch.save(payload, buf)
    body = buf.getvalue()
    data = _MAGIC + hashlib.sha256(body).hexdigest().encode() + b"\n" + body
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _read_checked(path: Path, key: str) -> dict | None:
    """Load a cache file; ``None`` if absent. A corrupt file is removed and reported with a CacheWarning."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    problem = None
    head = len(_MAGIC) + _DIGEST_LEN + 1
    if not data.startswith(_MAGIC) or len(data) < head or data[head - 1 : head] != b"\n":
        problem = "bad header (truncated or not a paperlib cache file)"
    else:
        digest, body = data[len(_MAGIC) : head - 1].decode("ascii", "replace"), data[head:]
        if hashlib.sha256(body).hexdigest() != digest:
            problem = "checksum mismatch (truncated or garbled)"
        else:
            try:
                payload = torch.load(io.BytesIO(body), map_location="cpu", weights_only=True)
            except Exception as exc:  # noqa: BLE001 - any unreadable payload is a corrupt entry
                problem = f"unreadable payload ({type(exc).__name__})"
            else:
                if not isinstance(payload, dict) or payload.get("key") != key:
                    problem = "key mismatch"
                else:
                    return payload
    warnings.warn(f"paperlib cache entry {path} is corrupt: {problem}; recomputing", CacheWarning, stacklevel=3)
    with contextlib.suppress(OSError):
        path.unlink()
    return None


# ------------------------------------------------------------------------------------------------------------------
# progress and threads
# ------------------------------------------------------------------------------------------------------------------


def progress_enabled(progress: bool | None = None) -> bool:
    """Resolve ``progress``: ``True``/``False`` as given; ``None`` -> ``$PAPERLIB_PROGRESS`` (0/false/off/no or
    1/true/on/yes), else whether standard error is a terminal."""
    if progress is not None:
        if not isinstance(progress, bool):
            raise TypeError(f"progress must be True, False or None; got {progress!r}")
        return progress
    env = os.environ.get("PAPERLIB_PROGRESS", "").strip().lower()
    if env in ("0", "false", "off", "no"):
        return False
    if env in ("1", "true", "on", "yes"):
        return True
    try:
        return bool(sys.stderr.isatty())
    except (AttributeError, ValueError):
        return False


def _progress_bar(total: int, initial: int, desc: str, enabled: bool):
    if not enabled:
        return None
    in_kernel = "ipykernel" in sys.modules and not sys.stderr.isatty()
    if in_kernel:
        from tqdm.auto import tqdm
    else:
        from tqdm import tqdm
    return tqdm(total=total, initial=initial, desc=desc, unit="epoch", leave=False)


@contextlib.contextmanager
def _threads(num_threads: int | None):
    if num_threads is None:
        yield
        return
    old = torch.get_num_threads()
    if old != num_threads:
        torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        if torch.get_num_threads() != old:
            torch.set_num_threads(old)


# ------------------------------------------------------------------------------------------------------------------
# training
# ------------------------------------------------------------------------------------------------------------------


def _check_data(x: object, y: object, config: TrainConfig) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(x, torch.Tensor) or not x.dtype.is_floating_point:
        raise TypeError(f"x must be a floating-point torch.Tensor of shape (N, d); got {type(x).__name__}"
                        + (f" of dtype {x.dtype}" if isinstance(x, torch.Tensor) else ""))
    if x.ndim != 2 or x.shape[1] != config.widths[0] or x.shape[0] == 0:
        raise ValueError(f"x must have shape (N, {config.widths[0]}) with N >= 1; got {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("x contains NaN or inf")
    if not isinstance(y, torch.Tensor) or y.dtype != torch.long:
        raise TypeError(f"y must be a torch.long tensor of class labels; got "
                        f"{y.dtype if isinstance(y, torch.Tensor) else type(y).__name__}")
    if y.shape != (x.shape[0],):
        raise ValueError(f"y must have shape (N,) = ({x.shape[0]},); got {tuple(y.shape)}")
    c = config.widths[-1]
    if bool((y < 0).any()) or bool((y >= c).any()):
        raise ValueError(f"y must hold labels in 0..{c - 1} (widths[-1] = {c} classes)")
    return x, y


def _make_optimizer(config: TrainConfig, model: MLP) -> torch.optim.Optimizer:
    if config.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                               weight_decay=config.weight_decay)
    return torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)


def _shuffle_seed(seed: int) -> int:
    """An independent seed for the mini-batch order, derived from the run's seed."""
    return int.from_bytes(hashlib.sha256(f"shuffle/{seed}".encode()).digest()[:8], "little") & ((1 << 63) - 1)


def _cpu_state(model: MLP) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


@torch.no_grad()
def _evaluate(model: MLP, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    logits = model(x)
    return float(F.cross_entropy(logits, y)), float((logits.argmax(1) == y).double().mean())


def train(
    config: TrainConfig,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    cache: bool = True,
    cache_dir: str | os.PathLike | None = None,
    progress: bool | None = None,
    callback: Callback | None = None,
    checkpoint_seconds: float = 30.0,
    num_threads: int | None = 1,
    device: str | torch.device = "cpu",
) -> TrainResult:
    r"""Train an :class:`~paperlib.models.MLP` on the cross-entropy
    :math:`-\frac1B\sum_b \log\mathrm{softmax}(z_b)_{y_b}` of its logits ``z``.

    Each epoch draws a random permutation of the ``N`` points from a generator seeded by ``config.seed`` and takes
    one optimiser step per mini-batch of ``config.batch_size`` points (the last batch may be smaller; ``None`` =
    one full-batch step per epoch). See the module docstring for snapshots, caching, resuming and progress.

    Args:
        config: the run (:class:`TrainConfig`).
        x: inputs ``(N, d)``, float (cast to float32 for training); y: labels ``(N,)``, long in ``0..c-1``.
        cache: read and write the on-disk cache (and checkpoints); ``False`` always trains and stores nothing.
        cache_dir: cache root (default ``$PAPERLIB_CACHE`` or ``~/.cache/paperlib``); entries live in ``train/``.
        progress: ``True``/``False``, or ``None`` for automatic (see :func:`progress_enabled`).
        callback: ``callback(epoch, model)`` after every completed epoch (after its snapshot and checkpoint are
            saved); an exception raised there interrupts the run, which a later call resumes.
        checkpoint_seconds: also checkpoint when this many seconds have passed since the last checkpoint.
        num_threads: torch intra-op threads while training (restored afterwards); ``1`` is fastest for these
            small networks (thread synchronisation dominates); ``None`` leaves the setting alone.
        device: ``"cpu"`` (default), ``"cuda"`` or ``"auto"``; part of the cache key.

    Returns:
        :class:`TrainResult` (``source`` tells whether it was trained, resumed or read from the cache).
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig; got {type(config).__name__}")
    x, y = _check_data(x, y, config)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable(epoch, model) or None; got {type(callback).__name__}")
    if not _is_num(checkpoint_seconds) or checkpoint_seconds <= 0:
        raise ValueError(f"checkpoint_seconds must be a positive number; got {checkpoint_seconds!r}")
    if num_threads is not None and not (_is_int(num_threads) and num_threads >= 1):
        raise ValueError(f"num_threads must be a positive integer or None; got {num_threads!r}")
    dev = resolve_device(device)
    show = progress_enabled(progress)
    key = cache_key(config, x, y, dev.type)
    root = _cache_root(cache_dir) / "train"
    final_path, ckpt_path = root / f"{key}.pt", root / f"{key}.ckpt"

    if cache:
        payload = _read_checked(final_path, key)
        if payload is not None:
            return TrainResult(config, payload["snapshots"], payload["history"], key, "cache", 0)

    xt, yt = x.to(dev, torch.float32), y.to(dev)
    model = MLP(config.widths, config.activation, init=config.init, seed=config.seed).to(dev)
    opt = _make_optimizer(config, model)
    gen = torch.Generator().manual_seed(_shuffle_seed(config.seed))
    n = xt.shape[0]
    bs = n if config.batch_size is None else min(config.batch_size, n)
    loss_hist = torch.full((config.epochs + 1,), math.nan, dtype=torch.float64)
    acc_hist = torch.full((config.epochs + 1,), math.nan, dtype=torch.float64)
    snapshots: dict[int, dict[str, torch.Tensor]] = {}
    start, source = 0, "trained"

    ckpt = _read_checked(ckpt_path, key) if cache else None
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        gen.set_state(ckpt["generator"])
        loss_hist, acc_hist = ckpt["loss"].clone(), ckpt["accuracy"].clone()
        snapshots = dict(ckpt["snapshots"])
        start, source = int(ckpt["epoch"]), "resumed"
    else:
        loss_hist[0], acc_hist[0] = _evaluate(model, xt, yt)
        if 0 in config.snapshots:
            snapshots[0] = _cpu_state(model)

    def checkpoint(epoch: int) -> None:
        if cache:
            _write_atomic(ckpt_path, {
                "key": key, "epoch": epoch, "model": _cpu_state(model), "optimizer": opt.state_dict(),
                "generator": gen.get_state(), "loss": loss_hist, "accuracy": acc_hist, "snapshots": snapshots,
            })

    steps = 0
    bar = _progress_bar(config.epochs, start, f"training {list(config.widths)} seed {config.seed}", show)
    last_ckpt = time.monotonic()
    try:
        with _threads(num_threads):
            model.train()
            for epoch in range(start + 1, config.epochs + 1):
                perm = torch.randperm(n, generator=gen).to(dev)
                for i in range(0, n, bs):
                    idx = perm[i : i + bs]
                    loss = F.cross_entropy(model(xt[idx]), yt[idx])
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    steps += 1
                loss_hist[epoch], acc_hist[epoch] = _evaluate(model, xt, yt)
                if epoch in config.snapshots:
                    snapshots[epoch] = _cpu_state(model)
                if epoch < config.epochs and (
                    epoch in config.snapshots or time.monotonic() - last_ckpt > checkpoint_seconds
                ):
                    checkpoint(epoch)
                    last_ckpt = time.monotonic()
                if bar is not None:
                    bar.update(1)
                    if epoch % 50 == 0 or epoch == config.epochs:
                        bar.set_postfix(loss=f"{loss_hist[epoch]:.3g}", acc=f"{acc_hist[epoch]:.3f}")
                if callback is not None:
                    callback(epoch, model)
    finally:
        if bar is not None:
            bar.close()
    history = {"loss": loss_hist, "accuracy": acc_hist}
    if cache:
        _write_atomic(final_path, {"key": key, "config": config.to_dict(), "snapshots": snapshots,
                                   "history": history})
        with contextlib.suppress(OSError):
            ckpt_path.unlink()
    return TrainResult(config, snapshots, history, key, source, steps)

