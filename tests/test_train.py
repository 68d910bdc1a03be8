"""paperlib.train: seeded training, snapshots, the on-disk cache (hits, keys, corruption) and exact resuming."""

import os
import warnings

import pytest
import torch

from paperlib import data, train
from paperlib.models import MLP
from paperlib.train import CacheWarning, TrainConfig


@pytest.fixture()
def xy():
    return data.sinusoid(40, seed=3)


def cfg(**kw):
    base = dict(widths=(2, 16, 2), lr=0.5, momentum=0.9, batch_size=10, epochs=12, snapshots=(0, 4, 8), seed=1)
    base.update(kw)
    if "snapshots" not in kw:
        base["snapshots"] = tuple(s for s in base["snapshots"] if s <= base["epochs"])
    return TrainConfig(**base)


def assert_same(a: train.TrainResult, b: train.TrainResult):
    assert a.epochs == b.epochs
    for e in a.epochs:
        for k in a.snapshots[e]:
            assert torch.equal(a.snapshots[e][k], b.snapshots[e][k]), (e, k)
    for k in ("loss", "accuracy"):
        assert torch.equal(a.history[k], b.history[k]), k


def test_config_normalises_snapshots_and_validates():
    c = cfg(snapshots=[8, 0, 4, 4])
    assert c.snapshots == (0, 4, 8, 12) and c.widths == (2, 16, 2)
    for bad, match in [
        (dict(widths=(2,)), "widths"), (dict(activation="nope"), "activation"), (dict(init="x"), "init"),
        (dict(optimizer="rmsprop"), "optimizer"), (dict(lr=0.0), "lr"), (dict(momentum=1.0), "momentum"),
        (dict(optimizer="adam", momentum=0.9), "momentum"), (dict(weight_decay=-1.0), "weight_decay"),
        (dict(batch_size=0), "batch_size"), (dict(epochs=-1), "epochs"), (dict(snapshots=(13,)), "snapshots"),
    ]:
        with pytest.raises(ValueError, match=match):
            cfg(**bad)
    with pytest.raises(TypeError, match="seed"):
        cfg(seed="1")


def test_epoch_zero_is_the_initialisation_and_training_learns(xy, tmp_path):
    x, y = xy
    r = train.train(cfg(epochs=40, snapshots=(0, 40)), x, y, cache_dir=tmp_path)
    init = MLP((2, 16, 2), "sigmoid", seed=1).state_dict()
    assert all(torch.equal(init[k], r.snapshots[0][k]) for k in init)
    assert r.steps == 40 * 4 and r.source == "trained"
    assert float(r.history["loss"][-1]) < float(r.history["loss"][0])
    m = r.model(40)
    assert not m.training and torch.equal(m.layers[0].weight, r.snapshots[40]["layers.0.weight"])
    with pytest.raises(ValueError, match="epoch"):
        r.model(3)


def test_same_seed_same_result_and_full_batch_and_adam(xy):
    x, y = xy
    a = train.train(cfg(), x, y, cache=False)
    b = train.train(cfg(), x, y, cache=False)
    assert_same(a, b)
    assert not torch.equal(a.snapshots[12]["layers.0.weight"],
                           train.train(cfg(seed=2), x, y, cache=False).snapshots[12]["layers.0.weight"])
    full = train.train(cfg(batch_size=None, epochs=5), x, y, cache=False)
    assert full.steps == 5
    adam = train.train(cfg(optimizer="adam", momentum=0.0, lr=1e-2, epochs=3), x, y, cache=False)
    assert adam.steps == 12


def test_cache_hit_avoids_training(xy, tmp_path):
    x, y = xy
    first = train.train(cfg(), x, y, cache_dir=tmp_path)
    calls = []
    second = train.train(cfg(), x, y, cache_dir=tmp_path, callback=lambda e, m: calls.append(e))
    assert second.source == "cache" and second.steps == 0 and calls == []
    assert_same(first, second)
    files = sorted(p.name for p in (tmp_path / "train").iterdir())
    assert files == [f"{first.key}.pt"]  # no temporary or checkpoint files left behind


def test_cache_root_from_environment(xy, tmp_path, monkeypatch):
    x, y = xy
    monkeypatch.setenv("PAPERLIB_CACHE", str(tmp_path / "envcache"))
    r = train.train(cfg(epochs=2), x, y)
    assert (tmp_path / "envcache" / "train" / f"{r.key}.pt").is_file()
    assert train.cache_dir() == tmp_path / "envcache"


def test_key_changes_with_config_and_data(xy):
    x, y = xy
    base = train.cache_key(cfg(), x, y)
    assert base == train.cache_key(cfg(), x.clone(), y.clone())
    changes = [dict(widths=(2, 17, 2)), dict(activation="tanh"), dict(init="pytorch"), dict(lr=0.4),
               dict(momentum=0.8), dict(weight_decay=1e-4), dict(batch_size=20), dict(epochs=13),
               dict(snapshots=(0, 5)), dict(seed=2), dict(optimizer="adam", momentum=0.0)]
    keys = {train.cache_key(cfg(**c), x, y) for c in changes}
    assert len(keys) == len(changes) and base not in keys
    x2 = x.clone()
    x2[3, 1] = 0.123
    y2 = y.clone()
    y2[0] = 1 - y2[0]
    assert train.cache_key(cfg(), x2, y) != base and train.cache_key(cfg(), x, y2) != base
    assert train.cache_key(cfg(), x, y, "cuda") != base


