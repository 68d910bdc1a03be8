"""paperlib.train: seeded training of any model, snapshots, the cache (hits, keys, corruption) and exact resuming."""

import functools
import math
import os
import warnings

import pytest
import torch
from torch import nn
import kornia.augmentation as K

from paperlib import cache, data, train, workers
from paperlib.cache import CacheWarning
from paperlib.models import MLP
from paperlib.train import TrainConfig


@pytest.fixture()
def xy():
    return data.sinusoid(40, seed=3)


def cfg(**kw):
    base = dict(lr=0.5, momentum=0.9, batch_size=10, epochs=12, snapshots=(0, 4, 8), seed=1)
    base.update(kw)
    if "snapshots" not in kw:
        base["snapshots"] = tuple(s for s in base["snapshots"] if s <= base["epochs"])
    return TrainConfig(**base)


def mlp(widths=(2, 16, 2), activation="sigmoid", init="paper"):
    return functools.partial(MLP, widths, activation, init=init)


def fit(c, x, y, model=None, **kw):
    """The MLP classifier of chapters 5-6: cross-entropy, full-data loss and accuracy after every epoch."""
    return train.train(model or mlp(), (x, y), c, evaluate=train.classification_metrics(x, y), **kw)


def assert_same(a: train.TrainResult, b: train.TrainResult):
    assert a.epochs == b.epochs
    for e in a.epochs:
        for k in a.snapshots[e]:
            assert torch.equal(a.snapshots[e][k], b.snapshots[e][k]), (e, k)
    assert sorted(a.history) == sorted(b.history)
    for k in a.history:
        torch.testing.assert_close(a.history[k], b.history[k], rtol=0, atol=0, equal_nan=True, msg=k)


def test_config_normalises_snapshots_and_validates():
    c = cfg(snapshots=[8, 0, 4, 4])
    assert c.snapshots == (0, 4, 8, 12)
    for bad, match in [
        (dict(optimizer="rmsprop"), "optimizer"), (dict(lr=0.0), "lr"), (dict(momentum=1.0), "momentum"),
        (dict(optimizer="adam", momentum=0.9), "momentum"), (dict(weight_decay=-1.0), "weight_decay"),
        (dict(batch_size=0), "batch_size"), (dict(epochs=-1), "epochs"), (dict(snapshots=(13,)), "snapshots"),
        (dict(schedule="step"), "schedule"), (dict(clip_norm=0.0), "clip_norm"), (dict(dtype="float16"), "dtype"),
    ]:
        with pytest.raises(ValueError, match=match):
            cfg(**bad)
    with pytest.raises(TypeError, match="seed"):
        cfg(seed="1")


def test_epoch_zero_is_the_initialisation_and_training_learns(xy, tmp_path):
    x, y = xy
    r = fit(cfg(epochs=40, snapshots=(0, 40)), x, y, cache_dir=tmp_path)
    torch.manual_seed(1)  # the trainer builds the model with the global RNG seeded by config.seed
    init = MLP((2, 16, 2), "sigmoid").state_dict()
    assert all(torch.equal(init[k], r.snapshots[0][k]) for k in init)
    assert r.steps == 40 * 4 and r.source == "trained"
    assert float(r.history["loss"][-1]) < float(r.history["loss"][0])
    assert math.isnan(r.history["train_loss"][0]) and r.history["train_loss"][1:].isfinite().all()
    m = r.model(40)
    assert not m.training and torch.equal(m.layers[0].weight, r.snapshots[40]["layers.0.weight"])
    with pytest.raises(ValueError, match="epoch"):
        r.model(3)


def test_same_seed_same_result_and_full_batch_and_adam(xy):
    x, y = xy
    a = fit(cfg(), x, y, cache=False)
    b = fit(cfg(), x, y, cache=False)
    assert_same(a, b)
    assert not torch.equal(a.snapshots[12]["layers.0.weight"],
                           fit(cfg(seed=2), x, y, cache=False).snapshots[12]["layers.0.weight"])
    full = fit(cfg(batch_size=None, epochs=5), x, y, cache=False)
    assert full.steps == 5
    adam = fit(cfg(optimizer="adam", momentum=0.0, lr=1e-2, epochs=3), x, y, cache=False)
    assert adam.steps == 12


def test_caller_rng_untouched(xy):
    x, y = xy
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    fit(cfg(epochs=2), x, y, cache=False)
    assert torch.equal(torch.rand(3), expected)


