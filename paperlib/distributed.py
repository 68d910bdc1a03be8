r"""Splitting paperlib's work across the processes of ``torchrun`` (PyTorch's distributed runtime).

Run a script as ``torchrun --nproc_per_node=N script.py`` and call :func:`init_from_env` at its start: the
default process group is initialised from ``torchrun``'s environment (``nccl`` on CUDA, ``gloo`` on CPU), and
the same command then splits its work over the ``N`` ranks:

- :mod:`paperlib.geometry` (``jacobian``, ``metric``, ``spectrum``, ``log_volume_element``): each rank
  differentiates its contiguous shard of the points (:func:`shard`) and the results are gathered in order
  (:func:`gather_rows`), so every rank returns the full result;
- :func:`paperlib.gih.average_geometry` and :func:`paperlib.gih.evolution_at_init`: each rank draws the networks
  of its shard of the seeds, and the running sums are added over the ranks (:func:`all_reduce_sum`): the same
  networks, so the same estimate as one process, on every rank;
- :func:`paperlib.train.train`: ``DistributedDataParallel``, each rank taking its contiguous part of every
  mini-batch; rank 0 alone writes the cache and the checkpoints.

Apart from :func:`init_from_env`, every function here is a no-op when ``torch.distributed`` is not initialised (or
not available, or has world size 1): :func:`rank` is 0, :func:`world_size` 1, :func:`gather_rows` and
:func:`all_reduce_sum` return their argument, and paperlib computes exactly as it does without ``torchrun``.

The collectives must be entered by every rank in the same order: every rank runs the same command with the same
arguments (the same points, the same number of networks). Work that fails on some ranks only (a bad shard, out
of memory) is reported on every rank instead of leaving the others waiting (:func:`all_succeed`).
"""

from __future__ import annotations

import math
import os
from typing import Callable, Sequence, TypeVar

import torch

__all__ = [
    "init_from_env",
    "rank",
    "world_size",
    "is_active",
    "shard",
    "gather_rows",
    "all_reduce_sum",
    "broadcast_object",
    "barrier",
    "agree",
    "all_succeed",
    "shard_map",
    "use",
]

#: the environment variables ``torchrun`` sets for every rank (``MASTER_PORT``, ``LOCAL_RANK`` too)
ENV = ("WORLD_SIZE", "RANK", "MASTER_ADDR")
#: the most dimensions :func:`gather_rows` handles
_MAX_DIMS = 16

T = TypeVar("T")


def _dist():
    return torch.distributed


def _initialised() -> bool:
    return _dist().is_available() and _dist().is_initialized()


def init_from_env(backend: str | None = None) -> bool:
    """Initialise the default process group from ``torchrun``'s environment, if there is one.

    Where ``WORLD_SIZE``, ``RANK`` and ``MASTER_ADDR`` are set (``torchrun`` sets them, and ``MASTER_PORT``) and
    the default group is not yet initialised, it is initialised with ``backend`` (``None``: ``"nccl"`` when CUDA
    is available, else ``"gloo"``); with ``nccl`` the rank's GPU is ``LOCAL_RANK``
    (:func:`torch.cuda.set_device`), so ``device="cuda"`` means that GPU. Otherwise nothing happens: a script
    started with plain ``python`` runs in one process. Safe to call more than once.

    Returns:
        whether distributed work is active (:func:`is_active`: initialised with world size > 1).
    """
    if not _dist().is_available():
        return False
    if _dist().is_initialized():
        return is_active()
    if not all(os.environ.get(k) for k in ENV):
        return False
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if not isinstance(backend, str):
        raise TypeError(f"backend must be a string such as 'gloo' or 'nccl', or None; got {backend!r}")
    if "nccl" in backend:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    _dist().init_process_group(backend=backend)
    return is_active()


def _rank() -> int:
    return _dist().get_rank() if _initialised() else 0


def _world() -> int:
    return _dist().get_world_size() if _initialised() else 1


def rank() -> int:
    """This process's rank, ``0 .. world_size() - 1`` (0 without distributed)."""
    return _rank()


def world_size() -> int:
    """The number of ranks (1 without distributed)."""
    return _world()


def is_active() -> bool:
    """Whether the default process group is initialised with more than one rank (the work is split)."""
    return _initialised() and _dist().get_world_size() > 1


