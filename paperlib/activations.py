r"""Activation functions by name, with closed-form derivatives up to order 5.

Names (``paperlib.activations.NAMES``): ``"linear"``, ``"relu"``, ``"sigmoid"``, ``"tanh"``, ``"erf"`` (meaning
:math:`\operatorname{erf}(z)`, not :math:`\operatorname{erf}(z/\sqrt2)`), ``"gelu"`` (exact,
:math:`z\,\Phi(z)`), ``"softplus"`` (:math:`\log(1 + e^z)`).

The closed-form geometry of shallow networks needs :math:`\phi'` (metric) and :math:`\phi''` (curvature); the
Gaussian averages of :mod:`paperlib.infinite` use derivatives up to :math:`\phi^{(5)}`. ReLU's derivative at 0 is
taken as 0 and its higher derivatives as 0 (they vanish almost everywhere).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
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


def check_names(activations, argname: str = "activations") -> tuple[str, ...]:
    """``activations`` (one name or a non-empty sequence of names) as a tuple of known names, else ``ValueError``
    or ``TypeError`` naming ``argname``."""
    names = [activations] if isinstance(activations, str) else activations
    if isinstance(names, (bytes, dict, set)) or not hasattr(names, "__len__") or len(names) == 0:
        raise ValueError(f"{argname} must be an activation name or a non-empty sequence of names; got "
                         f"{activations!r}")
    return tuple(check_name(a, argname) for a in names)


def _normal_pdf(z: torch.Tensor) -> torch.Tensor:
    return torch.exp(-0.5 * z * z) * _INV_SQRT_2PI


def _normal_cdf(z: torch.Tensor) -> torch.Tensor:
    return 0.5 * torch.special.erfc(-z / math.sqrt(2.0))


def _poly_tables() -> dict[str, list[np.ndarray]]:
    """Coefficients (ascending) of the polynomials in the closed forms of :func:`derivatives`, orders 1..5."""
    P = np.polynomial.polynomial
    tanh_q = [np.array([1.0])]  # Q_1 = 1, Q_{k+1} = -2T Q_k + (1 - T^2) Q_k'
    erf_q = [np.array([1.0])]  # E_1 = 1, E_{k+1} = E_k' - 2z E_k
    gelu_q = [np.array([2.0, 0.0, -1.0])]  # G_2 = 2 - z^2, G_{k+1} = G_k' - z G_k
    for _ in range(MAX_ORDER - 1):
        q = tanh_q[-1]
        tanh_q.append(P.polyadd(P.polymul([0.0, -2.0], q), P.polymul([1.0, 0.0, -1.0], P.polyder(q))))
        erf_q.append(P.polysub(P.polyder(erf_q[-1]), P.polymul([0.0, 2.0], erf_q[-1])))
    for _ in range(MAX_ORDER - 2):
        gelu_q.append(P.polysub(P.polyder(gelu_q[-1]), P.polymul([0.0, 1.0], gelu_q[-1])))
    return {"tanh": tanh_q, "erf": erf_q, "gelu": gelu_q}


#: highest derivative order :func:`derivatives` provides
MAX_ORDER = 5
_POLY = _poly_tables()


def _times_poly(base: torch.Tensor, coeffs: np.ndarray, t: torch.Tensor) -> torch.Tensor:
    """``base * P(t)`` by Horner's rule (no extra pass for a constant ``P = 1``)."""
    if len(coeffs) == 1:
        return base if coeffs[0] == 1.0 else base * float(coeffs[0])
    poly = torch.full_like(t, float(coeffs[-1]))
    for c in coeffs[-2::-1]:
        poly = poly * t + float(c)
    return base * poly


def _sech2_derivatives(first: torch.Tensor, t: Callable[[], torch.Tensor], order: int, factor: float) -> list:
    r"""Derivatives ``1..order`` of tanh-like functions: ``first * factor**(k-1) * Q_k(t)``.

    With ``first`` :math:`= \mathrm{sech}^2 y` and ``factor = 1`` these are :math:`\tanh^{(k)}(y)`; with ``first``
    :math:`= \sigma'(z) = \sigma(z)\sigma(-z) = \tfrac14\mathrm{sech}^2(z/2)` and ``factor = 1/2`` they are
    :math:`\sigma^{(k)}(z) = 2^{-k-1}\tanh^{(k)}(z/2)`. ``t`` (:math:`\tanh y`) is computed only if needed.
    """
    if order < 1:
        return []
    tt = t() if order >= 2 else first
    return [_times_poly(first if k == 1 else first * factor ** (k - 1), _POLY["tanh"][k - 1], tt)
            for k in range(1, order + 1)]


