"""paperlib.workers: parallel_map keeps the order of its items, raises its workers' errors, computes in the calling
process what cannot go to a worker; threads are restored; the names train keeps are these functions."""

import os
import sys
import time

import pytest
import torch

from paperlib import train, workers


def _probe(x: int) -> tuple[int, int, int]:
    """x squared, the process and its torch threads; the first items take longest, so they finish last."""
    time.sleep(0.05 * x)
    return x * x, os.getpid(), torch.get_num_threads()


def _fail_on_odd(x: int) -> int:
    if x % 2:
        raise ValueError(f"odd item {x}")
    return x


def test_parallel_map_keeps_the_order_in_worker_processes_of_one_thread():
    items = [6, 0, 4, 1, 3]
    out = workers.parallel_map(_probe, items, workers=2)
    assert [r[0] for r in out] == [x * x for x in items]
    pids = {r[1] for r in out}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2  # computed in (at most) two other processes
    assert all(r[2] == 1 for r in out)  # one torch thread each
    with pytest.raises(ValueError, match="odd item 1"):  # the first failing item in the order of the items
        workers.parallel_map(_fail_on_odd, [0, 2, 1, 4, 3], workers=2)


def test_parallel_map_computes_here_what_cannot_go_to_a_worker(monkeypatch):
    here = os.getpid()
    assert workers.parallel_map(lambda x: x + 1, [1, 2, 3], workers=3) == [2, 3, 4]  # a lambda does not pickle
    # a function of __main__ (a script's or notebook's own): computed here, one item after the other
    main_probe = lambda x: (x, os.getpid())  # noqa: E731
    main_probe.__module__, main_probe.__qualname__ = "__main__", "main_probe"
    monkeypatch.setattr(sys.modules["__main__"], "main_probe", main_probe, raising=False)
    assert workers.parallel_map(main_probe, [1, 2], workers=2) == [(1, here), (2, here)]
    monkeypatch.setenv("PAPERLIB_WORKERS", "1")  # one worker: here
    assert [r[1] for r in workers.parallel_map(_probe, [0, 1])] == [here, here]
    with pytest.raises(ValueError, match="odd item 1"):
        workers.parallel_map(_fail_on_odd, [0, 1, 3], workers=1)
    assert workers.parallel_map(_probe, [], workers=2) == []
    with pytest.raises(TypeError, match="items"):
        workers.parallel_map(_probe, "abc")
    with pytest.raises(TypeError, match="fn"):
        workers.parallel_map(3, [1])
    with pytest.raises(ValueError, match="workers"):
        workers.parallel_map(_probe, [1], workers=0)


def test_main_hidden_restores_main_after_an_error():
    main = sys.modules["__main__"]
    before = {k: main.__dict__[k] for k in ("__file__", "__spec__") if k in main.__dict__}
    with pytest.raises(RuntimeError):
        with workers._main_hidden():
            assert "__file__" not in main.__dict__ and getattr(main, "__spec__", None) is None
            raise RuntimeError
    assert {k: main.__dict__[k] for k in ("__file__", "__spec__") if k in main.__dict__} == before


def test_threads_and_progress():
    before = torch.get_num_threads()
    with pytest.raises(KeyError):
        with workers.threads(1):
            assert torch.get_num_threads() == 1
            raise KeyError
    assert torch.get_num_threads() == before
    with workers.threads(None):
        assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="num_threads"):
        with workers.threads(0):
            pass
    assert workers.progress_bar(3, "x", False) is None
    bar = workers.progress_bar(3, "x", True, initial=1)
    assert bar.n == 1 and bar.total == 3
    bar.close()


def test_train_keeps_the_names_of_its_callers():
    for name in ("parallel_map", "progress_enabled", "progress_bar", "threads"):
        assert getattr(train, name) is getattr(workers, name)
