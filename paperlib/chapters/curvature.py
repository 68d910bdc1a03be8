r"""Chapter 4 (curvature): the Ricci scalar of shallow networks, checked route against route, and the paper's
Fig. D.1.

The computations behind the chapter's figures (drawn by :mod:`paperlib.chapters.curvature_figures`):

- :func:`ricci_accuracy` -- every Ricci-scalar route along a ray out of the three-unit network, against the
  50-digit Christoffel route of sympy, and :math:`\operatorname{cond}(g)` (figure ``curvature-ricci-accuracy``);
- :func:`relu_gelu` -- volume element and Ricci scalar of one 8-unit network with ReLU and with GELU
  (``curvature-relu-gelu``);
- :func:`three_unit_fields` -- Fig. D.1: three :math:`\operatorname{erf}(z/\sqrt2)` units with unit weight vectors
  120 degrees apart (:func:`three_units`), bias 0 and 1, on a grid (``curvature-three-units``);
- :func:`unit_circle` -- the same network along the unit circle (``curvature-unit-circle``);

and the chapter's helpers: the test surfaces :func:`spherical` and :func:`graph`; :func:`sympy_route` and
:func:`exact_point` (a generic-activation sympy expression at float64 or exact rational inputs);
:func:`well_conditioned` (the points where the routes are compared); :func:`curvature_scale` (the size
:math:`|\hat T|^2` of the terms :math:`R` is made of); :func:`exact_fig_d1` (the closed form of Fig. D.1) and
:func:`ricci_parts` (the derivative and :math:`\Gamma\Gamma` parts of :math:`R`).

Convention: a round sphere of radius :math:`r` has :math:`R = +2/r^2`. Importing this module does not import
sympy; the functions that need it (:func:`sympy_route`, :func:`exact_point`, :func:`ricci_parts`,
:func:`ricci_accuracy`) import :mod:`paperlib.symbolic` when called.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Literal, Mapping, Sequence

import torch

from .. import activations as _act
from .. import data as _data
from .. import geometry as _geometry
from .. import shallow as _shallow
from .._checks import check_choice, check_input, check_int, check_number
from ..activations import check_name

if TYPE_CHECKING:  # pragma: no cover
    import sympy as sp

__all__ = ["ROUTES", "three_units", "spherical", "graph", "sympy_route", "exact_point", "well_conditioned",
           "curvature_scale", "exact_fig_d1", "ricci_parts", "RicciAccuracy", "ricci_accuracy", "ReluGelu",
           "relu_gelu", "ThreeUnitFields", "three_unit_fields", "UnitCircle", "unit_circle"]

#: The closed-form methods of :func:`paperlib.shallow.ricci_scalar` compared by :func:`ricci_accuracy`.
ROUTES = ("tensor", "closed_form_2d", "triple_sum", "gauss")


def _check_network(W: object, b: object, x: object, activation: object, d: int | None = None):
    """``W (n, d)``, ``b (n,)``, ``x (B, d)`` float64 tensors and a known activation, else errors naming them."""
    for name, t in (("W", W), ("b", b), ("x", x)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor; got {type(t).__name__}")
    if W.ndim != 2 or (d is not None and W.shape[1] != d):
        raise ValueError(f"W must have shape (n, {d if d is not None else 'd'}); got {tuple(W.shape)}")
    if b.shape != (W.shape[0],):
        raise ValueError(f"b must have shape ({W.shape[0]},); got {tuple(b.shape)}")
    check_input(x, "x", last_dim=W.shape[1])
    check_name(activation)


def three_units() -> torch.Tensor:
    r"""The weight vectors of the chapter's three-unit network (section 6, Fig. D.1): unit vectors at the angles
    :math:`0, 2\pi/3, 4\pi/3`, float64, ``(3, 2)``. The paper's activation :math:`\operatorname{erf}(z/\sqrt2)` is
    ``paperlib``'s ``"erf"`` with these weights (and the biases) divided by :math:`\sqrt 2`."""
    angles = 2 * math.pi * torch.arange(3, dtype=torch.float64) / 3
    return torch.stack([angles.cos(), angles.sin()], 1)


