r"""Reproduce the book's figures from the command line.

.. code-block:: bash

    python -m paperlib list                      # every figure: name, chapter, presets, description
    python -m paperlib reproduce ch5-fig1-sinusoid --preset book --device auto --out figures/
    python -m paperlib reproduce all --preset paper --cache-dir /scratch/paperlib
    python -m paperlib reproduce ch5-xor --no-cache  # compute everything, read and write no cache
    python -m paperlib --version                 # paperlib <version>

(``paperlib`` is the same command, installed as a console script.) For each figure ``NAME``, ``reproduce`` writes
``<out>/NAME.png`` and ``<out>/NAME.pdf`` (``NAME<suffix>.png/.pdf`` for the figures of one entry that has
several, e.g. one per method) and ``<out>/NAME.json``: the numbers behind the figure, the preset's settings
(``settings``, where the figure has a preset) and the options used. Every file is written to a temporary file in
the output folder and then renamed into place, so a file is either complete or absent. In the JSON, the floats
that JSON cannot hold are written as the strings ``"nan"``, ``"inf"`` and ``"-inf"``.

The figures are drawn by the package's own functions (:mod:`paperlib.experiments`, :mod:`paperlib.shallow`,
:mod:`paperlib.infinite`, :mod:`paperlib.plot`), the ones the chapters call, so the numbers are the chapters'.
Training goes through the cache of :mod:`paperlib.cache` (``--cache-dir``, default ``$PAPERLIB_CACHE`` or
``~/.cache/paperlib``): a second run reads it, and an interrupted one resumes from the last checkpoint when run
again. ``--no-cache`` passes ``cache=False`` to the experiments: everything is computed, and nothing is read from
or written to the cache folder (which is then not checked either; data that the ``paper`` presets download still go
to the data folder, ``--data-dir``).

Exit codes: 0 every figure written; 2 a usage error, found before any computation (unknown figure or preset, a
preset that the figure does not have, an output or cache folder that cannot be created or written, CUDA asked for
but absent); 3 data that are neither on disk nor downloadable (the message names them and how to get them); 130
interrupted; 1 any other error (with its traceback).

The registry :data:`FIGURES` maps a name to a :class:`FigureSpec`: the chapter, a one-line description, the
presets (``()`` for the closed forms of chapters 2-4, which have none) and ``make(preset, device, progress,
options)``, which returns ``(figures, numbers)``: a list of ``(suffix, matplotlib Figure)`` and a dict for
:func:`jsonable`, whose key ``"settings"``, where present, is the experiment's preset object (the JSON holds its
``to_dict()`` at the top level, next to ``numbers``).

This module imports matplotlib and :mod:`paperlib.plot` only inside the functions that draw (``import paperlib``
does not import it at all).
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, NamedTuple, Sequence

from ._checks import writable_folder_problem

__all__ = ["FigureSpec", "Options", "FIGURES", "PRESETS", "EXIT_OK", "EXIT_FAILURE", "EXIT_USAGE", "EXIT_DATA",
           "jsonable", "reproduce", "main"]

#: The presets of the experiments (chapters 5-9): ``"book"`` (CPU minutes) and ``"paper"`` (the papers' settings).
PRESETS = ("book", "paper")
EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_DATA, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
_DPI = 150


@dataclasses.dataclass(frozen=True)
class Options:
    """Where the experiments keep and find things: the cache root (``None``: ``$PAPERLIB_CACHE`` or
    ``~/.cache/paperlib``), the data folder (``None``: the same default, ``<cache>/mnist`` and
    ``<cache>/cifar10``), whether missing data may be downloaded, and whether the cache is used at all
    (``cache=False``: the experiments' ``cache=False``, nothing read or written under the cache root)."""

    cache_dir: str | None = None
    data_dir: str | None = None
    download: bool = True
    cache: bool = True


class FigureSpec(NamedTuple):
    """One entry of :data:`FIGURES`."""

    chapter: int
    description: str
    make: Callable[..., tuple[list, dict]]
    presets: tuple[str, ...] = PRESETS


class UsageError(Exception):
    """A command-line error found before any computation (exit code 2)."""


# ------------------------------------------------------------------------------------------------------------------
# helpers: JSON, matplotlib, one experiment per process
# ------------------------------------------------------------------------------------------------------------------


def _key(k: object) -> str:
    if isinstance(k, tuple):
        return "-".join(str(v) for v in k)
    return str(k)


def jsonable(value: object) -> object:
    """``value`` as plain JSON data: tensors and arrays become (nested) lists, tuples lists, dict keys strings
    (tuple keys joined by ``-``, e.g. ``(7, 6)`` -> ``"7-6"``), presets their ``to_dict()``, and the floats JSON
    cannot hold the strings ``"nan"``, ``"inf"``, ``"-inf"``."""
    import numpy as np
    import torch

    if isinstance(value, torch.Tensor):
        return jsonable(value.detach().cpu().tolist())
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {_key(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return jsonable(to_dict())
    raise TypeError(f"cannot write a {type(value).__name__} to JSON")


def _plt():
    import matplotlib.pyplot as plt

    return plt


def _plot():
    from . import plot

    return plot


_MEMO: dict = {}


def _once(key: tuple, compute: Callable[[], object]) -> object:
    """``compute()`` once per process and ``key`` (the figures of one chapter share an experiment); a
    :class:`paperlib.data.DataUnavailableError` is remembered too, so it is not retried for every figure."""
    from .data import DataUnavailableError

    if key not in _MEMO:
        try:
            _MEMO[key] = (True, compute())
        except DataUnavailableError as exc:
            _MEMO[key] = (False, exc)
    ok, value = _MEMO[key]
    if not ok:
        raise value
    return value


def _toy(which: str, preset: str, progress, options: Options):
    from . import experiments

    return _once(("toy", which, preset, options),
                 lambda: getattr(experiments, which)(preset, cache=options.cache, cache_dir=options.cache_dir,
                                                     progress=progress))


def _require_full_mnist(options: Options) -> None:
    """With ``--no-download``: the full MNIST files must be on disk (:func:`paperlib.experiments.mnist` has no
    ``download`` switch; :func:`paperlib.data.fetch_mnist` reads files that are there and fetches the others)."""
    from . import data

    folder = data._data_dir(options.data_dir, "mnist")
    missing = [name for name in data.MNIST_FILES if not (folder / name).is_file()]
    if missing:
        raise data.unavailable("full MNIST", data.MNIST_URL, folder, list(data.MNIST_FILES), None,
                               "for the book, use the book preset, which runs on the offline MNIST subset",
                               command='python -c "import paperlib; paperlib.data.fetch_mnist()"')


def _mnist(preset: str, progress, options: Options, variant: str = "main"):
    """The chapter 6 experiments: ``"main"`` (the chapter's network), ``"authors"`` (the other initialisation of
    the line figure, without plane, spectra and controls) and ``"relu"`` (the ReLU network of the last figure)."""
    from . import experiments

    def compute():
        if preset == "paper" and not options.download:
            _require_full_mnist(options)
        io = {"cache": options.cache, "cache_dir": options.cache_dir, "progress": progress,
              "data_dir": options.data_dir}
        if variant == "main":
            return experiments.mnist(preset, **io)
        if variant == "authors":
            return experiments.mnist(preset, init="paper", plane=False, spectra=False, controls=False, **io)
        last = experiments.MNIST_PRESETS[preset].epochs
        relu = experiments.MNIST_PRESETS[preset].replace(
            activation="relu", k=100, pairs=((7, 6), (4, 9), (3, 8)), snapshots=(0, last), figure_epochs=(0, last),
            plane=False, spectra=False, controls=False)
        return experiments.mnist(relu, **io)

    return _once(("mnist", variant, preset, options), compute)


def _deep(which: str, preset: str, device: str, progress, options: Options):
    from . import experiments

    return _once((which, preset, device, options), lambda: getattr(experiments, which)(
        preset, device=device, data_dir=options.data_dir, download=options.download, cache=options.cache,
        cache_dir=options.cache_dir, progress=progress))


def _gih(preset: str, device: str, progress, options: Options):
    from . import experiments

    return _once(("gih", preset, device, options), lambda: experiments.geometric_invariance(
        preset, device=device, cache=options.cache, cache_dir=options.cache_dir, progress=progress))


def _grid_numbers(grid) -> dict:
    return {"xs": grid.xs, "ys": grid.ys, "layout": "images [row i, column j] at (xs[j], ys[i])"}


def _line_numbers(lg) -> dict:
    """A :class:`paperlib.experiments.LineGeometry`: its values and, per epoch, the statistics the chapters quote."""
    epochs = list(lg.epochs)
    return {"digits": list(lg.digits), "t": lg.line.t, "epochs": epochs, "log_volume": lg.log_volume,
            "end_log_volume": lg.end_log_volume, "predicted": lg.predicted, "entropy": lg.entropy,
            "contrast": {e: lg.contrast(e) for e in epochs}, "peak": {e: lg.peak(e) for e in epochs},
            "class_changes": {e: lg.changes(e) for e in epochs},
            "boundary_distance": {e: lg.boundary_distance(e) for e in epochs}}


def _plane_numbers(pg, correlation: Callable[[int], float] | None = None) -> dict:
    """A :class:`paperlib.experiments.PlaneGeometry` (values per epoch and point, ``steps * steps`` points row-major
    over the plane's ``(a, b)`` coordinates)."""
    out = {"digits": list(pg.digits), "a": pg.plane.a, "b": pg.plane.b, "ternary": pg.plane.ternary,
           "inside": pg.plane.inside, "epochs": list(pg.epochs), "log_volume": pg.log_volume,
           "predicted": pg.predicted, "entropy": pg.entropy}
    if correlation is not None:
        out["correlation_log_volume_log_entropy"] = {e: correlation(e) for e in pg.epochs}
    return out


def _snapshot_numbers(snap, layers: bool = False) -> dict:
    """A :class:`paperlib.experiments.Snapshot` (images on the experiment's grid)."""
    return {"epoch": snap.epoch, "log_volume": snap.log_volume if layers else snap.log_volume[0],
            "ricci": snap.ricci, "probability": snap.probability, "margin": snap.margin,
            "magnification": snap.magnification, "magnification_fixed": snap.fixed, "accuracy": snap.accuracy}


# ------------------------------------------------------------------------------------------------------------------
# chapter 2: shallow networks (closed forms)
# ------------------------------------------------------------------------------------------------------------------


def ch2_volume_maps(preset, device, progress, options: Options = Options()):
    import torch

    from . import shallow

    widths, activations = [3, 10, 100, 1000], ["erf", "sigmoid", "relu"]
    t = torch.linspace(-3, 3, 121, dtype=torch.float64)
    grid = torch.cartesian_prod(t, t)  # grid[i * 121 + j] = (t[i], t[j])
    maps = {(a, n): shallow.log_volume_element(*shallow.random_network(2, n, seed=n), grid, a,
                                               device=device).cpu().reshape(121, 121)
            for a in activations for n in widths}
    fig = _plot().volume_maps_figure(t, maps)  # the chapter's figure, drawn by the same function
    numbers = {"t": t, "widths": widths, "activations": activations,
               "network": "paperlib.shallow.random_network(2, n, seed=n)",
               "log_volume": {a: {n: maps[a, n] for n in widths} for a in activations},
               "layout": "log_volume[activation][n][i][j] at x = (t[i], t[j])",
               "white": "cells where log_volume is -inf: det g = 0 (ReLU with fewer than two units active)"}
    return [("", fig)], numbers


# ------------------------------------------------------------------------------------------------------------------
# chapter 3: infinite width (closed forms)
# ------------------------------------------------------------------------------------------------------------------


def ch3_convergence(preset, device, progress, options: Options = Options()):
    import numpy as np
    import torch

    from . import infinite, shallow

    plt = _plt()
    x_fixed = torch.randn(16, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    widths, seeds, sweep = [10, 32, 100, 316, 1000, 3162, 10000], range(32), ["erf", "sigmoid", "relu"]

    def rms_error(activation, n, sigma=1.0, zeta=1.0):
        g_inf = infinite.metric(x_fixed, activation, sigma=sigma, zeta=zeta, device=device).cpu()
        sq = [(shallow.metric(*shallow.random_network(2, n, sigma=sigma, zeta=zeta, seed=k), x_fixed, activation,
                              device=device).cpu() - g_inf).square().sum((1, 2)) / g_inf.square().sum((1, 2))
              for k in seeds]
        return float(torch.stack(sq).mean().sqrt())

    errors = {a: np.array([rms_error(a, n) for n in widths]) for a in sweep}
    slopes = {a: float(np.polyfit(np.log(widths), np.log(e), 1)[0]) for a, e in errors.items()}
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for a, e in errors.items():
        ax.loglog(widths, e, marker="o", label=f"{a} (fitted slope {slopes[a]:.2f})")
    ax.loglog(widths, 2.5 * np.array(widths) ** -0.5, "k--", lw=1, label=r"$\propto n^{-1/2}$")
    ax.set_xlabel("width $n$")
    ax.set_ylabel(r"relative RMS error of $g_n$ vs $\mathbb{E}[g]$")
    ax.legend()
    numbers = {"widths": widths, "networks_per_width": len(seeds), "points": x_fixed, "sigma": 1.0, "zeta": 1.0,
               "relative_rms_error": errors, "fitted_slope": slopes}
    return [("", fig)], numbers


def _profiles(activations, settings, radius):
    import torch

    from . import infinite

    fig = _plot().infinite_width_profiles(activations, settings, d=2, radius=radius)
    # the numbers the figure shows: infinite_width_profiles evaluates paperlib.infinite at x = r e_1, 161 radii
    r = torch.linspace(0.0, float(radius), 161, dtype=torch.float64)
    x = torch.zeros(len(r), 2, dtype=torch.float64)
    x[:, 0] = r
    curves = {a: {f"sigma={s:g},zeta={z:g}": {
        "log_volume": infinite.log_volume_element(x, a, sigma=s, zeta=z, device="cpu"),
        "ricci": infinite.ricci_scalar(x, a, sigma=s, zeta=z, device="cpu")} for s, z in settings}
        for a in activations}
    return [("", fig)], {"d": 2, "radius": r, "sigma_zeta": [list(p) for p in settings], "curves": curves}


def ch3_profiles(preset, device, progress, options: Options = Options()):
    return _profiles(["erf", "sigmoid", "relu"], [(1.0, 0.0), (1.0, 1.0), (2.0, 1.0)], 4.0)


def ch3_profiles_gelu_softplus(preset, device, progress, options: Options = Options()):
    return _profiles(["gelu", "softplus"], [(1.0, 0.0), (1.0, 1.0), (0.5, 0.5)], 6.0)


# ------------------------------------------------------------------------------------------------------------------
# chapter 4: curvature (closed forms)
# ------------------------------------------------------------------------------------------------------------------


def _three_units():
    """The network of the chapter's section 6: three unit weight vectors 120 degrees apart, ``erf(z / sqrt 2)``."""
    import torch

    angles = 2 * math.pi * torch.arange(3, dtype=torch.float64) / 3
    return torch.stack([angles.cos(), angles.sin()], 1)


def ch4_ricci_accuracy(preset, device, progress, options: Options = Options()):
    import sympy as sp
    import torch

    from . import geometry, shallow, symbolic

    plt = _plt()

    def exact_point(W, b, x):  # the same binary numbers as exact rationals
        S = symbolic.shallow_symbols(*W.shape[::-1])
        return {s: sp.Rational(v) for s, v in zip([*S.W, *S.b, *S.x], [*W.flatten().tolist(), *b.tolist(),
                                                                        *x.tolist()])}

    W3, b3 = _three_units() / math.sqrt(2), torch.zeros(3, dtype=torch.float64)
    radii = torch.linspace(0.5, 6.5, 13, dtype=torch.float64)
    ray = torch.stack([radii * math.cos(0.3), radii * math.sin(0.3)], 1)
    ref = torch.tensor([float(symbolic.shallow_ricci_scalar(2, 3, "erf", at=exact_point(W3, b3, xi))) for xi in ray],
                       dtype=torch.float64)
    cond = torch.linalg.cond(shallow.metric(W3, b3, ray, "erf", device=device).cpu())
    routes = {m: shallow.ricci_scalar(W3, b3, ray, "erf", method=m, degenerate="nan", device=device).cpu()
              for m in ("tensor", "closed_form_2d", "triple_sum", "gauss")}
    f3 = shallow.feature_map(W3, b3, "erf")
    routes.update({f"autodiff {m}": geometry.ricci_scalar(f3, ray, method=m, degenerate="nan", device=device).cpu()
                   for m in ("gauss", "christoffel")})
    errors = {name: ((value - ref).abs() / ref.abs()) for name, value in routes.items()}
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, err in errors.items():
        ax.loglog(cond, err.clamp_min(1e-17), marker="o", ms=3, label=name)
    ax.axhline(1e-9, color="0.5", lw=0.8, ls=":")
    ax.set_xlabel(r"cond$(g)$ along the ray")
    ax.set_ylabel("relative error vs 50 digits")
    ax.legend(fontsize="small")
    numbers = {"W": W3, "b": b3, "activation": "erf", "ray": ray, "cond": cond, "ricci_50_digits": ref,
               "ricci": routes, "relative_error": errors}
    return [("", fig)], numbers


def ch4_relu_gelu(preset, device, progress, options: Options = Options()):
    from . import data, shallow

    grid = data.grid(-3, 3, 61)
    W8, b8 = shallow.random_network(2, 8, seed=3)
    values = {act: (grid.image(shallow.log_volume_element(W8, b8, grid.points, act, device=device).cpu()),
                    grid.image(shallow.ricci_scalar(W8, b8, grid.points, act, method="gauss", degenerate="nan",
                                                    device=device).cpu()))
              for act in ("relu", "gelu")}
    rows = [(act, lv, R) for act, (lv, R) in values.items()]
    fig = _plot().volume_ricci_figure(rows, grid, hyperplanes=[(W8, b8)] * 2)
    numbers = {"grid": _grid_numbers(grid), "W": W8, "b": b8, "network": "paperlib.shallow.random_network(2, 8, seed=3)",
               "log_volume": {a: v[0] for a, v in values.items()}, "ricci": {a: v[1] for a, v in values.items()}}
    return [("", fig)], numbers


def _three_unit_fields(device):
    import torch

    from . import data, shallow

    grid = data.grid(-3, 3, 161)
    W_unit = _three_units()
    out = {}
    for bias in (0.0, 1.0):
        Wb, bb = W_unit / math.sqrt(2), torch.full((3,), bias / math.sqrt(2), dtype=torch.float64)  # erf(z/sqrt 2)
        out[bias] = (Wb, bb, shallow.log_volume_element(Wb, bb, grid.points, "erf", device=device).cpu(),
                     shallow.ricci_scalar(Wb, bb, grid.points, "erf", method="gauss", device=device).cpu())
    return grid, W_unit, out


def ch4_three_units(preset, device, progress, options: Options = Options()):
    import torch

    grid, W_unit, fields = _three_unit_fields(device)
    rows = [(f"bias {bias:g}", grid.image(lv), grid.image(R)) for bias, (_, _, lv, R) in fields.items()]
    fig = _plot().volume_ricci_figure(rows, grid, hyperplanes=[(W_unit, torch.full((3,), bias, dtype=torch.float64))
                                                               for bias in fields], percentile=90.0)
    numbers = {"grid": _grid_numbers(grid), "activation": "erf(z / sqrt 2)", "W": W_unit,
               "biases": list(fields), "log_volume": {b: grid.image(v[2]) for b, v in fields.items()},
               "ricci": {b: grid.image(v[3]) for b, v in fields.items()}}
    return [("", fig)], numbers


def ch4_unit_circle(preset, device, progress, options: Options = Options()):
    import torch

    from . import shallow

    W_unit = _three_units()
    t = torch.linspace(0, 2 * math.pi, 361, dtype=torch.float64)
    circle = torch.stack([t.cos(), t.sin()], 1)
    curves = {}
    for bias in (0.0, 1.0):
        Wb, bb = W_unit / math.sqrt(2), torch.full((3,), bias / math.sqrt(2), dtype=torch.float64)
        curves[bias] = (shallow.log_volume_element(Wb, bb, circle, "erf", device=device).cpu(),
                        shallow.ricci_scalar(Wb, bb, circle, "erf", method="gauss", device=device).cpu())
    fig = _plot().unit_circle_figure(t, {f"bias {bias:g}": v for bias, v in curves.items()})
    numbers = {"angle": t, "angle_unit": "radians", "point": "x = (cos angle, sin angle)",
               "activation": "erf(z / sqrt 2)", "W": W_unit, "biases": list(curves),
               "log_volume": {b: v[0] for b, v in curves.items()}, "ricci": {b: v[1] for b, v in curves.items()}}
    return [("", fig)], numbers


# ------------------------------------------------------------------------------------------------------------------
# chapter 5: toy networks (experiments.sinusoid, xor, deep_mlp)
# ------------------------------------------------------------------------------------------------------------------


def ch5_fig1_sinusoid(preset, device, progress, options: Options = Options()):
    sin = _toy("sinusoid", preset, progress, options)
    run = sin.run(0)
    snaps = [run.snapshots[e] for e in sin.figure_epochs]
    fig = _plot().snapshot_figure(snaps, sin.grid, data=(sin.x, sin.y))
    numbers = {"settings": sin.settings, "describe": sin.describe(), "grid": _grid_numbers(sin.grid),
               "data": {"x": sin.x, "y": sin.y}, "seed": run.label,
               "snapshots": [_snapshot_numbers(s) for s in snaps],
               "gain_task": sin.gains(boundary="task"), "gain_control": sin.gains(boundary="control"),
               "seeds": list(sin.runs)}
    return [("", fig)], numbers


def ch5_magnification(preset, device, progress, options: Options = Options()):
    sin = _toy("sinusoid", preset, progress, options)
    plt, plot = _plt(), _plot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4), sharey=True, layout="constrained")
    curves = {}
    for ax, boundary, title in zip(axes, ("task", "control", "own"),
                                   ("true boundary of the task", "control: the mirrored curve",
                                    "the network's own boundary")):
        curves[boundary] = {seed: run.magnification(boundary=boundary) for seed, run in sin.runs.items()}
        plot.magnification_plot(curves[boundary], ax=ax)
        ax.set_title(title)
    numbers = {"settings": sin.settings, "describe": sin.describe(),
               "magnification": {b: {seed: {"epochs": e, "M": m} for seed, (e, m) in c.items()}
                                 for b, c in curves.items()},
               "gain_task": sin.gains(boundary="task"), "gain_control": sin.gains(boundary="control")}
    return [("", fig)], numbers


def ch5_xor(preset, device, progress, options: Options = Options()):
    xo = _toy("xor", preset, progress, options)
    widths = xo.settings.hidden
    snaps = [xo.run((w, xo.settings.seeds[0])).final for w in widths]
    fig = _plot().xor_figure(xo)  # the chapter's figure: these snapshots, with a legend
    gains = {w: xo.gains(boundary="final", labels=[(w, s) for s in xo.settings.seeds]) for w in widths}
    numbers = {"settings": xo.settings, "describe": xo.describe(), "grid": _grid_numbers(xo.grid),
               "data": {"x": xo.x, "y": xo.y}, "seed": xo.settings.seeds[0],
               "final_snapshots": {w: _snapshot_numbers(s) for w, s in zip(widths, snaps)},
               "final_accuracy": {label: run.final.accuracy for label, run in xo.runs.items()},
               "gain_final_boundary": {w: {"seeds": list(xo.settings.seeds), "gain": g} for w, g in gains.items()}}
    return [("", fig)], numbers


def ch5_deep_layers(preset, device, progress, options: Options = Options()):
    deep = _toy("deep_mlp", preset, progress, options)
    run = deep.run(0)
    snaps = [run.snapshots[e] for e in deep.figure_epochs]
    fig = _plot().layer_figure(snaps, deep.grid)
    numbers = {"settings": deep.settings, "describe": deep.describe(), "grid": _grid_numbers(deep.grid),
               "seed": run.label, "snapshots": [_snapshot_numbers(s, layers=True) for s in snaps],
               "layout": "snapshots[k].log_volume[layer - 1][i][j]"}
    return [("", fig)], numbers


def ch5_deep_magnification(preset, device, progress, options: Options = Options()):
    import torch

    deep = _toy("deep_mlp", preset, progress, options)
    run = deep.run(0)
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    curves = {f"layer {layer}": run.magnification(layer) for layer in range(1, run.depth + 1)}
    _plot().magnification_plot(curves, ax=ax, label_format="{}")
    numbers = {"settings": deep.settings, "describe": deep.describe(), "seed": run.label,
               "magnification": {k: {"epochs": e, "M": m} for k, (e, m) in curves.items()},
               "layer_increments_init": torch.stack([r.layer_increments(0) for r in deep.runs.values()]),
               "layer_increments_final": torch.stack([r.layer_increments() for r in deep.runs.values()]),
               "gain_task": torch.stack([deep.gains(layer, boundary="task") for layer in range(1, run.depth + 1)], 1),
               "gain_control": torch.stack([deep.gains(layer, boundary="control")
                                            for layer in range(1, run.depth + 1)], 1),
               "seeds": list(deep.runs), "layout": "increments and gains [seed][layer - 1]"}
    return [("", fig)], numbers


# ------------------------------------------------------------------------------------------------------------------
# chapter 6: MNIST (experiments.mnist)
# ------------------------------------------------------------------------------------------------------------------


def _mnist_common(mn) -> dict:
    return {"settings": mn.settings, "describe": mn.describe(), "anchors": mn.anchors,
            "test_accuracy": mn.test_accuracy}


def ch6_fig2_mnist(preset, device, progress, options: Options = Options()):
    mn = _mnist(preset, progress, options)
    main = mn.lines[mn.settings.main_pair]
    fig = _plot().line_figure(main, mn.figure_epochs)
    numbers = {**_mnist_common(mn), "figure_epochs": list(mn.figure_epochs), "line": _line_numbers(main),
               "claims": mn.claims()}
    return [("", fig)], numbers


def ch6_relative(preset, device, progress, options: Options = Options()):
    mn = _mnist(preset, progress, options)
    main = mn.lines[mn.settings.main_pair]
    lines = {f"{mn.settings.pixels} pixels": main}
    if mn.live_line is not None:
        lines["live pixels"] = mn.live_line
    wanted = [e for e in (0, 2, 10) if e in main.epochs] + [mn.epochs[-1]]
    ax = _plot().relative_line_plot(lines, list(dict.fromkeys(wanted)))
    numbers = {**_mnist_common(mn), "epochs": list(dict.fromkeys(wanted)),
               "lines": {label: _line_numbers(lg) for label, lg in lines.items()}}
    return [("", ax.figure)], numbers


def ch6_pairs(preset, device, progress, options: Options = Options()):
    mn = _mnist(preset, progress, options)
    fig = _plot().pairs_figure(mn.lines)
    numbers = {**_mnist_common(mn), "lines": {pair: _line_numbers(lg) for pair, lg in mn.lines.items()},
               "claims": mn.claims()}
    return [("", fig)], numbers


def ch6_fig2_plane(preset, device, progress, options: Options = Options()):
    mn = _mnist(preset, progress, options)
    fig = _plot().plane_figure(mn.plane)
    return [("", fig)], {**_mnist_common(mn), "plane": _plane_numbers(mn.plane, mn.plane_correlation)}


def ch6_fig2_ternary(preset, device, progress, options: Options = Options()):
    mn = _mnist(preset, progress, options)
    fig = _plot().ternary_figure(mn.plane)
    return [("", fig)], {**_mnist_common(mn), "plane": _plane_numbers(mn.plane, mn.plane_correlation)}


def ch6_spectra(preset, device, progress, options: Options = Options()):
    mn = _mnist(preset, progress, options)
    plt, plot = _plt(), _plot()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), layout="constrained")
    for ax, digit in zip(axes, mn.plane.digits):
        plot.spectrum_plot(mn.spectra[digit], list(mn.spectra_epochs), ax=ax, title=f"anchor {digit}")
    numbers = {**_mnist_common(mn), "epochs": list(mn.spectra_epochs),
               "singular_values": {d: mn.spectra[d] for d in mn.plane.digits},
               "layout": "singular_values[digit][epoch index][i], descending"}
    return [("", fig)], numbers


