r"""Multilayer perceptrons with the paper's initialisation, and the feature maps whose geometry is measured.

:class:`MLP` with ``widths = [d, n_1, ..., n_L, c]`` has ``L`` hidden layers and a readout to ``c`` logits.

``init="paper"`` (the setting of Zavatone-Veth et al., arXiv:2301.11375): every weight and bias is drawn i.i.d. from
:math:`N(0, 1)`, and every layer *after the first* divides its pre-activation by the square root of its fan-in,

.. math::  h_1 = \phi(W_1 x + b_1), \qquad
           h_\ell = \phi\big((W_\ell h_{\ell-1} + b_\ell)/\sqrt{n_{\ell-1}}\big) \ (2 \le \ell \le L), \qquad
           \text{logits} = (W_{L+1} h_L + b_{L+1})/\sqrt{n_L} .

The first layer is left unscaled so that it is exactly the random shallow network of the theory chapters
(:math:`w_j \sim N(0, I_d)`, :math:`b_j \sim N(0, 1)`, i.e. :func:`paperlib.shallow.random_network` with
``sigma = zeta = 1``); dividing by :math:`\sqrt d` there would only rescale the input. The later layers' scaling
keeps pre-activations of order one at any width, and the readout scaling is the one the authors'
setting states.

``init="pytorch"``: the PyTorch defaults of :class:`torch.nn.Linear` (weights and biases
:math:`U(-1/\sqrt{\text{fan\_in}}, 1/\sqrt{\text{fan\_in}})`) and *no* scaling factors anywhere.

The measured feature map (:meth:`MLP.feature_map`) of hidden layer :math:`\ell` is

.. math::  \Phi^{(\ell)}(x) = h_\ell(x) / \sqrt{n_\ell},

for both initialisations. For ``layer=1`` this is the shallow map :math:`\Phi_j = \phi(w_j\cdot x + b_j)/\sqrt n`
of :mod:`paperlib.shallow` with ``(W, b) =`` :meth:`MLP.shallow_parameters`, so closed forms and autodiff
agree. (A constant factor on the features shifts :math:`\log_{10}\sqrt{\det g}` by a constant,
:math:`-\tfrac d2 \log_{10} n_\ell`, and leaves differences such as the magnification statistic unchanged.)
"""

from __future__ import annotations

import math
from typing import Literal, Sequence

import torch
from torch import nn

from . import activations as _act
from ._checks import check_choice, check_int, check_ints

__all__ = ["MLP", "FeatureMap", "INITS", "LeNet"]

Init = Literal["paper", "pytorch"]
INITS = ("paper", "pytorch")


def _check_widths(widths: object) -> tuple[int, ...]:
    widths = check_ints(widths, "widths", min=1)
    if len(widths) < 2:
        raise ValueError(f"widths must list at least the input and output sizes, e.g. [2, 250, 2]; got {widths!r}")
    return widths


class FeatureMap(nn.Module):
    r"""The normalised hidden representation :math:`x \mapsto h_\ell(x)/\sqrt{n_\ell}` of an :class:`MLP`.

    A batched ``nn.Module`` ``(B, d) -> (B, n_ell)`` that :mod:`paperlib.geometry` can measure. It holds the
    model itself (not a copy), so it follows later changes of the model's parameters (e.g. loading a snapshot).
    """

    def __init__(self, model: "MLP", layer: int):
        super().__init__()
        self.model = model
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r"""``(B, d) -> (B, n_layer)``: :math:`h_\ell(x)/\sqrt{n_\ell}`."""
        h = self.model.hidden(x, self.layer)
        return h / math.sqrt(h.shape[-1])

    def extra_repr(self) -> str:
        return f"layer={self.layer}"


