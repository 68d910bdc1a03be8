"""paperlib.data.cifar10: the real CIFAR-10 python format, from a generated archive served locally (file:// and a
server on 127.0.0.1); checksum failure, extraction, loading, normalisation, augmentation and the offline error."""

import pytest
import torch

from cifar_fakes import write_fake_cifar10
from paperlib import data


@pytest.fixture()
def archive(tmp_path):
    path = tmp_path / "served" / "cifar-10-python.tar.gz"
    md5, arrays = write_fake_cifar10(path)
    return path, md5, arrays


def test_download_from_a_file_url_extract_and_load(archive, tmp_path):
    path, md5, arrays = archive
    store = tmp_path / "store"
    x, y = data.cifar10("train", data_dir=store, url=path.as_uri(), md5=md5, normalize=False)
    images, labels = arrays["train"]
    assert x.shape == (50, 3, 32, 32) and x.dtype == torch.float32 and y.dtype == torch.long
    assert torch.equal(x, torch.from_numpy(images).float() / 255) and torch.equal(y, torch.from_numpy(labels))
    assert (store / "cifar-10-batches-py" / "test_batch").is_file()
    assert not [p for p in store.iterdir() if p.name.startswith(".extract-")]  # no temporary folder left
    # normalised: (x - mean) / std per channel; the test split; a second call reads the folder (source gone)
    path.unlink()
    xt, yt = data.cifar10("test", data_dir=store, url=path.as_uri(), md5=md5)
    raw = torch.from_numpy(arrays["test"][0]).float() / 255
    mean = torch.tensor(data.CIFAR10_MEAN)[:, None, None]
    std = torch.tensor(data.CIFAR10_STD)[:, None, None]
    assert xt.shape == (6, 3, 32, 32) and torch.allclose(xt, (raw - mean) / std, atol=1e-6)
    assert torch.equal(yt, torch.from_numpy(arrays["test"][1]))


def test_download_over_http_from_localhost(archive, http_folder, tmp_path):
    path, md5, _ = archive
    folder, base = http_folder
    (folder / path.name).write_bytes(path.read_bytes())
    got = data.fetch_cifar10(data_dir=tmp_path / "store", url=base + path.name, md5=md5)
    assert got == tmp_path / "store" / "cifar-10-batches-py" and (got / "data_batch_5").is_file()


def test_checksum_failure_is_clear_and_leaves_nothing(archive, tmp_path):
    path, md5, _ = archive
    store = tmp_path / "store"
    wrong = "0" * 32
    with pytest.raises(ValueError, match="checksum mismatch") as err:
        data.fetch_cifar10(data_dir=store, url=path.as_uri(), md5=wrong)
    assert wrong in str(err.value)
    assert not list(store.iterdir())  # no partial archive, no extracted folder


def test_missing_data_names_the_folder_and_the_command(tmp_path):
    store = tmp_path / "nowhere"
    with pytest.raises(data.DataUnavailableError) as err:
        data.cifar10(data_dir=store, download=False)
    msg = str(err.value)
    assert str(store) in msg and "paperlib.data.fetch_cifar10()" in msg and "book preset" in msg
    with pytest.raises(data.DataUnavailableError, match="could not be downloaded"):
        data.cifar10(data_dir=store, url=(tmp_path / "absent.tar.gz").as_uri())
    assert not [p for p in store.iterdir() if p.suffix == ".gz"]


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="split"):
        data.cifar10("validation", data_dir=tmp_path)
    with pytest.raises(ValueError, match="md5"):
        data.fetch_cifar10(data_dir=tmp_path, url="file:///x", md5="abc")
    with pytest.raises(ValueError, match="url"):
        data.fetch_cifar10(data_dir=tmp_path, url="no url")


def test_augmentation_is_per_sample_seeded_and_shape_preserving():
    aug = data.cifar10_augmentation()
    x = torch.rand(3, 32, 32)
    torch.manual_seed(0)
    a = torch.stack([aug(x) for _ in range(8)])
    torch.manual_seed(0)
    b = torch.stack([aug(x) for _ in range(8)])
    assert a.shape == (8, 3, 32, 32) and torch.equal(a, b)  # seeded
    assert len({tuple(v.flatten()[:64].tolist()) for v in a}) > 1  # different draws per sample
    # every output is the image shifted by at most 4 pixels (and maybe flipped), with zeros coming in
    assert bool(((a == 0) | torch.isin(a, x)).all())


def test_concurrent_fetches_into_one_folder_never_disturb_a_reader(tmp_path):
    # Chapter 8 loads the data in a thread beside the networks' loader: two fetches into one folder at once. The
    # second to finish must not remove the folder the first is already reading (a reader once lost data_batch_4).
    import concurrent.futures

    path = tmp_path / "served" / "cifar-10-python.tar.gz"
    md5, arrays = write_fake_cifar10(path, n_train=200, n_test=50)
    for round_ in range(6):
        store = tmp_path / f"store{round_}"
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            jobs = [pool.submit(data.cifar10, split, data_dir=store, url=path.as_uri(), md5=md5, normalize=False)
                    for split in ("train", "test") * 4]
            results = [job.result() for job in jobs]
        for (x, y), split in zip(results, ("train", "test") * 4):
            assert torch.equal(x, torch.from_numpy(arrays[split][0]).float() / 255)
            assert torch.equal(y, torch.from_numpy(arrays[split][1]))
        assert [p.name for p in store.iterdir() if p.name.startswith(".extract-")] == []
