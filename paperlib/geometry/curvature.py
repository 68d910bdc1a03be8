"""Curvature by automatic differentiation (small ``d``) for :mod:`paperlib.geometry`: Christoffel symbols, Riemann
and Ricci tensors and the Ricci scalar of the pullback metric of a feature map (Gauss equation, or the Christoffel
route) and of a metric given as a function of the point (the ``*_of_metric`` functions)."""

from __future__ import annotations

import functools
from typing import Callable, Literal

import torch
from torch import nn  # noqa: F401 -- the docstring examples use it
from torch.func import jacfwd, jacrev, jvp, vmap

from .._linalg import (apply_policy, check_chunk_size, check_policy, check_rtol, chunk_slices, degenerate_points,
                       gauss_parts, gauss_scalar, prepare_input, safe_inverse)
from .derivatives import _derivative_context, _per_point, _rows
from .feature_maps import FeatureMap, TrainMode, _call
from .measures import _bind, metric  # noqa: F401 -- metric: the docstring examples use it


# ---------------------------------------------------------------------------------------------------------------
# Curvature: Christoffel symbols, Riemann and Ricci tensors, Ricci scalar (small d)
# ---------------------------------------------------------------------------------------------------------------
#
# Conventions (used throughout paperlib and the book):
#
#   Gamma^l_{mu nu} = 1/2 g^{l k} (d_mu g_{k nu} + d_nu g_{k mu} - d_k g_{mu nu})
#   R^r_{s mu nu}   = d_mu Gamma^r_{nu s} - d_nu Gamma^r_{mu s} + Gamma^r_{mu l} Gamma^l_{nu s}
#                     - Gamma^r_{nu l} Gamma^l_{mu s}
#   R_{s nu}        = R^r_{s r nu}          R = g^{s nu} R_{s nu}
#
# so that a round sphere of radius r has R = +2/r^2 (d = 2; R = 2K, K the Gaussian curvature) and the
# round d-sphere R = d(d-1)/r^2.

#: Largest input dimension for which curvature is computed by automatic differentiation. The cost of the
#: Riemann tensor grows like d^4 (Gauss route: O(n d^4) algebra and d^2 forward passes per point; Christoffel
#: route: d^4 nested forward passes).
MAX_CURVATURE_DIM = 8

#: default chunk for the Gauss route: about this many second-derivative entries (chunk * n * d^2) at once.
_AUTO_CHUNK_ELEMENTS = 1 << 20

MetricFunction = Callable[[torch.Tensor], torch.Tensor]
CurvatureMethod = Literal["gauss", "christoffel"]
DegeneratePolicy = Literal["raise", "nan"]


_CURVATURE_POLICY_DOC = r"""
    Degenerate points. Curvature needs :math:`g^{-1}`. A point is *degenerate* when the metric is numerically
    rank-deficient, :math:`\lambda_{\min}(g) \le \mathrm{rtol}\,\lambda_{\max}(g)` (default
    ``rtol = max(n, d) * eps`` for a pullback, ``d * eps`` for a metric function; ``eps`` of the dtype), e.g.
    where every ReLU unit is inactive. Where all derivatives that enter the result vanish identically (the
    Hessian of ``f`` for a pullback, :math:`\partial g` and :math:`\partial^2 g` for a metric function) the map
    is locally affine (piecewise-linear maps such as ReLU or linear networks, almost everywhere) and the result
    is exactly 0, degenerate or not. At the remaining degenerate points the curvature is undefined:
    ``degenerate="raise"`` (default) raises ``ValueError`` saying how many points and where;
    ``degenerate="nan"`` returns NaN there (documented, requested -- e.g. to mask a heat map). No other NaN is
    produced. A pullback with ``n < d`` outputs is rank-deficient everywhere and always raises ``ValueError``.
"""


_CURVATURE_NAMES = {"christoffel": "Christoffel symbols", "riemann": "Riemann tensor", "ricci": "Ricci tensor",
                    "scalar": "Ricci scalar"}


def _check_curvature_dim(d: int, argname: str) -> None:
    if d > MAX_CURVATURE_DIM:
        raise ValueError(
            f"{argname} has d = {d} input dimensions; curvature by automatic differentiation is limited to "
            f"d <= MAX_CURVATURE_DIM = {MAX_CURVATURE_DIM} (its cost grows like d^4). For one-hidden-layer maps "
            "use the closed form paperlib.shallow.ricci_scalar (O(n d^3) per point); for the infinite-width "
            "average metric use paperlib.infinite.ricci_scalar"
        )


