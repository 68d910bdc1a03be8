"""The networks of :mod:`paperlib.gih`: the architectures of the paper (:func:`network`), their parameters drawn
in stacked form with PyTorch's default initialisation (:func:`stacked_parameters`), and the networks of an estimate
(:class:`_Networks`: network ``k`` belongs to the seed ``s_k``, whatever the route) with their input points."""

from __future__ import annotations

import functools
import math
from typing import Callable, Sequence

import torch
from torch import nn
from torch.func import functional_call

from .. import models as _models
from .._checks import check_choice, check_int, check_ints, output_hint, pick_output, resolve_device


ARCHITECTURES = ("mlp", "lenet", "resnet", "linear")
_SEED_STRIDE = 1_000_003


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


# -- the output of a network ----------------------------------------------------------------------------------------


def _pick(out: object, select: int | str | None) -> torch.Tensor:
    """The output tensor to differentiate: ``out`` itself, or ``out[select]`` of a tuple, list or dict output
    (:func:`paperlib._checks.pick_output`)."""
    out = pick_output(out, select, "the network")
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"the network returns a {type(out).__name__}{output_hint(out)}, not a tensor of outputs "
                        "(B, C)")
    return out


# -- the networks of an estimate -------------------------------------------------------------------------------------


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
