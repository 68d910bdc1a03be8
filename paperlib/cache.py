r"""The one on-disk cache of paperlib: training runs and geometry measurements alike.

Layout. ``<root>/<namespace>/<key><suffix>``, where ``root`` is the ``path`` given, else ``$PAPERLIB_CACHE``, else
``~/.cache/paperlib``; ``namespace`` is ``"train"``, ``"geometry"``, ...; ``key`` is the SHA-256 (hex) of a JSON
description of everything that determines the entry (:func:`key`), with the format version :data:`FORMAT` in it.

Integrity. Entries are written atomically (a temporary file in the same folder, ``fsync``, then
:func:`os.replace`) and start with a header holding the SHA-256 of their payload. On reading, a truncated, garbled
or foreign file, or one whose stored key differs, is reported with a :class:`CacheWarning`, removed and treated as
a miss: a corrupt entry is recomputed, never trusted.

Keys. :func:`key` hashes a JSON description; :func:`fingerprint` stands for tensors in it, :func:`code_digest` for the
code that computes an entry, :func:`model_fingerprint` for a model's definition and initialisation,
:func:`data_fingerprint` for training data and :func:`describe` for a loss or evaluation function (the parts of the
key of a training run, :func:`paperlib.train.run_key`).

Failures never lose work. The root is checked once, before any work (:meth:`Cache.open`): it must exist or be
creatable, be a folder and be writable, else one :class:`CacheError` says which and how to choose another
(``PAPERLIB_CACHE``). After that, every OS error on a read is a miss with a :class:`CacheWarning`, and every OS error
on a write is a :class:`CacheWarning` saying that the result was not cached: the caller keeps its result.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import io
import json
import os
import tempfile
import types
import warnings
from pathlib import Path

import torch

from ._checks import writable_folder_problem

__all__ = ["FORMAT", "Cache", "CacheError", "CacheWarning", "root", "key", "fingerprint", "code_digest",
           "model_fingerprint", "data_fingerprint", "describe"]

#: Version of the cache layout, part of every key; bump it to invalidate every stored entry.
FORMAT = 2
_MAGIC = b"PAPERLIB-CACHE-1\n"
_DIGEST_LEN = 64


class CacheWarning(UserWarning):
    """A cache entry could not be read (corrupt, unreadable) or written; the result is recomputed or not stored."""


class CacheError(ValueError):
    """The cache root cannot be used (not a folder, cannot be created, not writable)."""


def root(path: str | os.PathLike | None = None) -> Path:
    """The cache root: ``path`` if given, else ``$PAPERLIB_CACHE``, else ``~/.cache/paperlib`` (not checked)."""
    if path is None:
        path = os.environ.get("PAPERLIB_CACHE") or Path.home() / ".cache" / "paperlib"
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"cache_dir must be a path or None; got {type(path).__name__}")
    return Path(path).expanduser()


def key(description: object) -> str:
    """SHA-256 (hex) of ``json.dumps({"format": FORMAT, "entry": description}, sort_keys=True)``.

    ``description`` must be JSON-serialisable (dicts, lists, strings, numbers, ``None``); use :func:`fingerprint`
    for tensors.
    """
    try:
        blob = json.dumps({"format": FORMAT, "entry": description}, sort_keys=True, allow_nan=True)
    except TypeError as exc:
        raise TypeError(f"description must be JSON-serialisable (use paperlib.cache.fingerprint for tensors): "
                        f"{exc}") from None
    return hashlib.sha256(blob.encode()).hexdigest()


def fingerprint(*tensors: torch.Tensor) -> str:
    """SHA-256 hex digest of the dtypes, shapes and bytes of ``tensors`` (the data part of cache keys)."""
    h = hashlib.sha256()
    for i, t in enumerate(tensors):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"tensors[{i}] must be a torch.Tensor; got {type(t).__name__}")
        t = t.detach().cpu().contiguous()
        h.update(f"{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def code_digest(*functions: object) -> str:
    """SHA-256 hex digest of the code of ``functions`` (bytecode, constants and the names they use): the part of a
    measurement's cache key that changes when the code that measures changes, so that an edited function never
    returns an entry stored by its previous version. Objects without code (builtins) enter by their names."""
    h = hashlib.sha256()
    for fn in functions:
        code = getattr(fn, "__code__", None) or getattr(getattr(fn, "__call__", None), "__code__", None)
        h.update(f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', type(fn).__qualname__)}|".encode())
        if code is not None:
            _update_code(h, code)
    return h.hexdigest()


def _update_code(h, code: types.CodeType) -> None:
    """Feed ``code`` into ``h``: bytecode, names and constants, nested code objects (comprehensions, lambdas) by
    their own content -- never by ``repr``, which holds a memory address that changes from process to process."""
    h.update(code.co_code + repr((code.co_names, code.co_varnames)).encode())
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _update_code(h, const)
        else:
            h.update(repr(const).encode())


def model_fingerprint(model: torch.nn.Module) -> str:
    """SHA-256 of a model's definition: its class and the class's source code, its ``repr`` (architecture) and
    its parameters and buffers (names, dtypes, shapes, values: the initialisation)."""
    cls = type(model)
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        source = ""
    state = model.state_dict()
    names = sorted(state)
    return key({"class": f"{cls.__module__}.{cls.__qualname__}", "source": source, "repr": repr(model),
                "names": names, "state": fingerprint(*(state[n] for n in names))})


def describe(fn: object) -> object:
    """What of a loss or evaluation function enters a cache key: its ``description`` attribute if it has one,
    else its qualified name and a digest of its code (bytecode, constants and referenced names,
    :func:`code_digest`), so that editing a function, even a lambda, gives a new key; ``None`` for ``None``."""
    if fn is None:
        return None
    desc = getattr(fn, "description", None)
    if desc is not None:
        return desc
    if isinstance(fn, functools.partial):
        return {"partial": describe(fn.func), "args": repr(fn.args), "kwargs": repr(sorted(fn.keywords.items()))}
    name = f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', type(fn).__qualname__)}"
    if getattr(fn, "__code__", None) is None and getattr(getattr(fn, "__call__", None), "__code__", None) is None:
        return name
    return {"name": name, "code": code_digest(fn)}


def _is_tensor_data(data: object) -> bool:
    """Whether ``data`` is in-memory training data: a non-empty tuple or list of tensors ``(x, y, ...)``."""
    return isinstance(data, (tuple, list)) and len(data) > 0 and all(isinstance(t, torch.Tensor) for t in data)


def data_fingerprint(data: object) -> str:
    """Fingerprint of training data for the cache key.

    In-memory tensors: their bytes (:func:`~paperlib.cache.fingerprint`). A ``DataLoader``: its dataset's
    ``fingerprint()`` method if it has one, else the tensors of a ``TensorDataset``, together with the loader's batch
    size, ``drop_last`` and sampler type. Anything else raises ``TypeError``: pass ``data_key=`` to
    :func:`paperlib.train.train`.
    """
    if _is_tensor_data(data):
        return fingerprint(*data)
    if isinstance(data, torch.utils.data.DataLoader):
        ds = data.dataset
        if callable(getattr(ds, "fingerprint", None)):
            inner = ds.fingerprint()
        elif isinstance(ds, torch.utils.data.TensorDataset):
            inner = fingerprint(*ds.tensors)
        else:
            inner = None
        if inner is not None:
            return key({"dataset": inner, "batch_size": data.batch_size, "drop_last": data.drop_last,
                        "sampler": type(data.sampler).__name__})
    raise TypeError(f"data of type {type(data).__name__} cannot be fingerprinted for the cache key: pass "
                    "data_key='<a string that changes whenever the data change>' (or cache=False)")


def _warn(message: str) -> None:
    warnings.warn(message, CacheWarning, stacklevel=4)


class Cache:
    """A checked cache root, or a disabled cache (every load a miss, every save a no-op).

    Build it with :meth:`open`. ``load``/``save``/``remove`` take a namespace (a sub-folder), a key and a suffix.
    """

    def __init__(self, path: Path | None):
        self.path = path

    @classmethod
    def open(cls, path: str | os.PathLike | None = None, *, enabled: bool = True) -> "Cache":
        """Resolve (:func:`root`) and check the root before any work; ``enabled=False`` gives a disabled cache.

        Raises :class:`CacheError` naming the folder when it is not a folder, cannot be created or is not
        writable.
        """
        if not isinstance(enabled, bool):
            raise TypeError(f"cache must be True or False; got {enabled!r}")
        if not enabled:
            return cls(None)
        where = root(path)
        hint = ("; choose another folder with cache_dir=... or the environment variable PAPERLIB_CACHE, "
                "or pass cache=False")
        problem = writable_folder_problem(where)
        if problem:
            raise CacheError(f"the paperlib cache root {where} {problem}{hint}")
        return cls(where)

    @property
    def enabled(self) -> bool:
        """Whether entries are read and written."""
        return self.path is not None

    def file(self, namespace: str, key: str, suffix: str = ".pt") -> Path | None:
        """``<root>/<namespace>/<key><suffix>`` (``None`` for a disabled cache)."""
        return None if self.path is None else self.path / namespace / f"{key}{suffix}"

    def load(self, namespace: str, key: str, suffix: str = ".pt") -> dict | None:
        """The payload stored under ``key``, or ``None`` (absent, disabled, corrupt or unreadable: a miss).

        A corrupt entry (bad header, checksum mismatch, unreadable payload, another key) is removed and reported
        with a :class:`CacheWarning`; an OS error (permissions, a folder in the entry's place) is reported and
        left alone.
        """
        path = self.file(namespace, key, suffix)
        if path is None:
            return None
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            _warn(f"paperlib cache entry {path} cannot be read ({type(exc).__name__}: {exc.strerror or exc}); "
                  "recomputing")
            return None
        problem = None
        head = len(_MAGIC) + _DIGEST_LEN + 1
        if not data.startswith(_MAGIC) or len(data) < head or data[head - 1: head] != b"\n":
            problem = "bad header (truncated or not a paperlib cache file)"
        else:
            digest, body = data[len(_MAGIC): head - 1].decode("ascii", "replace"), data[head:]
            if hashlib.sha256(body).hexdigest() != digest:
                problem = "checksum mismatch (truncated or garbled)"
            else:
                try:
                    payload = torch.load(io.BytesIO(body), map_location="cpu", weights_only=True)
                except Exception as exc:  # noqa: BLE001 - any unreadable payload is a corrupt entry
                    problem = f"unreadable payload ({type(exc).__name__})"
                else:
                    if not isinstance(payload, dict) or payload.get("key") != key:
                        problem = "key mismatch"
                    else:
                        return payload
        _warn(f"paperlib cache entry {path} is corrupt: {problem}; recomputing")
        with contextlib.suppress(OSError):
            path.unlink()
        return None

    def save(self, namespace: str, key: str, payload: dict, suffix: str = ".pt") -> bool:
        """Store ``payload`` (a dict of tensors and plain values; ``payload["key"]`` is set to ``key``) atomically
        with a checksum header. Returns whether it was stored; an OS error (disk full, permissions) is a
        :class:`CacheWarning`, never an exception, so a finished result is never lost to the cache."""
        path = self.file(namespace, key, suffix)
        if path is None:
            return False
        buf = io.BytesIO()
        torch.save({**payload, "key": key}, buf)
        body = buf.getvalue()
        data = _MAGIC + hashlib.sha256(body).hexdigest().encode() + b"\n" + body
        tmp = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
            return True
        except OSError as exc:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
            _warn(f"paperlib could not write the cache entry {path} ({type(exc).__name__}: {exc.strerror or exc}); "
                  "the result is returned but not cached")
            return False

    def remove(self, namespace: str, key: str, suffix: str = ".pt") -> None:
        """Delete an entry if present (errors ignored)."""
        path = self.file(namespace, key, suffix)
        if path is not None:
            with contextlib.suppress(OSError):
                path.unlink()

    def __repr__(self) -> str:
        return f"Cache({str(self.path)!r})" if self.enabled else "Cache(disabled)"