def derivatives(activation: str, z: torch.Tensor, order: int = 3) -> tuple[torch.Tensor, ...]:
    r"""Return :math:`(\phi(z), \phi'(z), \dots, \phi^{(order)}(z))` elementwise, in closed form.

    Stable for large :math:`|z|` (no derivative rounds to 0 before its true value underflows) and
    differentiable by autograd:

    - :math:`\tanh^{(k)}(y) = \mathrm{sech}^2 y\; Q_k(\tanh y)`, :math:`Q_1 = 1`,
      :math:`Q_{k+1} = -2T Q_k + (1 - T^2) Q_k'`;
    - :math:`\sigma^{(k)}(z) = 2^{-k-1}\tanh^{(k)}(z/2)` (so :math:`\sigma' = \sigma(z)\sigma(-z)`);
      :math:`\mathrm{softplus}^{(k)} = \sigma^{(k-1)}`;
    - :math:`\mathrm{erf}^{(k)}(z) = \tfrac{2}{\sqrt\pi} e^{-z^2} E_k(z)`, :math:`E_1 = 1`,
      :math:`E_{k+1} = E_k' - 2zE_k`;
    - :math:`\mathrm{gelu}' = \Phi + z\varphi`, :math:`\mathrm{gelu}^{(k)} = \varphi\, G_k` (:math:`k \ge 2`),
      :math:`G_2 = 2 - z^2`, :math:`G_{k+1} = G_k' - zG_k`;
    - ReLU: :math:`\phi' = [z > 0]` (0 at 0), higher derivatives 0; linear: 1, then 0.

    Only the derivatives asked for are computed.

    Args:
        activation: one of :data:`NAMES`.
        z: pre-activations, any shape.
        order: highest derivative, ``0..MAX_ORDER`` (5).

    Returns:
        A tuple of ``order + 1`` tensors shaped like ``z``.
    """
    check_name(activation)
    if isinstance(order, bool) or order not in range(MAX_ORDER + 1):
        raise ValueError(f"order must be an integer in 0..{MAX_ORDER}; got {order!r}")
    zeros = [torch.zeros_like(z) for _ in range(max(order - 1, 0))]
    if activation == "linear":
        out = [z, torch.ones_like(z), *zeros]
    elif activation == "relu":
        h = (z > 0).to(z.dtype)
        out = [z * h, h, *zeros]
    elif activation in ("sigmoid", "softplus"):
        sig = torch.sigmoid(z)
        out = [sig] if activation == "sigmoid" else [torch.nn.functional.softplus(z), sig]
        k = order - (len(out) - 1)  # derivatives of the sigmoid still needed
        if k >= 1:  # sigma' = sigma(z) sigma(-z): no cancellation, unlike sigma (1 - sigma)
            out += _sech2_derivatives(sig * torch.sigmoid(-z), lambda: torch.tanh(0.5 * z), k, 0.5)
    elif activation == "tanh":
        t = torch.tanh(z)
        sech2 = 4.0 * torch.sigmoid(2 * z) * torch.sigmoid(-2 * z) if order >= 1 else None
        out = [t, *_sech2_derivatives(sech2, lambda: t, order, 1.0)]
    elif activation == "erf":
        e = (2.0 / _SQRT_PI) * torch.exp(-z * z)
        out = [torch.special.erf(z), *(_times_poly(e, _POLY["erf"][k - 1], z) for k in range(1, order + 1))]
    elif activation == "gelu":
        p, c = _normal_pdf(z), _normal_cdf(z)
        out = [z * c, c + z * p, *(_times_poly(p, _POLY["gelu"][k - 2], z) for k in range(2, order + 1))]
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


def sympy_function(activation: str) -> Callable:
    """The activation as a sympy expression builder, ``z -> phi(z)``, for symbolic derivations (imports sympy)."""
    import sympy as sp

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
