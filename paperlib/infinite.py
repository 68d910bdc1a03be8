r"""Infinite-width geometry of shallow networks with random Gaussian weights.

Setting: :math:`\Phi_j(x) = \phi(w_j\cdot x + b_j)/\sqrt n` with :math:`w_j \sim N(0, \sigma^2 I_d)` and
:math:`b_j \sim N(0, \zeta^2)` i.i.d. The metric of one draw is :math:`\frac1n\sum_j \phi'(z_j)^2 w_j w_j^\top`,
so its expectation does not depend on the width :math:`n`, and by the law of large numbers it is also the
:math:`n \to \infty` limit.

**Derivation.** With :math:`z = w\cdot x + b` and Stein's lemma :math:`E[w_\mu f(w)] = \sigma^2 E[\partial_{w_\mu} f]`
(applied twice),

.. math::  E[\phi'(z)^2 w_\mu w_\nu]
           = \sigma^2 E[\phi'(z)^2]\,\delta_{\mu\nu} + 2\sigma^2 x_\mu E[\phi'\phi''(z)\, w_\nu]
           = \sigma^2 E[\phi'^2]\,\delta_{\mu\nu} + 2\sigma^4 E[\phi''^2 + \phi'\phi''']\, x_\mu x_\nu .

Here :math:`z \sim N(0, q)` with :math:`q = \sigma^2 s + \zeta^2`, :math:`s = |x|^2`. Put
:math:`F(q) = E_{z\sim N(0,q)}[\phi'(z)^2]`; the heat equation of the Gaussian gives
:math:`F'(q) = \tfrac12 E[(\phi'^2)''] = E[\phi''^2 + \phi'\phi''']`, hence, with
:math:`e^{\Omega(s)} = \sigma^2 F(q)` and :math:`\Omega' = d\Omega/ds = \sigma^2 F'/F`,

.. math::  g_{\mu\nu}(x) = e^{\Omega(s)}\,[\delta_{\mu\nu} + 2\,\Omega'(s)\, x_\mu x_\nu], \qquad
           \sqrt{\det g} = e^{d\Omega/2}\sqrt{1 + 2 s\,\Omega'},

.. math::  R = -(d-1)\, e^{-\Omega} s\,\Omega' \Big[\frac{4(\Omega' + s\,\Omega'')}{(1 + 2 s\Omega')^2}
           + (d-2)\frac{\Omega'}{1 + 2 s\Omega'}\Big]

(convention: a round sphere of radius :math:`r` has :math:`R = +2/r^2`; checked symbolically against the
Christoffel-symbol definition in the tests). The metric depends on :math:`|x|` only (rotation invariance).

**Routes** (``method="auto"``):

- ``"linear"``: :math:`F = 1`; ``"relu"``: :math:`F = 1/2` -- the metric is :math:`\sigma^2 F\,\delta`,
  flat, and :math:`R = 0` exactly. (At the single point :math:`x = 0` with :math:`\zeta = 0`, ReLU has
  :math:`z \equiv 0` and the expectation depends on the convention for :math:`\mathrm{relu}'(0)`; we return
  the continuous extension :math:`\sigma^2/2\,\delta`.)
- ``"erf"`` (:math:`\phi = \mathrm{erf}(z)`) in closed form: :math:`F(q) = \frac4\pi (1 + 4q)^{-1/2}`, so with
  :math:`A = 1 + 4\zeta^2`, :math:`Q = 1 + 4\zeta^2 + 4\sigma^2 s`,

  .. math::  e^\Omega = \frac{4\sigma^2}{\pi} Q^{-1/2},\quad
             \sqrt{\det g} = \Big(\frac{4\sigma^2}{\pi}\Big)^{d/2} \frac{\sqrt A}{Q^{(d+2)/4}},\quad
             R = -\frac{\pi (d-1)(d+2)\,\sigma^2 s}{A\sqrt Q}

  (the formulas for :math:`\mathrm{erf}(z/\sqrt2)` with :math:`\sigma^2 \to 2\sigma^2`,
  :math:`\zeta^2 \to 2\zeta^2`).
- any smooth activation (``"sigmoid"``, ``"tanh"``, ``"gelu"``, ``"softplus"``; also ``"erf"`` with
  ``method="quadrature"``) by quadrature, see :func:`gaussian_moments`.

**Quadrature.** Plain Gauss--Hermite in :math:`u = z/\sqrt q` cannot reach the accuracy wanted here: for large
:math:`q` the integrand :math:`\phi'(\sqrt q\,u)^2` is a bump of width :math:`1/\sqrt q` in :math:`u`, narrower
than the node spacing (measured for ``tanh`` at :math:`q = 25`: relative error 0.23 with 100 nodes, 0.045 with
200; at :math:`q = 2525` (:math:`\sigma = 5, |x| = 10`) the error is 100 % for every node count numpy can
generate). We therefore use the trapezoidal rule on the real line -- exponentially accurate for analytic
integrands, like Gauss--Hermite -- on ``nodes`` equispaced points :math:`u \in [-U, U]` with
:math:`U = \min(9, L/\sqrt q)`, where :math:`|z| \le L` holds all of the (decaying part of the) integrand.
The step adapts to :math:`q`, so the bump is always resolved by about ``nodes`` points. Two Gaussian
integration-by-parts forms, each well conditioned where it is used, give the derivatives:

- :math:`q \le 1`: derivative form, :math:`F' = \tfrac12 E[h'']`, :math:`F'' = \tfrac14 E[h'''']` with
  :math:`h = \phi'^2`, :math:`h'' = 2(\phi''^2 + \phi'\phi''')`,
  :math:`h'''' = 2(3\phi'''^2 + 4\phi''\phi'''' + \phi'\phi^{(5)})` (derivatives of :math:`\phi` up to order 5
  in closed form, :func:`paperlib.activations.derivatives`);
- :math:`q > 1`: Hermite form, :math:`2qF' = E[h\,\mathrm{He}_2(u)]`, :math:`4q^2F'' = E[h\,\mathrm{He}_4(u)]`,
  evaluated through the moments :math:`E[h z^{2m}]` so that :math:`1 + 2s\Omega'` and
  :math:`\Omega' + s\Omega''` (for erf, :math:`(1+4\zeta^2)/Q` and :math:`-2\sigma^2(1+4\zeta^2)/Q^2`: far
  smaller than their two terms when :math:`\zeta^2 \ll q`) are formed without cancellation, and scaled by
  :math:`q` so that nothing under- or overflows for huge :math:`|x|`. For softplus and GELU, whose
  :math:`\phi'^2` tends to a step, the step part (sigmoid resp. :math:`\Phi`, with Gaussian average exactly
  1/2) is integrated analytically.

Measured accuracy (float64, default ``nodes=201``), worst relative error against a 30-digit ``mpmath``
quadrature of :math:`F, F', F''` followed by the textbook formulas above, over :math:`d = 2, 3`,
:math:`|x| \in \{0, 0.05, 0.3, 1, 2, 4, 7, 10\}`, :math:`\sigma, \zeta \in \{0.1, 0.3, 1, 2.5, 5\}`
(:math:`q` from 0.01 to 2525):

==========  =======  =======  =======  =======  =======  =======
activation  F        F'       F''      metric   log vol  R
==========  =======  =======  =======  =======  =======  =======
sigmoid     7e-16    9e-16    2e-15    9e-16    6e-16    1e-15
tanh        7e-16    1e-15    1e-14    8e-16    6e-16    5e-15
softplus    4e-16    1e-15    4e-15    4e-16    4e-16    4e-14
gelu        2e-16    8e-15    3e-14    5e-16    4e-16    4e-13
erf         7e-16    1e-15    4e-15    7e-16    5e-16    3e-15
==========  =======  =======  =======  =======  =======  =======

(GELU's :math:`F'` changes sign near :math:`q = 10.2`, where :math:`\Omega'` and :math:`R` pass through 0; the
table excludes points with :math:`q|F'| < 10^{-3} F`, where the absolute error of :math:`F'` is below
:math:`10^{-18}`, and the 4e-13 for :math:`R` is at :math:`q = 7.7`, close to that zero. Softplus's :math:`R`
also changes sign, between :math:`q = 3` and 17; its 4e-14 is there.) With 161 nodes
sigmoid/tanh stay below 3e-14, with 101 below 4e-13. The tests check the default against 2001 nodes and
against ``mpmath``.
"""

