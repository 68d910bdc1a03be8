"""paperlib.cache: the root is checked before any work; OS errors on reads are misses and on writes warnings."""

import os
import stat

import pytest
import torch

from paperlib import cache, data, train
from paperlib.chapters import core
from paperlib.cache import Cache, CacheError, CacheWarning

ROOT = os.geteuid() == 0  # root ignores permission bits: those cases are simulated differently


def test_root_must_be_a_writable_folder(tmp_path):
    f = tmp_path / "a-file"
    f.write_text("x")
    with pytest.raises(CacheError, match="not a folder") as err:
        Cache.open(f)
    assert "PAPERLIB_CACHE" in str(err.value) and str(f) in str(err.value)
    with pytest.raises(CacheError, match="cannot be created"):
        Cache.open(f / "below")
    created = Cache.open(tmp_path / "new" / "deep")
    assert created.enabled and (tmp_path / "new" / "deep").is_dir()
    assert not Cache.open(f, enabled=False).enabled  # a disabled cache checks nothing


def test_read_only_root_is_refused(tmp_path, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    if ROOT:  # root ignores permission bits: simulate the refusal of the write probe
        def denied(*args, **kwargs):
            raise PermissionError(13, "Permission denied")
        monkeypatch.setattr(cache.tempfile, "mkstemp", denied)
    ro.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with pytest.raises(CacheError, match="not writable"):
            Cache.open(ro)
    finally:
        ro.chmod(stat.S_IRWXU)


def test_unwritable_root_fails_before_training(tmp_path, monkeypatch):
    x, y = data.sinusoid(20, seed=0)
    bad = tmp_path / "file"
    bad.write_text("x")
    monkeypatch.setenv("PAPERLIB_CACHE", str(bad))
    calls = []
    with pytest.raises(CacheError, match="not a folder"):
        train.train(lambda: torch.nn.Linear(2, 2), (x, y), train.TrainConfig(epochs=2),
                    callback=lambda e, m: calls.append(e))
    assert calls == []  # refused before any epoch ran


def test_entry_replaced_by_a_folder_is_a_miss_with_a_warning(tmp_path):
    store = Cache.open(tmp_path)
    k = cache.key({"what": "x"})
    (tmp_path / "geometry" / f"{k}.pt").mkdir(parents=True)
    with pytest.warns(CacheWarning, match="cannot be read"):
        assert store.load("geometry", k) is None
    with pytest.warns(CacheWarning, match="not cached"):
        assert store.save("geometry", k, {"v": torch.ones(2)}) is False


def test_write_failure_never_loses_a_finished_run(tmp_path, monkeypatch):
    x, y = data.sinusoid(20, seed=0)
    cfg = train.TrainConfig(epochs=3, batch_size=10)

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.warns(CacheWarning, match="not cached"):
        r = train.train(lambda: torch.nn.Linear(2, 2), (x, y), cfg, cache_dir=tmp_path)
    assert r.source == "trained" and r.steps == 6 and sorted(r.snapshots) == [0, 3]
    assert not [p for p in (tmp_path / "train").iterdir() if p.suffix == ".tmp"]  # no temporary files left
    monkeypatch.undo()
    again = train.train(lambda: torch.nn.Linear(2, 2), (x, y), cfg, cache_dir=tmp_path)
    assert again.source == "trained"  # nothing was stored, so it trains again: and now stores
    assert train.train(lambda: torch.nn.Linear(2, 2), (x, y), cfg, cache_dir=tmp_path).source == "cache"
    for k in r.snapshots[3]:
        assert torch.equal(r.snapshots[3][k], again.snapshots[3][k])


def test_read_error_is_a_miss(tmp_path, monkeypatch):
    store = Cache.open(tmp_path)
    k = cache.key([1, 2])
    assert store.save("geometry", k, {"v": torch.arange(3)})
    assert torch.equal(store.load("geometry", k)["v"], torch.arange(3))

    def denied(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(type(tmp_path), "read_bytes", denied)
    with pytest.warns(CacheWarning, match="Permission denied"):
        assert store.load("geometry", k) is None


def test_key_and_fingerprint():
    assert cache.key({"a": 1, "b": [1, 2]}) == cache.key({"b": [1, 2], "a": 1}) != cache.key({"a": 2, "b": [1, 2]})
    with pytest.raises(TypeError, match="JSON"):
        cache.key({"t": torch.ones(1)})
    assert cache.fingerprint(torch.ones(2)) != cache.fingerprint(torch.ones(2, dtype=torch.float64))


def test_code_digest_changes_with_the_code_only():
    def f(x):
        return x + 1

    def g(x):
        return x + 1

    def h(x):
        return x + 2

    g.__qualname__ = h.__qualname__ = f.__qualname__
    assert cache.code_digest(f) == cache.code_digest(g)  # same name and code
    assert cache.code_digest(f) != cache.code_digest(h)  # an edited constant
    assert cache.code_digest(f, h) != cache.code_digest(h, f)
    assert len(cache.code_digest(len)) == 64  # a builtin enters by its name


def test_code_digest_is_the_same_in_another_process():
    # a comprehension is a nested code object, whose repr holds a memory address: it must not enter the digest
    import subprocess
    import sys
    here = cache.code_digest(train.cross_entropy, core.mean_sd, cache.Cache.open)
    out = subprocess.run([sys.executable, "-c", "from paperlib import cache, train; from paperlib.chapters import core; "
                          "print(cache.code_digest(train.cross_entropy, core.mean_sd, cache.Cache.open))"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == here


class _Described:
    description = "a loss described by a string"  # enters the key as it is (no code digest: no Python version)


def test_training_key_recipe_is_pinned():
    """The fingerprints and the key of a training run from fixed parts (a class without source code, fixed
    parameters and data, a loss described by a string, so that neither torch's nor Python's version enters them):
    the keys under which runs are cached. Moving or refactoring the fingerprint code must not change them; change
    these values only with a deliberate change of the key (every cached run is then trained again)."""
    net = type("Fixed", (torch.nn.Module,), {"__module__": "paperlib_golden"})()
    net.w = torch.nn.Parameter(torch.arange(6.0).reshape(2, 3))
    net.register_buffer("b", torch.tensor([1, 2]))
    x = torch.arange(12, dtype=torch.float32).reshape(6, 2) / 10
    y = torch.tensor([0, 1, 0, 1, 1, 0])
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=2)
    c = train.TrainConfig(lr=0.1, batch_size=3, epochs=5, snapshots=(0, 2), seed=7)
    assert cache.data_fingerprint((x, y)) == "827e2cc7f85188c23b29ed611abf63e2d6ee94244a91cde0d2feb36565c3fecb"
    assert cache.data_fingerprint(loader) == "cf290645bd4f063127ab12b196465bb7e38c693843465df3e9a952d64c66fd41"
    assert cache.model_fingerprint(net) == "0b178766873a34fa5f3b02e439f554e15b0c9c464b1e6950d9e2f5a351bd0cbb"
    key = train.run_key(net, cache.data_fingerprint((x, y)), c, loss=_Described(), device="cpu")
    assert key == "af69899c8c79eb252d078b8f513a4141806d3b24d0418035965418de0a60b731"
    key = train.run_key(net, "some data", c, loss=_Described(), device="cuda")
    assert key == "072c74dc07b4865038b220fabf5c6740536097e14049b6768d4963688d31f552"
    with pytest.raises(TypeError, match="data_key"):
        cache.data_fingerprint([[1.0, 2.0]])