def ch6_authors_init(preset, device, progress, options: Options = Options()):
    mn = _mnist(preset, progress, options)
    authors = mn if mn.settings.init == "paper" else _mnist(preset, progress, options, "authors")
    main = authors.lines[authors.settings.main_pair]
    fig = _plot().line_figure(main, [authors.epochs[0], authors.epochs[-1]])
    numbers = {**_mnist_common(authors), "line": _line_numbers(main), "claims": authors.claims()}
    return [("", fig)], numbers


def ch6_relu(preset, device, progress, options: Options = Options()):
    relu = _mnist(preset, progress, options, "relu")
    rl = relu.lines[(7, 6)]
    fig = _plot().line_figure(rl, [rl.epochs[0], rl.epochs[-1]])
    numbers = {**_mnist_common(relu), "lines": {pair: _line_numbers(lg) for pair, lg in relu.lines.items()},
               "claims": relu.claims()}
    return [("", fig)], numbers


# ------------------------------------------------------------------------------------------------------------------
# chapter 7: a ResNet (experiments.deep)
# ------------------------------------------------------------------------------------------------------------------


def _deep_common(ex) -> dict:
    return {"settings": ex.settings, "describe": ex.describe(), "anchors": ex.anchors,
            "test_accuracy": ex.test_accuracy,
            "summaries": {name: ex.summary(name) for name in ex.training}}


