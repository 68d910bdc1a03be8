"""What the data sets share: the folder they are kept in, a ``file://`` downloader for pooch, the one error for data
that is neither on disk nor downloadable, and :class:`AugmentedTensors`, in-memory examples drawn through a
per-sample augmentation."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import torch

from .. import cache as _cache
from .._checks import check_int

__all__ = ["DataUnavailableError", "unavailable", "AugmentedTensors"]


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
