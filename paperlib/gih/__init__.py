r"""Average geometry of randomly initialised networks (Movahedi et al., arXiv:2410.12025).

For a network :math:`f_\theta: \mathbb{R}^D \to \mathbb{R}^C` and a scalar output :math:`s_\theta(x)`, the
*average geometry* is

.. math::  G = \mathbb{E}_{\theta}\, \mathbb{E}_{x \sim N(0, \sigma_x^2 I)}
           \big[\nabla_x s_\theta(x)\, \nabla_x s_\theta(x)^\top\big] \in \mathbb{R}^{D \times D},

the expectation over the law of the parameters at initialisation and over small random inputs. The law is the
architecture's own: PyTorch's default initialisation for the named architectures of the paper (:func:`network`),
whatever a factory ``() -> nn.Module`` does for your own (see *Which networks* below). Inputs are batches
``(B, *in_shape)``, ``D = prod(in_shape)``; the network's output for each input is flattened to ``C`` numbers
(a network that returns a tuple, list or dict is told which entry to use with ``select=``). Two outputs are offered:

- ``output="mean"``: :math:`s = \tfrac1C \sum_c f_c`, the mean over classes. This is what the authors' numbers
  correspond to: they differentiate ``output.mean()`` over a batch of ``B`` inputs and the classes, so each of
  their gradient rows is :math:`\nabla_x s / B` and their :math:`\hat G` equals ours divided by ``B``;
- ``output="logits"``: the per-logit average :math:`\tfrac1C \sum_c \mathbb{E}[\nabla_x f_c \nabla_x f_c^\top]`.
  With i.i.d. zero-mean readout weights the cross terms :math:`\mathbb{E}[\nabla f_c \nabla f_{c'}^\top]`,
  :math:`c \ne c'`, vanish, so ``mean = logits / C`` (checked by the tests within Monte-Carlo error).

Estimator. :math:`\hat G = \tfrac1N \sum_k A_k`, :math:`A_k = \tfrac1M \sum_{r} g_{kr} g_{kr}^\top` over the
``M`` gradient rows of network ``k`` (``inputs`` inputs, times ``C`` logits for ``"logits"``). Its Monte-Carlo
error is reported as the standard error of the Frobenius norm,

.. math::  \mathrm{SE}^2 = \sum_{ij} \widehat{\mathrm{Var}}(\hat G_{ij})
           = \frac{\sum_k \lVert A_k\rVert_F^2 - N \lVert\hat G\rVert_F^2}{N (N - 1)},
           \qquad \lVert A_k\rVert_F^2 = \lVert R_k R_k^\top\rVert_F^2 / M^2,

computed from the ``M x M`` Gram matrix of each network's rows :math:`R_k`, without storing any ``D x D``
matrix per network.

Which networks. Network ``k`` belongs to the seed :math:`s_k` = ``seed * 1_000_003 + k`` (whatever the chunking
and the route), and its ``inputs`` points to a generator seeded with :math:`s_k` ``+ 1_000_003 // 2``:

- a *named* architecture (a string of :data:`ARCHITECTURES`, built by :func:`network`) has only layers with
  PyTorch's default initialisation -- ``Linear``/``Conv`` weights and biases :math:`U(\pm 1/\sqrt{\text{fan\_in}})`,
  batch-norm weights 1 and biases 0 -- which :func:`stacked_parameters` replicates and draws directly: network
  ``k`` is the template with the parameters ``stacked_parameters(template, [s_k])``;
- a *factory* (your own architecture) may initialise its own way (``kaiming_normal_``, :math:`N(0, 1)` weights,
  zero biases, ...), which no law replayed here can know (replaying the default law would give a silently wrong
  :math:`G`: a trace about 35 times too small for a small Kaiming-initialised ReLU CNN, about 1000 times for an
  MLP with :math:`N(0, 1)` weights): network ``k`` is the module the factory builds after
  ``torch.manual_seed(s_k)`` (the global generator is restored afterwards).

Routes (``route=``) decide how these networks are evaluated, never which:

- ``"modules"``: one network at a time (named: :func:`torch.func.functional_call` of the template with network
  ``k``'s parameters; factory: the module built);
- ``"stacked"``: a chunk of networks at once, their parameters (and, for a factory, buffers) stacked along a new
  first dimension and evaluated with :func:`torch.func.vmap` over :func:`torch.func.functional_call` (named: the
  parameters drawn directly in stacked form, never building ``N`` modules; factory: the modules built, then
  stacked -- their structure, parameter and buffer names and shapes must agree, else ``ValueError``: use
  ``route="modules"``);
- ``"auto"``: time both on a pilot of a few networks and take the faster (remembered per architecture, input
  count, output, dtype and device).

So both routes evaluate the very same networks at the very same inputs, and their estimates agree to
floating-point rounding (batched kernels may order their sums differently): ``route="auto"`` changes the speed,
never the answer. With :math:`\sigma_x = 10^{-3}` the inputs of one network are so close that one input per
network gives nearly the same estimate as 128 (the benchmark measures the difference).

Precision. Networks run in float32 by default: the Monte-Carlo error of :math:`\hat G` is at least
:math:`10^{-2}` relative in every use (a few thousand networks), which dwarfs float32 rounding (about
:math:`10^{-7}` relative); the sums over networks are kept in float64, and ``dtype=torch.float64`` is available.

Also here: the evolution at initialisation :math:`\Delta^0 = \tfrac{d}{dt} G^t|_{t=0}` under gradient flow on the
squared error (:func:`evolution_at_init`), the alignment :math:`\rho(A, B) = \operatorname{tr}(AB) /
\sqrt{\operatorname{tr}A^2 \operatorname{tr}B^2}`, the participation ratio, eigen-images and their centred power
spectra, and the architectures of the paper (:func:`network`).

Under ``torchrun`` (:mod:`paperlib.distributed`) :func:`average_geometry` and :func:`evolution_at_init` split the
networks: rank ``r`` draws the networks of its contiguous shard of ``k = 0 .. N - 1`` (the same seeds, so the same
networks as one process), and the sums of the estimate are added over the ranks, so every rank returns the
estimate of all ``N`` networks (equal to the single-process one up to the order of summation).

The package's modules, whose public names are all re-exported here (``paperlib.gih.X``): ``paperlib.gih.networks``
(the architectures of the paper, :func:`network`, parameters drawn in stacked form, the networks of an estimate),
``paperlib.gih.gradients`` (input gradients of one or of stacked networks), ``paperlib.gih.average``
(:func:`average_geometry`, :class:`AverageGeometry`, :func:`combine`, the routes), ``paperlib.gih.matrices``
(alignment, participation ratio, second moment, rotated control, eigen-images, power spectra, unbiased
block statistics and jackknife intervals) and
``paperlib.gih.evolution`` (:func:`evolution_at_init`, :class:`Evolution`).
"""