def use(distributed: bool | None) -> bool:
    """Resolve a ``distributed=`` argument: ``None`` -> :func:`is_active`; ``False`` -> ``False``; ``True`` ->
    whether the world has more than one rank (``RuntimeError`` when no process group is initialised)."""
    if distributed is None:
        return is_active()
    if not isinstance(distributed, bool):
        raise TypeError(f"distributed must be True, False or None; got {distributed!r}")
    if distributed and not _initialised():
        raise RuntimeError(
            "distributed=True needs an initialised torch.distributed process group: start the script with "
            "torchrun --nproc_per_node=N and call paperlib.distributed.init_from_env() first (or pass "
            "distributed=None, which splits the work only when that is the case)")
    return distributed and world_size() > 1


def shard(n: int, rank: int | None = None, world_size: int | None = None) -> slice:
    """This rank's contiguous share of ``0 .. n - 1``: ``slice(start, stop)``.

    The shares of ranks ``0 .. W - 1`` are consecutive and cover every index exactly once; their sizes differ by
    at most one, the first ``n % W`` ranks holding one more (so rank 0's share is empty only when ``n = 0``).

    Args:
        n: the number of items (>= 0).
        rank, world_size: default: this process's (:func:`rank`, :func:`world_size`).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be an integer >= 0; got {n!r}")
    w = _world() if world_size is None else world_size
    r = _rank() if rank is None else rank
    if isinstance(w, bool) or not isinstance(w, int) or w < 1:
        raise ValueError(f"world_size must be an integer >= 1; got {w!r}")
    if isinstance(r, bool) or not isinstance(r, int) or not 0 <= r < w:
        raise ValueError(f"rank must be an integer in 0..{w - 1}; got {r!r}")
    q, rem = divmod(n, w)
    start = r * q + min(r, rem)
    return slice(start, start + q + (r < rem))


def _comm_device() -> torch.device:
    """Where the default group's collectives take tensors: this rank's GPU for ``nccl``, else the CPU."""
    if "nccl" in str(_dist().get_backend()):
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def _all_gather(t: torch.Tensor) -> list[torch.Tensor]:
    out = [torch.empty_like(t) for _ in range(world_size())]
    _dist().all_gather(out, t)
    return out


def gather_rows(t: torch.Tensor) -> torch.Tensor:
    """All ranks' tensors concatenated along the first dimension in rank order, on every rank.

    The ranks may hold different numbers of rows (an empty ``(0, ...)`` tensor too); the other dimensions and
    the dtype must agree among the ranks holding rows (``ValueError`` on every rank otherwise). The rows travel
    as raw bytes, so every dtype (also ``bool`` and ``bfloat16``) comes back bit for bit, through ``gloo`` on the
    CPU or ``nccl`` on the rank's GPU whatever the tensor's device.

    Args:
        t: ``(B_r, *shape)`` on rank ``r``.

    Returns:
        ``(B_0 + ... + B_{W-1}, *shape)``, ``t``'s dtype, on ``t``'s device; ``t`` itself without distributed.
    """
    if not isinstance(t, torch.Tensor) or t.ndim == 0:
        raise ValueError(f"t must be a tensor with a first (row) dimension; got {getattr(t, 'shape', type(t))}")
    if not is_active():
        return t
    if t.ndim > _MAX_DIMS:
        raise ValueError(f"gather_rows handles at most {_MAX_DIMS} dimensions; got {t.ndim}")
    dev = _comm_device()
    codes = {dtype: i for i, dtype in enumerate(_DTYPES)}
    if t.dtype not in codes:
        raise TypeError(f"gather_rows cannot send dtype {t.dtype}")
    shape = list(t.shape[1:]) + [-1] * (_MAX_DIMS - t.ndim)
    meta = torch.tensor([t.shape[0], t.ndim, codes[t.dtype], *shape], dtype=torch.int64, device=dev)
    metas = [m.tolist() for m in _all_gather(meta)]
    holders = [m for m in metas if m[0] > 0] or [metas[rank()]]
    if any(m[1:] != holders[0][1:] for m in holders):
        found = [(f"rank {i}", m[0], tuple(m[3: 2 + m[1]]), str(_DTYPES[m[2]])) for i, m in enumerate(metas)]
        raise ValueError(f"gather_rows: the ranks' tensors differ beyond their first dimension (rank, rows, "
                         f"shape[1:], dtype): {found}")
    ndim, dtype = holders[0][1], _DTYPES[holders[0][2]]
    trail = tuple(holders[0][3: 2 + ndim])
    width = math.prod(trail) * torch.empty((), dtype=dtype).element_size()  # bytes per row
    rows = [m[0] for m in metas]
    if not any(rows):
        return torch.empty(0, *trail, dtype=dtype, device=t.device)
    buf = torch.zeros(max(rows), width, dtype=torch.uint8, device=dev)
    if t.shape[0]:
        buf[: t.shape[0]] = t.detach().to(dev).contiguous().reshape(t.shape[0], -1).view(torch.uint8)
    parts = [p[:r] for p, r in zip(_all_gather(buf), rows)]
    out = torch.cat(parts).view(dtype) if width else torch.empty(sum(rows), 0, dtype=dtype, device=dev)
    return out.reshape(sum(rows), *trail).to(t.device)


#: dtypes :func:`gather_rows` sends (by index)
_DTYPES = (torch.float64, torch.float32, torch.float16, torch.bfloat16, torch.int64, torch.int32, torch.int16,
           torch.int8, torch.uint8, torch.bool, torch.complex64, torch.complex128)


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """The element-wise sum of ``t`` over all ranks, on every rank (bit-identical on every rank).

    Args:
        t: a tensor of the same shape and dtype on every rank (left unchanged).

    Returns:
        a new tensor of ``t``'s shape, dtype and device; ``t`` itself without distributed.
    """
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"t must be a tensor; got {type(t).__name__}")
    if not is_active():
        return t
    out = t.detach().to(_comm_device(), copy=True)
    _dist().all_reduce(out, op=_dist().ReduceOp.SUM)
    return out.to(t.device)


def broadcast_object(obj: T, src: int = 0) -> T:
    """Rank ``src``'s ``obj`` (any picklable object) on every rank; ``obj`` itself without distributed."""
    if not is_active():
        return obj
    box = [obj if rank() == src else None]
    _dist().broadcast_object_list(box, src=src, device=_comm_device())
    return box[0]


