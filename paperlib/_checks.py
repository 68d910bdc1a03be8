"""Input checks shared by the public functions: each error names the offending argument."""

from __future__ import annotations

import torch


def resolve_device(device: str | torch.device | None) -> torch.device | None:
    """``"auto"`` -> CUDA when present, else CPU; ``None`` -> keep tensors where they are."""
    if device is None:
        return None
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a valid torch device or 'auto'") from exc


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
        raise TypeError(f"{name} must have a real floating dtype (e.g. torch.float64); got {x.dtype}")
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


def check_int(value: object, name: str, minimum: int = 1) -> int:
    """``value`` if it is an integer >= ``minimum``; ``TypeError`` for a non-integer (or bool), ``ValueError`` for
    a smaller one, each naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer >= {minimum}; got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return value


def check_float_dtype(dtype: object) -> torch.dtype:
    """A floating torch dtype (``None`` not allowed), else ``TypeError`` naming ``dtype``."""
    if dtype is None:
        raise TypeError("dtype must be a floating torch dtype (e.g. torch.float64); got None")
    return check_dtype(dtype)  # type: ignore[arg-type]


def check_positive_int(value: object, name: str, *, allow_none: bool = True) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer{' or None' if allow_none else ''}; got {value!r}")
    return value


def check_base(base: float) -> float:
    if isinstance(base, bool) or not isinstance(base, (int, float)) or not base > 0 or base == 1:
        raise ValueError(f"base must be a positive number other than 1 (e.g. 10 or math.e); got {base!r}")
    return float(base)
