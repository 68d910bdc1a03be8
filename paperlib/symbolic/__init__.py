r"""Symbolic (sympy) derivations of the geometry a feature map induces on input space.

The package is split like the numerical modules; every public name is re-exported here (``paperlib.symbolic.X``):

- ``paperlib.symbolic.geometry`` -- coordinates, Jacobian, pullback metric, volume element, kernel form,
  :func:`evaluate`, and the curvature of any metric (:func:`christoffel`, :func:`riemann`, :func:`ricci_tensor`,
  :func:`ricci_scalar`);
- ``paperlib.symbolic.shallow`` -- shallow networks: symbols, map, metric, Cauchy--Binet determinant, numerical
  evaluation (:func:`shallow_lambdify`), their Ricci scalar by the Christoffel route, the reference's closed forms
  and the proofs that they agree;
- ``paperlib.symbolic.infinite`` -- the infinite-width erf metric, Gaussian means, rotation-invariant metrics
  (volume element, Ricci scalar) and the erf Ricci scalar; the symbols :data:`s`, :data:`sigma`, :data:`zeta`;
- ``paperlib.symbolic.gih`` -- exact Gaussian expectations and the average geometry of a linear model
  (:func:`linear_average_geometry`).

The chapters display these expressions, and the tests check the numerical modules against them. Results are
exact sympy expressions; the exceptions are :func:`check_cauchy_binet_numeric` and :func:`shallow_lambdify`
(numpy float64) and explicit activations evaluated at a numeric point (50 significant digits).

Conventions (the same as the rest of :mod:`paperlib`):

- Shallow network: :math:`\Phi_j(x) = \phi(z_j)/\sqrt{n}`, :math:`z_j = w_j\cdot x + b_j`, ``W`` of shape
  ``(n, d)`` and ``b`` of shape ``(n,)``. Symbols: :math:`w_{j\mu}`, :math:`b_j`, :math:`x_\mu` (real). A
  *generic* activation is :class:`PhiDerivative` (``PhiDerivative(k, z)`` is :math:`\phi^{(k)}(z)`), and its values
  :math:`a_j = \phi'(z_j)`, :math:`c_j = \phi''(z_j)`, :math:`e_j = \phi'''(z_j)` are independent symbols.
- Pullback metric :math:`g = J^T J`.
- Curvature: :math:`\Gamma^\rho_{\mu\nu} = \tfrac12 g^{\rho\sigma}(\partial_\mu g_{\sigma\nu} + \partial_\nu
  g_{\sigma\mu} - \partial_\sigma g_{\mu\nu})`, :math:`R^\rho{}_{\sigma\mu\nu} = \partial_\mu\Gamma^\rho_{\nu\sigma}
  - \partial_\nu\Gamma^\rho_{\mu\sigma} + \Gamma^\rho_{\mu\lambda}\Gamma^\lambda_{\nu\sigma}
  - \Gamma^\rho_{\nu\lambda}\Gamma^\lambda_{\mu\sigma}`, :math:`R_{\mu\nu} = R^\rho{}_{\mu\rho\nu}`,
  :math:`R = g^{\mu\nu}R_{\mu\nu}`; a round sphere of radius :math:`r` has :math:`R = +2/r^2`.
- Infinite width: :math:`w \sim N(0, \sigma^2 I_d)`, :math:`b \sim N(0, \zeta^2)`, :math:`s = |x|^2`.
"""

from . import geometry, gih, infinite, shallow
from .geometry import (christoffel, coordinates, evaluate, jacobian, kernel_metric, pullback_metric, ricci_scalar,
                       ricci_tensor, riemann, volume_element)
from .gih import LinearAverageGeometry, gaussian_expectation, linear_average_geometry
from .infinite import (InfiniteWidthMetric, check_erf_ricci, erf_ricci_scalar, gaussian_mean, infinite_width_metric_erf,
                       prove_rotation_invariant_ricci, rotation_invariant_metric, rotation_invariant_ricci,
                       rotation_invariant_volume)
from .shallow import (PhiDerivative, ShallowSymbols, cauchy_binet_det, check_cauchy_binet_numeric, evaluate_shallow,
                      generic_to_symbols, prove_cauchy_binet, prove_shallow_ricci_2d, random_shallow_point,
                      shallow_lambdify, shallow_map, shallow_metric, shallow_ricci_closed_form_2d, shallow_ricci_scalar,
                      shallow_ricci_scalar_2d, shallow_ricci_tensor_formula, shallow_symbols)

__all__ = [
    "s",
    "sigma",
    "zeta",
    "coordinates",
    "jacobian",
    "pullback_metric",
    "volume_element",
    "kernel_metric",
    "PhiDerivative",
    "generic_to_symbols",
    "ShallowSymbols",
    "shallow_symbols",
    "shallow_map",
    "shallow_metric",
    "cauchy_binet_det",
    "prove_cauchy_binet",
    "check_cauchy_binet_numeric",
    "evaluate",
    "shallow_lambdify",
    "evaluate_shallow",
    "christoffel",
    "riemann",
    "ricci_tensor",
    "ricci_scalar",
    "gaussian_mean",
    "InfiniteWidthMetric",
    "infinite_width_metric_erf",
    "rotation_invariant_metric",
    "rotation_invariant_volume",
    "rotation_invariant_ricci",
    "prove_rotation_invariant_ricci",
    "erf_ricci_scalar",
    "check_erf_ricci",
    "shallow_ricci_scalar",
    "shallow_ricci_scalar_2d",
    "shallow_ricci_closed_form_2d",
    "shallow_ricci_tensor_formula",
    "prove_shallow_ricci_2d",
    "random_shallow_point",
    "gaussian_expectation",
    "LinearAverageGeometry",
    "linear_average_geometry",
]

# The symbols of paperlib.symbolic.infinite, bound here with their documentation: Sphinx documents this package's
# members (book/api.md) and reads a variable's ``#:`` comment from the module that documents it.
#: :math:`s = |x|^2`, the argument of rotation-invariant metrics.
s = infinite.s
#: The weight scale, :math:`w \sim N(0, \sigma^2 I)`.
sigma = infinite.sigma
#: The bias scale, :math:`b \sim N(0, \zeta^2)` (``.subs(zeta, 0)`` gives the bias-free network).
zeta = infinite.zeta
