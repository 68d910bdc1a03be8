"""Input checks shared by the public functions: each error names the offending argument."""

from __future__ import annotations

import math
import numbers
import os
import tempfile
from pathlib import Path
from typing import Sequence

import torch


def resolve_device(device: str | torch.device | None, name: str = "device") -> torch.device | None:
    """``"auto"`` -> CUDA when present, else CPU; ``None`` -> keep tensors where they are.

    ``ValueError`` naming ``name`` for a string that is not a device, and for a CUDA device where torch has no
    CUDA (not compiled with it, or no GPU visible) or no GPU of that index (instead of torch's ``AssertionError``
    on first use)."""
    if device is None:
        return None
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"{name}={device!r} is not a valid torch device or 'auto'") from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            why = ("this torch is built without CUDA" if not torch.backends.cuda.is_built() else
                   "no CUDA device is visible")
            raise ValueError(f"{name}={device!r}, but CUDA is not available here ({why}; torch {torch.__version__}): "
                             f"pass {name}='cpu', or 'auto' (CUDA when present)")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"{name}={device!r}, but only {torch.cuda.device_count()} CUDA device(s) are visible")
    elif dev.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise ValueError(f"{name}={device!r}, but MPS is not available here: pass {name}='cpu' or 'auto'")
    return dev


def check_dtype(dtype: torch.dtype | None) -> torch.dtype | None:
    if dtype is not None and (not isinstance(dtype, torch.dtype) or not dtype.is_floating_point):
        raise TypeError(f"dtype must be a floating torch dtype (e.g. torch.float64) or None; got {dtype!r}")
    return dtype


def check_input(
    x: object,
    name: str = "x",
    *,
    dtype: torch.dtype | None = None,
    device: str | torch.device | None = None,
    min_dim: int = 2,
    last_dim: int | None = None,
) -> torch.Tensor:
    """Validate a batched input tensor and return it cast to ``dtype``/``device``.

    Raises ``TypeError`` if ``x`` is not a floating-point tensor and ``ValueError`` if it has no batch dimension,
    is empty, has the wrong trailing size or holds NaN/inf.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (B, ...); got {type(x).__name__}")
    if not (x.dtype.is_floating_point or x.dtype.is_complex) or x.dtype.is_complex:
        hint = ("; a model that takes integer inputs (token ids) has no derivative with respect to them: measure "
                "from its embedding's output instead, e.g. f = the layers after the embedding and "
                f"{name} = model.embedding(ids).detach()" if not x.dtype.is_complex and x.dtype != torch.bool else "")
        raise TypeError(f"{name} must have a real floating dtype (e.g. torch.float64); got {x.dtype}{hint}")
    if x.ndim < min_dim:
        raise ValueError(
            f"{name} must have a batch dimension: expected shape (B, ...) with at least {min_dim} dims, "
            f"got shape {tuple(x.shape)} (use {name}.unsqueeze(0) for a single point)"
        )
    if x.shape[0] == 0:
        raise ValueError(f"{name} has an empty batch (shape {tuple(x.shape)})")
    if last_dim is not None and x.shape[-1] != last_dim:
        raise ValueError(f"{name} must have last dimension {last_dim}; got shape {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or inf")
    dtype = check_dtype(dtype)
    dev = resolve_device(device)
    return x.to(dtype=dtype or x.dtype, device=dev or x.device)


def check_int(value: object, name: str, *, min: int | None = None, max: int | None = None,  # noqa: A002
              none_ok: bool = False) -> int | None:
    """``value`` if it is an integer in ``[min, max]`` (either bound optional), or ``None`` when ``none_ok``.

    ``TypeError`` for a non-integer (``bool`` counts as non-integer), ``ValueError`` for one out of range; both
    messages name ``name``.
    """
    if value is None and none_ok:
        return None
    rng = _range_text(min, max) + (" or None" if none_ok else "")
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer{rng}; got {value!r}")
    if (min is not None and value < min) or (max is not None and value > max):
        raise ValueError(f"{name} must be an integer{rng}; got {value!r}")
    return int(value)


def check_number(value: object, name: str, *, min: float | None = None, max: float | None = None,  # noqa: A002
                 open_min: bool = False, none_ok: bool = False) -> float | None:
    """``float(value)`` for a finite real number in ``[min, max]`` (``(min, max]`` with ``open_min``), or ``None``
    when ``none_ok``. ``TypeError`` for a non-number (or ``bool``), ``ValueError`` out of range; both name ``name``."""
    if value is None and none_ok:
        return None
    lo = "" if min is None else (f" > {min:g}" if open_min else f" >= {min:g}")
    hi = "" if max is None else f" <= {max:g}"
    rng = lo + (" and" if lo and hi else "") + hi + (" or None" if none_ok else "")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a finite number{rng}; got {value!r}")
    v = float(value)
    if not math.isfinite(v) or (min is not None and (v <= min if open_min else v < min)) or (
            max is not None and v > max):
        raise ValueError(f"{name} must be a finite number{rng}; got {value!r}")
    return v


def check_choice(value: object, name: str, choices: Sequence[object]) -> object:
    """``value`` if it is one of ``choices``, else ``ValueError`` naming ``name`` and the choices."""
    if isinstance(value, (list, dict, set)) or value not in tuple(choices):
        raise ValueError(f"{name} must be one of {tuple(choices)}; got {value!r}")
    return value


def check_bool(value: object, name: str) -> bool:
    """``value`` if it is ``True`` or ``False``, else ``TypeError`` naming ``name``."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False; got {value!r}")
    return value