def test_cache_hit_avoids_training(xy, tmp_path):
    x, y = xy
    first = fit(cfg(), x, y, cache_dir=tmp_path)
    calls = []
    second = fit(cfg(), x, y, cache_dir=tmp_path, callback=lambda e, m: calls.append(e))
    assert second.source == "cache" and second.steps == 0 and calls == []
    assert_same(first, second)
    files = sorted(p.name for p in (tmp_path / "train").iterdir())
    assert files == [f"{first.key}.pt"]  # no temporary or checkpoint files left behind


def test_cache_root_from_environment(xy, tmp_path, monkeypatch):
    x, y = xy
    monkeypatch.setenv("PAPERLIB_CACHE", str(tmp_path / "envcache"))
    r = fit(cfg(epochs=2), x, y)
    assert (tmp_path / "envcache" / "train" / f"{r.key}.pt").is_file()
    assert cache.root() == tmp_path / "envcache"


def key_of(c, x, y, model=None, device="cpu", evaluate="metrics", loss=None):
    net = train._build(model or mlp(), c.seed)
    ev = train.classification_metrics(x, y) if evaluate == "metrics" else evaluate
    return train.run_key(net, cache.data_fingerprint((x, y)), c, loss=loss, evaluate=ev, device=device)


def test_key_changes_with_config_model_data_and_functions(xy):
    x, y = xy
    base = key_of(cfg(), x, y)
    assert base == key_of(cfg(), x.clone(), y.clone())
    changes = [dict(lr=0.4), dict(momentum=0.8), dict(weight_decay=1e-4), dict(batch_size=20), dict(epochs=13),
               dict(snapshots=(0, 5)), dict(seed=2), dict(optimizer="adam", momentum=0.0), dict(schedule="cosine"),
               dict(clip_norm=1.0), dict(dtype="float64")]
    keys = {key_of(cfg(**c), x, y) for c in changes}
    assert len(keys) == len(changes) and base not in keys
    # a change of the model factory (architecture, activation, initialisation) changes the key
    models = [mlp((2, 17, 2)), mlp(activation="tanh"), mlp(init="pytorch")]
    mkeys = {key_of(cfg(), x, y, model=m) for m in models}
    assert len(mkeys) == 3 and base not in mkeys and not mkeys & keys
    x2 = x.clone()
    x2[3, 1] = 0.123
    y2 = y.clone()
    y2[0] = 1 - y2[0]
    assert key_of(cfg(), x2, y) != base and key_of(cfg(), x, y2) != base
    assert key_of(cfg(), x, y, device="cuda") != base
    assert key_of(cfg(), x, y, evaluate=None) != base
    assert key_of(cfg(), x, y, loss=lambda m, b: m(b[0]).sum()) != base
    # an edited function (even a lambda of the same name) is another key
    assert key_of(cfg(), x, y, loss=lambda m, b: m(b[0]).sum()) != key_of(cfg(), x, y, loss=lambda m, b: m(b[0]).mean())
    assert key_of(cfg(), x, y, loss=lambda m, b: m(b[0]).sum()) == key_of(cfg(), x, y, loss=lambda m, b: m(b[0]).sum())


def test_model_instance_and_bad_factory_refused(xy):
    x, y = xy
    with pytest.raises(TypeError, match="factory"):
        train.train(MLP((2, 4, 2)), (x, y), cfg())
    with pytest.raises(TypeError, match="nn.Module"):
        train.train(lambda: 3, (x, y), cfg(), cache=False)


@pytest.mark.parametrize("damage", ["truncate", "garble", "header", "empty"])
def test_corrupt_entry_is_detected_and_recomputed(xy, tmp_path, damage):
    x, y = xy
    first = fit(cfg(), x, y, cache_dir=tmp_path)
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
        again = fit(cfg(), x, y, cache_dir=tmp_path)
    assert again.source == "trained" and again.steps > 0
    assert_same(first, again)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert fit(cfg(), x, y, cache_dir=tmp_path).source == "cache"


class Interrupt(RuntimeError):
    pass


def _interrupt_at(epoch):
    def callback(e, model):
        if e == epoch:
            raise Interrupt(f"simulated interruption at epoch {e}")
    return callback


