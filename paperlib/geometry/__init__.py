r"""Autodiff geometry of any batched feature map.

A feature map :math:`f: \mathbb{R}^d \to \mathbb{R}^n` pulls the flat metric of feature space back to input
space:

.. math::  g_{\mu\nu}(x) = \sum_i \partial_\mu f_i(x)\, \partial_\nu f_i(x) = (J^\top J)_{\mu\nu},
           \qquad dV = \sqrt{\det g}\, d^d x .

Feature maps are batched callables ``f: (B, *in_shape) -> (B, n)`` (an ``nn.Module`` works as it is). Inputs
``x`` have shape ``(B, *in_shape)``; ``d = prod(in_shape)``. Jacobians are computed with :func:`torch.func.jvp`
(forward mode, when ``d <= n``) or :func:`torch.func.vjp` (reverse mode, when ``d > n``) over the whole batch,
batched over directions with :func:`torch.func.vmap`; ``chunk_size`` bounds how many points are differentiated at
once. Geometry is computed in float64 by default (float32 on request; other precisions are refused): an
``nn.Module`` is evaluated with copies of its parameters and buffers, cast for the computation, so the module
itself is never modified. A plain callable must accept inputs of the requested ``dtype``. ``device="auto"`` uses
CUDA when it is present. ``compile=True`` runs the derivatives through :func:`torch.compile` (worth it when a
map is measured many times).

Checks made once per call, before any derivative. An ``nn.Module`` in training mode with a layer whose output
depends on the mode (batch norm, instance norm with running statistics, dropout, recurrent or attention
dropout) is refused with a ``ValueError`` that says to call ``.eval()``; ``train_mode="eval_copy"`` measures
an eval-mode deep copy instead. Batch norm without running statistics couples the points of a batch in either
mode and is always refused. (A custom layer that reads ``self.training`` itself, or a module called inside a plain
function, cannot be seen: call ``.eval()``.) The map is evaluated on the first two points: it must return a
floating tensor of the computation dtype with one row per point, ``(B, *out_shape)`` (flattened to ``n``
features); a tuple or dict, integers, or a first dimension other than ``B`` (for instance an image ``x`` given
without its batch dimension) raise an error that shows the shapes, and every chunk's row count is checked again.
A top-``k`` log volume element that is ``-inf`` because ``J`` has numerical rank below ``k`` comes with a
:class:`RankDeficiencyWarning`. ``torch.compile`` cannot trace forward-mode derivatives of batch norm (torch 2.13):
with ``compile=True`` a module with batch norm is differentiated in reverse mode, and ``mode="forward"`` is refused.

Volume elements and spectra come from the singular values of ``J``; in float64 with ``d <= n`` they are read off the
eigenvalues of the ``d x d`` metric wherever that loses no digits, and from a QR + SVD of ``J`` elsewhere (see
:func:`spectrum`).

Under ``torchrun`` (:mod:`paperlib.distributed`) :func:`jacobian`, :func:`metric`, :func:`spectrum` and
:func:`log_volume_element` split the points: each rank measures its contiguous shard of ``x`` and the results are
gathered in order, so every rank returns the result for all points (``distributed=``; see :func:`jacobian`).

All logarithms are base 10 unless ``base=`` says otherwise.

The package's modules, whose public names are all re-exported here (``paperlib.geometry.X``):
``paperlib.geometry.feature_maps`` (the map: casting a module for the computation, training mode, :class:`Select`,
the checks of its output), ``paperlib.geometry.derivatives`` (the per-chunk Jacobian kernels, the strategy
``"auto"`` and its memo, chunking, :func:`full_fp32`), ``paperlib.geometry.measures`` (:func:`jacobian`,
:func:`metric`, :func:`spectrum`, :func:`log_volume_element` and their shared options) and
``paperlib.geometry.curvature`` (Christoffel symbols, Riemann and Ricci tensors, Ricci scalar).
"""

from .._linalg import RankDeficiencyWarning
from . import curvature, derivatives, feature_maps, measures
from .curvature import (CurvatureMethod, DegeneratePolicy, MetricFunction, christoffel_symbols,
                        christoffel_symbols_of_metric, ricci_scalar, ricci_scalar_of_metric, ricci_tensor,
                        ricci_tensor_of_metric, riemann_tensor, riemann_tensor_of_metric)
from .derivatives import _STRATEGY, _architecture_key, _derivative_context, full_fp32
from .feature_maps import FeatureMap, Mode, Select, Strategy, TrainMode
from .measures import (GRAM_RTOL, _bind, _eigenvalues_descending, jacobian, log_volume_element,
                       log_volume_from_singular_values, metric, singular_values, spectrum)

__all__ = [
    "full_fp32",
    "jacobian",
    "metric",
    "singular_values",
    "spectrum",
    "log_volume_element",
    "log_volume_from_singular_values",
    "RankDeficiencyWarning",
    "MAX_CURVATURE_DIM",
    "christoffel_symbols",
    "riemann_tensor",
    "ricci_tensor",
    "ricci_scalar",
    "christoffel_symbols_of_metric",
    "riemann_tensor_of_metric",
    "ricci_tensor_of_metric",
    "ricci_scalar_of_metric",
]

# The private names above are bound here for the code and tests that read them (the strategy memo _STRATEGY is the
# submodule's own dict). The functions look names up in their own submodules: to patch one, patch it there, e.g.
# paperlib.geometry.measures._bind or paperlib.geometry.measures.singular_values.
#
# MAX_CURVATURE_DIM is bound here with a copy of its ``#:`` comment: Sphinx documents this package's members
# (book/api.md) and reads a variable's documentation from the module that documents it.

#: Largest input dimension for which curvature is computed by automatic differentiation. The cost of the
#: Riemann tensor grows like d^4 (Gauss route: O(n d^4) algebra and d^2 forward passes per point; Christoffel
#: route: d^4 nested forward passes).
MAX_CURVATURE_DIM = curvature.MAX_CURVATURE_DIM