# -- pullback maps: J and H by nested forward mode -----------------------------------------------------------------


def _prepare_map(f, x, dtype, device, chunk_size, what: str, train_mode: str, select, create_graph):
    b = _bind(f, x, chunk_size=chunk_size, dtype=dtype, device=device, train_mode=train_mode, select=select,
              create_graph=create_graph)
    in_shape, n, d = b.x.shape[1:], b.n, b.d
    _check_curvature_dim(d, "x")
    if n < d:
        raise ValueError(
            f"f maps to n = {n} features but x has d = {d} input dimensions: the pullback metric has rank "
            f"<= n < d everywhere, so the {what} is undefined"
        )
    fn = functools.partial(_call, b.f, b.state)
    return b.x.reshape(-1, d), fn, in_shape, _per_point(fn, in_shape), n, d, b.chunk_size, b.graph


def _batched_jets(rows: Callable[[torch.Tensor], torch.Tensor], flat: torch.Tensor):
    r"""``J: (B, n, d)`` and ``H: (B, n, d, d)``, ``H[b, i, mu, nu] = d_mu d_nu f_i(x_b)``, forward over forward.

    Like :func:`jacobian`, relies on the map treating the points of a batch independently: a JVP of the whole
    batch along :math:`e_\mu` gives column :math:`\mu` of every point's Jacobian; a JVP of that along
    :math:`e_\nu` gives the second derivatives. Both levels of ``d`` directions are batched with ``vmap``.
    """
    batch, d = flat.shape
    basis = torch.eye(d, dtype=flat.dtype, device=flat.device).unsqueeze(1).expand(d, batch, d)

    def columns(inp: torch.Tensor) -> torch.Tensor:
        return vmap(lambda v: jvp(rows, (inp,), (v,))[1], out_dims=2)(basis)  # (B, n, d)

    J, H = vmap(lambda u: jvp(columns, (flat,), (u,)), out_dims=(0, 3))(basis)
    return J[0], H


def _gauss_riemann(A: torch.Tensor, G: torch.Tensor) -> torch.Tensor:
    r""":math:`R^\rho{}_{\sigma\mu\nu} = g^{\rho\alpha}(\langle N_{\alpha\mu}, N_{\sigma\nu}\rangle
    - \langle N_{\alpha\nu}, N_{\sigma\mu}\rangle)`; ``(B, d, d, d, d)``."""
    batch, d = G.shape[0], G.shape[-1]
    low = torch.einsum("bamsn->basmn", A.reshape(batch, d, d, d, d))
    low = low - low.transpose(-1, -2)
    return torch.einsum("bra,basmn->brsmn", G, low)


# -- metric functions: g, dg, d2g by nested forward mode -----------------------------------------------------------


def _metric_jets(gfun: MetricFunction, flat: torch.Tensor):
    r"""``g: (B, d, d)``, ``dg[b, k, n, r] = d_r g_{kn}``, ``d2g[b, k, n, r, s] = d_s d_r g_{kn}``."""

    def g_twice(xi: torch.Tensor):
        g = gfun(xi)
        return g, g

    def level1(xi: torch.Tensor):
        dg, g = jacfwd(g_twice, has_aux=True)(xi)
        return dg, (g, dg)

    d2g, (g, dg) = vmap(jacfwd(level1, has_aux=True))(flat)
    return g, dg, d2g


def _christoffel_parts(g: torch.Tensor, dg: torch.Tensor, d2g: torch.Tensor, rtol: float):
    r"""Christoffel symbols and their derivatives from the metric jets.

    :math:`\Gamma_{\kappa\mu\nu} = \frac12(\partial_\mu g_{\kappa\nu} + \partial_\nu g_{\kappa\mu}
    - \partial_\kappa g_{\mu\nu})`, :math:`\Gamma^\lambda_{\mu\nu} = g^{\lambda\kappa}\Gamma_{\kappa\mu\nu}`,
    :math:`\partial_\rho\Gamma^\lambda_{\mu\nu} = g^{\lambda\kappa}(\partial_\rho\Gamma_{\kappa\mu\nu}
    - \partial_\rho g_{\kappa\alpha}\Gamma^\alpha_{\mu\nu})`. Returns ``Gamma[b, l, m, n]``,
    ``dGamma[b, l, m, n, r] = d_r Gamma^l_{mn}``, ``G = g^{-1}``, flags.
    """
    bad = degenerate_points(g, rtol)
    flat = (dg == 0).flatten(1).all(1) & (d2g == 0).flatten(1).all(1)
    G = safe_inverse(g, bad)
    first = 0.5 * (torch.einsum("bknm->bkmn", dg) + dg - torch.einsum("bmnk->bkmn", dg))  # [b,k,m,n]
    gamma = torch.einsum("blk,bkmn->blmn", G, first)
    dfirst = 0.5 * (torch.einsum("bknmr->bkmnr", d2g) + d2g - torch.einsum("bmnkr->bkmnr", d2g))
    dgamma = torch.einsum("blk,bkmnr->blmnr", G, dfirst - torch.einsum("bkar,bamn->bkmnr", dg, gamma))
    return gamma, dgamma, G, bad, flat


