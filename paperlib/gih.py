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
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import nn
from torch.func import functional_call, grad, jvp, vmap

from . import distributed as _dist
from . import models as _models
from ._checks import (check_bool, check_choice, check_float_dtype, check_int, check_ints, check_number,
                      check_select, output_hint, pick_output, resolve_device)

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
]

ARCHITECTURES = ("mlp", "lenet", "resnet", "linear")
OUTPUTS = ("mean", "logits")
ROUTES = ("auto", "modules", "stacked")
_SEED_STRIDE = 1_000_003
#: route chosen by ``route="auto"``, per (architecture text, inputs, device type)
_ROUTE: dict[tuple, str] = {}


def network(architecture: str, *, num_classes: int = 2, activation: str = "gelu", in_channels: int = 1,
            image_size: int = 32, hidden: Sequence[int] = (100, 100), depths: Sequence[int] = (2, 2, 2, 2),
            width: int = 64) -> nn.Module:
    r"""A freshly initialised network of the paper (PyTorch's default initialisation), in eval mode, taking images
    ``(B, in_channels, image_size, image_size)`` to ``(B, num_classes)`` logits.

    - ``"mlp"``: flatten, then :class:`paperlib.models.MLP` ``[D, *hidden, C]`` (``init="pytorch"``; the paper's
      MLP is ``1024-100-100-C``);
    - ``"lenet"``: :class:`paperlib.models.LeNet` (32 x 32 images only);
    - ``"resnet"``: :class:`paperlib.models.ResNet` (``depths``, ``width``; ResNet-18 is the default);
    - ``"linear"``: flatten, then one ``nn.Linear(D, C)``.

    The draw uses the global random number generator, like any PyTorch constructor.

    Args:
        architecture: a name of :data:`ARCHITECTURES`.
        num_classes: logits ``C``; activation: a name of :mod:`paperlib.activations` (unused by ``"linear"``).
        in_channels, image_size: the shape of the input images.
        hidden: hidden widths of ``"mlp"``; depths, width: of ``"resnet"``.

    Returns:
        An ``nn.Module`` in eval mode, ``(B, in_channels, image_size, image_size) -> (B, num_classes)``.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> net = network("mlp", image_size=4, hidden=(8,))  # 16 -> 8 -> 2
        >>> tuple(net(torch.randn(3, 1, 4, 4)).shape), net.training
        ((3, 2), False)
    """
    check_choice(architecture, "architecture", ARCHITECTURES)
    d = check_int(in_channels, "in_channels", min=1) * check_int(image_size, "image_size", min=1) ** 2
    if architecture == "mlp":
        net: nn.Module = nn.Sequential(nn.Flatten(), _models.MLP([d, *check_ints(hidden, "hidden", min=1),
                                                                  num_classes], activation, init="pytorch"))
    elif architecture == "lenet":
        if image_size != 32:
            raise ValueError(f"image_size must be 32 for architecture='lenet'; got {image_size!r}")
        net = _models.LeNet(in_channels, num_classes, activation)
    elif architecture == "resnet":
        net = _models.ResNet(depths, width, activation, in_channels=in_channels, num_classes=num_classes)
    else:
        net = nn.Sequential(nn.Flatten(), nn.Linear(d, check_int(num_classes, "num_classes", min=1)))
    return net.eval()


# -- drawing parameters in stacked form ------------------------------------------------------------------------------


def _fan_in(weight: torch.Tensor) -> int:
    return weight.shape[1] * math.prod(weight.shape[2:])


def _draw_module(module: nn.Module, gen: torch.Generator, out: dict[str, list], prefix: str) -> None:
    if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        bound = 1.0 / math.sqrt(_fan_in(module.weight))
        for name in ("weight", "bias"):
            p = getattr(module, name)
            if p is not None:
                out[prefix + name].append(torch.empty(p.shape, dtype=p.dtype).uniform_(-bound, bound, generator=gen))
    elif isinstance(module, nn.modules.batchnorm._NormBase):
        if module.affine:
            out[prefix + "weight"].append(torch.ones_like(module.weight))
            out[prefix + "bias"].append(torch.zeros_like(module.bias))
    elif any(True for _ in module.parameters(recurse=False)):
        raise NotImplementedError(
            f"route='stacked' cannot draw the default initialisation of {type(module).__name__} ({prefix or 'root'}); "
            "use route='modules'")


def stacked_parameters(template: nn.Module, seeds: Sequence[int], *, dtype: torch.dtype = torch.float32,
                       device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    r"""Parameters of ``len(seeds)`` networks shaped like ``template``, drawn with PyTorch's default initialisation
    law and stacked along a new first dimension: ``{name: (N, *shape)}``, ready for
    ``vmap(functional_call(template, ...))``.

    Network ``k`` uses a generator seeded with ``seeds[k]``; layers are drawn in ``template.named_modules()``
    order. ``Linear``/``Conv`` weights and biases: :math:`U(-1/\sqrt{\text{fan\_in}}, 1/\sqrt{\text{fan\_in}})`
    (``kaiming_uniform_(a=sqrt(5))`` and the bias rule of ``reset_parameters``); batch-norm weights 1, biases 0.
    A module with other parameters raises ``NotImplementedError`` (use ``route="modules"``).
    The template itself is not modified.

    Args:
        template: a network whose parameter names and shapes are copied (e.g. from :func:`network`).
        seeds: one seed per network, ``N = len(seeds)``.
        dtype, device: of the result.

    Returns:
        ``{name: (N, *shape)}`` for every parameter of ``template``.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> template = network("linear", image_size=2)  # flatten, then nn.Linear(4, 2)
        >>> p = stacked_parameters(template, seeds=[0, 1, 2])
        >>> {name: tuple(v.shape) for name, v in p.items()}
        {'1.weight': (3, 2, 4), '1.bias': (3, 2)}
        >>> bool(p["1.weight"].abs().max() <= 0.5)  # U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = 4
        True
    """
    seeds = check_ints(seeds, "seeds")
    names = [n for n, _ in template.named_parameters()]
    out: dict[str, list] = {n: [] for n in names}
    for s in seeds:
        gen = torch.Generator().manual_seed(s)
        for prefix, module in template.named_modules():
            _draw_module(module, gen, out, prefix + "." if prefix else "")
    missing = [n for n in names if len(out[n]) != len(seeds)]
    if missing:
        raise NotImplementedError(f"route='stacked' could not draw parameters {missing}; use route='modules'")
    dev = resolve_device(device)
    return {n: torch.stack(v).to(dev, dtype) for n, v in out.items()}


# -- input gradients -------------------------------------------------------------------------------------------------


def _pick(out: object, select: int | str | None) -> torch.Tensor:
    """The output tensor to differentiate: ``out`` itself, or ``out[select]`` of a tuple, list or dict output
    (:func:`paperlib._checks.pick_output`)."""
    out = pick_output(out, select, "the network")
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"the network returns a {type(out).__name__}{output_hint(out)}, not a tensor of outputs "
                        "(B, C)")
    return out