def spherical(radius: float) -> Callable[[torch.Tensor], torch.Tensor]:
    r"""The sphere of ``radius`` in spherical coordinates, :math:`(\theta, \varphi) \mapsto r(\sin\theta\cos\varphi,
    \sin\theta\sin\varphi, \cos\theta)`: a batched map ``(B, 2) -> (B, 3)`` whose Ricci scalar is :math:`2/r^2`."""
    radius = check_number(radius, "radius", min=0, open_min=True)

    def f(t: torch.Tensor) -> torch.Tensor:
        return radius * torch.stack([t[:, 0].sin() * t[:, 1].cos(), t[:, 0].sin() * t[:, 1].sin(), t[:, 0].cos()],
                                    -1)

    return f


def graph(h: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
    r"""The graph of a function :math:`h: \mathbb R^d \to \mathbb R` as a batched map :math:`u \mapsto (u, h(u))`,
    ``(B, d) -> (B, d + 1)`` (``h`` maps ``(B, d)`` to ``(B,)``); its metric is :math:`\delta + \nabla h\,\nabla
    h^\top`, not diagonal, so it tests the :math:`\Gamma\Gamma` terms of :math:`R` (e.g. the cap
    :math:`h = \sqrt{r^2 - |u|^2}` of the sphere: :math:`R = d(d-1)/r^2`)."""
    if not callable(h):
        raise TypeError(f"h must be a callable (B, d) -> (B,); got {type(h).__name__}")
    return lambda u: torch.cat([u, h(u)[:, None]], -1)


def sympy_route(expr: "sp.Expr", W: torch.Tensor, b: torch.Tensor, x: torch.Tensor, activation: str
                ) -> torch.Tensor:
    r"""A generic-activation sympy expression of the shallow map (e.g.
    :func:`paperlib.symbolic.shallow_ricci_scalar_2d`, in the symbols :math:`w_{j\mu}, b_j, x_\mu` and
    :math:`a_j = \phi'(z_j)`, :math:`c_j = \phi''(z_j)`) evaluated in float64 at the network ``W (n, d)``,
    ``b (n,)`` and the points ``x (B, d)``, with :math:`a_j, c_j` the derivatives of ``activation`` at
    :math:`z = W x + b` (:func:`paperlib.symbolic.evaluate_shallow`, compiled with ``lambdify``).

    Returns:
        ``(B,)`` (for a scalar expression), float64 on the CPU.
    """
    from .. import symbolic

    _check_network(W, b, x, activation)
    W, b, x = (t.detach().cpu().to(torch.float64) for t in (W, b, x))
    _, d1, d2 = _act.derivatives(activation, _shallow.preactivations(W, b, x), order=2)
    return torch.as_tensor(symbolic.evaluate_shallow(expr, W.numpy(), b.numpy(), x.numpy(), a=d1.numpy(),
                                                     c=d2.numpy()))


def exact_point(W: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> dict:
    r"""The symbols of :func:`paperlib.symbolic.shallow_symbols` ``(d, n)`` (:math:`w_{j\mu}, b_j, x_\mu`) mapped to
    the exact rationals of the binary numbers in ``W (n, d)``, ``b (n,)`` and one point ``x (d,)``: the same
    network as in float64, for sympy's exact or 50-digit routes (``at=`` of
    :func:`paperlib.symbolic.shallow_ricci_scalar`).

    Returns:
        ``{symbol: sympy.Rational}`` with :math:`n d + n + d` entries.
    """
    import sympy as sp

    from .. import symbolic

    for name, t in (("W", W), ("b", b), ("x", x)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor; got {type(t).__name__}")
    if W.ndim != 2:
        raise ValueError(f"W must have shape (n, d); got {tuple(W.shape)}")
    if b.shape != (W.shape[0],):
        raise ValueError(f"b must have shape ({W.shape[0]},); got {tuple(b.shape)}")
    if x.shape != (W.shape[1],):
        raise ValueError(f"x must be one point of shape ({W.shape[1]},); got {tuple(x.shape)}")
    S = symbolic.shallow_symbols(*W.shape[::-1])
    return {s: sp.Rational(v) for s, v in zip([*S.W, *S.b, *S.x], [*W.flatten().tolist(), *b.tolist(),
                                                                    *x.tolist()])}


def well_conditioned(W: torch.Tensor, b: torch.Tensor, x: torch.Tensor, activation: str, *,
                     max_cond: float = 1e3, min_slope: float = 1e-2) -> torch.Tensor:
    r"""The points where the chapter compares the Ricci-scalar routes: :math:`\operatorname{cond}(g) \le`
    ``max_cond`` and no saturated unit, :math:`|\phi'(z_j)| \ge` ``min_slope`` :math:`\cdot \max_k |\phi'(z_k)|`.

    Args:
        W: ``(n, d)``; b: ``(n,)``; x: ``(B, d)``; activation: an activation name.
        max_cond: the largest condition number (> 0); min_slope: the smallest relative slope (>= 0).

    Returns:
        ``(B,)`` bool.
    """
    _check_network(W, b, x, activation)
    max_cond = check_number(max_cond, "max_cond", min=0, open_min=True)
    min_slope = check_number(min_slope, "min_slope", min=0)
    slopes = _act.derivatives(activation, _shallow.preactivations(W, b, x), order=1)[1].abs()
    return ((torch.linalg.cond(_shallow.metric(W, b, x, activation, device=None)) <= max_cond)
            & (slopes.min(1).values >= min_slope * slopes.max(1).values))


def curvature_scale(W: torch.Tensor, b: torch.Tensor, x: torch.Tensor, activation: str) -> torch.Tensor:
    r"""The natural size of the Ricci scalar of a shallow map at each point: :math:`|\hat T|^2`, the squared norm of
    :math:`T_{\alpha\mu\nu} = \frac1n\sum_j \phi'(z_j)\phi''(z_j) w_{j\alpha}w_{j\mu}w_{j\nu}` in an orthonormal
    frame of :math:`g` (:math:`\hat T_{ijk} = L^{-1}_{ia}L^{-1}_{jm}L^{-1}_{kn}T_{amn}`, :math:`g = LL^\top`).
    The tensor formula reads :math:`R = |\hat T|^2 - |\hat t|^2` with :math:`\hat t_\lambda =
    \hat T_{\lambda\mu\mu}`, so :math:`|R|/|\hat T|^2` measures how close to flat a point is.

    Args:
        W: ``(n, d)``; b: ``(n,)``; x: ``(B, d)`` (points where :math:`g` is positive definite);
        activation: an activation name.

    Returns:
        ``(B,)``.
    """
    _check_network(W, b, x, activation)
    _, d1, d2 = _act.derivatives(activation, _shallow.preactivations(W, b, x), order=2)
    T = torch.einsum("bj,ja,jm,jn->bamn", d1 * d2, W, W, W) / len(W)
    Li = torch.linalg.inv(torch.linalg.cholesky(_shallow.metric(W, b, x, activation, device=None)))
    return torch.einsum("bia,bjm,bkn,bamn->bijk", Li, Li, Li, T).square().sum((1, 2, 3))


def exact_fig_d1(x: torch.Tensor, bias: float, W_unit: torch.Tensor | None = None) -> torch.Tensor:
    r"""The Ricci scalar of Fig. D.1's network in closed form, evaluated without cancellation: three units of
    :math:`\phi(z) = \operatorname{erf}(z/\sqrt2)` with unit weight vectors 120 degrees apart and a common bias
    :math:`\beta`,

    .. math::  R = \frac92\,\frac{(a_1a_2a_3)^2\,(4\beta^2 - |x|^2)}{(a_1^2a_2^2 + a_1^2a_3^2 + a_2^2a_3^2)^2},
               \qquad a_j = \phi'(z_j) = \sqrt{2/\pi}\,e^{-z_j^2/2}, \quad z_j = w_j\cdot x + \beta .

    Args:
        x: ``(B, 2)`` points.
        bias: the common bias :math:`\beta`.
        W_unit: ``(3, 2)`` the unit weight vectors (``None``: :func:`three_units`); the formula needs them evenly
            spaced.

    Returns:
        ``(B,)``.
    """
    x = check_input(x, "x", last_dim=2)
    bias = check_number(bias, "bias")
    W_unit = three_units() if W_unit is None else W_unit
    if not isinstance(W_unit, torch.Tensor) or W_unit.shape != (3, 2):
        raise ValueError(f"W_unit must be a (3, 2) torch.Tensor of unit vectors; got {W_unit!r:.80}")
    a = math.sqrt(2 / math.pi) * torch.exp(-(x @ W_unit.T + bias) ** 2 / 2)
    pairs = a[:, 0] ** 2 * a[:, 1] ** 2 + a[:, 0] ** 2 * a[:, 2] ** 2 + a[:, 1] ** 2 * a[:, 2] ** 2
    return 4.5 * a.prod(1) ** 2 * (4 * bias**2 - x.square().sum(1)) / pairs**2


def ricci_parts(g: "sp.Matrix", coords: Sequence["sp.Symbol"], at: Mapping, digits: int = 40) -> list:
    r"""The two parts of the Ricci scalar :math:`R = g^{\sigma\nu}R^\rho{}_{\sigma\rho\nu} = R_\partial +
    R_{\Gamma\Gamma}` of the metric ``g`` (a sympy matrix in ``coords``) at the point ``at``:

    .. math::  R_\partial = g^{\sigma\nu}\big(\partial_\rho\Gamma^\rho_{\nu\sigma} -
               \partial_\nu\Gamma^\rho_{\rho\sigma}\big), \qquad
               R_{\Gamma\Gamma} = g^{\sigma\nu}\big(\Gamma^\rho_{\rho\lambda}\Gamma^\lambda_{\nu\sigma} -
               \Gamma^\rho_{\nu\lambda}\Gamma^\lambda_{\rho\sigma}\big).

    Reversing the sign of :math:`R_{\Gamma\Gamma}` gives :math:`R_\partial - R_{\Gamma\Gamma}`, which is
    :math:`3R` for every Hessian metric (every shallow network: :math:`R_\partial = 2R`,
    :math:`R_{\Gamma\Gamma} = -R`) and agrees with :math:`R` on the sphere in spherical coordinates
    (:math:`R_{\Gamma\Gamma} = 0` there).

    Args:
        g: ``d x d`` symmetric sympy matrix; coords: its ``d`` coordinate symbols; at: ``{symbol: value}`` (exact
            values) for every free symbol.
        digits: significant digits of the evaluation (> 30); the values are returned as the nearest simple
            rationals (``sympy.nsimplify`` with tolerance ``1e-30``).

    Returns:
        ``[R_d, R_GG]``, sympy rationals.
    """
    import sympy as sp

    from .. import symbolic

    if not isinstance(g, sp.MatrixBase) or g.rows != g.cols:
        raise TypeError(f"g must be a square sympy Matrix; got {type(g).__name__}")
    coords = list(coords)
    if len(coords) != g.rows:
        raise ValueError(f"coords must hold {g.rows} symbols, one per row of g; got {len(coords)}")
    if not isinstance(at, Mapping):
        raise TypeError(f"at must be a mapping {{symbol: value}}; got {type(at).__name__}")
    digits = check_int(digits, "digits", min=31)
    G, gi, d = symbolic.christoffel(g, coords, simplify=False), g.inv(), range(len(coords))
    R_d = sum(gi[s, n] * (sp.diff(G[q, n, s], coords[q]) - sp.diff(G[q, q, s], coords[n]))
              for q in d for s in d for n in d)
    R_gg = sum(gi[s, n] * (G[q, q, l] * G[l, n, s] - G[q, n, l] * G[l, q, s])
               for q in d for s in d for n in d for l in d)
    return [sp.nsimplify(sp.N(e.subs(at), digits), tolerance=1e-30, rational=True) for e in (R_d, R_gg)]


# ------------------------------------------------------------------------------------------------------------------
# the figures' data
# ------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RicciAccuracy:
    r"""Every Ricci-scalar route along a ray, against 50 digits (:func:`ricci_accuracy`).

    Attributes:
        W, b: ``(3, 2)``, ``(3,)`` the network (``paperlib``'s ``"erf"``: the paper's
            :math:`\operatorname{erf}(z/\sqrt2)` with :func:`three_units` divided by :math:`\sqrt 2`, bias 0).
        activation: ``"erf"``.
        ray: ``(T, 2)`` the points.
        cond: ``(T,)`` :math:`\operatorname{cond}(g)` there.
        reference: ``(T,)`` :math:`R` by sympy's Christoffel route with 50 significant digits at the same binary
            numbers (:func:`exact_point`).
        routes: ``{route: (T,)}``: :func:`paperlib.shallow.ricci_scalar` by each method of :data:`ROUTES` and
            ``"autodiff gauss"``, ``"autodiff christoffel"`` (:func:`paperlib.geometry.ricci_scalar`); NaN where a
            route finds :math:`g` degenerate.
        errors: ``{route: (T,)}`` the relative errors :math:`|R - R_{50}|/|R_{50}|`.
    """

    W: torch.Tensor
    b: torch.Tensor
    activation: str
    ray: torch.Tensor
    cond: torch.Tensor
    reference: torch.Tensor
    routes: dict
    errors: dict


def ricci_accuracy(radii: torch.Tensor | None = None, *, angle: float = 0.3,
                   device: str | torch.device | None = "auto") -> RicciAccuracy:
    r"""The accuracy of every Ricci-scalar route along a ray out of the three-unit erf network of section 6 (bias
    0), where :math:`g` becomes steadily more ill-conditioned as the units saturate: each route's :math:`R` at
    :math:`x = r(\cos\alpha, \sin\alpha)` against sympy's Christoffel route with 50 significant digits.

    Args:
        radii: ``(T,)`` the radii (``None``: ``torch.linspace(0.5, 6.5, 13)``, :math:`\operatorname{cond}(g)` up to
            about :math:`10^9`).
        angle: the ray's angle :math:`\alpha` in radians.
        device: where the float64 routes run (``"auto"``: CUDA when present); the 50-digit reference is sympy's.

    Returns:
        :class:`RicciAccuracy` (tensors on the CPU).
    """
    from .. import symbolic

    if radii is None:
        radii = torch.linspace(0.5, 6.5, 13, dtype=torch.float64)
    if not isinstance(radii, torch.Tensor) or radii.ndim != 1 or radii.numel() == 0:
        raise ValueError(f"radii must be None or a non-empty 1-D torch.Tensor; got {radii!r:.80}")
    angle = check_number(angle, "angle")
    radii = radii.to(torch.float64)
    W3, b3 = three_units() / math.sqrt(2), torch.zeros(3, dtype=torch.float64)  # erf(z / sqrt 2)
    ray = torch.stack([radii * math.cos(angle), radii * math.sin(angle)], 1)
    ref = torch.tensor([float(symbolic.shallow_ricci_scalar(2, 3, "erf", at=exact_point(W3, b3, xi))) for xi in ray],
                       dtype=torch.float64)
    cond = torch.linalg.cond(_shallow.metric(W3, b3, ray, "erf", device=device).cpu())
    routes = {m: _shallow.ricci_scalar(W3, b3, ray, "erf", method=m, degenerate="nan", device=device).cpu()
              for m in ROUTES}
    f3 = _shallow.feature_map(W3, b3, "erf")
    routes.update({f"autodiff {m}": _geometry.ricci_scalar(f3, ray, method=m, degenerate="nan", device=device).cpu()
                   for m in ("gauss", "christoffel")})
    errors = {name: (value - ref).abs() / ref.abs() for name, value in routes.items()}
    return RicciAccuracy(W3, b3, "erf", ray, cond, ref, routes, errors)


@dataclass(frozen=True)
class ReluGelu:
    r"""Volume element and Ricci scalar of one network with ReLU and with GELU (:func:`relu_gelu`).

    Attributes:
        grid: the :class:`paperlib.data.Grid`.
        W, b: ``(n, 2)``, ``(n,)`` the network; network: how it was drawn.
        log_volume, ricci: ``{activation: image (ny, nx)}`` on the CPU (:math:`R` by the Gauss route, NaN where
            :math:`g` is degenerate).
    """

    grid: _data.Grid
    W: torch.Tensor
    b: torch.Tensor
    network: str
    log_volume: dict
    ricci: dict


def relu_gelu(activations: Sequence[str] = ("relu", "gelu"), *, width: int = 8, seed: int = 3, lim: float = 3.0,
              size: int = 61, device: str | torch.device | None = "auto") -> ReluGelu:
    r"""Where the curvature goes when ReLU's kink is smoothed: :math:`\log_{10}\sqrt{\det g}` and :math:`R` (Gauss
    route, ``degenerate="nan"``) of ``paperlib.shallow.random_network(2, width, seed=seed)`` with each activation,
    on the ``size x size`` grid of :math:`[-\text{lim}, \text{lim}]^2`. ReLU: piecewise constant volume element,
    :math:`R = 0`; GELU: :math:`R` in bands along the unit lines, of both signs.

    Returns:
        :class:`ReluGelu`.
    """
    if isinstance(activations, str) or not isinstance(activations, Sequence) or not activations:
        raise ValueError(f"activations must be a non-empty sequence of activation names; got {activations!r}")
    names = tuple(check_name(a, "activations") for a in activations)
    width = check_int(width, "width", min=1)
    seed = check_int(seed, "seed")
    lim = check_number(lim, "lim", min=0, open_min=True)
    size = check_int(size, "size", min=2)
    grid = _data.grid(-lim, lim, size)
    W, b = _shallow.random_network(2, width, seed=seed)
    log_volume = {a: grid.image(_shallow.log_volume_element(W, b, grid.points, a, device=device).cpu()) for a in names}
    ricci = {a: grid.image(_shallow.ricci_scalar(W, b, grid.points, a, method="gauss", degenerate="nan",
                                                 device=device).cpu()) for a in names}
    return ReluGelu(grid, W, b, f"paperlib.shallow.random_network(2, {width}, seed={seed})", log_volume, ricci)


def _three_unit_network(angles: Sequence[float] | None, activation: str) -> tuple[torch.Tensor, float]:
    if angles is None:
        W_unit = three_units()
    else:
        if isinstance(angles, (str, bytes)) or not isinstance(angles, Sequence) or len(angles) != 3:
            raise ValueError(f"angles must be None or three angles in degrees; got {angles!r}")
        rad = torch.tensor([check_number(a, "angles") for a in angles], dtype=torch.float64) * math.pi / 180
        W_unit = torch.stack([rad.cos(), rad.sin()], 1)
    return W_unit, (math.sqrt(2) if activation == "erf" else 1.0)


def _biases(biases: object) -> tuple[float, ...]:
    if isinstance(biases, (str, bytes)) or not isinstance(biases, Sequence) or len(biases) == 0:
        raise ValueError(f"biases must be a non-empty sequence of numbers; got {biases!r}")
    return tuple(check_number(v, "biases") for v in biases)


@dataclass(frozen=True)
class ThreeUnitFields:
    r"""Fig. D.1's fields (:func:`three_unit_fields`).

    Attributes:
        grid: the :class:`paperlib.data.Grid`.
        W_unit: ``(3, 2)`` the unit weight vectors (before the :math:`1/\sqrt2` of erf).
        activation: the activation, ``"erf"`` meaning the paper's :math:`\operatorname{erf}(z/\sqrt2)`.
        fields: ``{bias: (W (3, 2), b (3,), log_volume (P,), ricci (P,))}`` with the weights and biases given to
            :mod:`paperlib.shallow` and the values at ``grid.points`` (``grid.image`` makes images), on the CPU.
    """

    grid: _data.Grid
    W_unit: torch.Tensor
    activation: str
    fields: dict

    @property
    def biases(self) -> list[float]:
        """The biases, in order."""
        return list(self.fields)


def three_unit_fields(
    biases: Sequence[float] = (0.0, 1.0),
    *,
    angles: Sequence[float] | None = None,
    activation: str = "erf",
    lim: float = 3.0,
    size: int = 161,
    degenerate: Literal["raise", "nan"] = "raise",
    device: str | torch.device | None = "auto",
) -> ThreeUnitFields:
    r"""Fig. D.1: :math:`\log_{10}\sqrt{\det g}` and the Ricci scalar (Gauss route) of three units with unit weight
    vectors and a common bias, on the ``size x size`` grid of :math:`[-\text{lim}, \text{lim}]^2`.

    Args:
        biases: the common biases (one network each; the paper: 0 and 1).
        angles: the weight vectors' angles in degrees (``None``: :func:`three_units`, 0, 120 and 240 degrees).
        activation: an activation name; ``"erf"`` is the paper's :math:`\operatorname{erf}(z/\sqrt2)`
            (``paperlib``'s ``"erf"`` with weights and biases divided by :math:`\sqrt2`).
        lim, size: the grid.
        degenerate: what :func:`paperlib.shallow.ricci_scalar` does where :math:`g` is degenerate (``"raise"``,
            or ``"nan"``, e.g. for parallel weight vectors).
        device: where to compute; the fields are returned on the CPU.

    Returns:
        :class:`ThreeUnitFields`.
    """
    biases = _biases(biases)
    check_name(activation)
    lim = check_number(lim, "lim", min=0, open_min=True)
    size = check_int(size, "size", min=2)
    check_choice(degenerate, "degenerate", ("raise", "nan"))
    W_unit, scale = _three_unit_network(angles, activation)
    grid = _data.grid(-lim, lim, size)
    fields = {}
    for bias in biases:
        Wb, bb = W_unit / scale, torch.full((3,), bias / scale, dtype=torch.float64)
        fields[bias] = (Wb, bb, _shallow.log_volume_element(Wb, bb, grid.points, activation, device=device).cpu(),
                        _shallow.ricci_scalar(Wb, bb, grid.points, activation, method="gauss",
                                              degenerate=degenerate, device=device).cpu())
    return ThreeUnitFields(grid, W_unit, activation, fields)


@dataclass(frozen=True)
class UnitCircle:
    r"""Fig. D.1's network on the unit circle (:func:`unit_circle`).

    Attributes:
        angle: ``(T,)`` the angle :math:`\theta` in radians, :math:`x = (\cos\theta, \sin\theta)`.
        W_unit: ``(3, 2)``; activation: as in :class:`ThreeUnitFields`.
        log_volume, ricci: ``{bias: (T,)}`` on the CPU.
    """

    angle: torch.Tensor
    W_unit: torch.Tensor
    activation: str
    log_volume: dict
    ricci: dict

    @property
    def biases(self) -> list[float]:
        """The biases, in order."""
        return list(self.log_volume)


def unit_circle(biases: Sequence[float] = (0.0, 1.0), *, points: int = 361,
                device: str | torch.device | None = "auto") -> UnitCircle:
    r"""Fig. D.1's network (three :math:`\operatorname{erf}(z/\sqrt2)` units, :func:`three_units`, common bias)
    along the unit circle :math:`x = (\cos\theta, \sin\theta)`, :math:`\theta \in [0, 2\pi]` at ``points``
    equispaced angles (both ends included): :math:`\log_{10}\sqrt{\det g}` and :math:`R` (Gauss route).

    Returns:
        :class:`UnitCircle`.
    """
    biases = _biases(biases)
    points = check_int(points, "points", min=2)
    W_unit = three_units()
    t = torch.linspace(0, 2 * math.pi, points, dtype=torch.float64)
    circle = torch.stack([t.cos(), t.sin()], 1)
    log_volume, ricci = {}, {}
    for bias in biases:
        Wb, bb = W_unit / math.sqrt(2), torch.full((3,), bias / math.sqrt(2), dtype=torch.float64)
        log_volume[bias] = _shallow.log_volume_element(Wb, bb, circle, "erf", device=device).cpu()
        ricci[bias] = _shallow.ricci_scalar(Wb, bb, circle, "erf", method="gauss", device=device).cpu()
    return UnitCircle(t, W_unit, "erf", log_volume, ricci)
