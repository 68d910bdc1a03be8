"""paperlib.distributed: shards without processes, and two gloo processes on the CPU (started by torchrun) that
split geometry, average geometry and training and must give the single-process results.

The two-process part runs this file itself as torchrun's script (``python -m torch.distributed.run
--nproc_per_node=2 tests/test_distributed.py OUT``): each rank runs :func:`_worker` and saves what it computed
under ``OUT``; the tests compare that with the same computations made here in one process.
"""

from __future__ import annotations

import functools
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from paperlib import distributed, geometry, gih, train
from paperlib.models import MLP
from paperlib.train import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
RANKS = 2
POINTS = 37  # odd: the two shards differ in size (19 and 18)
NETWORKS = 21


# -- what both sides compute ----------------------------------------------------------------------------------------


def _feature_map(d: int = 2, n: int = 30) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(d, 24), nn.Tanh(), nn.Linear(24, n), nn.Sigmoid()).eval()


def _points(d: int = 2) -> torch.Tensor:
    return torch.rand(POINTS, d, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 2 - 1


def _geometry(distributed_=None) -> dict:
    f, x = _feature_map(), _points()
    wide, xw = _feature_map(d=12, n=5), _points(d=12)  # d > n: reverse mode, strategy="auto" timed per rank
    kw = dict(device="cpu", distributed=distributed_)
    return {"logvol": geometry.log_volume_element(f, x, **kw),
            "jacobian": geometry.jacobian(f, x, **kw),
            "metric": geometry.metric(f, x, **kw),
            "spectrum_wide": geometry.spectrum(wide, xw, **kw),
            "logvol_wide_k": geometry.log_volume_element(wide, xw, k=3, **kw)}


def _average_geometry(route: str, distributed_=None) -> gih.AverageGeometry:
    return gih.average_geometry("mlp", NETWORKS, image_size=4, hidden=(20, 20), inputs=3, route=route, chunk=4,
                                dtype=torch.float64, device="cpu", progress=False, distributed=distributed_)


def _evolution(distributed_=None) -> gih.Evolution:
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(10, 1, 4, 4, generator=gen, dtype=torch.float64)
    y = torch.where(torch.rand(10, generator=gen) < 0.5, -1.0, 1.0).double()
    return gih.evolution_at_init("mlp", x, y, 5, inputs=2, chunk=2, dtype=torch.float64, device="cpu", image_size=4,
                                 hidden=(12,), distributed=distributed_)


def _train_data() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(64, 2, generator=gen, dtype=torch.float64)
    return x, (x[:, 0] * x[:, 1] > 0).long()


class Jitter:
    """A per-sample random augmentation drawn from torch's global RNG (as kornia's are); a fixed repr for the key."""

    def __init__(self, scale: float):
        self.scale = scale

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.scale * torch.randn_like(x)

    def __repr__(self) -> str:
        return f"Jitter({self.scale})"


def _config(batch_size: int) -> TrainConfig:
    return TrainConfig(optimizer="sgd", lr=0.3, momentum=0.9, batch_size=batch_size, epochs=2, snapshots=(0, 1),
                       seed=4, dtype="float64", clip_norm=5.0)


def _train(cache_dir, batch_size: int = 16, augment: bool = False, factory=None, **kw) -> train.TrainResult:
    x, y = _train_data()
    return train.train(factory or functools.partial(MLP, (2, 16, 2), "tanh"), (x, y), _config(batch_size),
                       loss=train.augmented(Jitter(0.1)) if augment else None,
                       evaluate=train.classification_metrics(x, y), cache_dir=cache_dir, progress=False, **kw)


class _Stop(Exception):
    pass


def _stop_after_epoch_1(epoch: int, model: nn.Module) -> None:
    if epoch == 1:
        raise _Stop


def _worker(out: Path) -> None:
    """One rank of the torchrun run: everything the tests compare, saved to ``out/rank<r>.pt``."""
    torch.set_num_threads(1)
    start = time.perf_counter()
    assert distributed.init_from_env(), "torchrun's environment did not start distributed work"
    r, w = distributed.rank(), distributed.world_size()
    res: dict = {"rank": r, "world": w, "backend": str(torch.distributed.get_backend())}
    # gather_rows: unequal row counts (rank r holds r + 1 rows; rank 0 of the second call none), dtypes kept
    mine = (torch.arange(r + 1).reshape(-1, 1).expand(-1, 3) * (r + 1)).contiguous()
    res["gathered"] = [distributed.gather_rows(mine.to(dt)) for dt in (torch.int64, torch.float32, torch.bool)]
    res["gathered_empty"] = distributed.gather_rows(torch.full((r, 2), 0.5 + r, dtype=torch.float64))
    res["summed"] = distributed.all_reduce_sum(torch.tensor([1.5, r], dtype=torch.float64))
    try:
        distributed.agree(r, what="the ranks")
    except ValueError as exc:
        res["agree_error"] = str(exc)
    try:  # a failure on rank 1 only: both ranks raise, neither waits
        distributed.shard_map(lambda part: torch.ones(1) / 0 if r == 0 else [][0], 4)
    except (IndexError, RuntimeError) as exc:
        res["failure"] = f"{type(exc).__name__}: {exc}"
    try:  # different points on the two ranks
        geometry.metric(_feature_map(), _points()[: 10 + r], device="cpu")
    except ValueError as exc:
        res["points_error"] = str(exc)
    bind, points = geometry.measures._bind, []  # the points each call of this rank measures
    geometry.measures._bind = lambda f, x, **o: (points.append(x.shape[0]), bind(f, x, **o))[1]
    res["geometry"] = _geometry()
    geometry.measures._bind, res["geometry_points"] = bind, points
    auto = _average_geometry("auto")
    res["gih_auto"] = (auto.G, auto.standard_error, auto.route, auto.networks)
    rows, seeds = gih.average._chunk_rows_modules, []  # the networks this rank draws
    gih.average._chunk_rows_modules = lambda factory, s, *a: (seeds.extend(s), rows(factory, s, *a))[1]
    mod = _average_geometry("modules")
    gih.average._chunk_rows_modules, res["gih_seeds"] = rows, seeds
    res["gih_modules"] = (mod.G, mod.standard_error)
    ev = _evolution()
    res["evolution"] = (ev.delta, ev.G, ev.delta_sum_sq)
    cache = out / "cache"
    for name, kw in (("train", {}), ("train_augmented", {"batch_size": 15, "augment": True})):
        batches = []  # the rows of each training step on this rank

        def factory():
            m = MLP((2, 16, 2), "tanh")
            m.register_forward_pre_hook(lambda mod, args: batches.append(args[0].shape[0]) if mod.training else None)
            return m

        result = _train(cache, factory=factory, **kw)
        res[name] = (result.model().state_dict(), result.history, result.key, result.source, result.snapshots)
        res[name + "_rows"] = batches
    res["train_cached"] = _train(cache).source  # the entry rank 0 wrote, read by every rank
    try:  # interrupted after epoch 1 on every rank, then resumed from rank 0's checkpoint
        _train(out / "resume", callback=_stop_after_epoch_1)
    except _Stop:
        resumed = _train(out / "resume")
        res["train_resumed"] = (resumed.model().state_dict(), resumed.source, resumed.history)
    try:
        x, y = _train_data()
        loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=16)
        train.train(functools.partial(MLP, (2, 16, 2), "tanh"), loader, _config(None), cache=False, progress=False)
    except NotImplementedError as exc:
        res["loader_error"] = str(exc)
    res["seconds"] = time.perf_counter() - start
    torch.save(res, out / f"rank{r}.pt")
    distributed.barrier()
    torch.distributed.destroy_process_group()