def barrier() -> None:
    """Wait until every rank reaches this point (nothing without distributed)."""
    if not is_active():
        return
    if "nccl" in str(_dist().get_backend()):
        _dist().barrier(device_ids=[torch.cuda.current_device()])
    else:
        _dist().barrier()


def _gather_ints(values: Sequence[int]) -> list[list[int]]:
    t = torch.tensor([int(v) for v in values], dtype=torch.int64, device=_comm_device())
    return [g.tolist() for g in _all_gather(t)]


def agree(*values: int, what: str = "the arguments") -> None:
    """Check that every rank passed the same integers (``ValueError`` on every rank otherwise; nothing without
    distributed): the collectives that follow would otherwise wait forever or mix different work."""
    if not is_active():
        return
    found = _gather_ints(values)
    if any(f != found[0] for f in found):
        ranks = ", ".join(f"rank {i}: {f}" for i, f in enumerate(found))
        raise ValueError(f"paperlib.distributed: {what} differ across ranks ({ranks}): every rank must run the "
                         "same command on the same data")


def all_succeed(fn: Callable[[], T]) -> T:
    """``fn()`` on every rank; if it raised on any rank, every rank raises (the failing ranks their own exception,
    the others a ``RuntimeError`` naming the failing ranks), so no rank is left waiting in a later collective.
    Without distributed: ``fn()``."""
    if not is_active():
        return fn()
    error: Exception | None = None
    try:
        result = fn()
    except Exception as exc:  # noqa: BLE001 - re-raised below, on every rank
        error = exc
    failed = [i for i, (flag,) in enumerate(_gather_ints([error is not None])) if flag]
    if error is not None:
        raise error
    if failed:
        raise RuntimeError(f"paperlib.distributed: the work failed on rank(s) {failed} (see their error)")
    return result


def shard_map(fn: Callable[[slice], torch.Tensor], n: int) -> torch.Tensor:
    """``fn(shard(n))`` on every rank, gathered in rank order (:func:`gather_rows`): the rows of
    ``fn(slice(0, n))`` computed in parts, on every rank. ``n`` must agree across ranks (checked); failures on any
    rank raise on every rank (:func:`all_succeed`). Without distributed: ``fn(slice(0, n))``."""
    agree(n, what="the numbers of items")
    return gather_rows(all_succeed(lambda: fn(shard(n))))