def _scalars(out: torch.Tensor, output: str, batch_dims: int = 1) -> list[torch.Tensor]:
    """The scalar outputs whose input gradients are rows, from outputs whose first ``batch_dims`` dimensions are
    batch dimensions, flattened per point to ``C`` numbers: ``[mean over the C]`` or ``[output c for each c]``."""
    out = out.flatten(batch_dims) if out.ndim > batch_dims else out[..., None]
    if output == "mean":
        return [out.mean(-1)]
    return [out[..., c] for c in range(out.shape[-1])]


def input_gradients(model: nn.Module, x: torch.Tensor, output: str = "mean", *,
                    select: int | str | None = None) -> torch.Tensor:
    r"""Rows :math:`\nabla_x s(x_b)` of one network at a batch of inputs: ``x: (B, *in_shape)`` ->
    ``(M, D)``, ``D = prod(in_shape)``, ``M = B`` for ``output="mean"`` (:math:`s = \tfrac1C\sum_c f_c` over the
    ``C`` numbers of each point's output, flattened) and ``M = B C`` for ``"logits"`` (rows of logit 0 for every
    input, then logit 1, ...). ``select``: for a model returning a tuple, list or dict, the entry (index or key)
    to differentiate.

    The model must treat the points of a batch independently (eval mode with batch norm); it is not modified.

    Example:
        A linear network's gradient of the mean logit is the mean of its weight rows, at every input:

        >>> _ = torch.manual_seed(0)
        >>> net = network("linear", image_size=2)  # (B, 1, 2, 2) -> (B, 2)
        >>> rows = input_gradients(net, torch.randn(3, 1, 2, 2))
        >>> tuple(rows.shape), torch.allclose(rows, net[1].weight.mean(0).expand(3, 4))
        ((3, 4), True)
        >>> tuple(input_gradients(net, torch.randn(3, 1, 2, 2), "logits").shape)  # B C rows
        (6, 4)
    """
    check_choice(output, "output", OUTPUTS)
    check_select(select)
    if not isinstance(x, torch.Tensor) or x.ndim < 2:
        raise ValueError(f"x must be a batch (B, *in_shape); got {getattr(x, 'shape', type(x).__name__)}")
    return _gradient_rows(lambda xx: _pick(model(xx), select), x, output, batch_dims=1)


def _gradient_rows(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, output: str,
                   batch_dims: int) -> torch.Tensor:
    """Input gradients of the scalar outputs of ``fn`` at ``x``, whose first ``batch_dims`` dimensions are batch
    dimensions (the points, after the networks when stacked), flattened and concatenated over the scalars along
    the points' dimension: ``(..., M, D)``."""
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        scalars = _scalars(fn(x), output, batch_dims)
        rows = [torch.autograd.grad(s.sum(), x, retain_graph=i < len(scalars) - 1)[0].flatten(batch_dims)
                for i, s in enumerate(scalars)]
    return torch.cat(rows, dim=batch_dims - 1)


def _stacked_rows(template: nn.Module, params: dict, buffers: dict, x: torch.Tensor, output: str,
                  per_network_buffers: bool = False, select: int | str | None = None) -> torch.Tensor:
    """Rows ``(N, M, D)`` of ``N`` stacked networks at their inputs ``x: (N, B, *in_shape)``; the buffers are
    shared, or stacked like the parameters with ``per_network_buffers``."""
    if per_network_buffers:
        each = vmap(lambda p, b, xx: _pick(functional_call(template, (p, b), (xx,)), select))
        return _gradient_rows(lambda xx: each(params, buffers, xx), x, output, batch_dims=2)
    stacked = vmap(lambda p, xx: _pick(functional_call(template, (p, buffers), (xx,)), select))
    return _gradient_rows(lambda xx: stacked(params, xx), x, output, batch_dims=2)


class _Sums:
    """Running sums of an average-geometry estimate: :math:`\\sum_k A_k` (float64) and :math:`\\sum_k \\|A_k\\|_F^2`."""

    def __init__(self, d: int, device: torch.device):
        self.total = torch.zeros(d, d, dtype=torch.float64, device=device)
        self.sq, self.n = 0.0, 0

    def add(self, rows: torch.Tensor) -> None:
        """``rows: (n, M, D)``: ``M`` gradient rows of each of ``n`` networks."""
        m = rows.shape[1]
        flat = rows.reshape(-1, rows.shape[-1])
        self.total += (flat.T @ flat).double() / m
        gram = (rows @ rows.transpose(1, 2)).double()
        self.sq += float(gram.square().sum()) / m ** 2
        self.n += rows.shape[0]


# -- the estimate ----------------------------------------------------------------------------------------------------