def test_resume_after_interruption_is_bit_identical(xy, tmp_path):
    x, y = xy
    reference = fit(cfg(), x, y, cache=False)
    with pytest.raises(Interrupt):
        fit(cfg(), x, y, cache_dir=tmp_path, callback=_interrupt_at(6))
    ckpts = list((tmp_path / "train").glob("*.ckpt"))
    assert len(ckpts) == 1 and not list((tmp_path / "train").glob("*.pt"))
    calls = []
    resumed = fit(cfg(), x, y, cache_dir=tmp_path, callback=lambda e, m: calls.append(e))
    assert resumed.source == "resumed"
    assert calls == list(range(5, 13))  # resumed from the epoch-4 snapshot checkpoint
    assert resumed.steps == 8 * 4
    assert_same(reference, resumed)
    assert not list((tmp_path / "train").glob("*.ckpt"))
    assert fit(cfg(), x, y, cache_dir=tmp_path).source == "cache"


def test_resume_from_time_based_checkpoint(xy, tmp_path):
    x, y = xy
    c = cfg(snapshots=(0,), epochs=7, optimizer="adam", momentum=0.0, lr=0.01, schedule="cosine")
    reference = fit(c, x, y, cache=False)
    with pytest.raises(Interrupt):  # checkpoint_seconds tiny: a checkpoint after every epoch
        fit(c, x, y, cache_dir=tmp_path, callback=_interrupt_at(5), checkpoint_seconds=1e-9)
    resumed = fit(c, x, y, cache_dir=tmp_path)
    assert resumed.source == "resumed" and resumed.steps == 2 * 4
    assert_same(reference, resumed)


def test_corrupt_checkpoint_is_ignored_with_a_warning(xy, tmp_path):
    x, y = xy
    with pytest.raises(Interrupt):
        fit(cfg(), x, y, cache_dir=tmp_path, callback=_interrupt_at(6))
    ckpt = next((tmp_path / "train").glob("*.ckpt"))
    ckpt.write_bytes(ckpt.read_bytes()[:-10])
    with pytest.warns(CacheWarning):
        r = fit(cfg(), x, y, cache_dir=tmp_path)
    assert r.source == "trained"
    assert_same(fit(cfg(), x, y, cache=False), r)


# ------------------------------------------------------------------------------------------------------------------
# any model: schedules, clipping, a CNN with batch norm and augmentation, two views
# ------------------------------------------------------------------------------------------------------------------


