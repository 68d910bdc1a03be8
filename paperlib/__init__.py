"""paperlib: the Riemannian geometry a neural network's feature map induces on its input space.

A feature map ``f: (B, *in_shape) -> (B, n)`` pulls the flat metric of feature space back to input space,
``g(x) = J(x)^T J(x)``. The modules:

- :mod:`paperlib.geometry`    -- autodiff geometry of any batched feature map (Jacobian, metric, volume element,
  spectrum, Christoffel symbols, Riemann and Ricci tensors, Ricci scalar);
- :mod:`paperlib.shallow`     -- closed forms for one-hidden-layer maps ``Phi_j(x) = act(w_j . x + b_j) / sqrt(n)``;
- :mod:`paperlib.infinite`    -- the infinite-width (random-weight) metric, volume element and Ricci scalar;
- :mod:`paperlib.symbolic`    -- the sympy derivations the book shows and the tests check against (imported on
  first use);
- :mod:`paperlib.activations` -- activation functions and their derivatives by name;
- :mod:`paperlib.models`, :mod:`paperlib.data`, :mod:`paperlib.train` -- networks, data sets, cached seeded
  training of any model;
- :mod:`paperlib.chapters`    -- the book's chapters as code: each chapter's experiments (presets, entry points,
  claim statistics) and its registered figures, shared by the notebooks and the command line (imported on
  first use);
- :mod:`paperlib.cache`       -- the one on-disk cache (atomic, checksummed, keyed by the full configuration);
- :mod:`paperlib.workers`     -- parallel worker processes (``parallel_map``), torch threads, progress bars;
- :mod:`paperlib.distributed` -- work shared among the processes of ``torchrun`` (points, networks, training);
- :mod:`paperlib.slices`      -- lines and planes through anchor inputs, ternary coordinates;
- :mod:`paperlib.ssl`         -- Barlow Twins and SimCLR losses, projectors, two-view augmentation, linear probe;
- :mod:`paperlib.gih`         -- the average geometry of random networks, its evolution at initialisation, alignment;
- :mod:`paperlib.plot`        -- chapter-free building blocks of figures (imported on first use: it loads
  matplotlib).
"""

import importlib

from . import (activations, cache, data, distributed, geometry, gih, infinite, models, shallow, slices, ssl, train,
               workers)

#: Imported on first use: ``plot`` loads matplotlib (slow, and it picks a backend), ``symbolic`` loads sympy,
#: ``chapters`` holds the book's experiments; so
#: ``import paperlib`` needs only torch, numpy and scipy (e.g. on a GPU machine without the book's extras).
_LAZY = ("chapters", "plot", "symbolic")

__all__ = [
    "activations",
    "cache",
    "chapters",
    "data",
    "distributed",
    "geometry",
    "gih",
    "infinite",
    "models",
    "plot",
    "shallow",
    "slices",
    "ssl",
    "symbolic",
    "train",
    "workers",
]
__version__ = "0.1.0"


def __getattr__(name: str):
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'paperlib' has no attribute {name!r}")
