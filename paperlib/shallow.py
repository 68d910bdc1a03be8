r"""Closed forms for one-hidden-layer feature maps.

.. math::  \Phi_j(x) = \frac{1}{\sqrt n}\,\phi(z_j), \qquad z_j = w_j \cdot x + b_j, \qquad j = 1..n,

with ``W: (n, d)`` (rows :math:`w_j`), ``b: (n,)`` and ``x: (B, d)``. The Jacobian is
:math:`J_{j\mu} = \phi'(z_j) w_{j\mu}/\sqrt n`, so the metric is a weighted sum of rank-one terms

.. math::  g_{\mu\nu}(x) = \frac1n \sum_{j=1}^n \phi'(z_j)^2\, w_{j\mu} w_{j\nu},

and by Cauchy–Binet

.. math::  \det g = n^{-d} \sum_{j_1 < \dots < j_d} \Big(\prod_{k} \phi'(z_{j_k})^2\Big)
           \det[w_{j_1}, \dots, w_{j_d}]^2 .

These cost :math:`O(n d^2)` per point with no automatic differentiation. Activation names are those of
:mod:`paperlib.activations`.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch

from . import activations as _act
from ._checks import check_base, check_choice, check_float_dtype, check_input, check_int, check_number
from ._linalg import apply_policy, check_chunk_size, check_policy, check_rtol, chunk_slices, degenerate_points
from ._linalg import gauss_parts, gauss_scalar, log_volume, prepare_input

#: points per batched QR/SVD when ``chunk_size=None``: about this many Jacobian entries (chunk * n * d) at once
_CHUNK_ELEMENTS = 1 << 22

__all__ = [
    "random_network",
    "feature_map",
    "preactivations",
    "jacobian",
    "metric",
    "spectrum",
    "log_volume_element",
]


def random_network(
    d: int,
    n: int,
    *,
    sigma: float = 1.0,
    zeta: float = 1.0,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Draw :math:`W_{j\mu} \sim N(0, \sigma^2)`, :math:`b_j \sim N(0, \zeta^2)` i.i.d. with a seeded generator.

    Args:
        d: input dimension; n: hidden units.
        sigma: weight scale (> 0); zeta: bias scale (>= 0).
        seed: seed of the generator (the global one is not used).
        dtype: floating dtype of the result.

    Returns:
        ``W: (n, d)``, ``b: (n,)``.

    Example:
        >>> W, b = random_network(d=2, n=5, seed=0)
        >>> tuple(W.shape), tuple(b.shape), W.dtype
        ((5, 2), (5,), torch.float64)
        >>> torch.equal(W, random_network(d=2, n=5, seed=0)[0])  # the same seed draws the same network
        True
    """
    check_int(d, "d", min=1)
    check_int(n, "n", min=1)
    sigma = check_number(sigma, "sigma", min=0, open_min=True)
    zeta = check_number(zeta, "zeta", min=0)
    check_int(seed, "seed")
    check_float_dtype(dtype)
    gen = torch.Generator().manual_seed(seed)
    W = sigma * torch.randn(n, d, generator=gen, dtype=dtype)
    b = zeta * torch.randn(n, generator=gen, dtype=dtype)
    return W, b


