r"""Reproduce the book's figures from the command line.

.. code-block:: bash

    python -m paperlib list                      # every figure: name, chapter, presets, function, description
    python -m paperlib reproduce toy-sinusoid --preset book --device auto --out figures/
    python -m paperlib reproduce all --preset paper --cache-dir /scratch/paperlib
    python -m paperlib reproduce toy-xor --no-cache  # compute everything, read and write no cache
    python -m paperlib reproduce all --preset tiny   # seconds: a smoke test of every figure
    python -m paperlib --version                 # paperlib <version>

(``paperlib`` is the same command, installed as a console script.) For each figure ``NAME``, ``reproduce`` writes
``<out>/NAME.png`` and ``<out>/NAME.pdf`` (``NAME<suffix>.png/.pdf`` for the figures of one entry that has
several, e.g. one per method) and ``<out>/NAME.json``: the numbers behind the figure, the preset's settings
(``settings``, where the figure has a preset) and the options used. Every file is written to a temporary file in
the output folder and then renamed into place, so a file is either complete or absent. In the JSON, the floats
that JSON cannot hold are written as the strings ``"nan"``, ``"inf"`` and ``"-inf"``.

The figures are the registered figure functions of :mod:`paperlib.chapters` (:mod:`paperlib.chapters.registry`),
the very functions the chapters call, so the figures and numbers are the chapters'. This module is only the
runner: argument parsing, usage errors before any work, atomic writes and exit codes.
Training goes through the cache of :mod:`paperlib.cache` (``--cache-dir``, default ``$PAPERLIB_CACHE`` or
``~/.cache/paperlib``): a second run reads it, and an interrupted one resumes from the last checkpoint when run
again. ``--no-cache`` passes ``cache=False`` to the experiments: everything is computed, and nothing is read from
or written to the cache folder (which is then not checked either; data that the ``paper`` presets download still go
to the data folder, ``--data-dir``).

Exit codes: 0 every figure written; 2 a usage error, found before any computation (unknown figure or preset, a
preset that the figure does not have, an output or cache folder that cannot be created or written, CUDA asked for
but absent); 3 data that are neither on disk nor downloadable (the message names them and how to get them); 130
interrupted; 1 any other error (with its traceback).

This module imports matplotlib and the figure modules only when it draws (``import paperlib`` does not import it
at all).
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Sequence

from ._checks import writable_folder_problem

from .chapters.registry import PRESETS, FigureSpec, Options

__all__ = ["Options", "PRESETS", "EXIT_OK", "EXIT_FAILURE", "EXIT_USAGE", "EXIT_DATA", "jsonable", "reproduce",
           "main"]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_DATA, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
_DPI = 150


class UsageError(Exception):
    """A command-line error found before any computation (exit code 2)."""


# ------------------------------------------------------------------------------------------------------------------
# JSON
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


def _write(spec: FigureSpec, figures: Sequence, numbers: dict, out: Path, meta: dict) -> list[Path]:
    """Write the figures and the JSON (under ``torchrun``: rank 0 only; every rank computed the same results)."""
    import matplotlib.pyplot as plt

    from . import distributed

    name = spec.name
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
    doc = {"figure": name, "chapter": spec.chapter, "description": spec.description, "function": spec.function,
           **meta,
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


#: The earlier names of the figures (``ch<N>-...``), for the hint after an unknown name.
RENAMED = {"ch2-volume-maps": "shallow-volume-maps", "ch3-convergence": "infinite-convergence",
           "ch3-profiles": "infinite-profiles", "ch3-profiles-gelu-softplus": "infinite-profiles-gelu-softplus",
           "ch4-ricci-accuracy": "curvature-ricci-accuracy", "ch4-relu-gelu": "curvature-relu-gelu",
           "ch4-three-units": "curvature-three-units", "ch4-unit-circle": "curvature-unit-circle",
           "ch5-fig1-sinusoid": "toy-sinusoid", "ch5-magnification": "toy-magnification", "ch5-xor": "toy-xor",
           "ch5-deep-layers": "toy-deep-layers", "ch5-deep-magnification": "toy-deep-magnification",
           "ch6-fig2-mnist": "mnist-line", "ch6-relative": "mnist-relative", "ch6-pairs": "mnist-pairs",
           "ch6-fig2-plane": "mnist-plane", "ch6-fig2-ternary": "mnist-ternary", "ch6-spectra": "mnist-spectra",
           "ch6-authors-init": "mnist-authors-init", "ch6-relu": "mnist-relu", "ch7-fig3": "deep-line",
           "ch7-relative": "deep-relative", "ch7-fig3-plane": "deep-plane", "ch7-fig3-ternary": "deep-ternary",
           "ch7-fig4": "deep-blocks", "ch7-depth": "deep-depth", "ch8-views": "selfsup-views",
           "ch8-probe": "selfsup-probe", "ch8-fig5": "selfsup-lines", "ch8-barlow-line": "selfsup-barlow-line",
           "ch8-fig6": "selfsup-planes", "ch9-spectra": "invariance-spectra",
           "ch9-eigenvectors": "invariance-eigenvectors", "ch9-alignment": "invariance-alignment",
           "ch9-circles": "invariance-circles", "ch9-axis-accuracy": "invariance-axis-accuracy",
           "ch9-sweep": "invariance-sweep"}


def _figures() -> dict[str, FigureSpec]:
    from .chapters import registry

    return registry.figures()


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
    FIGURES = _figures()
    if any(n == "all" for n in names):
        return [n for n, spec in FIGURES.items() if not spec.presets or _has_preset(spec, preset)]
    unknown = [n for n in names if n not in FIGURES]
    if unknown:
        lines = []
        for n in unknown:
            close = [RENAMED[n]] if n in RENAMED else []
            close += [f for f in difflib.get_close_matches(n, list(FIGURES), n=6, cutoff=0.5) if f not in close]
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


def _check_device(device: str) -> None:
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda was asked for, but CUDA is not available here (torch.cuda.is_available() "
                         "is False); use --device cpu or auto")


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def reproduce(names: Sequence[str], *, preset: str | None = None, out: str | os.PathLike = "figures",
              options: Options = Options()) -> int:
    """Make the figures ``names`` (or ``["all"]``) with ``preset`` (``None``: ``"book"``; the closed forms have
    none) and ``options`` (device, cache, data, progress, threads, workers) and write them to ``out``; returns the
    exit code (see the module docstring). Usage errors are raised as :class:`UsageError` before any computation."""
    from . import __version__
    from . import cache as _cache
    from .chapters import registry
    from .data import DataUnavailableError

    chosen = _select(names, preset)
    FIGURES = _figures()
    skipped = [n for n in FIGURES if n not in chosen] if "all" in names else []
    if skipped:
        _log(f"not made (no {preset} preset): {', '.join(skipped)}")
    folder = Path(out).expanduser()
    _check_folder(folder, "output folder", "choose another with --out")
    if options.cache and any(FIGURES[n].presets for n in chosen):
        _check_cache(options)
    _check_device(options.device)
    from ._checks import resolve_device

    dev = str(resolve_device(options.device))

    import matplotlib

    matplotlib.use("Agg")

    missing: list[str] = []
    for i, name in enumerate(chosen, 1):
        spec = FIGURES[name]
        used = (preset or "book") if spec.presets else None
        _log(f"[{i}/{len(chosen)}] {name} (chapter {spec.chapter}"
             + (f", {used} preset" if used else "") + f", {dev}): {spec.description}")
        start = time.perf_counter()
        try:
            drawn = registry.make(name, used, options)
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
        paths = _write(spec, drawn.figures, drawn.numbers, folder, meta)
        _log(f"    wrote {', '.join(str(p) for p in paths)} ({time.perf_counter() - start:.1f} s)")
        print("\n".join(str(p) for p in paths), flush=True)
    if missing:
        _log(f"{len(missing)} figure(s) not made for want of data: {', '.join(missing)}")
        return EXIT_DATA
    return EXIT_OK


def _list(chapter: int | None) -> int:
    FIGURES = _figures()
    rows = [(n, s) for n, s in FIGURES.items() if chapter is None or s.chapter == chapter]
    if not rows:
        raise UsageError(f"no figures in chapter {chapter}; chapters: {sorted({s.chapter for s in FIGURES.values()})}")
    width = max(len(n) for n, _ in rows)
    print(f"{'figure':{width}}  chapter  {'presets':19}  description (drawn by)")
    for n, s in rows:
        print(f"{n:{width}}  {s.chapter:>7}  {_presets_text(s):19}  {s.description}\n{'':{width + 32}}({s.function})")
    print("\n`python -m paperlib reproduce NAME... --preset book|hours|paper|tiny --out DIR` writes DIR/NAME.png, "
          ".pdf and .json; `reproduce all` makes every figure.")
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
    ls = sub.add_parser("list", help="list the figures: name, chapter, presets, description, function",
                        description="List the figures: name, chapter, presets, a description and the function of "
                                    "paperlib.chapters that draws it (the one the chapter calls).")
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
                    help="the experiments' preset (chapters 5-10): book (CPU minutes, the default), hours "
                         "(chapters 7-10: more seeds, lines, runs and epochs on the book's data, a few CPU hours or "
                         "GPU minutes), paper (the papers' settings, meant for a GPU; chapters 6-8 need full MNIST "
                         "or CIFAR-10) or tiny (seconds: a smoke test, numbers without meaning). The closed forms "
                         "of chapters 2-4 have none.")
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
    rp.add_argument("--threads", type=int, default=1, metavar="N",
                    help="torch threads per process while training and measuring (default: 1)")
    rp.add_argument("--workers", type=int, default=None, metavar="N",
                    help="processes training networks in parallel (default: one per CPU core on the CPU, one on "
                         "a GPU)")
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
        for flag in ("threads", "workers"):
            value = getattr(args, flag)
            if value is not None and value < 1:
                raise UsageError(f"--{flag} must be a positive integer; got {value}")
        return reproduce(args.figures, preset=args.preset, out=args.out,
                         options=Options(device=args.device, cache=args.cache, cache_dir=args.cache_dir,
                                         data_dir=args.data_dir, download=args.download, progress=args.progress,
                                         num_threads=args.threads, workers=args.workers))
    except UsageError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        _log("interrupted: run the same command again to resume from the training cache")
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