def _riemann_from_christoffel(gamma: torch.Tensor, dgamma: torch.Tensor) -> torch.Tensor:
    r""":math:`R^\rho{}_{\sigma\mu\nu} = \partial_\mu\Gamma^\rho_{\nu\sigma} - \partial_\nu\Gamma^\rho_{\mu\sigma}
    + \Gamma^\rho_{\mu\lambda}\Gamma^\lambda_{\nu\sigma} - \Gamma^\rho_{\nu\lambda}\Gamma^\lambda_{\mu\sigma}`."""
    deriv = torch.einsum("brnsm->brsmn", dgamma)  # d_m Gamma^r_{ns} at [b, r, s, m, n]
    quad = torch.einsum("brml,blns->brsmn", gamma, gamma)
    rie = deriv + quad
    return rie - rie.transpose(-1, -2)


def _ricci_from_riemann(rie: torch.Tensor) -> torch.Tensor:
    r""":math:`R_{\sigma\nu} = R^\rho{}_{\sigma\rho\nu}`."""
    return torch.einsum("brsrn->bsn", rie)


def _prepare_metric(gfun, x, dtype, device, chunk_size):
    if not callable(gfun):
        raise TypeError(f"gfun must be a callable metric function (d,) -> (d, d); got {type(gfun).__name__}")
    chunk_size = check_chunk_size(chunk_size)
    x = prepare_input(x, "x", dtype, device)
    if x.ndim != 2:
        raise ValueError(f"x must have shape (B, d) for a metric function; got {tuple(x.shape)}")
    _check_curvature_dim(x.shape[1], "x")
    return x, chunk_size


def _metric_chunk(gfun, xc: torch.Tensor, rtol: float):
    g, dg, d2g = _metric_jets(gfun, xc)
    d = xc.shape[1]
    if g.shape != (xc.shape[0], d, d):
        raise ValueError(f"gfun must map a point (d,) = ({d},) to a (d, d) metric; got shape {tuple(g.shape[1:])}")
    return _christoffel_parts(g, dg, d2g, rtol)


def _metric_curvature(gfun, x, what: str, *, chunk_size, rtol, degenerate, dtype, device) -> torch.Tensor:
    check_policy(degenerate)
    rtol = check_rtol(rtol)
    x, chunk_size = _prepare_metric(gfun, x, dtype, device, chunk_size)
    d = x.shape[1]
    rtol = d * torch.finfo(x.dtype).eps if rtol is None else rtol
    outs, flats, bads = [], [], []
    for sl in chunk_slices(x.shape[0], chunk_size):
        gamma, dgamma, G, bad, flat = _metric_chunk(gfun, x[sl], rtol)
        if what == "christoffel":
            out = gamma
        else:
            rie = _riemann_from_christoffel(gamma, dgamma)
            if what == "riemann":
                out = rie
            else:
                ric = _ricci_from_riemann(rie)
                out = ric if what == "ricci" else torch.einsum("bsn,bsn->b", G, ric)
        outs.append(out), flats.append(flat), bads.append(bad)
    return apply_policy(torch.cat(outs), torch.cat(flats), torch.cat(bads), degenerate, _CURVATURE_NAMES[what], x)


def _map_curvature(f, x, what: str, *, method, chunk_size, rtol, degenerate, dtype, device, train_mode, select,
                   create_graph) -> torch.Tensor:
    check_policy(degenerate, method)
    rtol = check_rtol(rtol)
    flat_x, fn, in_shape, single, n, d, chunk_size, graph = _prepare_map(
        f, x, dtype, device, chunk_size, _CURVATURE_NAMES[what], train_mode, select, create_graph)
    with _derivative_context():
        out = _map_curvature_chunks(flat_x, fn, in_shape, single, n, d, what, method, chunk_size, rtol, degenerate)
    return out if graph else out.detach()