def check_ints(values: object, name: str, *, min: int | None = None, max: int | None = None,  # noqa: A002
               nonempty: bool = True) -> tuple[int, ...]:
    """A sequence of integers in ``[min, max]`` as a tuple; errors name ``name``."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or (nonempty and len(values) == 0):
        error = TypeError if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) else ValueError
        raise error(f"{name} must be a {'non-empty ' if nonempty else ''}sequence of integers"
                    f"{_range_text(min, max)}; got {values!r}")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or (min is not None and v < min) or (
                max is not None and v > max):
            raise ValueError(f"{name} must hold integers{_range_text(min, max)}; got {values!r}")
    return tuple(int(v) for v in values)


def _range_text(lo: int | None, hi: int | None) -> str:
    if lo is not None and hi is not None:
        return f" in {lo}..{hi}"
    if lo is not None:
        return f" >= {lo}"
    return "" if hi is None else f" <= {hi}"


def check_float_dtype(dtype: object) -> torch.dtype:
    """A floating torch dtype (``None`` not allowed), else ``TypeError`` naming ``dtype``."""
    if dtype is None:
        raise TypeError("dtype must be a floating torch dtype (e.g. torch.float64); got None")
    return check_dtype(dtype)  # type: ignore[arg-type]


def check_base(base: float) -> float:
    if isinstance(base, bool) or not isinstance(base, (int, float)) or not base > 0 or base == 1:
        raise ValueError(f"base must be a positive number other than 1 (e.g. 10 or math.e); got {base!r}")
    return float(base)


def writable_folder_problem(folder: Path) -> str | None:
    """Create ``folder`` (with its parents) and write a probe file there; ``None`` when that worked, else what is
    wrong, to follow the folder's name in an error message: ``"is not a folder"``, ``"cannot be created (...)"`` or
    ``"is not writable (...)"``."""
    if folder.exists() and not folder.is_dir():
        return "is not a folder"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"cannot be created ({exc.strerror or exc})"
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".write-test.")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return f"is not writable ({exc.strerror or exc})"
    return None


# -- one output of a model with several ------------------------------------------------------------------------------


def _is_mapping(out: object) -> bool:
    return isinstance(out, dict) or (hasattr(out, "keys") and hasattr(out, "__getitem__"))


def check_select(select: object) -> int | str | None:
    """``select`` if it is ``None``, an index (``int``) or a key (``str``) of a model's outputs; else ``TypeError``."""
    if select is not None and (isinstance(select, bool) or not isinstance(select, (int, str))):
        raise TypeError(f"select must be an output's index (int) or key (str), or None; got {select!r}")
    return select


def pick_output(out: object, select: int | str | None, who: str = "f") -> object:
    """``out`` itself (``select=None``), or ``out[select]`` of a tuple, list or dict (or dict-like) output; a key or
    index that picks nothing is a ``ValueError`` listing the outputs, ``select`` on a single output a ``TypeError``.
    ``who`` names the model in the messages."""
    if select is None:
        return out
    if _is_mapping(out):
        if select not in out.keys():
            raise ValueError(f"select={select!r} is not a key of {who}'s output; its keys are {list(out.keys())}")
        return out[select]
    if isinstance(out, (tuple, list)):
        if not isinstance(select, int) or not -len(out) <= select < len(out):
            raise ValueError(f"select={select!r} does not pick one of {who}'s {len(out)} outputs (a "
                             f"{type(out).__name__}): pass an index in 0..{len(out) - 1}")
        return out[select]
    raise TypeError(f"select={select!r} was given but {who} returned a {type(out).__name__}, not a tuple, list or "
                    "dict: leave select=None")


def output_hint(out: object) -> str:
    """For a model that returned a tuple, list or dict where a tensor was needed: how to measure one output
    (``select=``), to follow the type's name in an error message; ``""`` for anything else."""
    if _is_mapping(out):
        keys = list(out.keys())
        return f" with keys {keys}: measure one of them with select=, e.g. select={keys[0]!r}" if keys else ""
    if isinstance(out, (tuple, list)):
        return f" of {len(out)} outputs: measure one of them with select=, e.g. select=0 (the first)"
    return ""