# -- shards and the single-process no-ops (no processes) ------------------------------------------------------------


@pytest.mark.parametrize("world", [1, 2, 3, 5, 8])
def test_shard_covers_every_index_once_in_balanced_contiguous_parts(world):
    for n in range(0, 40):
        parts = [distributed.shard(n, r, world) for r in range(world)]
        assert [i for p in parts for i in range(p.start, p.stop)] == list(range(n))  # in order, once each
        sizes = [p.stop - p.start for p in parts]
        assert max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True)
        assert all(p.step is None for p in parts)


def test_shard_refuses_bad_arguments():
    for args in [(-1, 0, 1), (3, 2, 2), (3, -1, 2), (3, 0, 0), (2.5, 0, 1), (True, 0, 1)]:
        with pytest.raises(ValueError):
            distributed.shard(*args)


def test_everything_is_a_no_op_without_a_process_group(monkeypatch):
    for k in distributed.ENV:
        monkeypatch.delenv(k, raising=False)
    assert not torch.distributed.is_available() or not torch.distributed.is_initialized()
    assert distributed.init_from_env() is False
    assert (distributed.rank(), distributed.world_size(), distributed.is_active()) == (0, 1, False)
    assert distributed.shard(7) == slice(0, 7)
    t = torch.arange(6.0).reshape(3, 2)
    assert distributed.gather_rows(t) is t and distributed.all_reduce_sum(t) is t
    assert distributed.broadcast_object({"a": 1}) == {"a": 1}
    distributed.barrier()
    distributed.agree(1, 2)
    assert distributed.all_succeed(lambda: 5) == 5
    assert torch.equal(distributed.shard_map(lambda part: t[part] * 2, 3), t * 2)
    assert distributed.use(None) is False and distributed.use(False) is False
    with pytest.raises(RuntimeError, match="torchrun"):
        distributed.use(True)
    with pytest.raises(TypeError):
        distributed.use("yes")
    with pytest.raises(ValueError):
        distributed.gather_rows(torch.tensor(1.0))