@pytest.mark.parametrize("damage", ["truncate", "garble", "header", "empty"])
def test_corrupt_entry_is_detected_and_recomputed(xy, tmp_path, damage):
    x, y = xy
    first = train.train(cfg(), x, y, cache_dir=tmp_path)
    path = tmp_path / "train" / f"{first.key}.pt"
    raw = bytearray(path.read_bytes())
    if damage == "truncate":
        raw = raw[: len(raw) // 2]
    elif damage == "garble":
        raw[-100] ^= 0xFF
    elif damage == "header":
        raw[:5] = b"XXXXX"
    else:
        raw = bytearray()
    path.write_bytes(bytes(raw))
    with pytest.warns(CacheWarning, match="corrupt"):
        again = train.train(cfg(), x, y, cache_dir=tmp_path)
    assert again.source == "trained" and again.steps > 0
    assert_same(first, again)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert train.train(cfg(), x, y, cache_dir=tmp_path).source == "cache"


class Interrupt(RuntimeError):
    pass


def _interrupt_at(epoch):
    def callback(e, model):
        if e == epoch:
            raise Interrupt(f"simulated interruption at epoch {e}")
    return callback


def test_resume_after_interruption_is_bit_identical(xy, tmp_path):
    x, y = xy
    reference = train.train(cfg(), x, y, cache=False)
    with pytest.raises(Interrupt):
        train.train(cfg(), x, y, cache_dir=tmp_path, callback=_interrupt_at(6))
    ckpts = list((tmp_path / "train").glob("*.ckpt"))
    assert len(ckpts) == 1 and not list((tmp_path / "train").glob("*.pt"))
    calls = []
    resumed = train.train(cfg(), x, y, cache_dir=tmp_path, callback=lambda e, m: calls.append(e))
    assert resumed.source == "resumed"
    assert calls == list(range(5, 13))  # resumed from the epoch-4 snapshot checkpoint
    assert resumed.steps == 8 * 4
    assert_same(reference, resumed)
    assert not list((tmp_path / "train").glob("*.ckpt"))
    assert train.train(cfg(), x, y, cache_dir=tmp_path).source == "cache"


def test_resume_from_time_based_checkpoint(xy, tmp_path, monkeypatch):
    x, y = xy
    c = cfg(snapshots=(0,), epochs=7, optimizer="adam", momentum=0.0, lr=0.01)
    reference = train.train(c, x, y, cache=False)
    with pytest.raises(Interrupt):  # checkpoint_seconds tiny: a checkpoint after every epoch
        train.train(c, x, y, cache_dir=tmp_path, callback=_interrupt_at(5), checkpoint_seconds=1e-9)
    resumed = train.train(c, x, y, cache_dir=tmp_path)
    assert resumed.source == "resumed" and resumed.steps == 2 * 4
    assert_same(reference, resumed)


def test_corrupt_checkpoint_is_ignored_with_a_warning(xy, tmp_path):
    x, y = xy
    with pytest.raises(Interrupt):
        train.train(cfg(), x, y, cache_dir=tmp_path, callback=_interrupt_at(6))
    ckpt = next((tmp_path / "train").glob("*.ckpt"))
    ckpt.write_bytes(ckpt.read_bytes()[:-10])
    with pytest.warns(CacheWarning):
        r = train.train(cfg(), x, y, cache_dir=tmp_path)
    assert r.source == "trained"
    assert_same(train.train(cfg(), x, y, cache=False), r)


def test_progress_resolution(monkeypatch, xy, capsys):
    monkeypatch.setenv("PAPERLIB_PROGRESS", "0")
    assert train.progress_enabled() is False
    monkeypatch.setenv("PAPERLIB_PROGRESS", "1")
    assert train.progress_enabled() is True
    monkeypatch.delenv("PAPERLIB_PROGRESS")
    assert train.progress_enabled() is False  # pytest's stderr is not a terminal
    assert train.progress_enabled(True) is True
    with pytest.raises(TypeError, match="progress"):
        train.progress_enabled("yes")
    x, y = xy
    train.train(cfg(epochs=3), x, y, cache=False)
    assert capsys.readouterr().err == ""
    train.train(cfg(epochs=3), x, y, cache=False, progress=True)
    assert "epoch" in capsys.readouterr().err


def test_threads_restored(xy):
    x, y = xy
    before = torch.get_num_threads()
    train.train(cfg(epochs=1), x, y, cache=False, num_threads=1)
    assert torch.get_num_threads() == before


def test_bad_data_and_arguments(xy, tmp_path):
    x, y = xy
    with pytest.raises(TypeError, match="config"):
        train.train({"widths": (2, 3, 2)}, x, y)
    with pytest.raises(TypeError, match="x must"):
        train.train(cfg(), x.long(), y)
    with pytest.raises(ValueError, match="x must have shape"):
        train.train(cfg(), x[:, :1], y)
    with pytest.raises(TypeError, match="y must"):
        train.train(cfg(), x, y.float())
    with pytest.raises(ValueError, match="y must have shape"):
        train.train(cfg(), x, y[:-1])
    with pytest.raises(ValueError, match="labels"):
        train.train(cfg(), x, y + 1)
    with pytest.raises(TypeError, match="callback"):
        train.train(cfg(), x, y, callback=3)
    with pytest.raises(ValueError, match="num_threads"):
        train.train(cfg(), x, y, num_threads=0)
    with pytest.raises(ValueError, match="checkpoint_seconds"):
        train.train(cfg(), x, y, checkpoint_seconds=0)
    with pytest.raises(TypeError, match="cache_dir"):
        train.cache_dir(3)
    assert not os.path.exists(tmp_path / "train")
