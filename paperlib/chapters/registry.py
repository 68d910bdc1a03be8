r"""The registry of the book's figures, shared by the chapters and the command line.

Each chapter module of :mod:`paperlib.chapters` computes its experiments (``<chapter>.py``) and draws its figures
(``<chapter>_figures.py``). A figure function takes what the experiment returned and gives back a :class:`Drawn`:
the matplotlib figure(s) and the numbers behind them. Registered with :func:`figure` under a name such as
``"toy-sinusoid"`` (the chapter module's name, then the figure's), it is what the notebook calls and what
``python -m paperlib reproduce toy-sinusoid`` runs: one function per figure, one place to change it.

.. code-block:: python

    from paperlib.chapters import registry, toy, toy_figures

    sin = toy.sinusoid("tiny")                      # the experiment (cached training)
    drawn = toy_figures.sinusoid(sin)               # the figure and its numbers, as in the book
    drawn = registry.make("toy-sinusoid", "tiny")   # the same, as the command line makes it

:class:`Options` holds what every chapter entry point takes besides its preset: where to cache and find data,
the device, progress bars, threads and worker processes.
"""

from __future__ import annotations

import dataclasses
import importlib
import sys
from dataclasses import dataclass
from typing import Any, Callable

from .._checks import check_choice

__all__ = ["Options", "Drawn", "FigureSpec", "figure", "closed_form", "FIGURES", "CHAPTERS", "figures", "make",
           "PRESETS", "STANDARD_PRESETS"]

#: The presets of the experiments, ``"book"`` (minutes on a 2-core CPU, the book's numbers), ``"hours"`` (chapters
#: 7-10 only: the book's data and networks with more seeds, lines, runs and epochs, a few hours on a 2-core CPU or
#: minutes on a GPU, to decide the claims that the book scale leaves open), ``"paper"`` (the papers' settings, for
#: a GPU) and ``"tiny"`` (seconds, a smoke test of the whole pipeline whose numbers mean nothing).
PRESETS = ("book", "hours", "paper", "tiny")
#: The presets every experiment has (:attr:`FigureSpec.presets` by default).
STANDARD_PRESETS = ("book", "paper", "tiny")

#: The chapter modules in book order, ``(chapter number, module name)``; ``<name>_figures`` registers the figures.
CHAPTERS = ((2, "shallow"), (3, "infinite"), (4, "curvature"), (5, "toy"), (6, "mnist"), (7, "deep"),
            (8, "selfsup"), (9, "invariance"), (10, "hypothesis"))


@dataclass(frozen=True)
class Options:
    """What every chapter entry point takes besides its preset (one object instead of the same keywords in each
    signature; the command line builds one from its flags).

    Attributes:
        device: ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda"``: where networks are trained and measured
            (the chapters of small MLPs, 5 and 6, run on the CPU whatever this says).
        cache: use the on-disk cache of :mod:`paperlib.cache` (``False``: compute everything, read and write
            nothing under ``cache_dir``).
        cache_dir: the cache root (``None``: ``$PAPERLIB_CACHE`` or ``~/.cache/paperlib``).
        data_dir: where full MNIST and CIFAR-10 are kept (``None``: ``<cache root>/mnist``, ``<cache root>/cifar10``).
        download: whether data that are missing may be downloaded.
        progress: progress bars (``None``: on when standard error is a terminal, or as ``$PAPERLIB_PROGRESS`` says).
        num_threads: torch threads per process while training and measuring (``None``: leave torch's setting).
        workers: worker processes training networks in parallel (``None``: one per CPU core on the CPU, one on a
            GPU).
    """

    device: str = "auto"
    cache: bool = True
    cache_dir: str | None = None
    data_dir: str | None = None
    download: bool = True
    progress: bool | None = None
    num_threads: int | None = 1
    workers: int | None = None

    def __post_init__(self) -> None:
        for name in ("cache", "download"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"Options.{name} must be True or False; got {getattr(self, name)!r}")
        if not isinstance(self.device, str):
            raise TypeError(f"Options.device must be a string such as 'auto', 'cpu' or 'cuda'; got {self.device!r}")
        for name in ("num_threads", "workers"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"Options.{name} must be None or a positive integer; got {value!r}")

    def replace(self, **changes: Any) -> "Options":
        """A copy with ``changes`` (checked again)."""
        return dataclasses.replace(self, **changes)

    def store(self):
        """The :class:`paperlib.cache.Cache` these options name (disabled with ``cache=False``); opening it checks
        the folder before any work."""
        from .. import cache as _cache

        return _cache.Cache.open(self.cache_dir, enabled=self.cache)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def as_options(options: Options | None) -> Options:
    """``options`` checked (``None``: the defaults)."""
    if options is None:
        return Options()
    if not isinstance(options, Options):
        raise TypeError(f"options must be a paperlib.chapters.Options; got {type(options).__name__}")
    return options