def test_geometry_and_gih_are_unchanged_without_a_process_group():
    f, x = _feature_map(), _points()
    for fn in (geometry.log_volume_element, geometry.jacobian, geometry.metric, geometry.spectrum):
        assert torch.equal(fn(f, x, device="cpu"), fn(f, x, device="cpu", distributed=False))
        with pytest.raises(RuntimeError, match="process group"):
            fn(f, x, device="cpu", distributed=True)
    a, b = _average_geometry("stacked"), _average_geometry("stacked", False)
    assert torch.equal(a.G, b.G) and a.sum_sq == b.sum_sq
    with pytest.raises(RuntimeError, match="process group"):
        _average_geometry("stacked", True)


# -- two processes ----------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    """The results of the two ranks (started once for the module), and the run's wall time."""
    if not torch.distributed.is_available():
        pytest.skip("torch.distributed is not available in this torch build")
    if not torch.distributed.is_gloo_available():
        pytest.skip("torch.distributed has no gloo backend in this torch build")
    out = tmp_path_factory.mktemp("distributed")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PAPERLIB_PROGRESS": "0", "PAPERLIB_CACHE": str(out / "cache"),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
           "CUDA_VISIBLE_DEVICES": ""}  # gloo on the CPU, whatever the machine has
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1", f"--nproc_per_node={RANKS}",
           "--master_addr=127.0.0.1", f"--master_port={_free_port()}", __file__, str(out)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    seconds = time.perf_counter() - start
    assert proc.returncode == 0, f"torchrun failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}"
    results = [torch.load(out / f"rank{r}.pt", weights_only=False) for r in range(RANKS)]
    per_rank = ", ".join(f"{r['seconds']:.1f} s" for r in results)
    print(f"torchrun with {RANKS} ranks: {seconds:.1f} s in all; work per rank {per_rank}")
    return results, out, seconds


def test_the_run_is_two_gloo_ranks_and_quick(ranks):
    results, _, seconds = ranks
    assert [(r["rank"], r["world"], r["backend"]) for r in results] == [(0, 2, "gloo"), (1, 2, "gloo")]
    assert seconds < 120, f"the two-process run took {seconds:.0f} s"


def test_gather_rows_and_all_reduce_sum(ranks):
    for r in ranks[0]:
        ints, floats, bools = r["gathered"]
        want = torch.tensor([[0] * 3, [0] * 3, [2] * 3])
        assert torch.equal(ints, want) and ints.dtype == torch.int64
        assert torch.equal(floats, want.float()) and floats.dtype == torch.float32
        assert torch.equal(bools, want.bool()) and bools.dtype == torch.bool
        assert torch.equal(r["gathered_empty"], torch.full((1, 2), 1.5, dtype=torch.float64))  # rank 0: no rows
        assert torch.equal(r["summed"], torch.tensor([3.0, 1.0], dtype=torch.float64))
        assert "differ across ranks" in r["agree_error"]
        assert "differ across ranks" in r["points_error"] and "rank 0: [10], rank 1: [11]" in r["points_error"]
    assert ranks[0][0]["failure"] == ("RuntimeError: paperlib.distributed: the work failed on rank(s) [1] (see their "
                                      "error)")
    assert ranks[0][1]["failure"].startswith("IndexError")


