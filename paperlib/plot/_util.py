"""Internal helpers of :mod:`paperlib.plot`: arrays from tensors with shape checks, fields of result objects, axes,
sequences and epochs. Every plot module uses these; none of them draws anything."""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes

#: What the plot functions take for numbers: a tensor (any device, detached here) or a numpy array.
Array = torch.Tensor | np.ndarray
Shape = tuple[int | str, ...]


def _shape_text(shape: Shape) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def as_array(values: object, name: str, *shapes: Shape, sequences: bool = False) -> np.ndarray:
    """``values`` (a ``torch.Tensor`` or numpy array; also a list, tuple or number when ``sequences``) as a float64
    numpy array, detached and on the CPU, of one of ``shapes``.

    Each shape is a tuple of sizes: an ``int`` must match exactly, a ``str`` (e.g. ``"T"``) is a free size named in
    the error message. Without ``shapes`` any shape is accepted.

    Raises:
        TypeError: ``values`` is of another type; ValueError: it has none of ``shapes``. Both name ``name``.
    """
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().double().numpy()
    elif sequences and isinstance(values, (list, tuple, int, float)):
        values = np.asarray(values, dtype=np.float64)
    if not isinstance(values, np.ndarray):
        raise TypeError(f"{name} must be a torch.Tensor or numpy array; got {type(values).__name__}")
    arr = np.asarray(values, dtype=np.float64)
    fits = [len(s) == arr.ndim and all(isinstance(k, str) or k == n for k, n in zip(s, arr.shape)) for s in shapes]
    if shapes and not any(fits):
        want = " or ".join(_shape_text(s) for s in shapes)
        raise ValueError(f"{name} must have shape {want}; got {arr.shape}")
    return arr


def finite_range(arrays: Sequence[np.ndarray]) -> tuple[float | None, float | None]:
    """``(min, max)`` over the finite values of all ``arrays`` (one shared colour range), ``(None, None)`` if none."""
    vals = np.concatenate([a.ravel() for a in arrays])
    vals = vals[np.isfinite(vals)]
    return (float(vals.min()), float(vals.max())) if vals.size else (None, None)


def get_field(obj: object, name: str):
    """``obj[name]`` for a mapping, else ``obj.name``; ``TypeError`` naming ``name`` if it has neither."""
    if isinstance(obj, Mapping):
        if name in obj:
            return obj[name]
    elif hasattr(obj, name):
        return getattr(obj, name)
    raise TypeError(f"expected a mapping or an object with field {name!r} (e.g. a result of paperlib.chapters); "
                    f"got {type(obj).__name__}")


def get_axes(ax: Axes | None) -> Axes:
    """``ax``, or the axes of a new figure (4.2 x 3.6 inches) when ``None``; ``TypeError`` for anything else."""
    if ax is None:
        _, ax = plt.subplots(figsize=(4.2, 3.6))
    elif not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None; got {type(ax).__name__}")
    return ax


def check_sequence(value: object, message: str, *, length: int | None = None) -> Sequence:
    """``value`` if it is a sequence (not a string) with ``length`` items, or any non-empty one when ``length`` is
    ``None``; else ``ValueError(message)``."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or (
            len(value) == 0 if length is None else len(value) != length):
        raise ValueError(message)
    return value


def pick_epochs(available: Sequence[int], epochs: Sequence[int] | None) -> list[int]:
    """``epochs`` (default: all of ``available``) as ints, each checked to be one of ``available``."""
    available = [int(e) for e in available]
    if epochs is None:
        return available
    check_sequence(epochs, "epochs must be a non-empty sequence of epochs or None")
    bad = [e for e in epochs if e not in available]
    if bad:
        raise ValueError(f"epochs {bad} are not available; choose from {available}")
    return [int(e) for e in epochs]
