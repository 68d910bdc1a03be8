r"""Activation functions by name, with their first three derivatives.

Names (``paperlib.activations.NAMES``): ``"linear"``, ``"relu"``, ``"sigmoid"``, ``"tanh"``, ``"erf"`` (meaning
:math:`\operatorname{erf}(z)`, not :math:`\operatorname{erf}(z/\sqrt2)`), ``"gelu"`` (exact,
:math:`z\,\Phi(z)`), ``"softplus"`` (:math:`\log(1 + e^z)`).

The closed-form geometry of shallow networks needs :math:`\phi'` (metric) and :math:`\phi''` (curvature); the
Gaussian averages of :mod:`paperlib.infinite` also use :math:`\phi'''`. ReLU's derivative at 0 is taken as 0
and its higher derivatives as 0 (they vanish almost everywhere).
"""

from __future__ import annotations

import math
from typing import Callable

import sympy as sp
import torch

NAMES = ("linear", "relu", "sigmoid", "tanh", "erf", "gelu", "softplus")
#: Activations whose curvature vanishes almost everywhere (phi'' = 0 a.e.).
PIECEWISE_LINEAR = ("linear", "relu")

_SQRT_PI = math.sqrt(math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def check_name(activation: str, argname: str = "activation") -> str:
    """Return ``activation`` if it is a known name, else raise ``ValueError`` naming ``argname``."""
    if not isinstance(activation, str):
        raise TypeError(f"{argname} must be a string, one of {NAMES}; got {type(activation).__name__}")
    if activation not in NAMES:
        raise ValueError(f"{argname}={activation!r} is not a known activation; choose one of {NAMES}")
    return activation


def _normal_pdf(z: torch.Tensor) -> torch.Tensor:
    return torch.exp(-0.5 * z * z) * _INV_SQRT_2PI


def _normal_cdf(z: torch.Tensor) -> torch.Tensor:
    return 0.5 * torch.special.erfc(-z / math.sqrt(2.0))


def _sigmoid_derivatives(sig: torch.Tensor, order: int) -> list[torch.Tensor]:
    """The first ``order`` derivatives of the logistic function from its value ``sig`` (only those asked for:
    each costs a pass over the pre-activations)."""
    out: list[torch.Tensor] = []
    if order >= 1:
        d1 = sig * (1 - sig)
        out.append(d1)
        if order >= 2:
            out.append(d1 * (1 - 2 * sig))
        if order >= 3:
            out.append(d1 * (1 - 6 * sig + 6 * sig * sig))
    return out


def derivatives(activation: str, z: torch.Tensor, order: int = 3) -> tuple[torch.Tensor, ...]:
    r"""Return :math:`(\phi(z), \phi'(z), \dots, \phi^{(order)}(z))` elementwise.

    Args:
        activation: one of :data:`NAMES`.
        z: pre-activations, any shape.
        order: highest derivative, 0..3.

    Returns:
        A tuple of ``order + 1`` tensors shaped like ``z``.
    """
    check_name(activation)
    if order not in (0, 1, 2, 3):
        raise ValueError(f"order must be 0, 1, 2 or 3; got {order!r}")
    zero = torch.zeros_like
    if activation == "linear":
        out = [z, torch.ones_like(z), zero(z), zero(z)]
    elif activation == "relu":
        h = (z > 0).to(z.dtype)
        out = [z * h, h, zero(z), zero(z)]
    elif activation == "sigmoid":
        sig = torch.sigmoid(z)
        out = [sig, *_sigmoid_derivatives(sig, order)]
    elif activation == "softplus":
        out = [torch.nn.functional.softplus(z)]
        if order >= 1:
            sig = torch.sigmoid(z)
            out += [sig, *_sigmoid_derivatives(sig, order - 1)]
    elif activation == "tanh":
        t = torch.tanh(z)
        d1 = 1 - t * t
        out = [t, d1, -2 * t * d1, d1 * (6 * t * t - 2)]
    elif activation == "erf":
        e = (2.0 / _SQRT_PI) * torch.exp(-z * z)
        out = [torch.special.erf(z), e, -2 * z * e, (4 * z * z - 2) * e]
    elif activation == "gelu":
        p, c = _normal_pdf(z), _normal_cdf(z)
        out = [z * c, c + z * p, p * (2 - z * z), z * p * (z * z - 4)]
    return tuple(out[: order + 1])


def function(activation: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """The activation as a differentiable torch function (autograd and ``torch.func`` see through it)."""
    check_name(activation)
    return {
        "linear": lambda z: z,
        "relu": torch.relu,
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "erf": torch.special.erf,
        "gelu": lambda z: torch.nn.functional.gelu(z, approximate="none"),
        "softplus": torch.nn.functional.softplus,
    }[activation]


def sympy_function(activation: str) -> Callable[[sp.Expr], sp.Expr]:
    """The activation as a sympy expression builder, ``z -> phi(z)``, for symbolic derivations."""
    check_name(activation)
    return {
        "linear": lambda z: z,
        "relu": lambda z: sp.Max(z, 0),
        "sigmoid": lambda z: 1 / (1 + sp.exp(-z)),
        "tanh": sp.tanh,
        "erf": sp.erf,
        "gelu": lambda z: z * (1 + sp.erf(z / sp.sqrt(2))) / 2,
        "softplus": lambda z: sp.log(1 + sp.exp(z)),
    }[activation]