def ch7_fig3(preset, device, progress, options: Options = Options()):
    ex = _deep("deep", preset, device, progress, options)
    fig = _plot().line_figure(ex.line, ex.settings.figure_epochs)
    return [("", fig)], {**_deep_common(ex), "figure_epochs": list(ex.settings.figure_epochs),
                         "line": _line_numbers(ex.line)}


def ch7_relative(preset, device, progress, options: Options = Options()):
    ex = _deep("deep", preset, device, progress, options)
    ax = _plot().relative_line_plot({"features": ex.line})
    return [("", ax.figure)], {**_deep_common(ex), "line": _line_numbers(ex.line)}


def ch7_fig3_plane(preset, device, progress, options: Options = Options()):
    ex = _deep("deep", preset, device, progress, options)
    fig = _plot().plane_figure(ex.plane)
    return [("", fig)], {**_deep_common(ex), "plane": _plane_numbers(ex.plane, ex.plane_correlation)}


def ch7_fig3_ternary(preset, device, progress, options: Options = Options()):
    ex = _deep("deep", preset, device, progress, options)
    fig = _plot().ternary_figure(ex.plane)
    return [("", fig)], {**_deep_common(ex), "plane": _plane_numbers(ex.plane, ex.plane_correlation)}


def ch7_fig4(preset, device, progress, options: Options = Options()):
    ex = _deep("deep", preset, device, progress, options)
    fig = _plot().blocks_figure(ex.blocks)
    return [("", fig)], {**_deep_common(ex), "blocks": {b: _line_numbers(lg) for b, lg in ex.blocks.items()}}