@dataclass
class AverageGeometry:
    r"""An estimate :math:`\hat G` of the average geometry (see the module docstring).

    Attributes:
        G: ``(D, D)`` float64, the mean of the networks' :math:`A_k`.
        networks: ``N``; inputs: inputs per network; sigma_x: their standard deviation; output: ``"mean"`` or
            ``"logits"``; route: the route used; in_shape: the input shape (``D = prod(in_shape)``).
        sum_sq: :math:`\sum_k \|A_k\|_F^2` (for the Monte-Carlo error and for :func:`combine`).
        seconds: wall time of the estimate.

    Example:
        >>> est = average_geometry("linear", networks=8, inputs=1, image_size=2)  # D = 4
        >>> values, vectors = est.eigen  # descending
        >>> tuple(values.shape), tuple(vectors.shape), tuple(est.eigen_images(k=2).shape)
        ((4,), (4, 4), (2, 1, 2, 2))
        >>> 1 <= est.participation_ratio <= 4, 0 < est.relative_error < 1
        (True, True)
    """

    G: torch.Tensor
    networks: int
    inputs: int
    sigma_x: float
    output: str
    route: str
    in_shape: tuple[int, ...]
    sum_sq: float
    seconds: float = 0.0

    @property
    def standard_error(self) -> float:
        r"""The standard error of :math:`\hat G` in Frobenius norm, :math:`\sqrt{\sum_{ij}\widehat{\mathrm{Var}}
        \hat G_{ij}}` (``inf`` for one network)."""
        if self.networks < 2:
            return math.inf
        spread = self.sum_sq - self.networks * float(self.G.square().sum())
        return math.sqrt(max(spread, 0.0) / (self.networks * (self.networks - 1)))

    @property
    def relative_error(self) -> float:
        r""":attr:`standard_error` / :math:`\|\hat G\|_F`."""
        return self.standard_error / float(torch.linalg.matrix_norm(self.G))

    @functools.cached_property
    def eigen(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(values (D,), vectors (D, D))`` of :math:`\\hat G`, descending; eigenvector ``i`` is ``vectors[:, i]``."""
        values, vectors = torch.linalg.eigh(self.G)
        return values.flip(0), vectors.flip(1)

    @property
    def participation_ratio(self) -> float:
        """:func:`participation_ratio` of :math:`\\hat G`."""
        return participation_ratio(self.G)

    @property
    def isotropy_ratio(self) -> float:
        r"""The ratio :math:`\|\hat G - \bar\lambda I\|_F / \mathrm{SE}` with :math:`\bar\lambda = \operatorname{tr}
        \hat G / D`, about 1 or below when :math:`G \propto I` (the deviation is then Monte-Carlo noise), large
        otherwise."""
        d = self.G.shape[0]
        iso = torch.eye(d, dtype=self.G.dtype, device=self.G.device) * (torch.trace(self.G) / d)
        return float(torch.linalg.matrix_norm(self.G - iso)) / self.standard_error

    def eigen_images(self, k: int = 8, start: int = 0) -> torch.Tensor:
        """Eigenvectors ``start .. start + k - 1`` as images ``(k, *in_shape)`` (:func:`eigen_images`)."""
        return eigen_images(self.eigen[1][:, start: start + k], self.in_shape)

    @property
    def networks_per_second(self) -> float:
        return self.networks / self.seconds if self.seconds > 0 else math.inf


def combine(estimates: Sequence[AverageGeometry]) -> AverageGeometry:
    r"""One estimate from several of the same settings drawn from disjoint networks (e.g. shards, or resumed
    work): :math:`\hat G = \sum_j N_j \hat G_j / \sum_j N_j`, with the sums of squares added.

    Args:
        estimates: :class:`AverageGeometry` estimates sharing ``inputs``, ``sigma_x``, ``output`` and ``in_shape``.

    Returns:
        :class:`AverageGeometry` of all their networks, ``G: (D, D)``.

    Example:
        >>> a = average_geometry("linear", networks=4, image_size=2, seed=0)
        >>> b = average_geometry("linear", networks=4, image_size=2, seed=1)  # other networks
        >>> both = combine([a, b])
        >>> both.networks, torch.allclose(both.G, (a.G + b.G) / 2)
        (8, True)
    """
    if not estimates:
        raise ValueError("estimates must be a non-empty sequence of AverageGeometry")
    first = estimates[0]
    for e in estimates:
        if (e.inputs, e.sigma_x, e.output, e.in_shape) != (first.inputs, first.sigma_x, first.output, first.in_shape):
            raise ValueError("estimates must share inputs, sigma_x, output and in_shape")
    n = sum(e.networks for e in estimates)
    G = sum(e.G * e.networks for e in estimates) / n
    routes = sorted({e.route for e in estimates})
    return dataclasses.replace(first, G=G, networks=n, sum_sq=sum(e.sum_sq for e in estimates),
                               route="+".join(routes), seconds=sum(e.seconds for e in estimates))


def _factory(architecture: object, in_shape: object, network_kwargs: dict) -> tuple[Callable, tuple, bool]:
    """``(factory, in_shape, named)`` for ``architecture``: a name of :data:`ARCHITECTURES` (with the options of
    :func:`network`) or a factory ``() -> nn.Module`` (with ``in_shape``)."""
    if isinstance(architecture, nn.Module):
        raise TypeError(
            f"architecture must be a factory () -> nn.Module, not a module instance ({type(architecture).__name__}):"
            " the average is over freshly initialised networks, so it must build a new one for every seed; pass "
            f"e.g. `lambda: {type(architecture).__name__}(...)` or the class {type(architecture).__name__} itself, "
            f"or a name of {ARCHITECTURES}")
    if isinstance(architecture, str):
        check_choice(architecture, "architecture", ARCHITECTURES)
        if in_shape is not None:
            raise TypeError(f"in_shape is only for a factory; the named architecture {architecture!r} takes "
                            "(in_channels, image_size, image_size) from its options in_channels= and image_size=")
        size = network_kwargs.get("image_size", 32)
        return (functools.partial(network, architecture, **network_kwargs),
                (network_kwargs.get("in_channels", 1), size, size), True)
    if not callable(architecture):
        raise TypeError(f"architecture must be a name of {ARCHITECTURES} or a factory () -> nn.Module; got "
                        f"{type(architecture).__name__}")
    if network_kwargs:
        raise TypeError(f"the options {sorted(network_kwargs)} are for a named architecture; with a factory, set "
                        "them inside it (e.g. `lambda: MyNet(width=8)`)")
    if in_shape is None:
        raise TypeError("with a factory for architecture, pass in_shape=(C, H, W): the shape of one input, without "
                        "the batch dimension")
    return architecture, check_ints(in_shape, "in_shape", min=1), False


def _build(factory: Callable[[], nn.Module]) -> nn.Module:
    net = factory()
    if not isinstance(net, nn.Module):
        raise TypeError(f"architecture: the factory returned a {type(net).__name__}, not an nn.Module; it must build "
                        "and return a freshly initialised network, e.g. `lambda: MyNet()`")
    return net


class _CannotStack(ValueError):
    """A factory's networks cannot be stacked (``route="stacked"``); ``route="auto"`` then takes ``"modules"``."""


def _signature(net: nn.Module) -> tuple:
    return (type(net), repr(net), [(n, tuple(p.shape), p.dtype) for n, p in net.named_parameters()],
            [(n, tuple(b.shape), b.dtype) for n, b in net.named_buffers()])


class _Networks:
    """The networks of an estimate (module docstring, *Which networks*): network ``k`` belongs to the seed ``s_k``.

    Named architecture: the template (built with ``seed``) with the parameters ``stacked_parameters(template,
    [s_k])`` and the template's buffers. Factory: the module built after ``torch.manual_seed(s_k)``; the template
    (also built with ``seed``) lends its ``forward`` to the stacked route.
    """

    def __init__(self, factory: Callable[[], nn.Module], named: bool, shape: tuple, select, seed: int,
                 dtype: torch.dtype, dev: torch.device):
        self.factory, self.named, self.shape, self.select = factory, named, shape, select
        self.dtype, self.dev = dtype, dev
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            template = _build(factory)
        self.template = template.eval().to(dev, dtype)
        self.buffers = {n: b.to(dev, dtype if b.is_floating_point() else b.dtype)
                        for n, b in self.template.named_buffers()}

    def outputs(self) -> int:
        """``C``, the numbers of each point's output, from a batch ``(1, *in_shape)`` of zeros (which checks
        ``in_shape`` and the output's type)."""
        x = torch.zeros(1, *self.shape, dtype=self.dtype, device=self.dev)
        try:
            with torch.no_grad():
                out = self.template(x)
        except Exception as exc:
            raise ValueError(
                f"in_shape={self.shape}: the network failed on a batch of shape {tuple(x.shape)} ({type(exc).__name__}:"
                f" {exc}); in_shape must be the shape of one input without the batch dimension, as the network "
                "expects it") from exc
        out = _pick(out, self.select)
        if out.ndim == 0 or out.shape[0] != 1 or not out.is_floating_point():
            raise ValueError(f"the network must map a batch (B, *in_shape) to floating outputs (B, ...); a batch of "
                             f"shape {tuple(x.shape)} gave {out.dtype} of shape {tuple(out.shape)}")
        return max(1, math.prod(out.shape[1:]))

    def _modules(self, seeds: Sequence[int]) -> list[nn.Module]:
        nets = []
        with torch.random.fork_rng(devices=[]):
            for s in seeds:
                torch.manual_seed(s)
                nets.append(_build(self.factory).eval().to(self.dev, self.dtype))
        return nets

    def one(self, s: int) -> Callable[[torch.Tensor], torch.Tensor]:
        """Network ``s`` as a function of a batch ``(B, *in_shape)`` -> its output tensor."""
        if self.named:
            p = {k: v[0] for k, v in stacked_parameters(self.template, [s], dtype=self.dtype, device=self.dev).items()}
            return lambda x: _pick(functional_call(self.template, (p, self.buffers), (x,)), self.select)
        (net,) = self._modules([s])
        return lambda x: _pick(net(x), self.select)

    def stacked(self, seeds: Sequence[int]) -> tuple[dict, dict, bool]:
        """``(params, buffers, per_network_buffers)``: the parameters ``{name: (n, *shape)}`` of the networks of
        ``seeds``, and the buffers (shared, or stacked too for a factory)."""
        if self.named:
            return stacked_parameters(self.template, seeds, dtype=self.dtype, device=self.dev), self.buffers, False
        nets, want = self._modules(seeds), _signature(self.template)
        for s, net in zip(seeds, nets):
            if _signature(net) != want:
                raise _CannotStack(
                    f"route='stacked' evaluates the factory's networks as one stacked network, but the one of seed "
                    f"{s} differs from the template's structure (modules, parameter or buffer names, shapes or dtypes);"
                    " use route='modules', which evaluates them one at a time")
        each = [(dict(net.named_parameters()), dict(net.named_buffers())) for net in nets]
        params = {n: torch.stack([p[n].detach() for p, _ in each]) for n, _ in self.template.named_parameters()}
        buffers = {n: torch.stack([b[n] for _, b in each]) for n, _ in self.template.named_buffers()}
        return params, buffers, True


def _points(s: int, inputs: int, shape: tuple, dtype: torch.dtype) -> torch.Tensor:
    """The ``inputs`` standard normal points of network ``s`` (on the CPU; times ``sigma_x`` by the caller)."""
    gen = torch.Generator().manual_seed(s + _SEED_STRIDE // 2)
    return torch.randn(inputs, *shape, generator=gen, dtype=dtype)


def _chunk_rows_modules(nets: _Networks, seeds, inputs, sigma_x, shape, output, dtype, dev) -> torch.Tensor:
    """Rows ``(n, M, D)`` of the networks of ``seeds``, one network at a time."""
    rows = []
    for s in seeds:
        x = _points(s, inputs, shape, dtype).to(dev) * sigma_x
        rows.append(_gradient_rows(nets.one(s), x, output, batch_dims=1))
    return torch.stack(rows)


def _chunk_rows_stacked(nets: _Networks, seeds, inputs, sigma_x, shape, output, dtype, dev) -> torch.Tensor:
    """Rows ``(n, M, D)`` of the networks of ``seeds``, stacked and evaluated at once."""
    params, buffers, per_network = nets.stacked(seeds)
    xs = torch.stack([_points(s, inputs, shape, dtype) for s in seeds]).to(dev) * sigma_x
    return _stacked_rows(nets.template, params, buffers, xs, output, per_network, nets.select)


def _auto_chunk(inputs: int, output_rows: int, d: int) -> int:
    """Networks per chunk: about 2**22 gradient numbers, between 1 and 256."""
    return max(1, min(256, (1 << 22) // max(1, inputs * output_rows * d)))


def _pick_route(key: tuple, run: Callable[[str, list], torch.Tensor], seeds: list) -> tuple[str, torch.Tensor | None]:
    """``route="auto"``: run both routes on the pilot ``seeds`` (first half to warm up, second half timed); return
    the faster and its rows for the pilot (reused by the estimate). The two routes evaluate the same networks, so
    the choice changes the speed only; ``"stacked"`` is skipped where it fails (e.g. a factory whose networks
    cannot be stacked, or a layer :func:`torch.func.vmap` cannot batch), and an error of ``"modules"`` is raised."""
    if key in _ROUTE:
        return _ROUTE[key], None
    timing, rows, h = {}, {}, max(1, len(seeds) // 2)
    for route in ("modules", "stacked"):
        try:
            first = run(route, seeds[:h])
            start = time.perf_counter()
            rows[route] = torch.cat([first, run(route, seeds[h:])]) if len(seeds) > h else first
            timing[route] = time.perf_counter() - start
        except Exception:
            if route == "modules":
                raise
            continue
    best = min(timing, key=timing.get)
    _ROUTE[key] = best
    return best, rows[best]


def average_geometry(
    architecture: str | Callable[[], nn.Module],
    networks: int,
    *,
    in_shape: Sequence[int] | None = None,
    inputs: int = 128,
    sigma_x: float = 1e-3,
    output: str = "mean",
    route: str = "auto",
    seed: int = 0,
    chunk: int | None = None,
    select: int | str | None = None,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "auto",
    progress: bool | None = None,
    distributed: bool | None = None,
    **network_kwargs,
) -> AverageGeometry:
    r"""Estimate :math:`G = \mathbb{E}_\theta \mathbb{E}_x[\nabla_x s \nabla_x s^\top]`, ``(D, D)``, over ``networks``
    freshly initialised networks with ``inputs`` inputs :math:`x \sim N(0, \sigma_x^2 I)` each:
    :math:`\hat G = \tfrac1N \sum_k \tfrac1M \sum_r g_{kr} g_{kr}^\top` (see the module docstring for the outputs,
    the Monte-Carlo error, which networks are drawn and the routes).

    Which networks, and the routes. For a named architecture network ``k`` has the parameters
    ``stacked_parameters(template, [s_k])``, PyTorch's default initialisation drawn directly (all layers of
    :func:`network` use it); for a factory it is ``torch.manual_seed(s_k); factory()``, whatever initialisation
    the factory does. ``route`` only decides how these same networks are evaluated -- ``"modules"`` one at a time,
    ``"stacked"`` a chunk at once with :func:`torch.func.vmap` -- so the routes agree to floating-point rounding and
    ``"auto"`` (the faster on a timed pilot) never changes the answer.

    Args:
        architecture: a name of :data:`ARCHITECTURES` (built by :func:`network` with ``network_kwargs``), or a
            factory ``() -> nn.Module`` that builds a freshly initialised network at each call (e.g.
            ``lambda: MyNet()`` or the class ``MyNet``; not a module instance: the average is over networks).
        networks: ``N`` >= 1.
        in_shape: with a factory (required there), the shape of one input without the batch dimension, e.g.
            ``(1, 28, 28)``: the networks see batches ``(B, *in_shape)``, ``D = prod(in_shape)``. Not with a named
            architecture, whose shape is ``(in_channels, image_size, image_size)``.
        inputs: ``B`` >= 1 per network; sigma_x: > 0.
        output: ``"mean"`` (the authors' scalar, up to their factor ``1/B``) or ``"logits"``; each point's output
            is flattened to ``C`` numbers.
        route: ``"auto"``, ``"modules"`` or ``"stacked"`` (a factory whose networks differ in structure,
            parameter or buffer names or shapes cannot be stacked: ``ValueError``, use ``"modules"``).
        seed: network ``k`` is drawn from the seed ``s_k = seed * 1_000_003 + k``.
        chunk: networks evaluated together (default: about 2**22 gradient numbers).
        select: for a network returning a tuple, list or dict, the entry to differentiate (``out[select]``: an
            index such as ``0`` or a key such as ``"logits"``); ``None``: the output is a tensor.
        dtype: precision of the networks. float32 by default: the Monte-Carlo error of :math:`\hat G` (at least
            ``1e-2`` relative in every use) dwarfs float32 rounding (about ``1e-7``), and the sums over networks
            are kept in float64; pass ``torch.float64`` for more.
        device: ``"auto"`` (CUDA when present, else CPU; default), ``"cpu"`` or ``"cuda"``.
        progress: a progress bar over networks (``None``: automatic, as in :mod:`paperlib.train`); with
            distributed work, on rank 0 only, over its own networks.
        distributed: split the networks across the ranks of ``torch.distributed`` (started by ``torchrun``):
            each rank draws and differentiates its contiguous shard of the ``N`` networks (the same seeds), then
            the sums :math:`\sum_k A_k`, :math:`\sum_k \|A_k\|_F^2` and the count are added over the ranks, so
            every rank returns the full estimate. ``route="auto"`` is timed on rank 0 (on its first networks)
            and its choice sent to every rank, so all ranks round alike. ``None`` (default): split when a process
            group with more than one rank is initialised; ``False``: this process computes all networks itself;
            ``True``: split (``RuntimeError`` without a process group). ``seconds`` is this rank's wall time.
        network_kwargs: options of :func:`network` for a named architecture (``image_size``, ``hidden``, ...).

    Returns:
        :class:`AverageGeometry` with ``G: (D, D)`` float64, ``D = prod(in_shape)``.

    Raises:
        TypeError: a module instance, or no factory, for ``architecture``; a factory that returns no
            ``nn.Module``; ``in_shape`` missing with a factory or given with a named architecture; a network
            output that is not a tensor (pass ``select``).
        ValueError: a network that fails on a batch ``(1, *in_shape)`` (a wrong ``in_shape``); a factory's
            networks that cannot be stacked with ``route="stacked"``; an argument out of range.

    Example:
        >>> est = average_geometry("mlp", networks=8, inputs=2, image_size=4, hidden=(8,))
        >>> tuple(est.G.shape), est.networks, torch.allclose(est.G, est.G.T)
        ((16, 16), 8, True)
        >>> again = average_geometry("mlp", networks=8, inputs=2, image_size=4, hidden=(8,), route="modules")
        >>> torch.allclose(est.G, again.G)  # the route changes the speed, never the networks
        True
    """
    from .train import progress_bar, progress_enabled

    factory, shape, named = _factory(architecture, in_shape, dict(network_kwargs))
    n = check_int(networks, "networks", min=1)
    check_int(inputs, "inputs", min=1)
    sigma_x = check_number(sigma_x, "sigma_x", min=0, open_min=True)
    check_choice(output, "output", OUTPUTS)
    check_choice(route, "route", ROUTES)
    check_int(seed, "seed", min=0)
    check_select(select)
    check_float_dtype(dtype)
    dev = resolve_device(device)
    split = _dist.use(distributed)
    nets = _Networks(factory, named, shape, select, seed, dtype, dev)
    classes = nets.outputs()
    classes = classes if output == "logits" else 1
    step = check_int(chunk, "chunk", min=1, none_ok=True) or _auto_chunk(inputs, classes, math.prod(shape))

    def run(r: str, seeds: list) -> torch.Tensor:
        fn = _chunk_rows_modules if r == "modules" else _chunk_rows_stacked
        return fn(nets, seeds, inputs, sigma_x, shape, output, dtype, dev)

    start, sums = time.perf_counter(), _Sums(math.prod(shape), dev)
    seeds = [seed * _SEED_STRIDE + k for k in range(n)]
    if split:  # this rank's networks; the same seeds as one process
        _dist.agree(n, inputs, seed, step, what="networks, inputs, seed and chunk")
        seeds = seeds[_dist.shard(n)]
    done = 0
    if route == "auto":
        pilot = seeds[: min(len(seeds), 16, step)]
        key = (named, repr(nets.template), inputs, output, select, str(dtype), dev.type)
        if not split:
            route, rows = _pick_route(key, run, pilot)
        else:  # rank 0 times the routes on its first networks and every rank takes its choice
            route, rows = _dist.all_succeed(lambda: _pick_route(key, run, pilot) if _dist.rank() == 0 else
                                            (None, None))
            route = _dist.broadcast_object(route)
        if rows is not None:
            sums.add(rows)
            done = len(pilot)

    def accumulate() -> None:
        bar = progress_bar(len(seeds), "average geometry", progress_enabled(progress) and _dist.rank() == 0,
                           initial=done, unit="network")
        for i in range(done, len(seeds), step):
            sums.add(run(route, seeds[i: i + step]))
            if bar is not None:
                bar.update(min(step, len(seeds) - i))
        if bar is not None:
            bar.close()

    if not split:
        accumulate()
    else:  # sum_k A_k, sum_k ||A_k||^2 and the count over all ranks
        _dist.all_succeed(accumulate)
        total = _dist.all_reduce_sum(sums.total)
        rest = _dist.all_reduce_sum(torch.tensor([sums.sq, sums.n], dtype=torch.float64, device=dev))
        sums.total, sums.sq, sums.n = total, float(rest[0]), int(rest[1])
        if sums.n != n:
            raise RuntimeError(f"paperlib.gih: the ranks measured {sums.n} networks in all, not {n}")
    return AverageGeometry(sums.total / n, n, inputs, sigma_x, output, route, shape, sums.sq,
                           time.perf_counter() - start)


# -- matrices and images ---------------------------------------------------------------------------------------------


def _square(A: object, name: str) -> torch.Tensor:
    if not isinstance(A, torch.Tensor) or A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"{name} must be a square matrix (D, D); got {getattr(A, 'shape', type(A).__name__)}")
    return A.double()


def alignment(A: torch.Tensor, B: torch.Tensor) -> float:
    r"""Alignment of two ``(D, D)`` matrices, :math:`\rho(A, B) = \operatorname{tr}(AB) /
    \sqrt{\operatorname{tr}(A^2)\operatorname{tr}(B^2)}` (the cosine of the angle between symmetric matrices in
    the Frobenius inner product): 1 for :math:`B = cA`, :math:`c > 0`, and -1 for :math:`c < 0`. Returns a float.

    Example:
        >>> A = torch.diag(torch.tensor([1.0, 2.0, 3.0]))
        >>> alignment(A, 2 * A), alignment(A, -A), round(alignment(A, torch.eye(3)), 4)
        (1.0, -1.0, 0.9258)
    """
    A, B = _square(A, "A"), _square(B, "B")
    if A.shape != B.shape:
        raise ValueError(f"A and B must have the same shape; got {tuple(A.shape)} and {tuple(B.shape)}")
    return float(torch.trace(A @ B) / torch.sqrt(torch.trace(A @ A) * torch.trace(B @ B)))


def participation_ratio(G: torch.Tensor) -> float:
    r""":math:`(\sum_i \lambda_i)^2 / \sum_i \lambda_i^2 = (\operatorname{tr} G)^2 / \|G\|_F^2` of a symmetric
    ``(D, D)`` matrix, or of eigenvalues ``(D,)``: ``D`` for :math:`G \propto I`, 1 for rank one. Returns a float.

    Example:
        >>> v = torch.ones(4, 1)
        >>> participation_ratio(torch.eye(4)), participation_ratio(v @ v.T)
        (4.0, 1.0)
        >>> participation_ratio(torch.tensor([1.0, 1.0, 0.0]))  # eigenvalues
        2.0
    """
    if isinstance(G, torch.Tensor) and G.ndim == 1:
        lam = G.double()
        return float(lam.sum() ** 2 / lam.square().sum())
    G = _square(G, "G")
    return float(torch.trace(G) ** 2 / G.square().sum())


def second_moment(x: torch.Tensor) -> torch.Tensor:
    r"""The uncentred second moment :math:`S = \sum_i x_i x_i^\top` of data ``x: (N, *shape)``: ``(D, D)``
    float64 (a sum over the data, as in the paper's :math:`\Delta^0 \propto G S G`), ``D = prod(shape)``.

    Example:
        >>> S = second_moment(torch.ones(3, 1, 2))  # three data points, D = 2
        >>> S.tolist(), S.dtype
        ([[3.0, 3.0], [3.0, 3.0]], torch.float64)
    """
    if not isinstance(x, torch.Tensor) or x.ndim < 2:
        raise ValueError(f"x must be data (N, *shape); got {getattr(x, 'shape', type(x).__name__)}")
    flat = x.flatten(1).double()
    return flat.T @ flat


def rotated_like(S: torch.Tensor, seed: int = 0) -> torch.Tensor:
    r"""A random-matrix control for ``S``: :math:`Q \operatorname{diag}(\lambda(S)) Q^\top` with the same
    eigenvalues and a Haar-random orthogonal :math:`Q` (QR of a Gaussian matrix with the signs of
    :math:`\operatorname{diag} R` fixed), drawn from a generator seeded with ``seed``.

    Args:
        S: a symmetric ``(D, D)`` matrix; seed: seed of the rotation.

    Returns:
        ``(D, D)`` float64 tensor on ``S``'s device.

    Example:
        >>> S = torch.diag(torch.tensor([3.0, 2.0, 1.0]))
        >>> R = rotated_like(S, seed=0)
        >>> torch.allclose(torch.linalg.eigvalsh(R), torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))
        True
        >>> torch.allclose(R, S.double()), torch.allclose(R, rotated_like(S, seed=0))  # rotated; seeded
        (False, True)
    """
    S = _square(S, "S")
    gen = torch.Generator().manual_seed(check_int(seed, "seed"))
    Q, R = torch.linalg.qr(torch.randn(S.shape, generator=gen, dtype=torch.float64))
    Q = Q * torch.sign(torch.diagonal(R))
    lam = torch.linalg.eigvalsh(S.cpu()).to(torch.float64)
    return ((Q * lam) @ Q.T).to(S.device)


def eigen_images(vectors: torch.Tensor, in_shape: Sequence[int]) -> torch.Tensor:
    """Columns of ``vectors: (D, k)`` as images ``(k, *in_shape)`` (the eigenvectors live in the flattened
    ``C x H x W`` order of the inputs, PyTorch's own; no axis is permuted), ``D = prod(in_shape)``.

    Example:
        >>> vectors = torch.eye(4)[:, :2]  # two eigenvectors of a (4, 4) matrix, as columns
        >>> images = eigen_images(vectors, (1, 2, 2))
        >>> tuple(images.shape), images[1, 0].tolist()
        ((2, 1, 2, 2), [[0.0, 1.0], [0.0, 0.0]])
    """
    shape = check_ints(in_shape, "in_shape", min=1)
    if not isinstance(vectors, torch.Tensor) or vectors.ndim != 2 or vectors.shape[0] != math.prod(shape):
        raise ValueError(f"vectors must be (D, k) with D = prod(in_shape) = {math.prod(shape)}; got "
                         f"{getattr(vectors, 'shape', type(vectors).__name__)}")
    return vectors.T.reshape(-1, *shape)


def power_spectrum(images: torch.Tensor) -> torch.Tensor:
    r"""Centred power spectrum :math:`|\mathcal F u|^2` of images ``(..., H, W)`` (2-D FFT over the last two axes,
    zero frequency moved to the centre by ``fftshift``), same shape, float64.

    Example:
        A constant image has all its power at zero frequency, at the centre ``(H // 2, W // 2)``:

        >>> P = power_spectrum(torch.ones(4, 4))
        >>> tuple(P.shape), P[2, 2].item(), P.sum().item()
        ((4, 4), 256.0, 256.0)
    """
    if not isinstance(images, torch.Tensor) or images.ndim < 2:
        raise ValueError(f"images must be (..., H, W); got {getattr(images, 'shape', type(images).__name__)}")
    spec = torch.fft.fftshift(torch.fft.fft2(images.double()), dim=(-2, -1))
    return spec.abs().square()


# -- evolution at initialisation -------------------------------------------------------------------------------------


@dataclass
class Evolution:
    r"""An estimate of :math:`\Delta^0 = \tfrac{d}{dt}G^t|_{t=0}` (:func:`evolution_at_init`) with the :math:`G^0`
    of the same networks and inputs, and the data's :math:`S`.

    Attributes:
        delta, G, S: ``(D, D)`` float64; networks: ``N``, the Monte-Carlo samples (pairs of twins with
            ``antithetic``, else networks); delta_sum_sq: :math:`\sum_k\|\Delta_k\|_F^2` over them;
            antithetic: whether every network was paired with its twin (:func:`evolution_at_init`).

    Example:
        >>> _ = torch.manual_seed(0)
        >>> x, y = torch.randn(6, 1, 2, 2), torch.ones(6)
        >>> ev = evolution_at_init("linear", x, y, networks=8, image_size=2)
        >>> tuple(ev.delta.shape), tuple(ev.GSG.shape), ev.networks, ev.antithetic
        ((4, 4), (4, 4), 8, True)
        >>> ev.standard_error > 0, math.isfinite(ev.relative_error)
        (True, True)
    """

    delta: torch.Tensor
    G: torch.Tensor
    S: torch.Tensor
    networks: int
    delta_sum_sq: float
    antithetic: bool = True

    @property
    def standard_error(self) -> float:
        """The standard error of ``delta`` in Frobenius norm (as :attr:`AverageGeometry.standard_error`)."""
        n = self.networks
        if n < 2:
            return math.inf
        return math.sqrt(max(self.delta_sum_sq - n * float(self.delta.square().sum()), 0.0) / (n * (n - 1)))

    @property
    def relative_error(self) -> float:
        """:attr:`standard_error` / :math:`\\|\\hat\\Delta\\|_F`."""
        return self.standard_error / float(torch.linalg.matrix_norm(self.delta))

    @property
    def GSG(self) -> torch.Tensor:
        """:math:`G S G`, ``(D, D)``."""
        return self.G @ self.S @ self.G

    def alignment(self, M: torch.Tensor, *, debiased: bool = True) -> float:
        r""":math:`\rho(\Delta^0, M)` (:func:`alignment`). ``debiased``: the Monte-Carlo noise inflates
        :math:`\|\hat\Delta\|_F^2` by :math:`\mathrm{SE}^2` on average while leaving :math:`\operatorname{tr}
        (\hat\Delta M)` unbiased, so the norm is replaced by :math:`\sqrt{\|\hat\Delta\|_F^2 - \mathrm{SE}^2}`
        (``nan`` when the noise is larger than the estimate)."""
        rho = alignment(self.delta, M)
        if not debiased:
            return rho
        norm2 = float(self.delta.square().sum())
        signal = norm2 - self.standard_error ** 2
        return rho * math.sqrt(norm2 / signal) if signal > 0 else math.nan


def _delta_rows(template: nn.Module, output: str, select: int | str | None = None,
                per_network_buffers: bool = False):
    """Per network: ``(g, u)``, input gradients ``(B, D)`` at ``xg`` and their derivative along
    :math:`\\dot\\theta = -\\nabla_\\theta L`, :math:`L = \\tfrac12\\sum_i (s(x_i) - y_i)^2`; vmapped over the
    networks' parameters ``(n, ...)`` (and buffers with ``per_network_buffers``) and points ``xg: (n, B, ...)``."""
    def scalar(p, b, x):
        return _scalars(_pick(functional_call(template, (p, b), (x,)), select), output)[0]

    def one(p, b, xg, X, y):
        v = grad(lambda q: 0.5 * (scalar(q, b, X) - y).square().sum())(p)
        flow = {k: -t for k, t in v.items()}
        return jvp(lambda q: grad(lambda x: scalar(q, b, x).sum())(xg).flatten(1), (p,), (flow,))
    return vmap(one, in_dims=(0, 0 if per_network_buffers else None, 0, None, None))


def _readout(template: nn.Module) -> list[str]:
    """Names of the parameters of the last ``nn.Linear`` (the readout), which the antithetic twin negates."""
    last = [name for name, m in template.named_modules() if isinstance(m, nn.Linear)]
    if not last:
        raise NotImplementedError("evolution_at_init's antithetic twins negate the last nn.Linear (the readout), "
                                  "and this network has none; pass antithetic=False")
    prefix = last[-1] + "." if last[-1] else ""
    return [prefix + k for k, _ in dict(template.named_modules())[last[-1]].named_parameters()]


def _with_twins(params: dict[str, torch.Tensor], readout: list[str]) -> dict[str, torch.Tensor]:
    """``2m`` networks: the ``m`` drawn, then their twins with the readout negated (the same law)."""
    return {k: torch.cat([p, -p if k in readout else p]) for k, p in params.items()}


def evolution_at_init(
    architecture: str | Callable[[], nn.Module],
    x: torch.Tensor,
    y: torch.Tensor,
    networks: int,
    *,
    in_shape: Sequence[int] | None = None,
    inputs: int = 4,
    sigma_x: float = 1e-3,
    seed: int = 0,
    chunk: int = 16,
    antithetic: bool | None = None,
    select: int | str | None = None,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "auto",
    distributed: bool | None = None,
    **network_kwargs,
) -> Evolution:
    r"""Estimate :math:`\Delta^0 = \mathbb{E}_\theta\,\mathbb{E}_{x'}[\dot g\, g^\top + g\,\dot g^\top]`, ``(D, D)``,
    at initialisation, :math:`g = \nabla_{x'} s_\theta(x')` (``output="mean"``), under gradient flow
    :math:`\dot\theta = -\nabla_\theta L` on the squared error :math:`L = \tfrac12\sum_i (s_\theta(x_i) - y_i)^2`
    of the data ``(x, y)``. The derivative :math:`\dot g = \partial_\theta g\,\dot\theta` is exact (a forward-mode
    derivative through the input gradient, :func:`torch.func.jvp`), so there is no step size; only the average
    over networks and over ``inputs`` points :math:`x' \sim N(0, \sigma_x^2 I)` per network is random. The
    networks are those of :func:`average_geometry` (seed ``s_k``; a named architecture's parameters drawn by
    :func:`stacked_parameters`, a factory's own networks), evaluated stacked with :func:`torch.func.vmap`.

    Antithetic twins (``antithetic=True``). Every network drawn is paired with its *twin*, the same network with
    the readout (last ``nn.Linear``) negated. With readout :math:`r` and features :math:`h`, the twin has
    :math:`f \to -f`, :math:`g \to -g`, and the label terms :math:`\pm y_i` of the two flows cancel exactly in
    :math:`\dot g g^\top` -- the labels enter :math:`\Delta^0` only through :math:`\mathbb{E}[r] = 0` -- which
    removes the largest part of the Monte-Carlo noise. This is exact only when the readout's law is symmetric
    under negation (the twin has the same law as the network): true of PyTorch's default initialisation, so the
    default (``None``) is ``True`` for a named architecture; a factory's law is unknown here, so ``None`` is
    ``False`` for a factory, and ``True`` is your statement that its readout's law is symmetric (zero-mean
    symmetric weights and biases, e.g. :math:`N(0, \sigma^2)`, uniform, or zero). With twins ``networks`` counts
    the pairs and the Monte-Carlo error is computed over pairs; without, ``networks`` counts networks and the
    error is over networks.

    Args:
        architecture, networks, in_shape, seed, select, device, network_kwargs: as :func:`average_geometry`.
        x: data ``(n, *in_shape)``, floating point (input gradients need real-valued inputs: token ids cannot
            be differentiated; embed them first); y: floating targets ``(n,)`` (e.g. +-1.0).
        inputs, sigma_x: the points where :math:`G` and :math:`\Delta^0` are evaluated.
        chunk: networks differentiated together.
        antithetic: pair every network with its twin (above); ``None``: ``True`` for a named architecture,
            ``False`` for a factory.
        dtype: precision of the networks (float32 default, as :func:`average_geometry`: the Monte-Carlo error
            dwarfs its rounding; the sums are kept in float64).
        distributed: split the networks (pairs) across the ranks of ``torch.distributed``, as in
            :func:`average_geometry`: each rank draws its contiguous shard of the seeds, and
            :math:`\hat\Delta^0`, :math:`G^0` and the sum of squares are added over the ranks (every rank
            returns the full estimate).

    Returns:
        :class:`Evolution` with :math:`\Delta^0`, :math:`G^0` and :math:`S = \sum_i x_i x_i^\top` (``(D, D)``).
        For a linear model :math:`f = w\cdot x` with i.i.d. zero-mean weights of variance :math:`\sigma^2`,
        :math:`\Delta^0 = -2\sigma^2 S = -(2/\sigma^2)\, G S G` exactly (:func:`paperlib.symbolic.linear_average_geometry`).

    Raises:
        TypeError: as :func:`average_geometry`; ``x`` or ``y`` not floating point.
        ValueError: as :func:`average_geometry`; ``x`` not ``(n, *in_shape)`` or ``y`` not ``(n,)``; a factory's
            networks that cannot be stacked.

    Example:
        A linear model, whose :math:`\Delta^0` is anti-aligned with :math:`G S G` (above):

        >>> _ = torch.manual_seed(0)
        >>> x = torch.randn(6, 1, 2, 2)
        >>> y = torch.sign(x.flatten(1).sum(1))  # targets +-1
        >>> ev = evolution_at_init("linear", x, y, networks=8, image_size=2)
        >>> tuple(ev.delta.shape), torch.allclose(ev.S, second_moment(x)), ev.alignment(ev.GSG) < 0
        ((4, 4), True, True)
    """
    factory, shape, named = _factory(architecture, in_shape, dict(network_kwargs))
    n = check_int(networks, "networks", min=1)
    check_int(inputs, "inputs", min=1)
    sigma_x = check_number(sigma_x, "sigma_x", min=0, open_min=True)
    step = check_int(chunk, "chunk", min=1)
    check_int(seed, "seed", min=0)
    twins = named if antithetic is None else check_bool(antithetic, "antithetic")
    check_select(select)
    check_float_dtype(dtype)
    dims = ", ".join(map(str, shape))
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a tensor of data (n, {dims}); got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"x must be floating-point data (n, {dims}); got {x.dtype}. The input gradients need "
                        "real-valued inputs: integer data such as token ids cannot be differentiated (embed them "
                        "first, or convert images with x.float())")
    if tuple(x.shape[1:]) != shape:
        raise ValueError(f"x must be data (n, {dims}); got {tuple(x.shape)}")
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"y must be a tensor of targets ({x.shape[0]},); got {type(y).__name__}")
    if not y.is_floating_point():
        raise TypeError(f"y must be floating targets of the squared error (e.g. +-1.0); got {y.dtype}: convert class "
                        "labels 0/1 with y.float() * 2 - 1, or y.float()")
    if y.shape != (x.shape[0],):
        raise ValueError(f"y must be targets of shape ({x.shape[0]},); got {tuple(y.shape)}")
    dev = resolve_device(device)
    nets = _Networks(factory, named, shape, select, seed, dtype, dev)
    nets.outputs()
    template = nets.template
    fn, d = _delta_rows(template, "mean", select, not named), math.prod(shape)
    readout = _readout(template) if twins else []
    X, Y = x.to(dev, dtype), y.to(dev, dtype)
    delta = torch.zeros(d, d, dtype=torch.float64, device=dev)
    G, sq = torch.zeros_like(delta), 0.0
    split = _dist.use(distributed)
    if split:
        _dist.agree(n, seed, step, inputs, what="networks, seed, chunk and inputs")
    mine = _dist.shard(n) if split else slice(0, n)  # this rank's networks (pairs)

    def accumulate() -> None:
        nonlocal delta, G, sq
        for i in range(mine.start, mine.stop, step):
            seeds = [seed * _SEED_STRIDE + k for k in range(i, min(mine.stop, i + step))]
            params, buffers, per_network = nets.stacked(seeds)
            xs = torch.stack([_points(s, inputs, shape, dtype) for s in seeds]).to(dev) * sigma_x
            if twins:  # (m, 2B, D): a pair (network, twin) is one sample of the estimate
                params = _with_twins(params, readout)
                if per_network:
                    buffers = {k: torch.cat([b, b]) for k, b in buffers.items()}
                out = fn(params, buffers, torch.cat([xs, xs]), X, Y)
                g, u = (torch.cat(t.double().chunk(2), dim=1) for t in out)
            else:  # (m, B, D): a network is one sample
                g, u = (t.double() for t in fn(params, buffers, xs, X, Y))
            rows = g.shape[1]
            a = u.flatten(0, 1).T @ g.flatten(0, 1) / rows  # sum over samples of sum_r u_r g_r^T / rows
            delta += a + a.T
            G += g.flatten(0, 1).T @ g.flatten(0, 1) / rows
            # ||A + A^T||^2 = 2 ||A||^2 + 2 tr(A A) per sample, A = U^T Gr / rows, from rows x rows Gram matrices
            uu, gg, ug = u @ u.transpose(1, 2), g @ g.transpose(1, 2), u @ g.transpose(1, 2)
            sq += float(2 * (uu * gg).sum() + 2 * (ug * ug.transpose(1, 2)).sum()) / rows ** 2

    if not split:
        accumulate()
    else:  # Delta, G and the sum of squares over all ranks
        _dist.all_succeed(accumulate)
        delta, G = _dist.all_reduce_sum(delta), _dist.all_reduce_sum(G)
        sq = float(_dist.all_reduce_sum(torch.tensor([sq], dtype=torch.float64, device=dev))[0])
    return Evolution(delta / n, G / n, second_moment(x), n, sq, twins)
