r"""The book's figures: chapter-free building blocks and one module per chapter.

- :mod:`paperlib.plot.core` -- heat maps of the log volume element and the Ricci scalar with decision boundaries,
  prediction maps, line, plane and ternary panels, spectra, class colours, the epoch slider, labels;
- :mod:`paperlib.plot.shallow` -- chapters 3-4: infinite-width profiles, volume element and curvature of shallow
  maps with their hidden units' hyperplanes;
- :mod:`paperlib.plot.toy` -- chapter 5: Fig. 1 snapshots, per-layer maps, magnification curves;
- :mod:`paperlib.plot.digits` -- chapter 6 (MNIST): Fig. 2 lines and planes through digits;
- :mod:`paperlib.plot.resnet` -- chapter 7 (a ResNet): Fig. 4 per block, contrast against depth;
- :mod:`paperlib.plot.selfsup` -- chapter 8 (self-supervised backbones): methods side by side, probe accuracy;
- :mod:`paperlib.plot.invariance` -- chapter 9 (the geometric invariance hypothesis): spectra and eigen-images of
  the average geometry, alignments, circles, eigen-index sweep.

Nothing here computes geometry: every function takes precomputed arrays (``torch.Tensor`` or numpy) or the result
objects of :mod:`paperlib.experiments`, an optional matplotlib ``Axes``, and returns the ``Axes`` or the
``Figure``. Every public name of the modules is available here, e.g. ``paperlib.plot.log_volume_map``.
"""

from . import core, digits, invariance, resnet, selfsup, shallow, toy
from .core import *  # noqa: F401,F403
from .core import __all__ as _core_all
from .digits import *  # noqa: F401,F403
from .digits import __all__ as _digits_all
from .resnet import blocks_figure, depth_plot  # noqa: F401
from .selfsup import methods_line_figure, probe_plot  # noqa: F401
from .shallow import *  # noqa: F401,F403
from .shallow import __all__ as _shallow_all
from .toy import *  # noqa: F401,F403
from .toy import __all__ as _toy_all

__all__ = [*_core_all, *_shallow_all, *_toy_all, *_digits_all, "blocks_figure", "depth_plot",
           "methods_line_figure", "probe_plot"]