def ch7_depth(preset, device, progress, options: Options = Options()):
    ex = _deep("deep", preset, device, progress, options)
    profiles = {}
    for i, activation in enumerate(ex.settings.activations):
        names = [name for name in ex.training if name.startswith(activation + " ")]
        label = {"gelu": "GELU", "relu": "ReLU"}.get(activation, activation)
        profiles[label] = ex.depth_profiles(names) if len(names) > 1 else ex.depth_profile(names[0])
        if i == 0 and ex.settings.same_class:
            profiles[f"{label}, same-class lines"] = (ex.depth_profiles(names, "same") if len(names) > 1
                                                      else ex.depth_profile(names[0], "same"))
    ax = _plot().depth_plot(profiles)
    return [("", ax.figure)], {**_deep_common(ex), "profiles": profiles,
                               "layout": "init/final [network][block index] (one network: [block index])"}


# ------------------------------------------------------------------------------------------------------------------
# chapter 8: self-supervised backbones (experiments.self_supervised)
# ------------------------------------------------------------------------------------------------------------------


def _ssl_common(ex) -> dict:
    return {"settings": ex.settings, "describe": ex.describe(), "anchors": ex.anchors,
            "probe_accuracy": {name: {"init": ex.probe_accuracy(name, min(ex.probes[name])),
                                      "final": ex.probe_accuracy(name)} for name in ex.training},
            "summaries": {name: ex.summary(name) for name in ex.training}}