def test_sharded_geometry_equals_one_process(ranks):
    with train.threads(1):
        want = _geometry()
    assert [r["geometry_points"] for r in ranks[0]] == [[19] * 5, [18] * 5]  # each rank measured its shard only
    for r in ranks[0]:
        got = r["geometry"]
        for name, w in want.items():
            assert got[name].shape == w.shape and got[name].dtype == w.dtype, name
            torch.testing.assert_close(got[name], w, rtol=0, atol=1e-12, msg=name)


def test_average_geometry_draws_the_same_networks(ranks):
    results = ranks[0]
    routes = {r["gih_auto"][2] for r in results}
    assert len(routes) == 1, f"the ranks took different routes {routes}"
    with train.threads(1):
        auto, mod = _average_geometry(routes.pop()), _average_geometry("modules")
        ev = _evolution()
    assert [r["gih_seeds"] for r in results] == [list(range(11)), list(range(11, NETWORKS))]  # seed 0: k itself
    for r in results:
        G, se, _, networks = r["gih_auto"]
        assert networks == NETWORKS
        for (G, se), want in (((G, se), auto), (r["gih_modules"], mod)):
            torch.testing.assert_close(G, want.G, rtol=1e-12, atol=0)
            assert se == pytest.approx(want.standard_error, rel=1e-9)
        delta, G0, sq = r["evolution"]
        torch.testing.assert_close(delta, ev.delta, rtol=1e-12, atol=1e-15 * float(ev.delta.abs().max()))
        torch.testing.assert_close(G0, ev.G, rtol=1e-12, atol=0)
        assert sq == pytest.approx(ev.delta_sum_sq, rel=1e-12)


@pytest.mark.parametrize("name, kw", [("train", {}), ("train_augmented", {"batch_size": 15, "augment": True})])
def test_distributed_training_equals_one_process(ranks, tmp_path, name, kw):
    results, out, _ = ranks
    want = _train(tmp_path / "single", **kw)  # batch 15: the ranks take 8 and 7 rows, and 2 + 2 of the last 4
    part = [[8, 8, 8, 8, 2], [7, 7, 7, 7, 2]] if kw else [[8] * 4, [8] * 4]  # rows of each step on each rank
    assert [r[name + "_rows"] for r in results] == [p * 2 for p in part]  # two epochs
    for r in results:
        state, history, key, source, snapshots = r[name]
        assert key == want.key and source == "trained"
        for k, v in want.model().state_dict().items():
            torch.testing.assert_close(state[k], v, rtol=0, atol=1e-10, msg=k)
        assert sorted(snapshots) == [0, 1, 2]
        torch.testing.assert_close(snapshots[0], want.snapshots[0], rtol=0, atol=0)
        for k, v in want.history.items():
            torch.testing.assert_close(history[k], v, rtol=1e-12, atol=1e-12, equal_nan=True, msg=k)
    # rank 0 alone wrote: one entry per run, the checkpoints removed, and the entry is the single-process one
    files = sorted(p.name for p in (out / "cache" / "train").iterdir())
    assert files == sorted(f"{r[n][2]}.pt" for r in results[:1] for n in ("train", "train_augmented"))
    assert all(r["train_cached"] == "cache" for r in results)
    cached = _train(out / "cache", **kw)
    assert cached.source == "cache" and cached.key == want.key


def test_distributed_training_resumes_from_rank_0s_checkpoint(ranks, tmp_path):
    want = _train(tmp_path, cache=False)
    for r in ranks[0]:
        state, source, history = r["train_resumed"]
        assert source == "resumed"
        for k, v in want.model().state_dict().items():
            torch.testing.assert_close(state[k], v, rtol=0, atol=1e-10, msg=k)
        torch.testing.assert_close(history["train_loss"], want.history["train_loss"], equal_nan=True)
    assert sorted(p.name for p in (ranks[1] / "resume" / "train").iterdir()) == [f"{want.key}.pt"]


def test_distributed_training_refuses_a_data_loader(ranks):
    for r in ranks[0]:
        assert "in-memory tensor data" in r["loader_error"]


if __name__ == "__main__":  # one rank of the torchrun run started by the fixture `ranks`
    _worker(Path(sys.argv[1]))