from __future__ import annotations

import math
import numbers
from typing import Callable, NamedTuple

import torch

from . import activations as _act
from ._checks import check_base, check_choice, check_dtype, check_input, check_int, check_number, resolve_device

__all__ = [
    "SMOOTH",
    "DEFAULT_NODES",
    "gaussian_moments",
    "omega",
    "metric_field",
    "metric",
    "log_volume_element",
    "ricci_scalar",
]

#: Activations handled by quadrature (all analytic on the real line).
SMOOTH = ("sigmoid", "tanh", "erf", "gelu", "softplus")
#: Default number of trapezoid nodes (accuracy table in the module docstring).
DEFAULT_NODES = 201

_METHODS = ("auto", "closed", "quadrature")
_Q_SWITCH = 1.0  # derivative form for q <= 1, Hermite form for q > 1
_U_MAX = 9.0  # Gaussian tail beyond |u| = 9 is 2e-18
# Half-width L in z beyond which the integrands (minus their step part) are below ~1e-18 of their mass.
_TAIL = {"sigmoid": 24.0, "tanh": 12.0, "softplus": 40.0, "gelu": 10.0, "erf": 6.5}
_STEP = {"sigmoid": 0.0, "tanh": 0.0, "erf": 0.0, "softplus": 0.5, "gelu": 0.5}
_CHUNK = 1 << 22  # points x nodes per chunk
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _step_remainder(activation: str, z: torch.Tensor) -> torch.Tensor:
    r""":math:`k(z) = \phi'(z)^2 - S(z)` with :math:`S = 0` (sigmoid, tanh, erf), :math:`S = \mathrm{sigmoid}`
    (softplus) or :math:`S = \Phi` (GELU): :math:`S - s_0` is odd, so :math:`E[S\,u^{2m}] = s_0 E[u^{2m}]` with
    :math:`s_0 = 1/2` resp. 0, and :math:`k` decays exponentially."""
    if activation == "softplus":  # sigmoid^2 - sigmoid = -sigmoid(z) sigmoid(-z)
        return -torch.sigmoid(z) * torch.sigmoid(-z)
    if activation == "gelu":  # (Phi + z varphi)^2 - Phi = -Phi(z)Phi(-z) + z varphi (2 Phi + z varphi)
        pdf = torch.exp(-0.5 * z * z) * _INV_SQRT_2PI
        cdf = 0.5 * torch.special.erfc(-z / math.sqrt(2.0))
        return -cdf * (0.5 * torch.special.erfc(z / math.sqrt(2.0))) + z * pdf * (2.0 * cdf + z * pdf)
    return _act.derivatives(activation, z, order=1)[1].square()