def _map_curvature_chunks(flat_x, fn, in_shape, single, n, d, what, method, chunk_size, rtol, degenerate):
    rtol = max(n, d) * torch.finfo(flat_x.dtype).eps if rtol is None else rtol
    if method == "christoffel" and what != "christoffel":
        inner = jacfwd(single) if d <= n else jacrev(single)

        def gfun(xi: torch.Tensor) -> torch.Tensor:
            J = inner(xi)
            return J.T @ J

        return _metric_curvature(gfun, flat_x, what, chunk_size=chunk_size, rtol=rtol, degenerate=degenerate,
                                 dtype=None, device=None)
    rows = _rows(fn, in_shape)
    if chunk_size is None:  # cache-sized chunks: much faster on CPU than one huge vmap
        chunk_size = max(16, _AUTO_CHUNK_ELEMENTS // (n * d * d))
    outs, flats, bads = [], [], []
    for sl in chunk_slices(flat_x.shape[0], chunk_size):
        J, H = _batched_jets(rows, flat_x[sl])
        g, G, T, A, bad, flat = gauss_parts(J, H, rtol)
        if what == "christoffel":
            out = (G @ T).reshape(-1, d, d, d)
        elif what == "scalar":
            out = gauss_scalar(A, G)
        else:
            rie = _gauss_riemann(A, G)
            out = rie if what == "riemann" else _ricci_from_riemann(rie)
        outs.append(out), flats.append(flat), bads.append(bad)
    return apply_policy(torch.cat(outs), torch.cat(flats), torch.cat(bads), degenerate, _CURVATURE_NAMES[what], flat_x)


def _curvature_doc(args: str):
    """Decorator: fill the ``{args}``/``{policy}`` placeholders of a curvature docstring."""

    def deco(fn):
        fn.__doc__ = fn.__doc__.replace(
            "    {args}{policy}\n", "\n" + args.strip("\n") + "\n" + _CURVATURE_POLICY_DOC + "\n")
        return fn

    return deco


_MAP_ARGS_DOC = r"""
    Args:
        f: batched feature map ``(B, *in_shape) -> (B, n)`` that treats the points of a batch independently
            (``nn.Module`` in ``eval()`` mode, or a pure torch callable: it is differentiated under
            :func:`torch.func.vmap`, so no Python control flow on tensor values), smooth where evaluated;
            ``d = prod(in_shape) <= MAX_CURVATURE_DIM = 8`` (``ValueError`` otherwise: use
            :func:`paperlib.shallow.ricci_scalar` / :func:`paperlib.infinite.ricci_scalar`), and ``n >= d``.
        x: ``(B, *in_shape)`` points; coordinates are the flattened ``d`` inputs.
        chunk_size: process at most this many points at once (memory ``O(chunk n d^2)``); ``None``: automatic,
            chunks of about ``2^20 / (n d^2)`` points (at least 16) for the Gauss route, all points
            at once for the Christoffel route.
        rtol: relative eigenvalue threshold for degenerate metrics (default ``max(n, d) * eps``).
        degenerate: ``"raise"`` (default) or ``"nan"``; see *Degenerate points*.
        dtype, device, train_mode, select: as in :func:`jacobian` (float64 by default).
        create_graph: as in :func:`jacobian`: the result is differentiable with respect to ``x`` and the
            parameters of ``f`` (third derivatives of ``f``, by autodiff through the nested forward-mode
            derivatives; e.g. a curvature penalty); ``None``: when grad mode is on and ``x`` requires grad.
"""

_METRIC_ARGS_DOC = r"""
    Args:
        gfun: metric function mapping ONE point ``(d,)`` to its metric ``(d, d)`` (symmetric positive definite --
            points where it is not count as degenerate --, smooth, pure torch: it is differentiated twice by
            nested :func:`torch.func.jacfwd` under :func:`torch.func.vmap`).
            Use it for metrics that are not pullbacks, e.g. the infinite-width average :math:`E[g]`.
        x: ``(B, d)`` points, ``d <= MAX_CURVATURE_DIM = 8``.
        chunk_size: process at most this many points at once; ``None`` = all at once.
        rtol: relative eigenvalue threshold for degenerate metrics (default ``d * eps``).
        degenerate: ``"raise"`` (default) or ``"nan"``; see *Degenerate points*.
        dtype, device: as in :func:`jacobian` (float64 by default).
"""


@_curvature_doc(_MAP_ARGS_DOC)
def christoffel_symbols(
    f: FeatureMap,
    x: torch.Tensor,
    *,
    chunk_size: int | None = None,
    rtol: float | None = None,
    degenerate: DegeneratePolicy = "raise",
    dtype: torch.dtype | None = torch.float64,
    device: str | torch.device | None = "auto",
    train_mode: TrainMode = "raise",
    select: int | str | None = None,
    create_graph: bool | None = None,
) -> torch.Tensor:
    r"""Christoffel symbols :math:`\Gamma^\lambda_{\mu\nu}` of the pullback metric of ``f``.

    For a pullback :math:`g = J^\top J` the symbols of the first kind are
    :math:`\Gamma_{\kappa\mu\nu} = \sum_i \partial_\kappa f_i\, \partial_\mu\partial_\nu f_i`, so

    .. math::  \Gamma^\lambda_{\mu\nu} = g^{\lambda\kappa} \sum_i J_{i\kappa} H_{i\mu\nu}
               = \tfrac12 g^{\lambda\kappa}(\partial_\mu g_{\kappa\nu} + \partial_\nu g_{\kappa\mu}
               - \partial_\kappa g_{\mu\nu}),

    with ``J`` and the Hessians ``H`` from nested forward-mode autodiff (second derivatives only).
    {args}{policy}
    Returns:
        ``(B, d, d, d)`` tensor ``Gamma[b, l, mu, nu]``, symmetric in ``mu, nu``.

    Example:
        The flat plane in polar coordinates :math:`(r, \theta)`: :math:`\Gamma^r_{\theta\theta} = -r`,
        :math:`\Gamma^\theta_{r\theta} = 1/r`.

        >>> polar = lambda x: torch.stack([x[:, 0] * x[:, 1].cos(), x[:, 0] * x[:, 1].sin()], 1)
        >>> G = christoffel_symbols(polar, torch.tensor([[2.0, 0.3]]))  # r = 2
        >>> tuple(G.shape), round(G[0, 0, 1, 1].item(), 12), round(G[0, 1, 0, 1].item(), 12)
        ((1, 2, 2, 2), -2.0, 0.5)
    """
    return _map_curvature(f, x, "christoffel", method="gauss", chunk_size=chunk_size, rtol=rtol,
                          degenerate=degenerate, dtype=dtype, device=device, train_mode=train_mode,
                          select=select, create_graph=create_graph)


@_curvature_doc(_MAP_ARGS_DOC)
def riemann_tensor(
    f: FeatureMap,
    x: torch.Tensor,
    *,
    method: CurvatureMethod = "gauss",
    chunk_size: int | None = None,
    rtol: float | None = None,
    degenerate: DegeneratePolicy = "raise",
    dtype: torch.dtype | None = torch.float64,
    device: str | torch.device | None = "auto",
    train_mode: TrainMode = "raise",
    select: int | str | None = None,
    create_graph: bool | None = None,
) -> torch.Tensor:
    r"""Riemann tensor :math:`R^\rho{}_{\sigma\mu\nu}` of the pullback metric of ``f``.

    Convention: :math:`R^\rho{}_{\sigma\mu\nu} = \partial_\mu\Gamma^\rho_{\nu\sigma}
    - \partial_\nu\Gamma^\rho_{\mu\sigma} + \Gamma^\rho_{\mu\lambda}\Gamma^\lambda_{\nu\sigma}
    - \Gamma^\rho_{\nu\lambda}\Gamma^\lambda_{\mu\sigma}` (a round sphere of radius r has Ricci scalar
    :math:`+2/r^2`).

    ``method="gauss"`` (default; second derivatives of ``f`` only) uses the Gauss equation of the immersed
    image: with :math:`H_{i\mu\nu} = \partial_\mu\partial_\nu f_i` and the normal projector
    :math:`P = I - J g^{-1} J^\top`,

    .. math::  R_{\alpha\sigma\mu\nu} = \langle P H_{\alpha\mu}, H_{\sigma\nu}\rangle
               - \langle P H_{\alpha\nu}, H_{\sigma\mu}\rangle, \qquad
               R^\rho{}_{\sigma\mu\nu} = g^{\rho\alpha} R_{\alpha\sigma\mu\nu}.

    ``method="christoffel"`` differentiates the metric function :math:`x \mapsto J^\top J` twice (fourth
    derivatives of ``f``) and applies the definition above: slower, an independent cross-check.
    {args}{policy}
    Returns:
        ``(B, d, d, d, d)`` tensor ``R[b, rho, sigma, mu, nu]``, antisymmetric in ``mu, nu``.

    Example:
        The saddle, the graph of :math:`h = x_0 x_1` in :math:`\mathbb{R}^3`; the two methods agree, and contracting
        :math:`\rho` with :math:`\mu` gives the Ricci tensor:

        >>> saddle = lambda x: torch.cat([x, x.prod(1, keepdim=True)], 1)  # (B, 2) -> (B, 3)
        >>> x = torch.tensor([[0.5, -1.0], [2.0, 0.1]])
        >>> Rm = riemann_tensor(saddle, x)
        >>> tuple(Rm.shape), torch.allclose(Rm, riemann_tensor(saddle, x, method="christoffel"))
        ((2, 2, 2, 2, 2), True)
        >>> torch.allclose(Rm.diagonal(dim1=1, dim2=3).sum(-1), ricci_tensor(saddle, x))
        True
    """
    return _map_curvature(f, x, "riemann", method=method, chunk_size=chunk_size, rtol=rtol,
                          degenerate=degenerate, dtype=dtype, device=device, train_mode=train_mode,
                          select=select, create_graph=create_graph)


@_curvature_doc(_MAP_ARGS_DOC)
def ricci_tensor(
    f: FeatureMap,
    x: torch.Tensor,
    *,
    method: CurvatureMethod = "gauss",
    chunk_size: int | None = None,
    rtol: float | None = None,
    degenerate: DegeneratePolicy = "raise",
    dtype: torch.dtype | None = torch.float64,
    device: str | torch.device | None = "auto",
    train_mode: TrainMode = "raise",
    select: int | str | None = None,
    create_graph: bool | None = None,
) -> torch.Tensor:
    r"""Ricci tensor :math:`R_{\mu\nu} = R^\rho{}_{\mu\rho\nu}` of the pullback metric of ``f``.

    Same conventions and methods as :func:`riemann_tensor` (a round d-sphere of radius r has
    :math:`R_{\mu\nu} = (d-1) g_{\mu\nu}/r^2`).
    {args}{policy}
    Returns:
        ``(B, d, d)`` symmetric tensor.

    Example:
        In ``d = 2`` the Ricci tensor is :math:`\tfrac R2 g` (here on the saddle, the graph of :math:`x_0 x_1`):

        >>> saddle = lambda x: torch.cat([x, x.prod(1, keepdim=True)], 1)  # (B, 2) -> (B, 3)
        >>> x = torch.tensor([[0.5, -1.0], [2.0, 0.1]])
        >>> Ric, R = ricci_tensor(saddle, x), ricci_scalar(saddle, x)
        >>> tuple(Ric.shape), torch.allclose(Ric, R[:, None, None] / 2 * metric(saddle, x))
        ((2, 2, 2), True)
    """
    return _map_curvature(f, x, "ricci", method=method, chunk_size=chunk_size, rtol=rtol,
                          degenerate=degenerate, dtype=dtype, device=device, train_mode=train_mode,
                          select=select, create_graph=create_graph)


@_curvature_doc(_MAP_ARGS_DOC)
def ricci_scalar(
    f: FeatureMap,
    x: torch.Tensor,
    *,
    method: CurvatureMethod = "gauss",
    chunk_size: int | None = None,
    rtol: float | None = None,
    degenerate: DegeneratePolicy = "raise",
    dtype: torch.dtype | None = torch.float64,
    device: str | torch.device | None = "auto",
    train_mode: TrainMode = "raise",
    select: int | str | None = None,
    create_graph: bool | None = None,
) -> torch.Tensor:
    r"""Ricci scalar :math:`R = g^{\mu\nu} R_{\mu\nu}` of the pullback metric of ``f``, by autodiff.

    Convention: a round sphere of radius r has :math:`R = +2/r^2` (in d = 2, :math:`R = 2K`, K the Gaussian
    curvature; a round d-sphere has :math:`d(d-1)/r^2`); see :func:`riemann_tensor`.

    ``method="gauss"`` (default, the faster: second derivatives only, ``O(n d^4)`` algebra per point)
    contracts the Gauss equation, with :math:`N_i = (P H)_i` the normal part of the Hessians
    (:math:`N = H - J g^{-1} T`, :math:`T_{\lambda\mu\nu} = \sum_i J_{i\lambda} H_{i\mu\nu}`; the ``n x n``
    projector is never formed):

    .. math::  R = g^{\mu\rho} g^{\nu\sigma}\big(\langle P H_{\mu\rho}, H_{\nu\sigma}\rangle
               - \langle P H_{\mu\sigma}, H_{\nu\rho}\rangle\big)
               = \sum_i \big[(\operatorname{tr} g^{-1} N_i)^2 - \operatorname{tr}(g^{-1} N_i g^{-1} N_i)\big].

    ``J`` and ``H`` come from forward-over-forward JVPs of whole chunks of points (``d`` directions at each
    level, batched with ``vmap``; with ``n >= d`` outputs forward mode is cheaper than ``n`` reverse passes),
    which, as in :func:`jacobian`, requires the map to treat the points of a batch independently.
    ``method="christoffel"`` goes through the Christoffel symbols of the metric function :math:`J^\top J`
    (fourth derivatives; see :func:`ricci_scalar_of_metric`). Piecewise-linear maps (ReLU, linear) give exact zeros.
    {args}{policy}
    Returns:
        ``(B,)`` tensor.

    Example:
        The saddle, the graph of :math:`h = x_0 x_1`, has :math:`R = 2K = -2/(1 + |x|^2)^2`; a ReLU network is flat:

        >>> saddle = lambda x: torch.cat([x, x.prod(1, keepdim=True)], 1)  # (B, 2) -> (B, 3)
        >>> x = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
        >>> [round(r, 12) for r in ricci_scalar(saddle, x).tolist()]  # -2, -2/9
        [-2.0, -0.222222222222]
        >>> _ = torch.manual_seed(0)
        >>> bool((ricci_scalar(nn.Sequential(nn.Linear(2, 3), nn.ReLU()), x) == 0).all())
        True
    """
    return _map_curvature(f, x, "scalar", method=method, chunk_size=chunk_size, rtol=rtol,
                          degenerate=degenerate, dtype=dtype, device=device, train_mode=train_mode,
                          select=select, create_graph=create_graph)


@_curvature_doc(_METRIC_ARGS_DOC)
def christoffel_symbols_of_metric(
    gfun: MetricFunction,
    x: torch.Tensor,
    *,
    chunk_size: int | None = None,
    rtol: float | None = None,
    degenerate: DegeneratePolicy = "raise",
    dtype: torch.dtype | None = torch.float64,
    device: str | torch.device | None = "auto",
) -> torch.Tensor:
    r"""Christoffel symbols of a metric given as a function of the point.

    .. math::  \Gamma^\lambda_{\mu\nu} = \tfrac12 g^{\lambda\kappa}(\partial_\mu g_{\kappa\nu}
               + \partial_\nu g_{\kappa\mu} - \partial_\kappa g_{\mu\nu}),

    with :math:`\partial g` by forward-mode autodiff of ``gfun``.
    {args}{policy}
    Returns:
        ``(B, d, d, d)`` tensor ``Gamma[b, l, mu, nu]``.

    Example:
        The Poincaré half-plane :math:`g = I / x_1^2`: :math:`\Gamma^1_{00} = 1/x_1`,
        :math:`\Gamma^1_{11} = \Gamma^0_{01} = -1/x_1`.

        >>> half_plane = lambda p: torch.diag(torch.ones_like(p)) / p[1] ** 2  # one point (2,) -> (2, 2)
        >>> G = christoffel_symbols_of_metric(half_plane, torch.tensor([[0.3, 2.0]]))
        >>> [round(G[0, l, m, n].item(), 12) for l, m, n in [(1, 0, 0), (1, 1, 1), (0, 0, 1)]]
        [0.5, -0.5, -0.5]
    """
    return _metric_curvature(gfun, x, "christoffel", chunk_size=chunk_size, rtol=rtol, degenerate=degenerate,
                             dtype=dtype, device=device)


@_curvature_doc(_METRIC_ARGS_DOC)
def riemann_tensor_of_metric(
    gfun: MetricFunction,
    x: torch.Tensor,
    *,
    chunk_size: int | None = None,
    rtol: float | None = None,
    degenerate: DegeneratePolicy = "raise",
    dtype: torch.dtype | None = torch.float64,
    device: str | torch.device | None = "auto",
) -> torch.Tensor:
    r"""Riemann tensor of a metric function, from :math:`g, \partial g, \partial^2 g` (nested ``jacfwd``).

    .. math::  R^\rho{}_{\sigma\mu\nu} = \partial_\mu\Gamma^\rho_{\nu\sigma} - \partial_\nu\Gamma^\rho_{\mu\sigma}
               + \Gamma^\rho_{\mu\lambda}\Gamma^\lambda_{\nu\sigma}
               - \Gamma^\rho_{\nu\lambda}\Gamma^\lambda_{\mu\sigma},
               \qquad \partial_\rho\Gamma^\lambda_{\mu\nu} = g^{\lambda\kappa}(\partial_\rho\Gamma_{\kappa\mu\nu}
               - \partial_\rho g_{\kappa\alpha}\Gamma^\alpha_{\mu\nu}),

    :math:`\Gamma_{\kappa\mu\nu}` the symbols of the first kind. A round sphere of radius r has Ricci scalar
    :math:`+2/r^2`.
    {args}{policy}
    Returns:
        ``(B, d, d, d, d)`` tensor ``R[b, rho, sigma, mu, nu]``.

    Example:
        The Poincaré half-plane :math:`g = I / x_1^2` has :math:`K = -1`, so
        :math:`R^0{}_{101} = K g_{11} = -1/x_1^2`:

        >>> half_plane = lambda p: torch.diag(torch.ones_like(p)) / p[1] ** 2  # one point (2,) -> (2, 2)
        >>> Rm = riemann_tensor_of_metric(half_plane, torch.tensor([[0.3, 2.0]]))
        >>> tuple(Rm.shape), round(Rm[0, 0, 1, 0, 1].item(), 12), torch.allclose(Rm, -Rm.transpose(3, 4))
        ((1, 2, 2, 2, 2), -0.25, True)
    """
    return _metric_curvature(gfun, x, "riemann", chunk_size=chunk_size, rtol=rtol, degenerate=degenerate,
                             dtype=dtype, device=device)


@_curvature_doc(_METRIC_ARGS_DOC)
def ricci_tensor_of_metric(
    gfun: MetricFunction,
    x: torch.Tensor,
    *,
    chunk_size: int | None = None,
    rtol: float | None = None,
    degenerate: DegeneratePolicy = "raise",
    dtype: torch.dtype | None = torch.float64,
    device: str | torch.device | None = "auto",
) -> torch.Tensor:
    r"""Ricci tensor :math:`R_{\mu\nu} = R^\rho{}_{\mu\rho\nu}` of a metric function (see
    :func:`riemann_tensor_of_metric`).
    {args}{policy}
    Returns:
        ``(B, d, d)`` tensor.

    Example:
        The Poincaré half-plane :math:`g = I / x_1^2` has :math:`R_{\mu\nu} = K g_{\mu\nu} = -g_{\mu\nu}`:

        >>> half_plane = lambda p: torch.diag(torch.ones_like(p)) / p[1] ** 2  # one point (2,) -> (2, 2)
        >>> Ric = ricci_tensor_of_metric(half_plane, torch.tensor([[0.3, 2.0]]))
        >>> tuple(Ric.shape), [round(v, 12) for v in Ric[0].diagonal().tolist()]
        ((1, 2, 2), [-0.25, -0.25])
    """
    return _metric_curvature(gfun, x, "ricci", chunk_size=chunk_size, rtol=rtol, degenerate=degenerate,
                             dtype=dtype, device=device)


@_curvature_doc(_METRIC_ARGS_DOC)
def ricci_scalar_of_metric(
    gfun: MetricFunction,
    x: torch.Tensor,
    *,
    chunk_size: int | None = None,
    rtol: float | None = None,
    degenerate: DegeneratePolicy = "raise",
    dtype: torch.dtype | None = torch.float64,
    device: str | torch.device | None = "auto",
) -> torch.Tensor:
    r"""Ricci scalar :math:`R = g^{\mu\nu} R^\rho{}_{\mu\rho\nu}` of a metric function.

    Convention: a round sphere of radius r has :math:`R = +2/r^2` (d = 2, :math:`R = 2K`); see
    :func:`riemann_tensor_of_metric`. Works for any metric, not only pullbacks (e.g. the infinite-width
    :math:`E[g]`); ``gfun`` is differentiated twice.
    {args}{policy}
    Returns:
        ``(B,)`` tensor.

    Example:
        The Poincaré half-plane :math:`g = I / x_1^2` has constant curvature :math:`R = 2K = -2`:

        >>> half_plane = lambda p: torch.diag(torch.ones_like(p)) / p[1] ** 2  # one point (2,) -> (2, 2)
        >>> R = ricci_scalar_of_metric(half_plane, torch.tensor([[0.3, 2.0], [-1.0, 0.5]]))
        >>> tuple(R.shape), torch.allclose(R, torch.full_like(R, -2.0))
        ((2,), True)
    """
    return _metric_curvature(gfun, x, "scalar", chunk_size=chunk_size, rtol=rtol, degenerate=degenerate,
                             dtype=dtype, device=device)
