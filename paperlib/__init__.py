"""paperlib: the Riemannian geometry a neural network's feature map induces on its input space.

A feature map ``f: (B, *in_shape) -> (B, n)`` pulls the flat metric of feature space back to input space,
``g(x) = J(x)^T J(x)``. The modules:

- :mod:`paperlib.geometry`  -- autodiff geometry of any batched feature map (Jacobian, metric, volume element,
  spectrum);
- :mod:`paperlib.shallow`   -- closed forms for one-hidden-layer maps ``Phi_j(x) = act(w_j . x + b_j) / sqrt(n)``;
- :mod:`paperlib.symbolic`  -- the sympy derivations the book shows and the tests check against;
- :mod:`paperlib.activations` -- activation functions and their derivatives by name.
"""

from . import activations, geometry, shallow

__all__ = ["activations", "geometry", "shallow"]
__version__ = "0.1.0"