from . import average, evolution, gradients, matrices, networks
from .average import ROUTES, AverageGeometry, _chunk_rows_modules, _ROUTE, _Sums, average_geometry, combine
from .evolution import Evolution, _delta_rows, evolution_at_init
from .gradients import OUTPUTS, input_gradients
from .matrices import (Interval, alignment, complement_projector, eigen_images, jackknife, participation_ratio,
                       power_spectrum, rotated_like, second_moment, unbiased_sq_norm)
from .networks import ARCHITECTURES, _SEED_STRIDE, network, stacked_parameters
from . import training
from .training import (LABEL_FORMS, PRUNE_MODES, eigen_directions, geometry_during_training, geometry_from_rows,
                       geometry_scores, network_geometry, network_rows, project_out, projection_labels, prune,
                       random_directions, velocity)

__all__ = [
    "ARCHITECTURES",
    "OUTPUTS",
    "ROUTES",
    "network",
    "stacked_parameters",
    "input_gradients",
    "average_geometry",
    "AverageGeometry",
    "combine",
    "evolution_at_init",
    "Evolution",
    "alignment",
    "participation_ratio",
    "second_moment",
    "rotated_like",
    "eigen_images",
    "power_spectrum",
    "Interval",
    "unbiased_sq_norm",
    "jackknife",
    "complement_projector",
    "network_rows",
    "geometry_from_rows",
    "network_geometry",
    "geometry_during_training",
    "velocity",
    "eigen_directions",
    "LABEL_FORMS",
    "projection_labels",
    "project_out",
    "random_directions",
    "geometry_scores",
    "PRUNE_MODES",
    "prune",
]

# The private names above are bound here for the code that reads them (paperlib.chapters.invariance digests the
# code of _Sums.add and _delta_rows; the route memo _ROUTE is the submodule's own dict). The functions look names up
# in their own submodules: to patch one, patch it there, e.g. paperlib.gih.average._chunk_rows_modules.
