"""CIFAR-10: the python archive, downloaded with its published checksum, or an existing local folder; and the
training augmentation of the papers (random crop and flip, kornia)."""

from __future__ import annotations

import hashlib
import logging
import numbers
import os
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from .._checks import check_bool, check_choice, check_float_dtype, check_int
from .common import _copy_file_url, _data_dir, unavailable

__all__ = ["CIFAR10_URL", "CIFAR10_MD5", "CIFAR10_MEAN", "CIFAR10_STD", "CIFAR10_CLASSES", "fetch_cifar10",
           "cifar10", "cifar10_augmentation"]

#: The CIFAR-10 python archive (163 MB) and its MD5 as published on the data set's page.
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
#: Per-channel mean and standard deviation of the training images (the normalisation of the authors' scripts).
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2023, 0.1994, 0.2010)
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
_CIFAR_FOLDER = "cifar-10-batches-py"
_CIFAR_BATCHES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
_CIFAR_FETCH = 'python -c "import paperlib; paperlib.data.fetch_cifar10()"'
_CIFAR_FILES = ["cifar-10-python.tar.gz", f"its extracted folder {_CIFAR_FOLDER}/"]
_CIFAR_OFFLINE = "for the book, use the chapters' book preset, which runs on the offline MNIST subset"


def _cifar_complete(folder: Path) -> bool:
    return all((folder / name).is_file() for names in _CIFAR_BATCHES.values() for name in names)


def fetch_cifar10(
    *,
    data_dir: str | os.PathLike | None = None,
    url: str | None = None,
    md5: str | None = None,
    progress: bool = False,
) -> Path:
    """Download the CIFAR-10 python archive (unless its extracted folder is already there), verify its MD5, and
    extract it; returns the folder ``<data_dir>/cifar-10-batches-py``.

    The archive is fetched by :func:`pooch.retrieve` into a temporary file, checked against ``md5`` (default
    :data:`CIFAR10_MD5`) and only then kept, so a mismatch or an interrupted download leaves no partial file; it
    is extracted into a temporary folder that is then renamed into place (members outside the archive's folder are
    refused). Fetches into one ``data_dir`` take turns under a lock (:mod:`filelock`, a file in the system's
    temporary folder): threads or processes that ask at once fetch once, and a complete folder is never removed
    under a reader.

    Args:
        data_dir: where the data live (default ``$PAPERLIB_CACHE/cifar10``, else ``~/.cache/paperlib/cifar10``).
        url: the archive's URL (default :data:`CIFAR10_URL`): ``http(s)://`` or ``file://`` (a local copy).
        md5: the expected MD5 (32 hex digits).
        progress: show pooch's download progress bar.

    Raises:
        ValueError: on a checksum mismatch (naming the URL and both hashes).
        DataUnavailableError: when the archive cannot be reached (naming the folder to place a copy in).
    """
    from filelock import FileLock

    folder = _data_dir(data_dir, "cifar10")
    target = folder / _CIFAR_FOLDER
    if _cifar_complete(target):
        return target
    source = CIFAR10_URL if url is None else url
    if not isinstance(source, str) or "://" not in source:
        raise ValueError(f"url must be a URL like 'https://host/cifar-10-python.tar.gz' or 'file:///path'; got {url!r}")
    digest = CIFAR10_MD5 if md5 is None else md5
    if not (isinstance(digest, str) and len(digest) == 32 and all(c in "0123456789abcdefABCDEF" for c in digest)):
        raise ValueError(f"md5 must be a 32-character hex digest; got {md5!r}")
    folder.mkdir(parents=True, exist_ok=True)
    # the lock lives in the temporary folder, named after this data folder, so a failed fetch leaves it untouched
    key = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:16]
    with FileLock(os.path.join(tempfile.gettempdir(), f"paperlib-cifar10-{key}.lock")):
        if _cifar_complete(target):  # fetched by another thread or process while this one waited
            return target
        return _fetch_and_extract(folder, target, source, digest, progress)


def _fetch_and_extract(folder: Path, target: Path, source: str, digest: str, progress: bool) -> Path:
    """The body of :func:`fetch_cifar10`, under its lock."""
    import pooch

    logger = pooch.get_logger()
    level = logger.level
    try:
        if not progress:
            logger.setLevel(logging.WARNING)
        archive = pooch.retrieve(source, known_hash=f"md5:{digest.lower()}", fname="cifar-10-python.tar.gz",
                                 path=folder, downloader=_copy_file_url if source.startswith("file://") else None,
                                 progressbar=progress)
    except OSError as exc:
        raise unavailable("CIFAR-10", source, folder, _CIFAR_FILES, exc, _CIFAR_OFFLINE, command=_CIFAR_FETCH,
                          url_argument="url") from exc
    except ValueError as exc:
        if "hash" not in str(exc).lower():
            raise
        raise ValueError(f"checksum mismatch for the CIFAR-10 archive downloaded from {source}: expected MD5 {digest}. "
                         f"The download was discarded (nothing was written to {folder}). Pooch reported: {exc}"
                         ) from exc
    finally:
        logger.setLevel(level)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".extract-") as tmp, tarfile.open(archive, "r:gz") as tar:
        members = [m for m in tar.getmembers() if m.name.startswith(_CIFAR_FOLDER + "/") and m.isfile()]
        tar.extractall(tmp, members=members, filter="data")
        if not _cifar_complete(Path(tmp) / _CIFAR_FOLDER):
            raise ValueError(f"the archive {archive} does not hold the CIFAR-10 batches under {_CIFAR_FOLDER}/")
        if target.exists():  # an incomplete folder (a complete one returned above, under the lock)
            shutil.rmtree(target)
        os.replace(Path(tmp) / _CIFAR_FOLDER, target)
    return target


