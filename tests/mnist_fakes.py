"""Small files in the real MNIST IDX format for tests (never downloaded: written here and served locally)."""

from __future__ import annotations

import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np

_CODES = {("u", 1): 0x08, ("i", 1): 0x09, ("i", 2): 0x0B, ("i", 4): 0x0C, ("f", 4): 0x0D, ("f", 8): 0x0E}


def idx_bytes(arr: np.ndarray) -> bytes:
    """Encode ``arr`` as an IDX file: magic (0, 0, type code, ndim), big-endian uint32 sizes, big-endian data."""
    arr = np.asarray(arr)
    code = _CODES[(arr.dtype.kind, arr.dtype.itemsize)]
    data = arr.astype(arr.dtype.newbyteorder(">"))
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + data.tobytes()


def write_fake_mnist(folder: Path, n_train: int = 120, n_test: int = 40, seed: int = 0) -> dict[str, str]:
    """Write the four gzipped IDX files of a fake MNIST (28 x 28 uint8 images, every class 0..9 present in both
    splits, each class a different blob so that it is learnable) into ``folder``; return ``{name: sha256}``."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)

    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = np.arange(n) % 10
        rng.shuffle(labels)
        images = rng.integers(0, 40, size=(n, 28, 28)).astype(np.uint8)
        images[:, :2, :] = 0  # blank rows, as in MNIST
        for i, c in enumerate(labels):
            r, q = divmod(int(c), 5)
            images[i, 4 + 10 * r: 12 + 10 * r, 2 + 5 * q: 6 + 5 * q] = 255
        return images, labels.astype(np.uint8)

    files = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images, labels = split(n)
        files[f"{prefix}-images-idx3-ubyte.gz"] = gzip.compress(idx_bytes(images))
        files[f"{prefix}-labels-idx1-ubyte.gz"] = gzip.compress(idx_bytes(labels))
    hashes = {}
    for name, blob in files.items():
        (folder / name).write_bytes(blob)
        hashes[name] = hashlib.sha256(blob).hexdigest()
    return hashes