class Bias(nn.Module):
    """One parameter w (init 0); loss = sum(w * g) has the constant gradient g: each SGD step moves w by -lr_t g."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(3))


def _linear_loss(g):
    def loss(model, batch):
        return (model.w * g).sum() + 0 * batch[0].sum()
    loss.description = f"linear {g.tolist()}"
    return loss


@pytest.mark.parametrize("schedule", ["constant", "linear", "cosine"])
def test_schedules_follow_their_formula(schedule):
    T, lr = 12, 0.1  # 4 epochs x 3 steps
    x = torch.zeros(6, 1)
    g = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    c = TrainConfig(lr=lr, momentum=0.0, batch_size=2, epochs=4, schedule=schedule, dtype="float64")
    r = train.train(Bias, (x,), c, loss=_linear_loss(g), cache=False)
    t = torch.arange(T, dtype=torch.float64)
    factor = {"constant": torch.ones(T, dtype=torch.float64), "linear": 1 - t / T,
              "cosine": 0.5 * (1 + torch.cos(math.pi * t / T))}[schedule]
    expected = -lr * factor.sum() * g
    assert r.steps == T
    torch.testing.assert_close(r.snapshots[4]["w"], expected, rtol=1e-13, atol=1e-15)


def test_gradient_clipping_bounds_each_step():
    g = torch.tensor([30.0, -40.0, 0.0], dtype=torch.float64)  # norm 50, clipped to 0.5: each step moves by lr*g/100
    c = TrainConfig(lr=0.1, momentum=0.0, batch_size=None, epochs=5, clip_norm=0.5, dtype="float64")
    r = train.train(Bias, (torch.zeros(4, 1),), c, loss=_linear_loss(g), cache=False)
    coef = 0.5 / (50 + 1e-6)  # torch.nn.utils.clip_grad_norm_ divides by (norm + 1e-6)
    torch.testing.assert_close(r.snapshots[5]["w"], -5 * 0.1 * coef * g, rtol=1e-13, atol=1e-15)


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                                  nn.Conv2d(4, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        return self.head(self.body(x))


def _images(n=24, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 12, 12, generator=gen), torch.randint(0, 3, (n,), generator=gen)


def _loader(views=1, crop=True):
    x, y = _images()
    aug = nn.Sequential(K.RandomCrop((12, 12), padding=2, keepdim=True), K.RandomHorizontalFlip(keepdim=True)) if crop \
        else None
    ds = data.AugmentedTensors(x, y, aug, views=views)
    return torch.utils.data.DataLoader(ds, batch_size=8, shuffle=True)


def test_cnn_with_batch_norm_and_augmentation_resumes_to_the_identical_state(tmp_path):
    c = cfg(lr=0.05, batch_size=None, epochs=4, snapshots=(0, 2), schedule="linear", clip_norm=5.0)
    x, y = _images()
    ev = train.classification_metrics(x, y)
    reference = train.train(SmallCNN, _loader(), c, evaluate=ev, cache=False)
    # batch norm: running statistics move during training, and the snapshot is taken in eval mode
    assert not torch.equal(reference.snapshots[0]["body.1.running_mean"], reference.snapshots[4]["body.1.running_mean"])
    assert int(reference.snapshots[4]["body.1.num_batches_tracked"]) == 4 * 3
    model = reference.model()
    assert isinstance(model, SmallCNN) and not model.training
    # the augmentation really is random per epoch: a run without it ends elsewhere
    plain = train.train(SmallCNN, _loader(crop=False), c, evaluate=ev, cache=False)
    assert not torch.equal(plain.snapshots[4]["head.weight"], reference.snapshots[4]["head.weight"])
    with pytest.raises(Interrupt):
        train.train(SmallCNN, _loader(), c, evaluate=ev, cache_dir=tmp_path, callback=_interrupt_at(3))
    resumed = train.train(SmallCNN, _loader(), c, evaluate=ev, cache_dir=tmp_path)
    assert resumed.source == "resumed" and resumed.steps == 2 * 3
    assert_same(reference, resumed)
    assert train.train(SmallCNN, _loader(), c, evaluate=ev, cache_dir=tmp_path).source == "cache"
    # another augmentation is another data set: a new key
    other = cache.data_fingerprint(_loader(crop=False))
    assert other != cache.data_fingerprint(_loader())


def test_batch_augmentation_loss_is_seeded_resumable_and_keyed(tmp_path):
    c = cfg(lr=0.05, batch_size=8, epochs=3, snapshots=(0, 1))
    x, y = _images()
    aug = data.cifar10_augmentation(12, 2, flip=True, fill=0.0)
    loss = train.augmented(aug)
    first = train.train(SmallCNN, (x, y), c, loss=loss, cache=False)
    assert_same(first, train.train(SmallCNN, (x, y), c, loss=train.augmented(aug), cache=False))
    plain = train.train(SmallCNN, (x, y), c, cache=False)
    assert not torch.equal(plain.snapshots[3]["head.weight"], first.snapshots[3]["head.weight"])
    with pytest.raises(Interrupt):
        train.train(SmallCNN, (x, y), c, loss=loss, cache_dir=tmp_path, callback=_interrupt_at(2))
    resumed = train.train(SmallCNN, (x, y), c, loss=loss, cache_dir=tmp_path)
    assert resumed.source == "resumed"
    assert_same(first, resumed)
    # the transform is part of the key: another padding is another run
    key = lambda lo: train.run_key(SmallCNN(), "d", c, loss=lo)  # noqa: E731
    assert key(loss) != key(train.augmented(data.cifar10_augmentation(12, 3))) and key(loss) != key(None)
    with pytest.raises(TypeError, match="transform"):
        train.augmented(3)
    with pytest.raises(TypeError, match="fill"):
        data.cifar10_augmentation(12, 2, fill="black")


def test_two_view_loss():
    seen = []

    def agreement(model, batch):
        (v1, v2), _ = batch
        seen.append(bool((v1 != v2).any()))
        z1, z2 = model.body(v1), model.body(v2)
        return ((z1 - z2) ** 2).sum(1).mean()

    c = cfg(lr=0.05, batch_size=None, epochs=3, snapshots=(0,))
    r = train.train(SmallCNN, _loader(views=2), c, loss=agreement, cache=False)
    assert r.steps == 9 and all(seen)  # every batch held two different draws of the same images
    assert r.history["train_loss"][1:].isfinite().all()
    again = train.train(SmallCNN, _loader(views=2), c, loss=agreement, cache=False)
    assert_same(r, again)


def test_iterable_without_fingerprint_needs_a_data_key(tmp_path):
    batches = [(torch.rand(4, 2), torch.randint(0, 2, (4,))) for _ in range(3)]
    c = cfg(batch_size=None, epochs=2, snapshots=(0,))
    with pytest.raises(TypeError, match="data_key"):
        train.train(mlp(), batches, c, cache_dir=tmp_path)
    r = train.train(mlp(), batches, c, data_key="three random batches", cache_dir=tmp_path)
    assert r.steps == 6
    assert train.train(mlp(), batches, c, data_key="three random batches", cache_dir=tmp_path).source == "cache"
    with pytest.raises(ValueError, match="batch_size"):
        train.train(SmallCNN, _loader(), cfg(batch_size=5), cache=False)


def test_train_many_in_worker_processes_equals_sequential(xy, tmp_path):
    x, y = xy
    jobs = [{"config": cfg(epochs=3, seed=s)} for s in (1, 2, 3)]
    common = dict(model=mlp(), data=(x, y), evaluate=train.classification_metrics(x, y))
    parallel = train.train_many(jobs, workers=2, cache_dir=tmp_path, **common)
    sequential = train.train_many(jobs, workers=1, cache=False, **common)
    for a, b in zip(parallel, sequential):
        assert a.source == "trained" and a.key == b.key
        assert_same(a, b)
    again = train.train_many(jobs, workers=2, cache_dir=tmp_path, **common)
    assert [r.source for r in again] == ["cache"] * 3
    # a model defined here (in a test module that workers can import) or in __main__ works either way
    assert workers.parallel_map(abs, [-1, 2, -3], workers=2) == [1, 2, 3]
    with pytest.raises(ValueError, match="callback"):
        train.train_many(jobs, callback=lambda e, m: None, **common)
    with pytest.raises(ValueError, match="workers"):
        workers.parallel_map(abs, [1], workers=0)


def test_progress_resolution(monkeypatch, xy, capsys):
    monkeypatch.setenv("PAPERLIB_PROGRESS", "0")
    assert workers.progress_enabled() is False
    monkeypatch.setenv("PAPERLIB_PROGRESS", "1")
    assert workers.progress_enabled() is True
    monkeypatch.delenv("PAPERLIB_PROGRESS")
    assert workers.progress_enabled() is False  # pytest's stderr is not a terminal
    assert workers.progress_enabled(True) is True
    with pytest.raises(TypeError, match="progress"):
        workers.progress_enabled("yes")
    x, y = xy
    fit(cfg(epochs=3), x, y, cache=False)
    assert capsys.readouterr().err == ""
    fit(cfg(epochs=3), x, y, cache=False, progress=True)
    assert "epoch" in capsys.readouterr().err


def test_threads_restored(xy):
    x, y = xy
    before = torch.get_num_threads()
    fit(cfg(epochs=1), x, y, cache=False, num_threads=1)
    assert torch.get_num_threads() == before


def test_bad_data_and_arguments(xy, tmp_path):
    x, y = xy
    with pytest.raises(TypeError, match="config"):
        train.train(mlp(), (x, y), {"lr": 0.1})
    with pytest.raises(TypeError, match="data"):
        train.train(mlp(), x, cfg())
    with pytest.raises(ValueError, match="first dimension"):
        train.train(mlp(), (x, y[:-1]), cfg())
    with pytest.raises(ValueError, match="NaN"):
        train.train(mlp(), (x * math.nan, y), cfg())
    with pytest.raises(TypeError, match="y a torch.long"):
        train.classification_metrics(x, y.float())
    with pytest.raises(TypeError, match="callback"):
        train.train(mlp(), (x, y), cfg(), callback=3)
    with pytest.raises(ValueError, match="num_threads"):
        train.train(mlp(), (x, y), cfg(), num_threads=0)
    with pytest.raises(ValueError, match="checkpoint_seconds"):
        train.train(mlp(), (x, y), cfg(), checkpoint_seconds=0)
    with pytest.raises(TypeError, match="cache_dir"):
        cache.root(3)
    with pytest.raises(TypeError, match="scalar"):
        train.train(mlp(), (x, y), cfg(epochs=1), loss=lambda m, b: m(b[0]), cache=False)
    assert not os.path.exists(tmp_path / "train")