def cifar10(
    split: str = "train",
    *,
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    url: str | None = None,
    md5: str | None = None,
    normalize: bool = True,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""CIFAR-10 images and labels: ``x: (N, 3, 32, 32)``, ``y: (N,)`` long (50,000 train / 10,000 test).

    Pixels are scaled to [0, 1] and, with ``normalize``, standardised per channel,
    :math:`(x_c - \mu_c)/\sigma_c` with :data:`CIFAR10_MEAN` and :data:`CIFAR10_STD` (the input space whose metric
    the deep chapters measure, as the authors' scripts do). The batches are read from ``<data_dir>/
    cifar-10-batches-py`` (an existing folder is used as it is), downloaded and extracted first by
    :func:`fetch_cifar10` when missing and ``download``. Random crops and flips belong to the training pipeline:
    see :func:`cifar10_augmentation`.

    Raises:
        DataUnavailableError: the data are neither on disk nor downloadable (naming the folder and the command
            that fetches them).
    """
    import pickle

    check_choice(split, "split", tuple(_CIFAR_BATCHES))
    dtype = check_float_dtype(dtype)
    folder = _data_dir(data_dir, "cifar10") / _CIFAR_FOLDER
    if not _cifar_complete(folder):
        if not download:
            raise unavailable("CIFAR-10", CIFAR10_URL if url is None else url, folder.parent, _CIFAR_FILES, None,
                              _CIFAR_OFFLINE, command=_CIFAR_FETCH, url_argument="url")
        folder = fetch_cifar10(data_dir=data_dir, url=url, md5=md5)
    images, labels = [], []
    for name in _CIFAR_BATCHES[split]:
        with open(folder / name, "rb") as fh:  # the data set's own format: pickled dicts of numpy arrays
            batch = pickle.load(fh, encoding="latin1")
        data = np.asarray(batch["data"], dtype=np.uint8)
        if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(batch["labels"]) != len(data):
            raise ValueError(f"{folder / name} is not a CIFAR-10 batch: data {data.shape}, "
                             f"{len(batch['labels'])} labels")
        images.append(data)
        labels.append(np.asarray(batch["labels"], dtype=np.int64))
    x = torch.from_numpy(np.concatenate(images)).reshape(-1, 3, 32, 32).to(dtype) / 255
    if normalize:
        mean = torch.tensor(CIFAR10_MEAN, dtype=dtype)[:, None, None]
        std = torch.tensor(CIFAR10_STD, dtype=dtype)[:, None, None]
        x = (x - mean) / std
    return x, torch.from_numpy(np.concatenate(labels))


def cifar10_augmentation(size: int = 32, padding: int = 4, *, flip: bool = True,
                         fill: float | Sequence[float] = 0.0):
    """The training augmentation of the papers, per sample: a random ``size x size`` crop of the image padded by
    ``padding`` pixels of value ``fill`` (one number, or one per channel), then, with ``flip``, a horizontal flip
    with probability 1/2 (kornia). An ``nn.Module`` mapping one image ``(C, H, W)`` or a batch ``(B, C, H, W)`` to
    the same shape, drawing per sample from torch's global RNG (which :func:`paperlib.train.train` seeds per epoch):
    use it per image with :class:`AugmentedTensors`, or per batch with :class:`paperlib.train.augmented`.

    On normalised images pass the normalised value of a black pixel, ``fill = -mean / std`` per channel, to pad as
    the usual pipeline does before it normalises (``fill=0`` would pad with the mean colour). Digits are not
    flipped (``flip=False``): a mirrored 2, 3 or 7 is no digit."""
    import kornia.augmentation as K
    from torch import nn

    check_int(size, "size", min=1)
    check_int(padding, "padding", min=0)
    check_bool(flip, "flip")
    values = [fill] if isinstance(fill, numbers.Real) else list(fill) if isinstance(fill, Sequence) else None
    if not values or not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values):
        raise TypeError(f"fill must be a number or a sequence of numbers (one per channel); got {fill!r}")
    crop = K.RandomCrop((size, size), padding=padding, fill=fill if len(values) > 1 else float(values[0]),
                        keepdim=True)
    return nn.Sequential(crop, K.RandomHorizontalFlip(keepdim=True)) if flip else nn.Sequential(crop)
