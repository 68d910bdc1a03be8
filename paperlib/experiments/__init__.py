"""The experiments behind the book's figures: one module per chapter around a small shared core.

- :mod:`paperlib.experiments.core`  -- presets (frozen dataclasses), cached measurements, line and plane geometry;
- :mod:`paperlib.experiments.toy`   -- chapter 5: sinusoid (Fig. 1), XOR, deep MLP;
- :mod:`paperlib.experiments.digits` -- chapter 6: MNIST (Fig. 2); named so that `experiments.mnist` stays the function;
- :mod:`paperlib.experiments.resnet` -- chapter 7: a ResNet, its features and blocks (Figs. 3-4); the function is
  `experiments.deep`;
- :mod:`paperlib.experiments.selfsup` -- chapter 8: Barlow Twins and SimCLR backbones (Figs. 5-6); the function is
  `experiments.self_supervised`;
- :mod:`paperlib.experiments.invariance` -- chapter 9: average geometry, Delta^0 and the geometric invariance
  hypothesis (arXiv:2410.12025); the function is `experiments.geometric_invariance`;
- :mod:`paperlib.experiments.usage` -- chapter 10: a volume-element penalty trained through the geometry.

Every public name of the chapter modules is available here as well (``paperlib.experiments.sinusoid(...)``).
"""

from . import core, digits, invariance, resnet, selfsup, toy, usage
from .core import *  # noqa: F401,F403
from .resnet import *  # noqa: F401,F403
from .selfsup import *  # noqa: F401,F403
from .digits import *  # noqa: F401,F403
from .invariance import *  # noqa: F401,F403
from .toy import *  # noqa: F401,F403
from .usage import *  # noqa: F401,F403

__all__ = ["core", "toy", "digits", "resnet", "selfsup", "invariance", "usage", *core.__all__, *toy.__all__,
           *digits.__all__, *invariance.__all__, *usage.__all__,
           *resnet.__all__, *selfsup.__all__]
