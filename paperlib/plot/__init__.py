r"""Chapter-free building blocks of the book's figures.

- :mod:`paperlib.plot.core` -- heat maps of the log volume element and the Ricci scalar with decision boundaries,
  prediction maps, line, plane and ternary panels, spectra, class colours, the epoch slider, labels;
- :mod:`paperlib.plot.slices` -- lines and planes through anchor images across training (chapters 6-8);
- :mod:`paperlib.plot.shallow` -- what remains chapter-free of the shallow-network panels (hidden units'
  hyperplanes).

Nothing here computes geometry: every function takes precomputed arrays (``torch.Tensor`` or numpy) or result
objects with the fields it names, an optional matplotlib ``Axes``, and returns the ``Axes`` or the ``Figure``.
The figures of each chapter, built from these blocks, are in :mod:`paperlib.chapters` (``<chapter>_figures``).
Every public name of the modules is available here, e.g. ``paperlib.plot.log_volume_map``.
"""

from . import core, shallow, slices
from .core import *  # noqa: F401,F403
from .core import __all__ as _core_all
from .shallow import *  # noqa: F401,F403
from .shallow import __all__ as _shallow_all
from .slices import *  # noqa: F401,F403
from .slices import __all__ as _slices_all

__all__ = [*_core_all, *_shallow_all, *_slices_all]