def _check_params(
    W: torch.Tensor, b: torch.Tensor, x: torch.Tensor, activation: str, dtype, device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    _act.check_name(activation)
    W = prepare_input(W, "W", dtype, device)
    if W.ndim != 2:
        raise ValueError(f"W must have shape (n, d); got {tuple(W.shape)}")
    n, d = W.shape
    b = check_input(b, "b", dtype=W.dtype, device=W.device, min_dim=1)
    if b.shape != (n,):
        raise ValueError(f"b must have shape (n,) = ({n},) to match W; got {tuple(b.shape)}")
    x = check_input(x, "x", dtype=W.dtype, device=W.device, last_dim=d)
    if x.ndim != 2:
        raise ValueError(f"x must have shape (B, d) = (B, {d}); got {tuple(x.shape)}")
    return W, b, x


def preactivations(W: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    r""":math:`z_{bj} = w_j \cdot x_b + b_j`; shapes ``W: (n, d)``, ``b: (n,)``, ``x: (B, d)`` -> ``(B, n)``.

    Example:
        >>> W, b = random_network(d=2, n=5, seed=0)
        >>> x = torch.tensor([[0.5, -1.0], [2.0, 0.0]], dtype=torch.float64)
        >>> z = preactivations(W, b, x)
        >>> tuple(z.shape), torch.allclose(z, x @ W.T + b)
        ((2, 5), True)
    """
    return torch.addmm(b, x, W.T)


def feature_map(W: torch.Tensor, b: torch.Tensor, activation: str):
    r"""The map :math:`x \mapsto \phi(x W^\top + b)/\sqrt n` as a batched callable ``(B, d) -> (B, n)``.

    It is differentiable, so :mod:`paperlib.geometry` can measure it; use it to compare closed forms with
    autodiff.

    Args:
        W: ``(n, d)``; b: ``(n,)``; activation: a name of :mod:`paperlib.activations`.

    Returns:
        A callable ``f(x)``, ``(B, d) -> (B, n)``, computing in ``x``'s dtype on ``x``'s device (``W`` and ``b``
        are moved there).

    Example:
        The closed-form metric is the pullback metric of this map, measured by autodiff:

        >>> from paperlib import geometry
        >>> W, b = random_network(d=2, n=5, seed=0)
        >>> f, x = feature_map(W, b, "tanh"), torch.tensor([[0.5, -1.0], [2.0, 0.0]])
        >>> g = geometry.metric(f, x, device=W.device)  # f computes on W's device
        >>> tuple(f(x).shape), torch.allclose(g, metric(W, b, x, "tanh", device=W.device))
        ((2, 5), True)
    """
    W, b, _ = _check_params(W, b, W.new_zeros(1, W.shape[-1]), activation, None, None)
    phi = _act.function(activation)
    scale = 1.0 / math.sqrt(W.shape[0])

    def f(x: torch.Tensor) -> torch.Tensor:
        return phi(preactivations(W.to(x.device, x.dtype), b.to(x.device, x.dtype), x)) * scale

    return f


def jacobian(
    W: torch.Tensor,
    b: torch.Tensor,
    x: torch.Tensor,
    activation: str,
    *,
    dtype: torch.dtype | None = torch.float64,
    device: str | torch.device | None = "auto",
) -> torch.Tensor:
    r"""Closed-form Jacobian :math:`J_{j\mu} = \phi'(z_j)\, w_{j\mu} / \sqrt n`.

    Args:
        W: ``(n, d)`` input weights; b: ``(n,)`` biases; x: ``(B, d)`` points; activation: a name.
        dtype, device: computation dtype (float64 by default) and device (``"auto"``: CUDA when present).

    Returns:
        ``(B, n, d)`` tensor.

    Example:
        >>> W, b = random_network(d=2, n=5, seed=0)
        >>> x = torch.tensor([[0.5, -1.0], [2.0, 0.0]])
        >>> J = jacobian(W, b, x, "tanh")
        >>> tuple(J.shape), torch.allclose(J.mT @ J, metric(W, b, x, "tanh"))  # g = J^T J
        ((2, 5, 2), True)
    """
    W, b, x = _check_params(W, b, x, activation, dtype, device)
    _, dphi = _act.derivatives(activation, preactivations(W, b, x), order=1)
    return dphi.unsqueeze(-1) * W / math.sqrt(W.shape[0])


def metric(
    W: torch.Tensor,
    b: torch.Tensor,
    x: torch.Tensor,
    activation: str,
    *,
    dtype: torch.dtype | None = torch.float64,
    device: str | torch.device | None = "auto",
) -> torch.Tensor:
    r"""Closed-form metric :math:`g_{\mu\nu} = \frac1n\sum_j \phi'(z_j)^2 w_{j\mu} w_{j\nu}`.

    Args:
        W: ``(n, d)`` input weights; b: ``(n,)`` biases; x: ``(B, d)`` points; activation: a name.
        dtype, device: computation dtype (float64 by default) and device (``"auto"``: CUDA when present).

    Returns:
        ``(B, d, d)`` tensor; cost :math:`O(B n d^2)`.

    Example:
        A ReLU unit contributes :math:`w_j w_j^\top / n` where it is active, nothing where it is not:

        >>> W, b = torch.tensor([[1.0, 0.0], [0.0, 2.0]]), torch.tensor([0.0, -10.0])
        >>> g = metric(W, b, torch.tensor([[1.0, 1.0]]), "relu")  # unit 1 is off at x = (1, 1)
        >>> tuple(g.shape), g[0].tolist()
        ((1, 2, 2), [[0.5, 0.0], [0.0, 0.0]])
    """
    W, b, x = _check_params(W, b, x, activation, dtype, device)
    _, dphi = _act.derivatives(activation, preactivations(W, b, x), order=1)
    a = dphi.square() / W.shape[0]  # (B, n)
    return torch.einsum("bj,jm,jn->bmn", a, W, W)


def _log_dphi(activation: str, z: torch.Tensor) -> torch.Tensor:
    r""":math:`\log|\phi'(z)|`; for the sigmoid in closed form, :math:`\log\sigma(z) + \log\sigma(-z)`, exact for
    every ``z`` (``sigma * (1 - sigma)`` rounds to 0 for ``z > 37``)."""
    if activation == "sigmoid":
        return torch.nn.functional.logsigmoid(z) + torch.nn.functional.logsigmoid(-z)
    _, d1 = _act.derivatives(activation, z, order=1)
    return torch.log(d1.abs())


def _sorted_jacobian(W: torch.Tensor, b: torch.Tensor, x: torch.Tensor, activation: str) -> torch.Tensor:
    r"""Closed-form Jacobians :math:`J = \operatorname{diag}(\phi'(z)) W/\sqrt n`, ``(B, n, d)``, with each point's
    rows sorted by decreasing norm :math:`|\phi'(z_j)|\,|w_j|` (row order does not change :math:`J^\top J`), so
    that a Householder QR of ``J`` stays accurate row by row when the slopes span many orders of magnitude."""
    n = W.shape[0]
    logd = _log_dphi(activation, preactivations(W, b, x))  # (B, n)
    order = (logd + torch.log(W.norm(dim=1))).argsort(dim=1, descending=True)
    return (torch.exp(logd.gather(1, order)) / math.sqrt(n)).unsqueeze(-1) * W[order]


def _triangular_factors(W, b, x, activation, chunk_size):
    """``R`` of the row-sorted QR of each point's Jacobian (``n >= d``), ``chunk_size`` points at a time."""
    n, d = W.shape
    step = chunk_size or max(1, _CHUNK_ELEMENTS // (n * d))
    for xc in x.split(step):
        yield torch.linalg.qr(_sorted_jacobian(W, b, xc, activation), mode="r")[1]


def _jacobi_singular_values(R: torch.Tensor) -> torch.Tensor:
    """Singular values of one square matrix by LAPACK's preconditioned Jacobi SVD ``dgejsv`` (high relative
    accuracy for column- and row-graded matrices), descending."""
    from scipy.linalg import lapack

    sva, _, _, work, _, info = lapack.dgejsv(R.detach().cpu().double().numpy(), joba=0, jobu=3, jobv=3, jobr=0,
                                             jobt=0, jobp=1)
    if info != 0:
        raise RuntimeError(f"LAPACK dgejsv failed (info = {info})")
    return torch.from_numpy(np.sort(sva * (work[1] / work[0]))[::-1].copy()).to(R.device)


def spectrum(
    W: torch.Tensor,
    b: torch.Tensor,
    x: torch.Tensor,
    activation: str,
    *,
    method: Literal["svd", "jacobi"] = "svd",
    chunk_size: int | None = None,
    dtype: torch.dtype | None = torch.float64,
    device: str | torch.device | None = "auto",
) -> torch.Tensor:
    r"""Square roots of the eigenvalues of the metric, i.e. singular values of the closed-form Jacobian.

    :math:`s_i = \sqrt{\lambda_i(g)}` of :math:`J = \operatorname{diag}(\phi'(z))W/\sqrt n`. For ``n >= d`` both
    methods start from the triangular factor ``R`` of a Householder QR of ``J`` with its rows sorted by
    decreasing norm (same singular values, :math:`O(n d^2)` per point):

    - ``"svd"`` (default): batched ``torch.linalg.svdvals`` of ``R``: fast; accurate to :math:`\epsilon\, s_1`
      in absolute terms, so singular values below about :math:`10^{-16} s_1` are round-off.
    - ``"jacobi"``: LAPACK's preconditioned Jacobi SVD (``dgejsv`` through SciPy) of each ``R``, which keeps
      *relative* accuracy when the columns of ``J`` differ in scale by many orders of magnitude (e.g. a trained
      MNIST network whose weights on pixels blank in every training image decayed to :math:`10^{-36}`), so that
      :math:`\sum_i \log s_i` agrees with :func:`log_volume_element` to round-off. One LAPACK call per point
      (about a second for ``d = 784``): use it for a few points such as anchor images.

    For ``n < d`` the SVD of ``J`` itself is used (``"svd"`` only).

    Args:
        W: ``(n, d)``; b: ``(n,)``; x: ``(B, d)``; activation: a name.
        method: ``"svd"`` or ``"jacobi"``.
        chunk_size: points per batched factorisation (default: about :math:`2^{22}/(nd)`).
        dtype, device: computation dtype (float64 by default) and device (``"auto"``: CUDA when present).

    Returns:
        ``(B, min(n, d))`` tensor, descending.

    Example:
        >>> W, b = random_network(d=2, n=5, seed=0)
        >>> x = torch.tensor([[0.5, -1.0], [2.0, 0.0]])
        >>> s = spectrum(W, b, x, "tanh")
        >>> tuple(s.shape), torch.allclose(s ** 2, torch.linalg.eigvalsh(metric(W, b, x, "tanh")).flip(-1))
        ((2, 2), True)
    """
    check_choice(method, "method", ("svd", "jacobi"))
    chunk_size = check_chunk_size(chunk_size)
    W, b, x = _check_params(W, b, x, activation, dtype, device)
    n, d = W.shape
    if n < d:
        if method == "jacobi":
            raise ValueError(f"method='jacobi' needs n >= d; got n = {n}, d = {d}")
        step = chunk_size or max(1, _CHUNK_ELEMENTS // (n * d))
        return torch.cat([torch.linalg.svdvals(jacobian(W, b, xc, activation, dtype=None, device=None))
                          for xc in x.split(step)])
    if method == "svd":
        return torch.cat([torch.linalg.svdvals(R) for R in _triangular_factors(W, b, x, activation, chunk_size)])
    return torch.cat([torch.stack([_jacobi_singular_values(r) for r in R])
                      for R in _triangular_factors(W, b, x, activation, chunk_size)])


def _squared_slopes_(activation: str, z: torch.Tensor) -> torch.Tensor:
    r""":math:`\phi'(z)^2`, overwriting ``z``. The sigmoid's slope is :math:`s(1 - s)` with :math:`s = \sigma(-|z|)
    \le 1/2` (one transcendental pass, no cancellation, relative error a few ulp at any ``z``)."""
    if activation == "sigmoid":
        s = z.abs_().neg_().sigmoid_()
        return torch.addcmul(s, s, s, value=-1).square_()
    return _act.derivatives(activation, z, order=1)[1].square_()


def _log_volume_2d(W: torch.Tensor, b: torch.Tensor, x: torch.Tensor, activation: str) -> torch.Tensor:
    """Natural log of sqrt(det g) for d = 2: O(n) per point, accurate to ~1e-12 relative at any condition number.

    First ``det g = g11 g22 - g12^2`` from the three entries of ``g`` (one GEMM of the squared slopes with
    ``[w1^2, w1 w2, w2^2] / n``, in cache-sized chunks of points). Its relative round-off is about
    ``eps * g11 g22 / det g``, so where ``det g < 1e-4 g11 g22`` (an ill-conditioned metric) the point is
    recomputed as ``|u|^2 |v_perp|^2`` from the Jacobian columns ``u, v``, with ``v_perp`` formed by
    Gram-Schmidt with one re-orthogonalisation (relative error ``eps * cond(J)``, no cancellation).
    """
    n = W.shape[0]
    M = torch.stack([W[:, 0].square(), W[:, 0] * W[:, 1], W[:, 1].square()], -1) / n  # (n, 3)
    step = max(1, _CHUNK_ELEMENTS // (2 * n))  # two (chunk, n) temporaries: about 2 MiB, cache-resident
    g = torch.cat([_squared_slopes_(activation, preactivations(W, b, xc)) @ M for xc in x.split(step)])  # (B, 3)
    diag = g[:, 0] * g[:, 2]
    det = diag - g[:, 1].square()
    out = 0.5 * torch.log(det.clamp_min(0))
    bad = ~(det >= 1e-4 * diag) | (diag == 0)  # ill-conditioned, degenerate, or slopes^2 underflowed
    if bool(bad.any()):
        _, dphi = _act.derivatives(activation, preactivations(W, b, x[bad]), order=1)
        J = dphi.unsqueeze(-1) * W  # (B', n, 2); the 1/sqrt(n) is added back below
        scale = J.abs().amax((-1, -2))
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))
        J = J / scale[:, None, None]  # entries in [-1, 1]: no underflow in the squares below
        u, v = J[..., 0], J[..., 1]
        uu = u.square().sum(-1)
        safe = torch.where(uu > 0, uu, torch.ones_like(uu)).unsqueeze(-1)
        for _ in range(2):  # Gram-Schmidt with re-orthogonalisation
            v = v - ((u * v).sum(-1, keepdim=True) / safe) * u
        det_j = uu * v.square().sum(-1)  # = det(J^T J) = s_max^2 s_min^2
        # the numerical-rank rule of paperlib.geometry: s_min <= max(n, d) eps s_max counts as rank deficient
        frob = J.square().sum((-1, -2))  # = s_max^2 + s_min^2
        s_max2 = 0.5 * (frob + (frob.square() - 4 * det_j).clamp_min(0).sqrt())
        rank2 = det_j > (max(n, 2) * torch.finfo(J.dtype).eps) ** 2 * s_max2.square()
        det_j = torch.where(rank2, det_j, torch.zeros_like(det_j))
        out[bad] = 0.5 * torch.log(det_j) + 2 * torch.log(scale) - math.log(n)
    return out


def log_volume_element(
    W: torch.Tensor,
    b: torch.Tensor,
    x: torch.Tensor,
    activation: str,
    *,
    k: int | None = None,
    base: float = 10,
    chunk_size: int | None = None,
    dtype: torch.dtype | None = torch.float64,
    device: str | torch.device | None = "auto",
) -> torch.Tensor:
    r"""Closed-form :math:`\log_b \sqrt{\det g}` (or the top-``k`` pseudo-determinant) of a shallow map.

    Three routes, none using automatic differentiation:

    - ``d = 2``, ``k = None`` (planar inputs), :math:`O(n)` per point: :math:`\det g = g_{11}g_{22} - g_{12}^2`
      from one GEMM of the squared slopes (in cache-sized chunks of points); where that could cancel
      (:math:`\det g < 10^{-4} g_{11}g_{22}`) the point is recomputed as :math:`|u|^2|v_\perp|^2` from the
      Jacobian columns by Gram–Schmidt (see ``_log_volume_2d``). By Cauchy–Binet this is
      :math:`\frac{1}{2n^2}\sum_{j,k}\phi'(z_j)^2\phi'(z_k)^2 (w_{j1}w_{k2}-w_{j2}w_{k1})^2`.
    - any ``d <= n``, ``k = None``, :math:`O(n d^2)` per point: one Householder QR :math:`J = QR` of the
      closed-form Jacobian with its rows sorted by decreasing norm, and
      :math:`\log_b\sqrt{\det g} = \sum_{i=1}^d \log_b |R_{ii}|`. Cheaper than an SVD, and it keeps relative
      accuracy when the slopes or the weight columns span many orders of magnitude (e.g. the weights of an MNIST
      network on always-blank pixels); the sigmoid's slope is evaluated in log space, so it never rounds to 0.
    - ``k`` given: the sum of the logs of the top ``k`` singular values (see :func:`spectrum`); where ``k``
      exceeds the numerical rank of ``J`` the result is ``-inf`` with one
      :class:`paperlib.geometry.RankDeficiencyWarning` per call naming the rank found.

    ``n < d`` (with ``k = None``) or exactly vanishing slopes (all ReLU units inactive) give ``-inf``, never NaN;
    pass ``k`` for a pseudo-determinant.

    Args:
        W: ``(n, d)``; b: ``(n,)``; x: ``(B, d)``; activation: a name; k: ``None`` or ``1..min(n, d)``.
        base: logarithm base.
        chunk_size: points per batched factorisation (default about :math:`2^{22}/(nd)`).
        dtype, device: computation dtype (float64 by default) and device (``"auto"``: CUDA when present).

    Returns:
        ``(B,)`` tensor.

    Example:
        >>> W, b = random_network(d=2, n=5, seed=0)
        >>> x = torch.tensor([[0.5, -1.0], [2.0, 0.0]])
        >>> lv = log_volume_element(W, b, x, "tanh")  # log10 sqrt(det g)
        >>> tuple(lv.shape), torch.allclose(lv, 0.5 * torch.logdet(metric(W, b, x, "tanh")) / math.log(10))
        ((2,), True)
    """
    base = check_base(base)
    W, b, x = _check_params(W, b, x, activation, dtype, device)
    n, d = W.shape
    chunk_size = check_chunk_size(chunk_size)
    k = check_int(k, "k", min=1, max=min(n, d), none_ok=True)
    if k is None and d == 2:
        return _log_volume_2d(W, b, x, activation) / math.log(base)
    if k is None and n >= d:
        logs = [torch.log(R.diagonal(dim1=-2, dim2=-1).abs()).sum(-1)
                for R in _triangular_factors(W, b, x, activation, chunk_size)]
        return torch.cat(logs) / math.log(base)
    return log_volume(spectrum(W, b, x, activation, chunk_size=chunk_size, dtype=None, device=None), d, k, base)


# ---------------------------------------------------------------------------------------------------------------
# Curvature: Ricci scalar of a shallow map
# ---------------------------------------------------------------------------------------------------------------

__all__ += ["ricci_scalar"]

ShallowCurvatureMethod = Literal["tensor", "gauss", "closed_form_2d", "triple_sum"]

#: default chunks (points) keep ``chunk * n`` (tensor, closed form), ``chunk * n * d^2`` (gauss) and
#: ``chunk * n^3`` (triple sum) below these: cache-sized work is much faster on CPU than one huge batch.
_CHUNK_ELEMENTS = 1 << 18
_GAUSS_CHUNK_ELEMENTS = 1 << 20
_TRIPLE_SUM_ELEMENTS = 1 << 22


def _inverse_cholesky(g: torch.Tensor, bad: torch.Tensor) -> torch.Tensor:
    """``L^{-1}`` with ``g = L L^T`` (identity substituted at ``bad`` points); closed form for ``d = 2``."""
    d = g.shape[-1]
    eye = torch.eye(d, dtype=g.dtype, device=g.device).expand_as(g)
    g = torch.where(bad[:, None, None], eye, g)
    if d == 2:
        l11 = g[:, 0, 0].sqrt()
        l21 = g[:, 1, 0] / l11
        l22 = (g[:, 1, 1] - l21.square()).clamp_min(torch.finfo(g.dtype).tiny).sqrt()
        zero = torch.zeros_like(l11)
        return torch.stack([torch.stack([1 / l11, zero], -1),
                            torch.stack([-l21 / (l11 * l22), 1 / l22], -1)], -2)
    L, info = torch.linalg.cholesky_ex(g)
    L = torch.where((info != 0)[:, None, None], eye, L)  # only at points flagged degenerate below round-off
    return torch.linalg.solve_triangular(L, eye, upper=False)


def _tensor_kernel(W2, W3, d1, d2, n, d, rtol):
    r"""Tensor formula on a chunk, in an orthonormal frame: :math:`R = -2\sum_\lambda \sigma_2(\hat T_\lambda)`."""
    c = d1 * d2 / n
    g = ((d1 * d1 / n) @ W2).view(-1, d, d)
    T = (c @ W3).view(-1, d, d, d)
    bad = degenerate_points(g, rtol)
    flat = (c == 0).all(1)
    Li = _inverse_cholesky(g, bad)
    # hat T_{ijk} = Li_{ia} Li_{jm} Li_{kn} T_{amn}: components of T in an orthonormal frame of g
    Th = torch.einsum("bia,bamn->bimn", Li, T)
    Th = torch.einsum("bjm,bimn->bijn", Li, Th)
    Th = torch.einsum("bkn,bijn->bijk", Li, Th)
    iu, ju = torch.triu_indices(d, d, offset=1, device=Th.device)
    diag = Th.diagonal(dim1=-2, dim2=-1)  # (B, d, d): hat T_{l m m}
    # sigma_2 of each symmetric slice hat T_{l..}: sum of its 2x2 principal minors (no cancellation of squares)
    sigma2 = (diag[..., iu] * diag[..., ju] - Th[..., iu, ju].square()).sum(-1)
    return -2 * sigma2.sum(-1), flat, bad


def _gauss_kernel(W, d1, d2, n, rtol):
    r"""Gauss equation with the closed-form :math:`J_{j\mu} = \phi'_j w_{j\mu}/\sqrt n`,
    :math:`H_{j\mu\nu} = \phi''_j w_{j\mu} w_{j\nu}/\sqrt n` (see :func:`paperlib.geometry.ricci_scalar`)."""
    s = 1.0 / math.sqrt(n)
    J = (d1 * s).unsqueeze(-1) * W
    H = (d2 * s)[:, :, None, None] * (W.unsqueeze(-1) * W.unsqueeze(-2))
    _, G, _, A, bad, _ = gauss_parts(J, H, rtol)
    flat = (d1 * d2 == 0).all(1)
    return gauss_scalar(A, G), flat, bad


def _det2(g: torch.Tensor) -> torch.Tensor:
    return g[:, 0, 0] * g[:, 1, 1] - g[:, 0, 1] * g[:, 1, 0]


def _closed_form_2d_kernel(W, W2, M2, d1, d2, n, rtol):
    r"""d = 2 closed form on a chunk, contracted to :math:`O(n^2)` per point (see :func:`ricci_scalar`)."""
    a, C = d1 * d1, d1 * d2
    g = ((a / n) @ W2).view(-1, 2, 2)
    bad = degenerate_points(g, rtol)
    flat = (C == 0).all(1)
    g = torch.where(bad[:, None, None], torch.eye(2, dtype=g.dtype, device=g.device).expand_as(g), g)
    U = C.unsqueeze(-1) * W  # (B, n, 2): C_j w_{ja}
    B = U.shape[0]
    MU = (M2 @ U.transpose(0, 1).reshape(n, 2 * B)).reshape(n, B, 2).transpose(0, 1)  # one GEMM
    Y = torch.einsum("bja,bjc->bac", U, MU)  # sum_{jk} C_j C_k w_{ja} m_{jk}^2 w_{kc}
    adj_contr = g[:, 1, 1] * Y[:, 0, 0] + g[:, 0, 0] * Y[:, 1, 1] - g[:, 0, 1] * Y[:, 1, 0] - g[:, 1, 0] * Y[:, 0, 1]
    return -adj_contr / (n * n * _det2(g).square()), flat, bad


def _triple_sum_kernel(m, M2, W2, d1, d2, n, rtol):
    r"""Literal :math:`\sum_{i,j,k}` of the d = 2 closed form on a chunk: :math:`O(n^3)` per point.

    One ``einsum`` over ``i, j, k`` with all six factors (contracted left to right, as written), over blocks of
    ``i`` so that at most ``_TRIPLE_SUM_ELEMENTS`` products are held at once.
    """
    a, C = d1 * d1, d1 * d2
    g = ((a / n) @ W2).view(-1, 2, 2)
    bad = degenerate_points(g, rtol)
    flat = (C == 0).all(1)
    block = max(1, _TRIPLE_SUM_ELEMENTS // (a.shape[0] * n * n))
    S = torch.zeros(a.shape[0], dtype=a.dtype, device=a.device)
    for i0 in range(0, n, block):
        i = slice(i0, min(i0 + block, n))
        S = S + torch.einsum("bi,bj,bk,ij,ik,jk->b", a[:, i], C, C, m[i], m[i], M2)
    det = torch.where(bad, torch.ones_like(bad, dtype=g.dtype), _det2(g))
    return -S / (n**3 * det.square()), flat, bad


def ricci_scalar(
    W: torch.Tensor,
    b: torch.Tensor,
    x: torch.Tensor,
    activation: str,
    *,
    method: ShallowCurvatureMethod = "tensor",
    chunk_size: int | None = None,
    rtol: float | None = None,
    degenerate: Literal["raise", "nan"] = "raise",
    dtype: torch.dtype | None = torch.float64,
    device: str | torch.device | None = "auto",
) -> torch.Tensor:
    r"""Closed-form Ricci scalar of the shallow map :math:`\Phi_j(x) = \phi(w_j\cdot x + b_j)/\sqrt n`.

    Convention: a round sphere of radius r has :math:`R = +2/r^2` (d = 2: :math:`R = 2K`, K the Gaussian
    curvature), as in :func:`paperlib.geometry.ricci_scalar`, which every method matches.

    ``method="tensor"`` (default; any d, :math:`O(n d^3)` per point, no autodiff). With
    :math:`T_{\alpha\mu\nu} = \frac12\partial_\alpha g_{\mu\nu} = \frac1n\sum_j \phi'(z_j)\phi''(z_j)
    w_{j\alpha} w_{j\mu} w_{j\nu}` (totally symmetric),

    .. math::  R = -\big(g^{\mu\rho} g^{\nu\sigma} g^{\lambda\kappa}
               - g^{\mu\sigma} g^{\nu\rho} g^{\lambda\kappa}\big) T_{\lambda\mu\rho} T_{\kappa\nu\sigma}
               = T_{\lambda\mu\nu}T^{\lambda\mu\nu} - t_\lambda t^\lambda,
               \qquad t_\lambda = g^{\mu\rho}T_{\lambda\mu\rho}.

    This follows from the Gauss equation: each unit's Hessian :math:`\phi''_j w_j w_j^\top/\sqrt n` has rank
    one, so the :math:`\langle H, H\rangle` terms cancel and only the tangential part :math:`T = J^\top H`
    survives (sign and factor checked against autodiff and 50-digit arithmetic). It is evaluated in an
    orthonormal frame of :math:`g` (:math:`g = LL^\top`, :math:`\hat T = T(L^{-1}\cdot, L^{-1}\cdot,
    L^{-1}\cdot)`), where :math:`R = |\hat T|^2 - |\hat t|^2 = -2\sum_\lambda \sigma_2(\hat T_{\lambda\cdot\cdot})`
    (:math:`\sigma_2`: sum of the 2x2 principal minors), so the squared diagonal terms cancel exactly.
    Accuracy: ``T`` sums all units before the contraction, so some cancellation remains and grows as ``g``
    becomes ill-conditioned (saturated units, small ``n``). Measured against the Gauss route on random
    erf/sigmoid/tanh networks (d = 2, 3), relative to :math:`\max(|R|, \mathrm{median}|R|)`: about
    :math:`10^{-10}` for :math:`\operatorname{cond}(g) < 10^3`, :math:`10^{-8}` up to :math:`10^4`, up to
    :math:`10^{-5}` beyond -- ample for plots; use ``method="gauss"`` for round-off accuracy everywhere.

    ``method="gauss"`` (any d, :math:`O(n d^4)` per point; a few times slower than the tensor formula in
    d = 2): the Gauss equation of :func:`paperlib.geometry.ricci_scalar` with the closed-form Jacobian and the
    rank-one Hessians :math:`H_j = \phi''_j w_j w_j^\top/\sqrt n`: :math:`R = \sum_j[(\operatorname{tr}
    g^{-1}N_j)^2 - \operatorname{tr}(g^{-1}N_j g^{-1}N_j)]`, :math:`N = H - J g^{-1} J^\top H`. No
    cancellation between large terms: on random networks it agrees with 50-digit arithmetic to
    :math:`10^{-8}` or better up to :math:`\operatorname{cond}(g) \sim 10^7`; on the symmetric three-unit erf
    network of the book's Fig. D.1 the error measured :math:`2\cdot10^{-7}` at cond :math:`6\cdot10^7` and
    :math:`10^{-1}` at cond :math:`10^9` (where ``triple_sum`` still gave :math:`6\cdot10^{-8}`).

    ``method="closed_form_2d"`` (d = 2 only): the Cauchy–Binet form

    .. math::  R = -\frac{1}{n^3 (\det g)^2}\sum_{i,j,k} \phi_i'^2 (\phi_j'\phi_j'')(\phi_k'\phi_k'')
               m_{ij} m_{ik} m_{jk}^2, \qquad m_{jk} = w_{j1}w_{k2} - w_{j2}w_{k1},

    evaluated in :math:`O(n^2)` per point: :math:`\sum_i \phi_i'^2 m_{ij} m_{ik} = n\, w_j^\top
    \operatorname{adj}(g)\, w_k`, so :math:`R = -\frac{1}{n^2(\det g)^2}\sum_{a,c}\operatorname{adj}(g)_{ac}
    Y_{ac}` with :math:`Y = U^\top M U`, :math:`U_{ja} = \phi'_j\phi''_j w_{ja}`, :math:`M_{jk} = m_{jk}^2`
    (one GEMM per chunk). Rounding of ``g`` enters through :math:`\operatorname{adj}(g)`: about
    :math:`10^{-9}` or better relative to :math:`\max(|R|, \mathrm{median}|R|)` at
    :math:`\operatorname{cond}(g) \lesssim 10^2`, :math:`10^{-10}` typically.

    ``method="triple_sum"`` (d = 2 only): the same triple sum evaluated literally, one ``einsum`` over
    ``i, j, k`` with all six factors (:math:`O(n^3)` time per point, memory bounded by blocking ``i``), a
    reference for tests and benchmarks.

    ``n = 2`` in d = 2 gives :math:`R \equiv 0` (three hidden units are the fewest with curvature). ReLU and
    linear activations (:math:`\phi'' = 0`) give exact zeros, never NaN.

    Args:
        W: ``(n, d)`` input weights, ``n >= d`` (``ValueError`` naming ``W`` otherwise: the metric would be
            rank-deficient everywhere). b: ``(n,)`` biases. x: ``(B, d)`` points. activation: a name of
            :mod:`paperlib.activations`.
        method: ``"tensor"``, ``"gauss"``, ``"closed_form_2d"`` or ``"triple_sum"``.
        chunk_size: points per chunk (bounds memory); ``None``: automatic, cache-sized chunks (about
            ``2^18 / n`` points; ``2^20 / (n d^2)`` for ``"gauss"``; ``2^22 / n^3``, at least 1, for
            ``"triple_sum"``, which also splits ``i`` into blocks so that at most ``2^22`` products are held).
        rtol, degenerate: degenerate-metric policy, as in :func:`paperlib.geometry.ricci_scalar`: where
            :math:`\lambda_{\min}(g) \le \mathrm{rtol}\,\lambda_{\max}(g)` (default ``rtol = max(n, d) * eps``) and
            :math:`\phi''(z_j)\phi'(z_j) \ne 0` for some unit, ``"raise"`` (default) raises ``ValueError`` and
            ``"nan"`` returns NaN; where every :math:`\phi'_j\phi''_j = 0` the result is exactly 0.
        dtype, device: computation dtype (float64 by default) and device.

    Returns:
        ``(B,)`` tensor.

    Example:
        The closed form agrees with autodiff of the map (:func:`paperlib.geometry.ricci_scalar`):

        >>> from paperlib import geometry
        >>> W, b = random_network(d=2, n=5, seed=0)  # on the CPU, where feature_map computes
        >>> x = torch.tensor([[0.5, -1.0], [2.0, 0.0]])
        >>> R = geometry.ricci_scalar(feature_map(W, b, "tanh"), x, device="cpu")
        >>> tuple(R.shape), torch.allclose(ricci_scalar(W, b, x, "tanh", device="cpu"), R)
        ((2,), True)
    """
    check_choice(method, "method", ("tensor", "gauss", "closed_form_2d", "triple_sum"))
    check_policy(degenerate)
    rtol = check_rtol(rtol)
    chunk_size = check_chunk_size(chunk_size)
    W, b, x = _check_params(W, b, x, activation, dtype, device)
    n, d = W.shape
    if n < d:
        raise ValueError(
            f"W has n = {n} hidden units < d = {d} inputs: the metric has rank <= n < d everywhere, so the Ricci "
            "scalar is undefined"
        )
    if method in ("closed_form_2d", "triple_sum") and d != 2:
        raise ValueError(f"method={method!r} needs d = 2 inputs (W of shape (n, 2)); got W of shape {(n, d)}")
    rtol = max(n, d) * torch.finfo(W.dtype).eps if rtol is None else rtol
    W2 = torch.einsum("jm,jn->jmn", W, W).reshape(n, d * d)
    if method == "tensor":
        W3 = torch.einsum("ja,jm,jn->jamn", W, W, W).reshape(n, d**3)
        kernel = lambda d1, d2: _tensor_kernel(W2, W3, d1, d2, n, d, rtol)  # noqa: E731
        chunk_size = chunk_size or max(16, _CHUNK_ELEMENTS // n)
    elif method == "gauss":
        kernel = lambda d1, d2: _gauss_kernel(W, d1, d2, n, rtol)  # noqa: E731
        chunk_size = chunk_size or max(16, _GAUSS_CHUNK_ELEMENTS // (n * d * d))
    else:
        m = torch.outer(W[:, 0], W[:, 1]) - torch.outer(W[:, 1], W[:, 0])
        M2 = m.square()
        if method == "closed_form_2d":
            kernel = lambda d1, d2: _closed_form_2d_kernel(W, W2, M2, d1, d2, n, rtol)  # noqa: E731
            chunk_size = chunk_size or max(16, _CHUNK_ELEMENTS // n)
        else:
            kernel = lambda d1, d2: _triple_sum_kernel(m, M2, W2, d1, d2, n, rtol)  # noqa: E731
            chunk_size = chunk_size or max(1, _TRIPLE_SUM_ELEMENTS // (n**3))
    outs, flats, bads = [], [], []
    for sl in chunk_slices(x.shape[0], chunk_size):
        _, d1, d2 = _act.derivatives(activation, preactivations(W, b, x[sl]), order=2)
        out, flat, bad = kernel(d1, d2)
        outs.append(out), flats.append(flat), bads.append(bad)
    return apply_policy(torch.cat(outs), torch.cat(flats), torch.cat(bads), degenerate, "Ricci scalar", x)
