r"""Worker processes, torch threads and progress bars: the machinery around long computations.

- :func:`parallel_map` computes ``[fn(item) for item in items]`` in parallel worker processes (``spawn``, one torch
  thread each), in the order of ``items``, with results equal to sequential ones; :func:`paperlib.train.train_many`
  runs training runs with it.
- :func:`threads` runs a block with a given number of torch intra-op threads and restores the previous number.
- :func:`progress_enabled` resolves a ``progress`` argument and :func:`progress_bar` makes the tqdm bar.

Progress. ``progress=None`` shows a bar only when it can be seen without side effects: off when
``PAPERLIB_PROGRESS`` is ``0``/``false``/``off``/``no``, on when it is ``1``/``true``/``on``/``yes``, otherwise on only
when standard error is a terminal (notebook kernels, pytest and nbval are not), so committed notebook outputs never
hold progress bars.

Worker processes unpickle the function they run by its qualified name: what is sent to a pool (``fn``, the items
and this module's ``_one_thread``) must be importable at module top level.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Callable, Sequence

import torch

from ._checks import check_int

__all__ = ["parallel_map", "threads", "progress_enabled", "progress_bar"]


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


def progress_bar(total: int, desc: str, enabled: bool, *, initial: int = 0, unit: str = "epoch"):
    """A tqdm bar (the widget flavour inside a notebook kernel), or ``None`` when ``enabled`` is false."""
    if not enabled:
        return None
    if "ipykernel" in sys.modules and not sys.stderr.isatty():
        from tqdm.auto import tqdm
    else:
        from tqdm import tqdm
    return tqdm(total=total, initial=initial, desc=desc, unit=unit, leave=False)


@contextlib.contextmanager
def threads(num_threads: int | None):
    """Run the block with ``torch.set_num_threads(num_threads)`` (restored afterwards); ``None`` changes nothing."""
    check_int(num_threads, "num_threads", min=1, none_ok=True)
    old = torch.get_num_threads()
    if num_threads is not None and old != num_threads:
        torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        if torch.get_num_threads() != old:
            torch.set_num_threads(old)


# ------------------------------------------------------------------------------------------------------------------
# worker processes
# ------------------------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _main_hidden():
    """Hide ``__main__``'s file and spec while worker processes start, so that ``spawn`` does not run a user's
    script again in every worker (the jobs refer to importable modules only; see :func:`parallel_map`)."""
    main = sys.modules.get("__main__")
    saved = {k: main.__dict__[k] for k in ("__file__", "__spec__") if main is not None and k in main.__dict__}
    try:
        for k in saved:
            if k == "__file__":
                del main.__dict__[k]
            else:
                main.__dict__[k] = None
        yield
    finally:
        if main is not None:
            main.__dict__.update(saved)


def _one_thread(fn: Callable, item: object) -> object:
    """``fn(item)`` with one torch thread: what each worker process runs (module level, so that it pickles)."""
    torch.set_num_threads(1)
    return fn(item)


def parallel_map(fn: Callable, items: Sequence, *, workers: int | None = None) -> list:
    """``[fn(item) for item in items]``, computed in parallel worker processes, in the order of ``items``.

    Each worker is a fresh interpreter (``spawn``: no locks or thread pools inherited from this process) that
    computes with one torch thread, so on ``c`` cores up to ``c`` items proceed at once; results are the same as
    sequential ones. ``fn`` and the items are pickled to the workers: they must refer to importable modules.
    Where something refers to ``__main__`` (a script's or notebook's own functions and classes) the items are
    computed here, one after the other, as they are with ``workers=1``. An exception raised by ``fn`` is raised
    here (the first in the order of ``items``).

    Args:
        fn: a module-level function of one argument.
        items: its arguments.
        workers: processes; ``None``: ``$PAPERLIB_WORKERS`` if set, else the number of CPU cores, at most one per
            item.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable; got {type(fn).__name__}")
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
        raise TypeError(f"items must be a sequence; got {type(items).__name__}")
    if workers is None:
        env = os.environ.get("PAPERLIB_WORKERS", "").strip()
        workers = int(env) if env.isdigit() and int(env) >= 1 else (os.cpu_count() or 1)
    check_int(workers, "workers", min=1)
    workers = min(workers, len(items))
    if workers > 1:
        import pickle

        try:
            portable = all(b"__main__" not in pickle.dumps((fn, item)) for item in items)
        except (pickle.PicklingError, TypeError, AttributeError):
            portable = False
        workers = workers if portable else 1
    if workers <= 1:
        return [fn(item) for item in items]
    import concurrent.futures
    import multiprocessing

    with _main_hidden(), concurrent.futures.ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_one_thread, fn, item) for item in items]  # workers start while __main__ is hidden
        return [f.result() for f in futures]
