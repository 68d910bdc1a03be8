"""A tiny archive in the exact format of the CIFAR-10 python release (written here, never downloaded)."""

from __future__ import annotations

import hashlib
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np


def write_fake_cifar10(path: Path, n_train: int = 10, n_test: int = 6, seed: int = 0) -> tuple[str, dict]:
    """Write ``cifar-10-python.tar.gz`` to ``path`` (a file): the folder ``cifar-10-batches-py/`` with five
    ``data_batch_i`` of ``n_train`` images each, a ``test_batch`` and ``batches.meta``, each a pickled dict holding
    ``data`` ``(N, 3072)`` uint8 (channel-major rows) and ``labels`` (a list of ints), as in the real release.
    Returns the archive's MD5 and ``{split: (images (N, 3, 32, 32) uint8, labels (N,))}``."""
    rng = np.random.default_rng(seed)
    members, arrays = {}, {"train": ([], []), "test": ([], [])}
    batches = [*((f"data_batch_{i}", n_train, "train") for i in range(1, 6)), ("test_batch", n_test, "test")]
    for b, (name, n, split) in enumerate(batches):
        data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        # classes in turn across the batches (so every class is present once a split has 10 images), shuffled
        labels = [int(v) for v in rng.permutation((np.arange(n) + b * n) % 10)]
        members[name] = pickle.dumps({"batch_label": name, "labels": labels, "data": data,
                                      "filenames": [f"{name}_{i}.png" for i in range(n)]}, protocol=2)
        arrays[split][0].append(data.reshape(n, 3, 32, 32))
        arrays[split][1].append(np.asarray(labels))
    members["batches.meta"] = pickle.dumps({"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog",
                                                            "frog", "horse", "ship", "truck"]}, protocol=2)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, blob in members.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())
    split = {k: (np.concatenate(v[0]), np.concatenate(v[1])) for k, v in arrays.items()}
    return hashlib.md5(buf.getvalue()).hexdigest(), split