def ch8_views(preset, device, progress, options: Options = Options()):
    import torch

    from . import experiments, ssl

    plt = _plt()
    settings = experiments.SSL_PRESETS[preset]
    d = experiments.deep_data(settings)
    views = ssl.digit_views(0.1307, 0.3081, scale=settings.crop_scale)
    torch.manual_seed(0)
    x = d["x_test"][::250]  # a 0, a 2, a 5 and a 7 (the test split is sorted by class)
    rows = (x, views(x), views(x))
    fig, axes = plt.subplots(3, 4, figsize=(6, 4.6), layout="constrained")
    for row, images in zip(axes, rows):
        for ax, img in zip(row, images):
            ax.imshow(img[0], cmap="gray_r")
            ax.set_axis_off()
    numbers = {"settings": settings, "labels": d["y_test"][::250],
               "images": [r[:, 0] for r in rows], "layout": "images[row: original, view 1, view 2][k][i][j]",
               "torch_seed": 0}
    return [("", fig)], numbers


def ch8_probe(preset, device, progress, options: Options = Options()):
    ex = _deep("self_supervised", preset, device, progress, options)
    ax = _plot().probe_plot({name: (ex.probe_accuracy(name, min(ex.probes[name])), ex.probe_accuracy(name))
                             for name in ex.training})
    return [("", ax.figure)], _ssl_common(ex)


def ch8_fig5(preset, device, progress, options: Options = Options()):
    ex = _deep("self_supervised", preset, device, progress, options)
    first = next(iter(ex.lines.values()))
    figures = [(f"-epoch{e}", _plot().methods_line_figure(ex.lines, e)) for e in (first.epochs[0], first.epochs[-1])]
    return figures, {**_ssl_common(ex), "lines": {m: _line_numbers(lg) for m, lg in ex.lines.items()}}


def ch8_line(preset, device, progress, options: Options = Options()):
    ex = _deep("self_supervised", preset, device, progress, options)
    method = "barlow" if "barlow" in ex.lines else next(iter(ex.lines))
    fig = _plot().line_figure(ex.lines[method])
    return [("", fig)], {**_ssl_common(ex), "method": method, "line": _line_numbers(ex.lines[method])}


def ch8_fig6(preset, device, progress, options: Options = Options()):
    ex = _deep("self_supervised", preset, device, progress, options)
    plot = _plot()
    figures = []
    for method, plane in ex.planes.items():
        fig = plot.plane_figure(plane)
        fig.suptitle(plot.selfsup.METHOD_NAMES.get(method, method))
        figures.append((f"-{method}", fig))
    planes = {m: _plane_numbers(p, lambda e, m=m: ex.plane_correlation(m, e)) for m, p in ex.planes.items()}
    return figures, {**_ssl_common(ex), "planes": planes}