@dataclass(frozen=True)
class Drawn:
    """What a figure function returns: ``figures``, a tuple of ``(suffix, matplotlib Figure)`` (the suffix, ``""``
    for a figure of its own, names the image files of one entry that draws several, e.g. ``"-barlow"``), and
    ``numbers``, a dict of the values the figure shows (written to JSON by ``python -m paperlib reproduce``; the key
    ``"settings"``, where present, is the experiment's preset)."""

    figures: tuple
    numbers: dict

    @property
    def figure(self):
        """The first (usually the only) figure."""
        return self.figures[0][1]


@dataclass(frozen=True)
class FigureSpec:
    """One registered figure.

    Attributes:
        name: the figure's name, ``"<chapter module>-<figure>"``.
        chapter: the book's chapter number.
        description: one line for ``python -m paperlib list``.
        draw: the figure function (``draw(data) -> Drawn``), the one the notebook calls.
        source: ``source(preset, options) -> data``, the experiment the figure shows (results of one source are
            computed once per process and shared by its figures).
        presets: the presets the figure has (``()``: a closed form without presets).
    """

    name: str
    chapter: int
    description: str
    draw: Callable[[Any], Drawn]
    source: Callable[[str | None, Options], Any]
    presets: tuple[str, ...] = STANDARD_PRESETS

    @property
    def function(self) -> str:
        """The figure function's dotted name, e.g. ``paperlib.chapters.toy_figures.sinusoid``."""
        return f"{self.draw.__module__}.{self.draw.__name__}"


def closed_form(compute: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[[str | None, Options], Any]:
    """The ``source`` of a closed-form figure (no preset): ``compute(*args, device=options.device, **kwargs)``."""
    def source(preset: str | None, options: Options) -> Any:
        return compute(*args, device=options.device, **kwargs)

    return source


#: Every registered figure, name -> :class:`FigureSpec`, in book order (filled by :func:`figures`).
FIGURES: dict[str, FigureSpec] = {}


def figure(name: str, *, chapter: int, description: str, source: Callable[[str | None, Options], Any],
           presets: tuple[str, ...] = STANDARD_PRESETS) -> Callable:
    """Decorator registering a figure function under ``name`` (see :class:`FigureSpec`)."""
    def register(draw: Callable[[Any], Drawn]) -> Callable[[Any], Drawn]:
        if name in FIGURES and FIGURES[name].function != f"{draw.__module__}.{draw.__name__}":
            raise ValueError(f"figure {name!r} is registered twice: {FIGURES[name].function} and "
                             f"{draw.__module__}.{draw.__name__}")
        FIGURES[name] = FigureSpec(name, chapter, description, draw, source, tuple(presets))
        draw.figure_name = name
        return draw
    return register


def figures() -> dict[str, FigureSpec]:
    """:data:`FIGURES`, after importing every chapter's figure module (which loads matplotlib)."""
    for _, module in CHAPTERS:
        importlib.import_module(f"{__package__}.{module}_figures")
    ranked = sorted(FIGURES.values(), key=lambda s: s.chapter)  # stable: a chapter's figures in their order
    FIGURES.clear()
    FIGURES.update((s.name, s) for s in ranked)
    return FIGURES


_MEMO: dict = {}


def compute(source: Callable[[str | None, Options], Any], preset: str | None, options: Options) -> Any:
    """``source(preset, options)`` once per process (the figures of one experiment share it); a
    :class:`paperlib.data.DataUnavailableError` is remembered too, so that it is not retried for every figure."""
    from ..data import DataUnavailableError

    key = (source, preset, options)
    if key not in _MEMO:
        # the chapter module's function as it is bound now (a function replaced in its module is the one that runs)
        current = getattr(sys.modules.get(source.__module__), source.__name__, source)
        try:
            _MEMO[key] = (True, current(preset, options))
        except DataUnavailableError as exc:
            _MEMO[key] = (False, exc)
    ok, value = _MEMO[key]
    if not ok:
        raise value
    return value


def make(name: str, preset: str | None = None, options: Options | None = None) -> Drawn:
    """The figure ``name`` for ``preset`` (``None``: ``"book"``; closed forms take none) with ``options``, as the
    command line makes it: its experiment (computed once per process), then its figure function."""
    specs = figures()
    if name not in specs:
        raise ValueError(f"unknown figure {name!r}; the figures: {', '.join(specs)}")
    spec = specs[name]
    options = as_options(options)
    if spec.presets:
        preset = check_choice(preset or "book", "preset", spec.presets)
    elif preset not in (None, "book"):
        raise ValueError(f"figure {name!r} is a closed form without presets; leave preset out")
    data = compute(spec.source, preset if spec.presets else None, options)
    return spec.draw(data)