class MLP(nn.Module):
    r"""Fully connected network ``widths = [d, n_1, ..., n_L, c]`` with activation ``activation``.

    Args:
        widths: layer sizes, input first, number of logits last (at least two entries; ``[d, c]`` is a linear
            classifier with no hidden layer).
        activation: a name of :mod:`paperlib.activations` (``"sigmoid"``, ``"relu"``, ...).
        init: ``"paper"`` (all parameters :math:`N(0,1)`, layers after the first scaled by
            :math:`1/\sqrt{\text{fan\_in}}`; see the module docstring) or ``"pytorch"`` (PyTorch's defaults, no
            scaling).
        seed: seed of a private :class:`torch.Generator` for the initialisation (``None``: the global RNG).

    ``forward(x)``: ``(B, d) -> (B, c)`` logits.
    """

    def __init__(
        self,
        widths: Sequence[int],
        activation: str = "sigmoid",
        *,
        init: Init = "paper",
        seed: int | None = None,
    ):
        super().__init__()
        self.widths = _check_widths(widths)
        self.activation = _act.check_name(activation)
        check_choice(init, "init", INITS)
        check_int(seed, "seed", none_ok=True)
        self.init = init
        self.seed = seed
        self._phi = _act.function(activation)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(self.widths[:-1], self.widths[1:]))
        # pre-activation scale of each Linear: 1 for the first, 1/sqrt(fan_in) for the others ("paper")
        self._scales = tuple(
            1.0 if (init == "pytorch" or i == 0) else 1.0 / math.sqrt(lin.in_features)
            for i, lin in enumerate(self.layers)
        )
        self.reset_parameters(seed)

    @torch.no_grad()
    def reset_parameters(self, seed: int | None = None) -> None:
        """Draw all parameters afresh (seeded when ``seed`` is given), following ``self.init``."""
        gen = None if seed is None else torch.Generator().manual_seed(seed)
        for lin in self.layers:
            if self.init == "paper":
                lin.weight.normal_(0.0, 1.0, generator=gen)
                lin.bias.normal_(0.0, 1.0, generator=gen)
            else:
                bound = 1.0 / math.sqrt(lin.in_features)
                lin.weight.uniform_(-bound, bound, generator=gen)
                lin.bias.uniform_(-bound, bound, generator=gen)

    @property
    def depth(self) -> int:
        """Number of hidden layers ``L``."""
        return len(self.widths) - 2

    def _pre(self, i: int, h: torch.Tensor) -> torch.Tensor:
        z = self.layers[i](h)
        s = self._scales[i]
        return z if s == 1.0 else z * s

    def _check_x(self, x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor of shape (B, {self.widths[0]}); got {type(x).__name__}")
        if x.ndim != 2 or x.shape[1] != self.widths[0]:
            raise ValueError(f"x must have shape (B, {self.widths[0]}); got {tuple(x.shape)}")

    def hidden(self, x: torch.Tensor, layer: int) -> torch.Tensor:
        r"""Un-normalised hidden activations :math:`h_\ell(x)`, ``(B, d) -> (B, n_ell)``; ``layer`` in ``1..L``
        (``layer=0`` returns ``x``)."""
        self._check_layer(layer, allow_zero=True)
        self._check_x(x)
        h = x
        for i in range(layer):
            h = self._phi(self._pre(i, h))
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, c)`` for inputs ``x: (B, d)``."""
        h = self.hidden(x, self.depth)
        return self._pre(len(self.layers) - 1, h)

    def _check_layer(self, layer: object, allow_zero: bool = False) -> int:
        return check_int(layer, "layer", min=0 if allow_zero else 1, max=self.depth)

    def feature_map(self, layer: int = 1) -> FeatureMap:
        r"""The feature map of hidden layer ``layer`` (1-based): :math:`\Phi^{(\ell)}(x) = h_\ell(x)/\sqrt{n_\ell}`.

        Returns a batched ``nn.Module`` ``(B, d) -> (B, n_layer)`` sharing this model's parameters, ready for
        :func:`paperlib.geometry.log_volume_element` and friends.
        """
        return FeatureMap(self, self._check_layer(layer))

    def shallow_parameters(self, dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
        r"""``(W, b)`` of the first layer, ``W: (n_1, d)``, ``b: (n_1,)`` (detached copies in ``dtype``).

        For a network with one hidden layer, ``feature_map(1)`` equals
        ``paperlib.shallow.feature_map(W, b, activation)``, so the closed forms of :mod:`paperlib.shallow` apply.
        The first layer is unscaled in both initialisations, so this holds for ``init="paper"`` and
        ``"pytorch"`` alike.
        """
        if self.depth != 1:
            raise ValueError(f"shallow_parameters needs exactly one hidden layer; widths are {list(self.widths)}")
        lin = self.layers[0]
        return lin.weight.detach().to(dtype).clone(), lin.bias.detach().to(dtype).clone()

    def extra_repr(self) -> str:
        return f"widths={list(self.widths)}, activation={self.activation!r}, init={self.init!r}"


# ------------------------------------------------------------------------------------------------------------------
# the CIFAR-style ResNet of chapters 7-8
# ------------------------------------------------------------------------------------------------------------------

__all__ += ["Activation", "BasicBlock", "ResNet", "ResNetFeatures", "RESNET_DEPTHS"]

#: Blocks per stage of the ResNets of the papers (CIFAR variants).
RESNET_DEPTHS = {"resnet18": (2, 2, 2, 2), "resnet34": (3, 4, 6, 3)}


class Activation(nn.Module):
    """An activation of :mod:`paperlib.activations` by name, as a module (so that ``repr`` shows it)."""

    def __init__(self, name: str):
        super().__init__()
        self.name = _act.check_name(name)
        self._fn = _act.function(name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._fn(x)

    def extra_repr(self) -> str:
        return repr(self.name)


class BasicBlock(nn.Module):
    r"""The residual block of ResNet-18/34: :math:`y = \phi\big(\mathrm{BN}(W_2 * \phi(\mathrm{BN}(W_1 * x)))
    + s(x)\big)` with 3 x 3 convolutions (the first with ``stride``) and the shortcut :math:`s` the identity, or a
    1 x 1 convolution with batch norm where the shape changes. The activation :math:`\phi` is applied inside the
    block too (the authors' blocks ignored their activation option and always used GELU).

    ``(B, c_in, H, W) -> (B, c_out, H / stride, W / stride)``.
    """

    def __init__(self, c_in: int, c_out: int, stride: int = 1, activation: str = "relu"):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.act = Activation(activation)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act(self.bn1(self.conv1(x)))
        return self.act(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet(nn.Module):
    r"""The CIFAR variant of ResNet: a 3 x 3 stride-1 stem (no max-pool), four stages of :class:`BasicBlock`
    (widths ``w, 2w, 4w, 8w``, the last three starting with stride 2), global average pooling and a linear readout.
    ResNet-18 is ``depths=(2, 2, 2, 2)``, ResNet-34 ``(3, 4, 6, 3)`` (:data:`RESNET_DEPTHS`), ``width=64`` as in
    the papers.

    Args:
        depths: blocks per stage (four positive integers).
        width: channels of the stem and the first stage.
        activation: a name of :mod:`paperlib.activations`, used everywhere, blocks included.
        in_channels: image channels (3 for CIFAR-10, 1 for MNIST).
        num_classes: logits of the readout.

    ``forward(x)``: ``(B, in_channels, H, W) -> (B, num_classes)`` logits. :meth:`features` gives the output of
    the stem (block 0) or of stage ``1..4``; :meth:`feature_map` the batched map whose geometry is measured.
    """

    def __init__(self, depths: Sequence[int] = (2, 2, 2, 2), width: int = 64, activation: str = "gelu", *,
                 in_channels: int = 3, num_classes: int = 10):
        super().__init__()
        depths = check_ints(depths, "depths", min=1)
        if len(depths) != 4:
            raise ValueError(f"depths must list the blocks of the four stages, e.g. (2, 2, 2, 2); got {depths!r}")
        self.depths, self.width = depths, check_int(width, "width", min=1)
        self.activation = _act.check_name(activation)
        self.in_channels = check_int(in_channels, "in_channels", min=1)
        self.stem = nn.Sequential(nn.Conv2d(self.in_channels, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width),
                                  Activation(activation))
        stages, c = [], width
        for i, n in enumerate(depths):
            c_out = width * 2 ** i
            blocks = [BasicBlock(c, c_out, 1 if i == 0 else 2, activation)]
            blocks += [BasicBlock(c_out, c_out, 1, activation) for _ in range(n - 1)]
            stages.append(nn.Sequential(*blocks))
            c = c_out
        self.stages = nn.ModuleList(stages)
        self.head = nn.Linear(c, check_int(num_classes, "num_classes", min=1))

    @property
    def feature_dim(self) -> int:
        """Channels after the last stage (512 for ``width=64``): the dimension of the pooled features."""
        return self.width * 8

    def features(self, x: torch.Tensor, block: int = 4) -> torch.Tensor:
        """Output of the stem (``block=0``) or of stage ``block`` (1..4): ``(B, C, H', W')``."""
        check_int(block, "block", min=0, max=4)
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"x must have shape (B, {self.in_channels}, H, W); got "
                             f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
        h = self.stem(x)
        for stage in self.stages[:block]:
            h = stage(h)
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean((2, 3)))

    def feature_map(self, block: int = 4, size: int | None = None) -> "ResNetFeatures":
        r"""The feature map of ``block`` (0 = stem, 1..4 = stages), average-pooled to ``size`` numbers
        (default: :attr:`feature_dim`, 512 for ``width=64``): a batched module ``(B, C_in, H, W) -> (B, size)``
        sharing this network's parameters. For the last stage and ``size = C`` this is the global average pool
        that feeds the readout (the papers' features); see :class:`ResNetFeatures`."""
        return ResNetFeatures(self, check_int(block, "block", min=0, max=4),
                              self.feature_dim if size is None else check_int(size, "size", min=1))

    def extra_repr(self) -> str:
        return f"depths={list(self.depths)}, width={self.width}, activation={self.activation!r}"


class ResNetFeatures(nn.Module):
    r"""Block ``block`` of a :class:`ResNet`, flattened channel by channel and average-pooled to ``size`` numbers:
    the ``C H' W'`` outputs are cut into ``size`` contiguous, equal groups (``torch.nn.functional.
    adaptive_avg_pool1d``) and each is averaged. When ``size`` is a multiple of ``C``, each group is a horizontal
    strip of one channel; ``size = C`` is the per-channel global average. ``(B, C_in, H, W) -> (B, size)``.
    It holds the network itself, so it follows later changes of its parameters."""

    def __init__(self, net: ResNet, block: int, size: int):
        super().__init__()
        self.net, self.block, self.size = net, block, size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.net.features(x, self.block).flatten(1)
        if h.shape[1] < self.size:
            raise ValueError(f"block {self.block} has {h.shape[1]} outputs, fewer than size={self.size}")
        return torch.nn.functional.adaptive_avg_pool1d(h[:, None, :], self.size)[:, 0, :]

    def extra_repr(self) -> str:
        return f"block={self.block}, size={self.size}"


class LeNet(nn.Module):
    r"""LeNet-5 as the geometric-inductive-bias paper uses it: ``conv(c_in -> 6, 5x5)``, :math:`\phi`, 2 x 2 average
    pool, ``conv(6 -> 16, 5x5)``, :math:`\phi`, 2 x 2 average pool, then fully connected ``16 * 5 * 5 -> 120 -> 84 ->
    num_classes`` with :math:`\phi` between (PyTorch's default initialisation everywhere).

    Args:
        in_channels: image channels; num_classes: logits; activation: a name of :mod:`paperlib.activations`.

    ``forward(x)``: ``(B, in_channels, 32, 32) -> (B, num_classes)``.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 2, activation: str = "gelu"):
        super().__init__()
        self.activation = _act.check_name(activation)
        c_in = check_int(in_channels, "in_channels", min=1)
        self.features = nn.Sequential(nn.Conv2d(c_in, 6, 5), Activation(activation), nn.AvgPool2d(2),
                                      nn.Conv2d(6, 16, 5), Activation(activation), nn.AvgPool2d(2), nn.Flatten())
        self.classifier = nn.Sequential(nn.Linear(16 * 5 * 5, 120), Activation(activation), nn.Linear(120, 84),
                                        Activation(activation),
                                        nn.Linear(84, check_int(num_classes, "num_classes", min=1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or tuple(x.shape[2:]) != (32, 32):
            raise ValueError(f"x must have shape (B, C, 32, 32); got "
                             f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
        return self.classifier(self.features(x))

    def extra_repr(self) -> str:
        return f"activation={self.activation!r}"


__all__ += ["VisionTransformer"]


class VisionTransformer(nn.Module):
    r"""A small vision transformer (Dosovitskiy et al., 2021): non-overlapping ``patch x patch`` patches embedded by
    one strided convolution, a learned class token and learned position embeddings, ``depth`` pre-norm encoder
    layers of :class:`torch.nn.TransformerEncoder` (``heads`` heads, MLP width ``mlp_ratio * dim``, GELU), a final
    layer norm and a linear readout of the class token:

    .. math::  z_0 = [c;\ P x] + E, \qquad z_\ell = \mathrm{Enc}_\ell(z_{\ell-1}), \qquad
               \text{logits} = W\,\mathrm{LN}(z_L)_0 + b .

    Dropout is 0 (so eval and training mode compute the same map). PyTorch's default initialisation, with the
    class token and position embeddings drawn from :math:`N(0, 0.02^2)`.

    Args:
        image_size: side of the square input images (a multiple of ``patch``).
        patch: side of the patches.
        in_channels: image channels.
        num_classes: logits of the readout.
        dim: embedding width (a multiple of ``heads``).
        depth: encoder layers.
        heads: attention heads.
        mlp_ratio: hidden width of each layer's MLP over ``dim``.

    ``forward(x)``: ``(B, in_channels, image_size, image_size) -> (B, num_classes)``.
    """

    def __init__(self, image_size: int = 32, patch: int = 4, in_channels: int = 1, num_classes: int = 2,
                 dim: int = 64, depth: int = 2, heads: int = 4, mlp_ratio: int = 2):
        super().__init__()
        size, p = check_int(image_size, "image_size", min=1), check_int(patch, "patch", min=1)
        if size % p:
            raise ValueError(f"image_size must be a multiple of patch; got image_size={size}, patch={p}")
        dim, heads = check_int(dim, "dim", min=1), check_int(heads, "heads", min=1)
        if dim % heads:
            raise ValueError(f"dim must be a multiple of heads; got dim={dim}, heads={heads}")
        self.embed = nn.Conv2d(check_int(in_channels, "in_channels", min=1), dim, p, stride=p)
        self.cls = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.pos = nn.Parameter(torch.randn(1, (size // p) ** 2 + 1, dim) * 0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, check_int(mlp_ratio, "mlp_ratio", min=1) * dim, dropout=0.0,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, check_int(depth, "depth", min=1), enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, check_int(num_classes, "num_classes", min=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.embed(x).flatten(2).transpose(1, 2)  # (B, patches, dim)
        z = torch.cat([self.cls.expand(z.shape[0], -1, -1), z], dim=1) + self.pos
        return self.head(self.norm(self.encoder(z))[:, 0])