# ----------------------------------------------------------------------------------------------------------
# Gaussian averages by the adaptive trapezoidal rule.
# ----------------------------------------------------------------------------------------------------------
def _grid(q: torch.Tensor, tail: float, nodes: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Nodes u (..., N), weights w (..., N) of E_{u~N(0,1)}[.], and z = sqrt(q) u, for q (...)."""
    t = torch.linspace(-1.0, 1.0, nodes, dtype=q.dtype, device=q.device)
    wide = q * _U_MAX**2 <= tail**2
    q_far = torch.where(wide, torch.full_like(q, tail**2 / _U_MAX**2), q)  # safe: never 0
    U = torch.where(wide, torch.full_like(q, _U_MAX), tail / torch.sqrt(q_far))
    u = U.unsqueeze(-1) * t
    w = (2.0 / (nodes - 1)) * U.unsqueeze(-1) * torch.exp(-0.5 * u * u) * _INV_SQRT_2PI
    return u, w, torch.sqrt(q).unsqueeze(-1) * u


class _Terms(NamedTuple):
    F: torch.Tensor  # F(q)
    dlog: torch.Tensor  # F'/F
    d2log: torch.Tensor  # (log F)'' = F''/F - (F'/F)^2
    # With a per-point scale c (1, or q on the Hermite route, so that nothing under- or overflows for huge q):
    scale: torch.Tensor  # c
    sdlog: torch.Tensor  # c F'/F
    Dc: torch.Tensor  # c (1 + 2 s Omega')
    Pc: torch.Tensor  # c^2 (Omega' + s Omega'')


def _route_small(activation: str, s: torch.Tensor, q: torch.Tensor, sigma2: float, nodes: int) -> _Terms:
    """Derivative form, well conditioned for q <= 1: F = E[h], F' = E[h'']/2, F'' = E[h'''']/4."""
    _, w, z = _grid(q, _TAIL[activation], nodes)
    _, p1, p2, p3, p4, p5 = _act.derivatives(activation, z, order=5)
    E0 = (w * p1 * p1).sum(-1)
    E2 = (w * 2.0 * (p2 * p2 + p1 * p3)).sum(-1)
    E4 = (w * 2.0 * (3.0 * p3 * p3 + 4.0 * p2 * p4 + p1 * p5)).sum(-1)
    a = E2 / (2.0 * E0)  # F'/F
    c = E4 / (4.0 * E0) - a * a  # (log F)''
    one = torch.ones_like(E0)
    return _Terms(E0, a, c, one, a, 1.0 + 2.0 * sigma2 * s * a, sigma2 * (a + sigma2 * s * c))


def _route_large(
    activation: str, s: torch.Tensor, q: torch.Tensor, sigma2: float, zeta2: float, nodes: int
) -> _Terms:
    """Hermite form, well conditioned for q >= 1.

    With k = phi'^2 - step part and J_m = E[k z^{2m}] (= q^m E[k u^{2m}]), M0 = F = s0 + J0 and
    alpha = q F'/F = (J1/q - J0)/(2 M0), 1 + 2 alpha = (s0 + J1/q)/M0,
    q gamma = q d(alpha)/d(log q) = [s0 (q J0 - 4 J1 + J2/q) + (J0 J2 - J1^2)/q - 2 J0 J1] / (4 M0^2);
    then c = q, c (1 + 2 s Omega') = zeta^2 + rho (s0 q + J1)/M0 and
    c^2 (Omega' + s Omega'') = sigma^2 (alpha zeta^2 + rho q gamma), rho = sigma^2 s / q in [0, 1].
    """
    s0 = _STEP[activation]
    _, w, z = _grid(q, _TAIL[activation], nodes)
    wk = w * _step_remainder(activation, z)
    z2 = z * z
    J0, J1, J2 = wk.sum(-1), (wk * z2).sum(-1), (wk * z2 * z2).sum(-1)
    M0 = s0 + J0  # F
    alpha = (J1 / q - J0) / (2.0 * M0)
    if s0 == 0.0:  # J0 J2 - J1^2 = J0 E[k (z^2 - J1/J0)^2] >= 0, two-pass
        var = J0 * (wk * (z2 - (J1 / J0).unsqueeze(-1)).square()).sum(-1)
        num = var / q - 2.0 * J0 * J1
    else:
        num = s0 * (q * J0 - 4.0 * J1 + J2 / q) + (J0 * J2 - J1 * J1) / q - 2.0 * J0 * J1
    q_gamma = num / (4.0 * M0 * M0)
    rho = sigma2 * s / q
    return _Terms(
        M0,
        alpha / q,
        (q_gamma / q - alpha) / (q * q),
        q,
        alpha,
        zeta2 + rho * (s0 * q + J1) / M0,
        sigma2 * (alpha * zeta2 + rho * q_gamma),
    )


def _quad_terms(
    activation: str, s: torch.Tensor, q: torch.Tensor, sigma2: float, zeta2: float, nodes: int, split: bool
) -> _Terms:
    """Each point by the form that is well conditioned for it (q <= 1: derivative form, else Hermite form).

    ``split=True`` evaluates each form only on its own points (boolean indexing, faster); ``split=False``
    evaluates both everywhere and selects with ``torch.where`` (pure, works under ``torch.func`` transforms;
    the inputs of the unused branch are clamped so that it stays finite and its gradients vanish).
    """
    small = q <= _Q_SWITCH
    if split:
        lo = _route_small(activation, s[small], q[small], sigma2, nodes)
        hi = _route_large(activation, s[~small], q[~small], sigma2, zeta2, nodes)
        out = []
        for a, b in zip(lo, hi):
            t = torch.empty_like(q)
            t[small], t[~small] = a, b
            out.append(t)
        return _Terms(*out)
    lo = _route_small(activation, s, torch.clamp(q, max=_Q_SWITCH), sigma2, nodes)
    hi = _route_large(activation, s, torch.clamp(q, min=_Q_SWITCH), sigma2, zeta2, nodes)
    return _Terms(*(torch.where(small, a, b) for a, b in zip(lo, hi)))


def _terms(
    activation: str, method: str, s: torch.Tensor, sigma: float, zeta: float, nodes: int, split: bool = True
) -> _Terms:
    """Omega-related terms for ``s`` of any shape (chunked over the flattened points for the quadrature)."""
    sigma2, zeta2 = sigma * sigma, zeta * zeta
    q = sigma2 * s + zeta2
    if activation in _act.PIECEWISE_LINEAR:
        F = torch.full_like(s, 1.0 if activation == "linear" else 0.5)
        zero = torch.zeros_like(s)
        one = torch.ones_like(s)
        return _Terms(F, zero, zero, one, zero, one, zero)
    if method == "closed":  # erf
        Q = 1.0 + 4.0 * q
        A, B = 1.0 + 4.0 * zeta2, 4.0 * sigma2
        return _Terms(
            (4.0 / math.pi) / torch.sqrt(Q), -2.0 / Q, 8.0 / (Q * Q), Q, torch.full_like(Q, -2.0),
            torch.full_like(Q, A), torch.full_like(Q, -0.5 * A * B),
        )
    flat_s, flat_q = s.reshape(-1), q.reshape(-1)
    step = max(1, _CHUNK // nodes)
    parts = [
        _quad_terms(activation, flat_s[i : i + step], flat_q[i : i + step], sigma2, zeta2, nodes, split)
        for i in range(0, max(flat_s.shape[0], 1), step)
    ]
    return _Terms(*(torch.cat(col).reshape(s.shape) for col in zip(*parts)))


# ----------------------------------------------------------------------------------------------------------
# Argument checks
# ----------------------------------------------------------------------------------------------------------
def _check_scale(value: object, name: str, *, allow_zero: bool) -> float:
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.dtype.is_complex:
        value = value.item()
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, int, float)):
        value = float(value)  # numpy scalars and other reals
    return check_number(value, name, min=0, open_min=not allow_zero)


def _check_method(activation: str, method: str, nodes: int) -> str:
    _act.check_name(activation)
    check_choice(method, "method", _METHODS)
    check_int(nodes, "nodes", min=9)
    if method == "auto":
        return "closed" if activation in ("erf", "linear", "relu") else "quadrature"
    if method == "closed" and activation not in ("erf", "linear", "relu"):
        raise ValueError(f"method='closed': no closed form for activation={activation!r}; use 'quadrature'")
    if method == "quadrature" and activation not in SMOOTH:
        raise ValueError(
            f"method='quadrature' needs a smooth activation {SMOOTH}; activation={activation!r} is exact "
            "with method='closed'"
        )
    return method


def _prepare(x, activation, sigma, zeta, method, nodes, dtype, device):
    method = _check_method(activation, method, nodes)
    sigma = _check_scale(sigma, "sigma", allow_zero=False)
    zeta = _check_scale(zeta, "zeta", allow_zero=True)
    x = check_input(x, "x", dtype=check_dtype(dtype), device=resolve_device(device))
    x = x.reshape(x.shape[0], -1)
    if x.shape[1] < 1:
        raise ValueError(f"x must have d >= 1 input dimensions; got shape {tuple(x.shape)}")
    return x, method, sigma, zeta


# ----------------------------------------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------------------------------------
def _nonnegative_tensor(value: object, name: str, dtype: torch.dtype | None, device) -> torch.Tensor:
    """``value`` (a tensor of any shape, or a number) as a finite, non-negative floating tensor."""
    dev = resolve_device(device)
    dtype = check_dtype(dtype)
    if not isinstance(value, torch.Tensor):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name} must be a tensor or a real number; got {type(value).__name__}")
        value = torch.tensor(float(value), dtype=dtype or torch.float64)
    if not value.dtype.is_floating_point:
        raise TypeError(f"{name} must have a floating dtype; got {value.dtype}")
    value = value.to(dtype=dtype or value.dtype, device=dev or value.device)
    if not bool(torch.isfinite(value).all()) or bool((value < 0).any()):
        raise ValueError(f"{name} must be finite and >= 0")
    return value


def gaussian_moments(
    activation: str,
    q: torch.Tensor | float,
    *,
    method: str = "auto",
    nodes: int = DEFAULT_NODES,
    dtype: torch.dtype | None = torch.float64,
    device: str | torch.device | None = "auto",
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Gaussian averages :math:`F(q) = E_{z\sim N(0,q)}[\phi'(z)^2]` and its derivatives :math:`F'(q), F''(q)`.

    :math:`F' = \tfrac12 E[(\phi'^2)'']`, :math:`F'' = \tfrac14 E[(\phi'^2)'''']` (heat equation of the
    Gaussian); erf: :math:`F = \frac4\pi(1+4q)^{-1/2}`; relu: 1/2; linear: 1. Smooth activations by the
    adaptive trapezoidal rule described in the module docstring.

    Args:
        activation: activation name.
        q: variances :math:`q \ge 0`, a tensor of any shape or a number.
        method: ``"auto"``, ``"closed"`` (erf/relu/linear) or ``"quadrature"`` (smooth activations).
        nodes: trapezoid nodes per point.
        dtype, device: computation dtype (float64 by default) and device (``"auto"``: CUDA when present).

    Returns:
        ``(F, F', F'')``, each shaped like ``q``.

    Example:
        For erf, :math:`F(q) = \frac4\pi (1 + 4q)^{-1/2}` in closed form, and the quadrature agrees with it:

        >>> q = torch.tensor([0.0, 1.0, 30.0])
        >>> F, dF, d2F = gaussian_moments("erf", q)
        >>> round(F[0].item(), 6), round(F[1].item() * math.sqrt(5), 6)  # both 4 / pi
        (1.27324, 1.27324)
        >>> Fq, dFq, d2Fq = gaussian_moments("erf", q, method="quadrature")
        >>> torch.allclose(F, Fq), torch.allclose(dF, dFq), torch.allclose(d2F, d2Fq)
        (True, True, True)
    """
    method = _check_method(activation, method, nodes)
    q = _nonnegative_tensor(q, "q", dtype, device)
    T = _terms(activation, method, q, 1.0, 0.0, nodes)
    return T.F, T.F * T.dlog, T.F * (T.d2log + T.dlog * T.dlog)


def omega(
    s: torch.Tensor | float,
    activation: str,
    *,
    sigma: float = 1.0,
    zeta: float = 1.0,
    method: str = "auto",
    nodes: int = DEFAULT_NODES,
    dtype: torch.dtype | None = torch.float64,
    device: str | torch.device | None = "auto",
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""The conformal factor :math:`\Omega(s) = \log(\sigma^2 F(\sigma^2 s + \zeta^2))` and its derivatives in
    :math:`s = |x|^2`: :math:`\Omega' = \sigma^2 F'/F`, :math:`\Omega'' = \sigma^4 (F''/F - (F'/F)^2)`.

    Args:
        s: squared radii :math:`s \ge 0`, tensor of any shape or a number.
        activation, sigma, zeta, method, nodes, dtype, device: as in :func:`metric`.

    Returns:
        ``(Omega, Omega', Omega'')``, each shaped like ``s``.

    Example:
        :math:`e^\Omega = \sigma^2 F(q)` and :math:`\Omega' = \sigma^2 F'/F` at :math:`q = \sigma^2 s + \zeta^2`
        (:func:`gaussian_moments`):

        >>> om, om1, om2 = omega(torch.tensor([0.0, 0.5]), "tanh", sigma=2.0, zeta=0.5)
        >>> F, dF, _ = gaussian_moments("tanh", torch.tensor([0.25, 2.25]))  # q = 4 s + 0.25
        >>> torch.allclose(om.exp(), 4 * F), torch.allclose(om1, 4 * dF / F)
        (True, True)
    """
    method = _check_method(activation, method, nodes)
    sigma = _check_scale(sigma, "sigma", allow_zero=False)
    zeta = _check_scale(zeta, "zeta", allow_zero=True)
    s = _nonnegative_tensor(s, "s", dtype, device)
    T = _terms(activation, method, s, sigma, zeta, nodes)
    return math.log(sigma * sigma) + torch.log(T.F), sigma**2 * T.dlog, sigma**4 * T.d2log


def metric_field(
    activation: str,
    *,
    sigma: float = 1.0,
    zeta: float = 1.0,
    method: str = "auto",
    nodes: int = DEFAULT_NODES,
) -> Callable[[torch.Tensor], torch.Tensor]:
    r"""The metric :math:`g(x) = e^{\Omega}(\delta + 2\Omega' x x^\top)` as a pure function ``(..., d) -> (..., d, d)``.

    Arguments are checked once here; the returned function does no value checks, so it works under
    :mod:`torch.func` transforms (``jacfwd``, ``vmap``): use it to differentiate the metric (e.g. to compute
    curvature from the Christoffel symbols). It is smooth in ``x`` except at :math:`q = 0`
    (:math:`x = 0`, :math:`\zeta = 0`) for the quadrature route. Inputs keep their dtype and device.

    Args:
        activation, sigma, zeta, method, nodes: as in :func:`metric`.

    Returns:
        A function ``g(x)``, ``(..., d) -> (..., d, d)``.

    Example:
        Curvature by autodiff of the metric (:func:`paperlib.geometry.ricci_scalar_of_metric`) against the closed
        form of :func:`ricci_scalar`:

        >>> from paperlib.geometry import ricci_scalar_of_metric
        >>> g = metric_field("erf", sigma=1.5)
        >>> x = torch.tensor([[0.3, -0.2], [1.0, 2.0]], dtype=torch.float64)
        >>> tuple(g(x).shape), torch.allclose(ricci_scalar_of_metric(g, x), ricci_scalar(x, "erf", sigma=1.5))
        ((2, 2, 2), True)
    """
    method = _check_method(activation, method, nodes)
    sigma = _check_scale(sigma, "sigma", allow_zero=False)
    zeta = _check_scale(zeta, "zeta", allow_zero=True)
    return lambda x: _metric_from_terms(x, activation, method, sigma, zeta, nodes, split=False)


def _metric_from_terms(
    x: torch.Tensor, activation: str, method: str, sigma: float, zeta: float, nodes: int, split: bool
) -> torch.Tensor:
    s = (x * x).sum(-1)
    T = _terms(activation, method, s, sigma, zeta, nodes, split=split)
    eye = torch.eye(x.shape[-1], dtype=x.dtype, device=x.device)
    outer = x[..., :, None] * x[..., None, :]
    return (sigma**2 * T.F)[..., None, None] * eye + (2.0 * sigma**4 * T.F * T.dlog)[..., None, None] * outer


def metric(
    x: torch.Tensor,
    activation: str,
    *,
    sigma: float = 1.0,
    zeta: float = 1.0,
    method: str = "auto",
    nodes: int = DEFAULT_NODES,
    dtype: torch.dtype | None = torch.float64,
    device: str | torch.device | None = "auto",
) -> torch.Tensor:
    r"""Expected (= infinite-width) metric :math:`E[g_{\mu\nu}(x)] = E_{w,b}[\phi'(w\cdot x+b)^2 w_\mu w_\nu]`.

    .. math::  g_{\mu\nu}(x) = e^{\Omega(s)}\,[\delta_{\mu\nu} + 2\,\Omega'(s)\, x_\mu x_\nu]
               = \sigma^2 F(q)\,\delta_{\mu\nu} + 2\sigma^4 F'(q)\, x_\mu x_\nu,
               \quad s = |x|^2,\ q = \sigma^2 s + \zeta^2 .

    Args:
        x: ``(B, *in_shape)`` points, flattened to ``(B, d)``.
        activation: activation name (see module docstring for the routes).
        sigma: weight scale, :math:`w \sim N(0, \sigma^2 I)`, > 0.
        zeta: bias scale, :math:`b \sim N(0, \zeta^2)`, >= 0.
        method: ``"auto"`` (closed form when there is one), ``"closed"`` or ``"quadrature"``.
        nodes: trapezoid nodes for the quadrature route.
        dtype, device: computation dtype (default float64) and device (``"auto"``: CUDA when present).

    Returns:
        ``(B, d, d)`` tensor.

    Example:
        The infinitely wide ReLU network is flat, :math:`E[g] = \tfrac{\sigma^2}{2} I`; a tanh network is not:

        >>> x = torch.tensor([[0.5, -1.0], [2.0, 0.0]])
        >>> metric(x, "relu", sigma=2.0)[1].tolist()
        [[2.0, 0.0], [0.0, 2.0]]
        >>> g = metric(x, "tanh")
        >>> tuple(g.shape), torch.allclose(g, g.mT), torch.allclose(g[0], g[1])
        ((2, 2, 2), True, False)
    """
    x, method, sigma, zeta = _prepare(x, activation, sigma, zeta, method, nodes, dtype, device)
    return _metric_from_terms(x, activation, method, sigma, zeta, nodes, split=True)


def log_volume_element(
    x: torch.Tensor,
    activation: str,
    *,
    sigma: float = 1.0,
    zeta: float = 1.0,
    base: float = 10,
    method: str = "auto",
    nodes: int = DEFAULT_NODES,
    dtype: torch.dtype | None = torch.float64,
    device: str | torch.device | None = "auto",
) -> torch.Tensor:
    r"""Log volume element of the expected metric,

    .. math::  \log_{base}\sqrt{\det g} = \Big[\frac d2\,\Omega(s) + \frac12\log(1 + 2s\,\Omega'(s))\Big]
               / \ln(base).

    Args: as :func:`metric`, plus ``base`` of the logarithm (default 10).

    Returns:
        ``(B,)`` tensor.

    Example:
        >>> x = torch.tensor([[0.5, -1.0], [2.0, 0.0]])
        >>> lv = log_volume_element(x, "tanh")  # log10 sqrt(det E[g])
        >>> tuple(lv.shape), torch.allclose(lv, 0.5 * torch.logdet(metric(x, "tanh")) / math.log(10))
        ((2,), True)
    """
    base = check_base(base)
    x, method, sigma, zeta = _prepare(x, activation, sigma, zeta, method, nodes, dtype, device)
    d = x.shape[1]
    s = (x * x).sum(-1)
    T = _terms(activation, method, s, sigma, zeta, nodes)
    if method == "closed" and activation == "erf":  # (d/2) log(4 sigma^2/pi) + log(A)/2 - (d+2)/4 log Q
        A, Q = 1.0 + 4.0 * zeta**2, 1.0 + 4.0 * (sigma**2 * s + zeta**2)
        out = 0.5 * d * math.log(4.0 * sigma**2 / math.pi) + 0.5 * math.log(A) - 0.25 * (d + 2) * torch.log(Q)
    else:
        out = 0.5 * d * (math.log(sigma**2) + torch.log(T.F)) + 0.5 * (torch.log(T.Dc) - torch.log(T.scale))
    return out / math.log(base)


def ricci_scalar(
    x: torch.Tensor,
    activation: str,
    *,
    sigma: float = 1.0,
    zeta: float = 1.0,
    method: str = "auto",
    nodes: int = DEFAULT_NODES,
    dtype: torch.dtype | None = torch.float64,
    device: str | torch.device | None = "auto",
) -> torch.Tensor:
    r"""Ricci scalar of the expected metric (sphere of radius :math:`r`: :math:`R = +2/r^2`),

    .. math::  R = -(d-1)\, e^{-\Omega} s\,\Omega' \Big[\frac{4(\Omega' + s\,\Omega'')}{(1 + 2 s\Omega')^2}
               + (d-2)\frac{\Omega'}{1 + 2 s\Omega'}\Big];

    erf in closed form :math:`R = -\pi(d-1)(d+2)\sigma^2 s / ((1+4\zeta^2)\sqrt{1+4\zeta^2+4\sigma^2 s})`;
    exactly 0 for relu, linear and for ``d = 1``.

    Args: as :func:`metric`.

    Returns:
        ``(B,)`` tensor.

    Example:
        The infinitely wide ReLU network is flat; erf follows the closed form (:math:`d = 2`, :math:`\sigma = 1`,
        :math:`\zeta = 0`, :math:`|x| = 1`: :math:`R = -4\pi/\sqrt5`):

        >>> x = torch.tensor([[1.0, 0.0], [0.6, 0.8]])
        >>> bool((ricci_scalar(x, "relu") == 0).all())
        True
        >>> R = ricci_scalar(x, "erf", zeta=0.0)
        >>> torch.allclose(R, torch.full_like(R, -4 * math.pi / math.sqrt(5)))
        True
    """
    x, method, sigma, zeta = _prepare(x, activation, sigma, zeta, method, nodes, dtype, device)
    d = x.shape[1]
    s = (x * x).sum(-1)
    if d == 1 or activation in _act.PIECEWISE_LINEAR:
        return torch.zeros_like(s)
    if method == "closed":  # erf
        A = 1.0 + 4.0 * zeta**2
        Q = A + 4.0 * sigma**2 * s
        return -math.pi * (d - 1) * (d + 2) * sigma**2 * s / (A * torch.sqrt(Q))
    T = _terms(activation, method, s, sigma, zeta, nodes)
    # scaled by c: 4P/D^2 = 4 Pc/Dc^2, Omega'/D = c Omega'/Dc, s Omega' = (s/c) c Omega'
    om1c = sigma**2 * T.sdlog
    bracket = 4.0 * T.Pc / (T.Dc * T.Dc) + (d - 2) * om1c / T.Dc
    return -(d - 1) * (s / T.scale) * om1c * bracket / (sigma**2 * T.F)