# ------------------------------------------------------------------------------------------------------------------
# chapter 9: the geometric invariance hypothesis (experiments.geometric_invariance)
# ------------------------------------------------------------------------------------------------------------------


def _gih_common(ex) -> dict:
    return {"settings": ex.settings}


def ch9_spectra(preset, device, progress, options: Options = Options()):
    ex = _gih(preset, device, progress, options)
    fig, ax = _plt().subplots(figsize=(6, 3.6), layout="constrained")
    _plot().invariance.spectra_plot(ex.geometry, ax=ax)
    numbers = {**_gih_common(ex), "geometry": {
        arch: {"eigenvalues": g.eigen[0], "participation_ratio": g.participation_ratio,
               "isotropy_ratio": g.isotropy_ratio, "relative_error": g.relative_error, "networks": g.networks,
               "inputs": g.inputs, "route": g.route} for arch, g in ex.geometry.items()}}
    return [("", fig)], numbers


def ch9_eigenvectors(preset, device, progress, options: Options = Options()):
    ex = _gih(preset, device, progress, options)
    indices = (0, 1, 5, 6, 50, 200, 1023)
    fig = _plot().invariance.eigen_figure(ex.geometry, indices=indices)
    numbers = {**_gih_common(ex), "indices": list(indices),
               "eigenvalues": {a: g.eigen[0][list(indices)] for a, g in ex.geometry.items()},
               "eigenvectors": {a: g.eigen[1][:, list(indices)].T.reshape(len(indices), *g.in_shape)
                                for a, g in ex.geometry.items()},
               "layout": "eigenvectors[architecture][k] is u_{indices[k]} as an image of the input shape"}
    return [("", fig)], numbers


def ch9_alignment(preset, device, progress, options: Options = Options()):
    ex = _gih(preset, device, progress, options)
    fig, ax = _plt().subplots(figsize=(5.5, 3.4), layout="constrained")
    _plot().invariance.alignment_plot(ex.alignments, ax=ax)
    return [("", fig)], {**_gih_common(ex), "alignments": ex.alignments, "plane_curvature": ex.plane_curvature}


def ch9_circles(preset, device, progress, options: Options = Options()):
    ex = _gih(preset, device, progress, options)
    points = 400
    fig = _plot().invariance.circles_figure(ex, points=points)
    numbers = {**_gih_common(ex),
               "boundaries": {k: {"coords": c, "predicted": p} for k, (c, p) in ex.boundaries.items()},
               "training_points": {plane: {"coords": c[:points], "labels": y[:points]}
                                   for plane, (c, y) in ex.circle_data.items()},
               "circles": [{k: v for k, v in r.items() if k != "axis_history"} for r in ex.circles],
               "circle_gap_accuracy": {a: ex.circle_gap(a, "accuracy") for a in ex.settings.circle_architectures}}
    return [("", fig)], numbers


def ch9_axis_accuracy(preset, device, progress, options: Options = Options()):
    ex = _gih(preset, device, progress, options)
    fig, ax = _plt().subplots(figsize=(6, 3.6), layout="constrained")
    _plot().invariance.axis_accuracy_plot(ex, ax=ax)
    numbers = {**_gih_common(ex), "circles": ex.circles,
               "circle_gap_axis_accuracy": {a: ex.circle_gap(a) for a in ex.settings.circle_architectures}}
    return [("", fig)], numbers


def ch9_sweep(preset, device, progress, options: Options = Options()):
    ex = _gih(preset, device, progress, options)
    fig, ax = _plt().subplots(figsize=(5.5, 3.4), layout="constrained")
    _plot().invariance.sweep_plot(ex.sweep, ax=ax)
    return [("", fig)], {**_gih_common(ex), "sweep": ex.sweep}


# ------------------------------------------------------------------------------------------------------------------
# the registry
# ------------------------------------------------------------------------------------------------------------------

_CLOSED: tuple[str, ...] = ()

#: Every figure of chapters 2-9: name -> :class:`FigureSpec` (chapter, description, make, presets).
FIGURES: dict[str, FigureSpec] = {
    "ch2-volume-maps": FigureSpec(2, "log volume element of random shallow networks (erf, sigmoid, ReLU; widths "
                                     "3 to 1000) on [-3, 3]^2", ch2_volume_maps, _CLOSED),
    "ch3-convergence": FigureSpec(3, "relative RMS error of the width-n metric against its infinite-width limit "
                                     "(slope -1/2)", ch3_convergence, _CLOSED),
    "ch3-profiles": FigureSpec(3, "infinite-width volume element and Ricci scalar against |x| (erf, sigmoid, ReLU)",
                               ch3_profiles, _CLOSED),
    "ch3-profiles-gelu-softplus": FigureSpec(3, "infinite-width profiles of GELU and softplus (R takes both signs)",
                                             ch3_profiles_gelu_softplus, _CLOSED),
    "ch4-ricci-accuracy": FigureSpec(4, "error of every Ricci-scalar route against 50-digit sympy along a ray, "
                                        "against cond(g)", ch4_ricci_accuracy, _CLOSED),
    "ch4-relu-gelu": FigureSpec(4, "volume element and Ricci scalar of an 8-unit ReLU and GELU network with its "
                                   "hyperplanes", ch4_relu_gelu, _CLOSED),
    "ch4-three-units": FigureSpec(4, "volume element and Ricci scalar of three erf units 120 degrees apart, bias 0 "
                                     "and 1", ch4_three_units, _CLOSED),
    "ch4-unit-circle": FigureSpec(4, "the same network's volume element and Ricci scalar on the unit circle",
                                  ch4_unit_circle, _CLOSED),
    "ch5-fig1-sinusoid": FigureSpec(5, "Fig. 1: volume element, Ricci scalar and prediction of a [2, 250, 2] "
                                       "network on the sinusoid task during training", ch5_fig1_sinusoid),
    "ch5-magnification": FigureSpec(5, "magnification around the true boundary, a control curve and the "
                                       "network's own boundary, per seed", ch5_magnification),
    "ch5-xor": FigureSpec(5, "XOR: volume element, Ricci scalar and prediction after training, widths 2 to 250",
                          ch5_xor),
    "ch5-deep-layers": FigureSpec(5, "deep MLP [2, 8, 8, 8, 2]: volume element after each hidden layer",
                                  ch5_deep_layers),
    "ch5-deep-magnification": FigureSpec(5, "deep MLP: magnification of each layer during training",
                                         ch5_deep_magnification),
    "ch6-fig2-mnist": FigureSpec(6, "Fig. 2: volume element along the line 7 -> 6 through MNIST digits at the "
                                    "start, middle and end of training", ch6_fig2_mnist),
    "ch6-relative": FigureSpec(6, "the 7 -> 6 line relative to its anchors, several epochs (all and live pixels)",
                               ch6_relative),
    "ch6-pairs": FigureSpec(6, "volume element along the lines of every digit pair after training", ch6_pairs),
    "ch6-fig2-plane": FigureSpec(6, "Fig. 2: classes, entropy and volume element on the plane through 7, 6 and 1",
                                 ch6_fig2_plane),
    "ch6-fig2-ternary": FigureSpec(6, "the same plane in ternary coordinates (the anchors' triangle)",
                                   ch6_fig2_ternary),
    "ch6-spectra": FigureSpec(6, "singular values of the Jacobian at the three plane anchors", ch6_spectra),
    "ch6-authors-init": FigureSpec(6, "the 7 -> 6 line from the authors' N(0, 1) initialisation", ch6_authors_init),
    "ch6-relu": FigureSpec(6, "the 7 -> 6 line of a ReLU network (top-100 pseudo-determinant)", ch6_relu),
    "ch7-fig3": FigureSpec(7, "Fig. 3: volume element of a ResNet's features along the line 7 -> 6 (CIFAR-10 "
                              "horse -> frog with the paper preset)", ch7_fig3),
    "ch7-relative": FigureSpec(7, "the Fig. 3 line relative to its anchors, at every snapshot", ch7_relative),
    "ch7-fig3-plane": FigureSpec(7, "Fig. 3: classes, entropy and volume element on the plane through three "
                                    "anchors", ch7_fig3_plane),
    "ch7-fig3-ternary": FigureSpec(7, "the Fig. 3 plane in ternary coordinates", ch7_fig3_ternary),
    "ch7-fig4": FigureSpec(7, "Fig. 4: volume element along one line after each block, start and end of training",
                           ch7_fig4),
    "ch7-depth": FigureSpec(7, "contrast of the control lines against the block, initialisation and trained",
                            ch7_depth),
    "ch8-views": FigureSpec(8, "four test digits and two random views of each (the self-supervised "
                               "augmentation)", ch8_views, ("book",)),
    "ch8-probe": FigureSpec(8, "linear-probe test accuracy of the Barlow Twins and SimCLR backbones, random and "
                               "trained", ch8_probe),
    "ch8-fig5": FigureSpec(8, "Fig. 5: volume element of the backbones' features along a line, both methods, at "
                              "the first and the last epoch (two figures)", ch8_fig5),
    "ch8-barlow-line": FigureSpec(8, "the Barlow Twins line at the figure epochs", ch8_line),
    "ch8-fig6": FigureSpec(8, "Fig. 6: probe classes, entropy and volume element on a plane, one figure per "
                              "method", ch8_fig6),
    "ch9-spectra": FigureSpec(9, "spectra of the average geometry G of random MLPs, LeNets and ResNets",
                              ch9_spectra),
    "ch9-eigenvectors": FigureSpec(9, "eigenvectors of G as images and their power spectra", ch9_eigenvectors),
    "ch9-alignment": FigureSpec(9, "alignment of Delta^0 with G S G, S and a random control at initialisation",
                                ch9_alignment),
    "ch9-circles": FigureSpec(9, "decision regions of the networks trained on circles in an aligned and an "
                                 "unaligned plane", ch9_circles),
    "ch9-axis-accuracy": FigureSpec(9, "axis accuracy during training on the two planes", ch9_axis_accuracy),
    "ch9-sweep": FigureSpec(9, "test accuracy against the eigen-index of the direction carrying the label",
                            ch9_sweep),
}


# ------------------------------------------------------------------------------------------------------------------
# writing
# ------------------------------------------------------------------------------------------------------------------


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _atomic_write(path: Path, write: Callable[[object], None], mode: str = "wb") -> None:
    """``write(file)`` into a temporary file next to ``path``, then :func:`os.replace` it into place (with the
    permissions of a newly created file: ``mkstemp`` makes it private)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **({"encoding": "utf-8"} if "b" not in mode else {})) as fh:
            write(fh)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _check_cache(options: Options) -> None:
    """The cache root must be a folder that exists or can be created and is writable; else :class:`UsageError`
    naming it, where it came from, and the command line's ways out (``--cache-dir``, ``PAPERLIB_CACHE``,
    ``--no-cache``), not the Python keywords of :meth:`paperlib.cache.Cache.open`."""
    from . import cache as _cache

    where = _cache.root(options.cache_dir)
    source = ("given by --cache-dir" if options.cache_dir is not None else
              "from the environment variable PAPERLIB_CACHE" if os.environ.get("PAPERLIB_CACHE") else
              "the default, as neither --cache-dir nor PAPERLIB_CACHE is set")
    problem = writable_folder_problem(where)
    if problem:
        raise UsageError(f"the cache folder {where} ({source}) {problem}; choose another with --cache-dir DIR or "
                         "the environment variable PAPERLIB_CACHE, or run with --no-cache")


def _check_folder(folder: Path, what: str, hint: str) -> None:
    """Create ``folder`` (with its parents) and check that a file can be written there; :class:`UsageError` naming
    it otherwise."""
    problem = writable_folder_problem(folder)
    if problem:
        raise UsageError(f"the {what} {folder} {problem}; {hint}")


def _write(name: str, spec: FigureSpec, figures: list, numbers: dict, out: Path, meta: dict) -> list[Path]:
    """Write the figures and the JSON (under ``torchrun``: rank 0 only; every rank computed the same results)."""
    from . import distributed

    plt = _plt()
    written = []
    if distributed.rank() != 0:
        for _, fig in figures:
            plt.close(fig)
        return written
    try:
        for suffix, fig in figures:
            for ext in ("png", "pdf"):
                path = out / f"{name}{suffix}.{ext}"
                _atomic_write(path, lambda fh, fig=fig, ext=ext: fig.savefig(fh, format=ext, dpi=_DPI,
                                                                                bbox_inches="tight"))
                written.append(path)
    finally:
        for _, fig in figures:
            plt.close(fig)
    numbers = dict(numbers)
    settings = numbers.pop("settings", None)
    doc = {"figure": name, "chapter": spec.chapter, "description": spec.description, **meta,
           "files": [p.name for p in written]}
    if settings is not None:
        doc["settings"] = settings
    doc["numbers"] = numbers
    text = json.dumps(jsonable(doc), allow_nan=False, separators=(",", ":"))
    path = out / f"{name}.json"
    _atomic_write(path, lambda fh: fh.write(text + "\n"), mode="w")
    return written + [path]


# ------------------------------------------------------------------------------------------------------------------
# the commands
# ------------------------------------------------------------------------------------------------------------------


def _presets_text(spec: FigureSpec) -> str:
    return ", ".join(spec.presets) if spec.presets else "none (closed form)"


def _has_preset(spec: FigureSpec, preset: str | None) -> bool:
    """Whether ``spec`` can be made with ``preset`` (``None``: the default, ``book``). The closed forms have no
    preset: they take ``None`` and ``book`` (which changes nothing there, as in the chapters), not ``paper``."""
    if not spec.presets:
        return preset in (None, "book")
    return (preset or "book") in spec.presets


def _select(names: Sequence[str], preset: str | None) -> list[str]:
    """The figures to make, in order, after checking the names and that each has ``preset``. With ``all``: every
    figure that has ``preset``, and the closed forms of chapters 2-4 whatever the preset (they have none)."""
    if any(n == "all" for n in names):
        return [n for n, spec in FIGURES.items() if not spec.presets or _has_preset(spec, preset)]
    unknown = [n for n in names if n not in FIGURES]
    if unknown:
        lines = []
        for n in unknown:
            close = difflib.get_close_matches(n, list(FIGURES), n=6, cutoff=0.5)
            close += [f for f in FIGURES if n and f.startswith(n) and f not in close]
            hint = f"; did you mean {', '.join(close[:8])}?" if close else ""
            lines.append(f"unknown figure {n!r}{hint}")
        raise UsageError("\n".join(lines) + "\n(`python -m paperlib list` lists every figure)")
    chosen = list(dict.fromkeys(names))
    wrong = [n for n in chosen if not _has_preset(FIGURES[n], preset)]
    if wrong:
        raise UsageError("\n".join(
            f"figure {n!r} has no preset {preset!r}; its presets: {_presets_text(FIGURES[n])}"
            + ("; leave out --preset" if not FIGURES[n].presets else "") for n in wrong))
    return chosen


def _resolve_device(device: str) -> str:
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda was asked for, but CUDA is not available here (torch.cuda.is_available() "
                         "is False); use --device cpu or auto")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def reproduce(names: Sequence[str], *, preset: str | None = None, device: str = "auto", out: str | os.PathLike =
              "figures", progress: bool | None = None, options: Options = Options()) -> int:
    """Make the figures ``names`` (or ``["all"]``) and write them to ``out``; returns the exit code (see the module
    docstring). Usage errors are raised as :class:`UsageError` before any computation."""
    from . import cache as _cache
    from .data import DataUnavailableError

    chosen = _select(names, preset)
    skipped = [n for n in FIGURES if n not in chosen] if "all" in names else []
    if skipped:
        _log(f"not made (no {preset} preset): {', '.join(skipped)}")
    folder = Path(out).expanduser()
    _check_folder(folder, "output folder", "choose another with --out")
    if options.cache and any(FIGURES[n].presets for n in chosen):
        _check_cache(options)
    dev = _resolve_device(device)

    import matplotlib

    matplotlib.use("Agg")
    from . import __version__

    missing: list[str] = []
    for i, name in enumerate(chosen, 1):
        spec = FIGURES[name]
        used = (preset or "book") if spec.presets else None
        _log(f"[{i}/{len(chosen)}] {name} (chapter {spec.chapter}"
             + (f", {used} preset" if used else "") + f", {dev}): {spec.description}")
        start = time.perf_counter()
        try:
            figures, numbers = spec.make(used, dev, progress, options)
        except DataUnavailableError as exc:
            _log(f"error: {name}: the data are not available: {exc}\n    On the command line: put them in the "
                 f"folder given by --data-dir{'' if options.download else ', or leave out --no-download to fetch them'}"
                 f", or use --preset book.")
            missing.append(name)
            continue
        meta = {"preset": used, "device": dev, "paperlib_version": __version__,
                "options": {"cache": options.cache,
                            "cache_dir": str(_cache.root(options.cache_dir)) if options.cache else None,
                            "data_dir": options.data_dir, "download": options.download},
                "seconds": round(time.perf_counter() - start, 3)}
        paths = _write(name, spec, figures, numbers, folder, meta)
        _log(f"    wrote {', '.join(str(p) for p in paths)} ({time.perf_counter() - start:.1f} s)")
        print("\n".join(str(p) for p in paths), flush=True)
    if missing:
        _log(f"{len(missing)} figure(s) not made for want of data: {', '.join(missing)}")
        return EXIT_DATA
    return EXIT_OK


def _list(chapter: int | None) -> int:
    rows = [(n, s) for n, s in FIGURES.items() if chapter is None or s.chapter == chapter]
    if not rows:
        raise UsageError(f"no figures in chapter {chapter}; chapters: {sorted({s.chapter for s in FIGURES.values()})}")
    width = max(len(n) for n, _ in rows)
    print(f"{'figure':{width}}  chapter  {'presets':19}  description")
    for n, s in rows:
        print(f"{n:{width}}  {s.chapter:>7}  {_presets_text(s):19}  {s.description}")
    print("\n`python -m paperlib reproduce NAME... --preset book|paper --out DIR` writes DIR/NAME.png, .pdf and .json; "
          "`reproduce all` makes every figure.")
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="paperlib" if Path(sys.argv[0]).name == "paperlib" else "python -m paperlib",
        description="Reproduce the figures of the book (chapters 2-9) with the package paperlib.",
        epilog="Exit codes: 0 done; 2 usage error (unknown figure or preset, output or cache folder not writable, "
               "no CUDA); 3 data unavailable (the message says how to get them); 130 interrupted; 1 other errors.")
    from . import __version__

    parser.add_argument("--version", action="version", version=f"paperlib {__version__}",
                        help="print the version of paperlib and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    ls = sub.add_parser("list", help="list the figures: name, chapter, presets, description",
                        description="List the figures: name, chapter, presets and a description.")
    ls.add_argument("--chapter", type=int, default=None, help="only the figures of this chapter")
    rp = sub.add_parser(
        "reproduce", help="compute figures and write PNG, PDF and JSON",
        description="Compute figures and write OUT/NAME.png, OUT/NAME.pdf and OUT/NAME.json (the numbers behind "
                    "the figure and the settings used). Training is cached (--cache-dir): a second run reads it, an "
                    "interrupted one resumes.",
        epilog="Exit codes: 0 done; 2 usage error, found before any computation; 3 data unavailable; 130 "
               "interrupted; 1 other errors.")
    rp.add_argument("figures", nargs="+", metavar="FIGURE", help="figure names (see `list`), or `all`")
    rp.add_argument("--preset", choices=PRESETS, default=None,
                    help="the experiments' preset (chapters 5-9): book (CPU minutes, the default) or paper (the "
                         "papers' settings, meant for a GPU; chapters 6-8 need full MNIST or CIFAR-10). The closed "
                         "forms of chapters 2-4 have none.")
    rp.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                    help="where to train and measure (auto: CUDA when present; chapters 5 and 6 run on the CPU)")
    rp.add_argument("--out", default="figures", help="output folder, created if missing (default: figures/)")
    rp.add_argument("--cache-dir", default=None,
                    help="the training and geometry cache (default: $PAPERLIB_CACHE or ~/.cache/paperlib)")
    rp.add_argument("--no-cache", dest="cache", action="store_false",
                    help="compute everything without reading or writing the cache (--cache-dir is then unused)")
    rp.add_argument("--data-dir", default=None,
                    help="where full MNIST and CIFAR-10 are kept (default: <cache>/mnist and <cache>/cifar10)")
    rp.add_argument("--no-download", dest="download", action="store_false",
                    help="never download data: fail (exit 3) when they are not in --data-dir")
    rp.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                    help="progress bars of long work (default: on when standard error is a terminal, or as "
                         "$PAPERLIB_PROGRESS says)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; returns the exit code (``python -m paperlib`` and the ``paperlib`` script exit with it)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        if args.command == "list":
            return _list(args.chapter)
        from . import distributed

        distributed.init_from_env()  # under torchrun: the ranks share the work (paperlib.distributed)
        return reproduce(args.figures, preset=args.preset, device=args.device, out=args.out,
                         progress=args.progress,
                         options=Options(cache_dir=args.cache_dir, data_dir=args.data_dir, download=args.download,
                                         cache=args.cache))
    except UsageError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        _log("interrupted: run the same command again to resume from the training cache")
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
