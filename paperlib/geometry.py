r"""Autodiff geometry of any batched feature map.

A feature map :math:`f: \mathbb{R}^d \to \mathbb{R}^n` pulls the flat metric of feature space back to input
space:

.. math::  g_{\mu\nu}(x) = \sum_i \partial_\mu f_i(x)\, \partial_\nu f_i(x) = (J^\top J)_{\mu\nu},
           \qquad dV = \sqrt{\det g}\, d^d x .

Feature maps are batched callables ``f: (B, *in_shape) -> (B, n)`` (an ``nn.Module`` works as it is; put it in
``eval()`` mode first if it has batch norm or dropout). Inputs ``x`` have shape ``(B, *in_shape)``;
``d = prod(in_shape)``. Jacobians are computed with :func:`torch.func.jvp` (forward mode, when ``d <= n``) or
:func:`torch.func.vjp` (reverse mode, when ``d > n``) over the whole batch, batched over directions with
:func:`torch.func.vmap`; ``chunk_size`` bounds how many points are differentiated at once. Geometry is computed
in float64 by default: an ``nn.Module``'s parameters are cast for the computation only (the module itself is not
modified). A plain callable must accept inputs of the requested ``dtype``. ``device="auto"`` uses CUDA when it
is present. ``compile=True`` runs the derivatives through :func:`torch.compile` (worth it when a map is measured
many times).

Volume elements and spectra come from the singular values of ``J``; in float64 with ``d <= n`` they are read off the
eigenvalues of the ``d x d`` metric wherever that loses no digits, and from a QR + SVD of ``J`` elsewhere (see
:func:`spectrum`).

All logarithms are base 10 unless ``base=`` says otherwise.
"""

from __future__ import annotations

import functools
import math
from typing import Callable, Literal

import torch
from torch import nn
from torch.func import functional_call, jacfwd, jacrev, jvp, vjp, vmap

from ._checks import check_base, check_dtype, check_input, check_positive_int, resolve_device

FeatureMap = Callable[[torch.Tensor], torch.Tensor]
Mode = Literal["auto", "forward", "reverse"]

#: numbers held by the vmapped directions of one chunk when ``chunk_size=None`` (2**24 float64 = 128 MiB)
_AUTO_CHUNK_NUMBERS = 1 << 24
#: the same with ``compile=True``: cache-sized chunks (2**18 float64 = 2 MiB), which fused code runs fastest
_COMPILED_CHUNK_NUMBERS = 1 << 18

__all__ = [
    "jacobian",
    "metric",
    "singular_values",
    "spectrum",
    "log_volume_element",
    "log_volume_from_singular_values",
]


def _as_function(f: FeatureMap, dtype: torch.dtype, device: torch.device):
    """``(f, state)``: a callable and the tensors it is evaluated with, cast to ``dtype`` on ``device``.

    For an ``nn.Module``, ``state`` holds its parameters and buffers (the module itself is not modified) and the
    map is evaluated by :func:`torch.func.functional_call`; for a plain callable ``state`` is ``None``.
    """
    if isinstance(f, nn.Module):
        state = {k: (v.to(dtype=dtype, device=device) if v.is_floating_point() else v.to(device))
                 for k, v in [*f.named_parameters(), *f.named_buffers()]}
        return f, state
    if not callable(f):
        raise TypeError(f"f must be a callable feature map (B, *in_shape) -> (B, n); got {type(f).__name__}")
    return f, None


def _call(f: FeatureMap, state: dict | None, inp: torch.Tensor) -> torch.Tensor:
    return f(inp) if state is None else functional_call(f, state, (inp,))


def _per_point(fn: FeatureMap, in_shape: torch.Size) -> Callable[[torch.Tensor], torch.Tensor]:
    """``(d,) -> (n,)``: evaluate the batched map on one flattened point."""

    def single(xi: torch.Tensor) -> torch.Tensor:
        return fn(xi.reshape(1, *in_shape)).reshape(-1)

    return single


def _rows(fn: FeatureMap, in_shape: torch.Size) -> Callable[[torch.Tensor], torch.Tensor]:
    """``(B, d) -> (B, n)``: the batched map on flattened inputs and outputs."""

    def rows(flat: torch.Tensor) -> torch.Tensor:
        return fn(flat.reshape(flat.shape[0], *in_shape)).reshape(flat.shape[0], -1)

    return rows


def _derivative_stack(f, state, in_shape, flat: torch.Tensor, forward: bool, materialise: bool) -> torch.Tensor:
    r"""All directional derivatives of one chunk, direction-major.

    Forward: the ``d`` JVPs :math:`J e_\mu` of the whole batch, ``(d, B, n)``. Reverse: the ``n`` VJPs
    :math:`e_i^\top J`, ``(n, B, d)``. The basis is a stride-0 view unless ``materialise`` (``torch.compile``
    cannot trace an expanded tangent).
    """
    rows = _rows(functools.partial(_call, f, state), in_shape)
    batch, d = flat.shape
    if forward:
        basis = torch.eye(d, dtype=flat.dtype, device=flat.device).unsqueeze(1)
        basis = basis.repeat(1, batch, 1) if materialise else basis.expand(d, batch, d)
        return vmap(lambda v: jvp(rows, (flat,), (v,))[1])(basis)
    out, pullback = vjp(rows, flat)
    n = out.shape[1]
    basis = torch.eye(n, dtype=out.dtype, device=out.device).unsqueeze(1)
    basis = basis.repeat(1, batch, 1) if materialise else basis.expand(n, batch, n)
    return vmap(lambda u: pullback(u)[0])(basis)


def _jacobian_kernel(f, state, in_shape, flat, forward: bool, materialise: bool = False) -> torch.Tensor:
    """Jacobians of one chunk, ``(B, n, d)``."""
    stack = _derivative_stack(f, state, in_shape, flat, forward, materialise)
    return stack.permute(1, 2, 0) if forward else stack.permute(1, 0, 2)


def _metric_kernel(f, state, in_shape, flat, forward: bool, materialise: bool = False) -> torch.Tensor:
    """Metrics of one chunk, ``(B, d, d)``, contracted straight from the direction-major derivatives."""
    stack = _derivative_stack(f, state, in_shape, flat, forward, materialise)
    if forward:
        return torch.einsum("mbi,nbi->bmn", stack, stack)
    return torch.einsum("ibm,ibn->bmn", stack, stack)


_KERNELS = {"jacobian": _jacobian_kernel, "metric": _metric_kernel}
_COMPILED: dict[str, Callable] = {}


def _kernel(name: str, compile: bool) -> Callable:
    """The per-chunk kernel ``name``, or its ``torch.compile``-d version (created once per process; torch
    compiles it again only for a new map or a new chunk shape)."""
    if not isinstance(compile, bool):
        raise TypeError(f"compile must be True or False; got {compile!r}")
    if not compile:
        return _KERNELS[name]
    if name not in _COMPILED:  # static shapes: make_dual cannot trace symbolic sizes; chunks are padded instead
        _COMPILED[name] = functools.partial(torch.compile(_KERNELS[name], dynamic=False), materialise=True)
    return _COMPILED[name]


def _chunked(name, f, x, *, chunk_size=None, mode="auto", dtype=torch.float64, device="auto", compile=False):
    """Run kernel ``name`` over ``x`` chunk by chunk (set-up and validation shared by :func:`jacobian` and
    :func:`metric`).

    Eager chunks are as large as the memory bound allows (each call has a fixed cost of about a millisecond).
    Compiled chunks are cache-sized (about ``2**18`` numbers of directional derivatives), a power of two when
    the batch is smaller, and the last one is padded with copies of the last point so that a map is compiled for
    one chunk shape only.
    """
    x = check_input(x, "x", dtype=check_dtype(dtype), device=resolve_device(device))
    chunk_size = check_positive_int(chunk_size, "chunk_size")
    if mode not in ("auto", "forward", "reverse"):
        raise ValueError(f"mode must be 'auto', 'forward' or 'reverse'; got {mode!r}")
    kernel = _kernel(name, compile)
    fn, state = _as_function(f, x.dtype, x.device)
    in_shape = x.shape[1:]
    flat = x.reshape(x.shape[0], -1)
    batch, d = flat.shape
    n = _output_size(fn, state, x[:1])
    forward = d <= n if mode == "auto" else mode == "forward"
    numbers = (d if forward else n) * max(n, d)  # held by the directional derivatives of one point
    if not compile:
        chunk_size = chunk_size or max(1, _AUTO_CHUNK_NUMBERS // numbers)
        return torch.cat([kernel(fn, state, in_shape, chunk, forward) for chunk in flat.split(chunk_size)])
    chunk_size = chunk_size or min(max(1, _COMPILED_CHUNK_NUMBERS // numbers), 1 << (batch - 1).bit_length())
    pad = -batch % chunk_size
    if pad:
        flat = torch.cat([flat, flat[-1:].expand(pad, d)])
    # clone: torch.compile cannot make a dual tensor of a view with a storage offset
    out = torch.cat([kernel(fn, state, in_shape, chunk.clone(), forward) for chunk in flat.split(chunk_size)])
    return out[:batch]


def jacobian(
    f: FeatureMap,
    x: torch.Tensor,
    *,
    chunk_size: int | None = None,
    mode: Mode = "auto",
    dtype: torch.dtype | None = torch.float64,
    device: str | torch.device | None = "auto",
    compile: bool = False,
) -> torch.Tensor:
    r"""Jacobian :math:`J_{i\mu}(x) = \partial f_i / \partial x_\mu` at every point of a batch.

    The map must treat the points of a batch independently (true of any network in ``eval()`` mode). Then one
    forward-mode JVP of the whole batch along input direction :math:`e_\mu` gives column :math:`\mu` of every
    point's Jacobian, and one reverse-mode VJP with cotangent :math:`e_i` gives row :math:`i`; the ``d`` JVPs
    (or ``n`` VJPs) are batched with :func:`torch.func.vmap`.

    Args:
        f: batched feature map ``(B, *in_shape) -> (B, n)`` (outputs of any shape are flattened to ``n``).
        x: inputs, shape ``(B, *in_shape)``; ``d = prod(in_shape)``.
        chunk_size: differentiate at most this many points at once. ``None`` picks it so that the ``k``
            vmapped directions (``k = d`` forward, ``n`` reverse) hold at most about ``2**24`` numbers,
            ``chunk * k * max(n, d)``; the map's own activations scale with it too.
        mode: ``"forward"`` (``d`` JVPs), ``"reverse"`` (``n`` VJPs), or ``"auto"``: forward when ``d <= n``.
        dtype: computation dtype (default float64); ``None`` keeps ``x``'s dtype.
        device: ``"auto"`` (CUDA when present), a device, or ``None`` to stay on ``x``'s device.
        compile: run the batched derivatives through :func:`torch.compile`, which fuses the map's forward pass
            with its JVPs and works in cache-sized chunks (``benchmarks/bench_volume.py``: about 3x faster on a
            2-core CPU). The first call for a map and chunk shape compiles (seconds; on CPU it needs a C++
            compiler); later calls reuse the compiled code, also for new weights of the same architecture.
            Past ``torch._dynamo.config.recompile_limit`` (8) variants torch falls back to eager mode.

    Returns:
        ``(B, n, d)`` tensor.
    """
    return _chunked("jacobian", f, x, chunk_size=chunk_size, mode=mode, dtype=dtype, device=device,
                    compile=compile)


def metric(f: FeatureMap, x: torch.Tensor, **kwargs) -> torch.Tensor:
    r"""Pullback metric :math:`g = J^\top J`, :math:`g_{\mu\nu} = \sum_i \partial_\mu f_i\,\partial_\nu f_i`.

    Contracted chunk by chunk from the directional derivatives, so the full ``(B, n, d)`` Jacobian is never
    stored.

    Args:
        f, x: as in :func:`jacobian`; ``kwargs`` (``chunk_size``, ``mode``, ``dtype``, ``device``, ``compile``)
            are passed on.

    Returns:
        ``(B, d, d)`` symmetric positive semi-definite tensor.
    """
    return _chunked("metric", f, x, **kwargs)

#: the metric's eigenvalues are used directly where :math:`\lambda_{min} \ge` this times :math:`\lambda_{max}`
GRAM_RTOL = 1e-4


def singular_values(J: torch.Tensor) -> torch.Tensor:
    r"""Singular values of a batch of matrices ``(B, n, d)``, descending: ``(B, min(n, d))``.

    For tall (or wide) matrices a Householder QR first reduces ``J`` to its ``min(n, d)``-square triangular
    factor ``R`` (same singular values, backward stable), which is much cheaper than an SVD of ``J`` itself.
    """
    n, d = J.shape[-2:]
    if n >= 2 * d:
        J = torch.linalg.qr(J, mode="r")[1]
    elif d >= 2 * n:
        J = torch.linalg.qr(J.mT, mode="r")[1]
    return torch.linalg.svdvals(J)


def spectrum(f: FeatureMap, x: torch.Tensor, **kwargs) -> torch.Tensor:
    r"""Square roots of the eigenvalues of :math:`g`, i.e. the singular values :math:`s_i` of :math:`J`.

    :math:`\lambda_i(g) = s_i(J)^2`. In float64 with ``d <= n`` the metric is formed first (:func:`metric`,
    never storing ``J``) and :math:`s_i = \sqrt{\lambda_i(g)}` is taken from its eigenvalues wherever that is
    accurate: they come out to about :math:`n\epsilon\,\lambda_{max}` in absolute terms, i.e. :math:`s_i` to a
    relative :math:`\tfrac12 n\epsilon\,\lambda_{max}/\lambda_i`, so they are used only at points with
    :math:`\lambda_{min} \ge` ``GRAM_RTOL`` :math:`\lambda_{max}` (:math:`10^{-4}`: relative error below about
    :math:`n \cdot 10^{-12}`). At the other (ill-conditioned or rank-deficient) points, whenever ``d > n``, and
    in lower precision (where :math:`n\epsilon/10^{-4}` is not small), the Jacobian is computed and its singular
    values are taken from a Householder QR then an SVD (:func:`singular_values`; absolute error
    :math:`\epsilon\, s_{max}`): squaring the condition number never costs digits that matter.

    Args:
        f, x: as in :func:`jacobian`; ``kwargs`` (``chunk_size``, ``mode``, ``dtype``, ``device``, ``compile``)
            are passed on.

    Returns:
        ``(B, min(n, d))`` tensor, descending along the last axis.
    """
    dtype, device = check_dtype(kwargs.pop("dtype", torch.float64)), resolve_device(kwargs.pop("device", "auto"))
    x = check_input(x, "x", dtype=dtype, device=device)
    kwargs.update(dtype=None, device=None)
    d, n = math.prod(x.shape[1:]), _output_size(*_as_function(f, x.dtype, x.device), x[:1])
    if x.dtype != torch.float64 or d > n:
        return singular_values(jacobian(f, x, **kwargs))
    g = metric(f, x, **kwargs)
    lam = _eigenvalues_descending(g)
    s = lam.clamp_min(0).sqrt()
    ill = ~(lam[:, -1] >= GRAM_RTOL * lam[:, 0])  # also NaN, and negative round-off
    if bool(ill.any()):
        kwargs["compile"] = False  # few points: not worth a compilation for their shape
        s[ill] = singular_values(jacobian(f, x[ill], **kwargs))
    return s


def _eigenvalues_descending(g: torch.Tensor) -> torch.Tensor:
    r"""Eigenvalues of symmetric PSD ``(B, d, d)`` matrices, descending. For ``d = 2`` in closed form,
    :math:`\lambda_1 = m + \sqrt{((a - c)/2)^2 + b^2}`, :math:`m = (a + c)/2` (no cancellation) and
    :math:`\lambda_2 = (ac - b^2)/\lambda_1`, whose absolute error :math:`\sim\epsilon\lambda_1` matches a
    symmetric eigensolver's; otherwise LAPACK via :func:`torch.linalg.eigvalsh`."""
    if g.shape[-1] != 2:
        return torch.linalg.eigvalsh(g).flip(-1)
    a, b, c = g[:, 0, 0], g[:, 0, 1], g[:, 1, 1]
    big = 0.5 * (a + c) + torch.hypot(0.5 * (a - c), b)
    small = (a * c - b * b) / torch.where(big > 0, big, torch.ones_like(big))
    return torch.stack([big, small], -1)


def _output_size(fn: FeatureMap, state: dict | None, sample: torch.Tensor) -> int:
    """``n``: the number of features of the map at one sample ``(1, *in_shape)``."""
    with torch.no_grad():
        return _call(fn, state, sample).reshape(1, -1).shape[1]


def log_volume_from_singular_values(
    s: torch.Tensor, *, d: int, k: int | None = None, base: float = 10
) -> torch.Tensor:
    r"""Log volume element from the singular values of ``J`` (shape ``(B, m)``, descending, ``m = min(n, d)``).

    .. math::  \log_b \sqrt{\textstyle\prod_{i \le k} \lambda_i(g)} = \sum_{i \le k} \log_b s_i .

    ``k = None`` is the full determinant (``k = d``): it is :math:`-\infty` when ``J`` has rank below ``d``
    (in particular whenever ``n < d``). Singular values below the numerical-rank threshold
    ``max(n, d) * eps * s_max`` count as exact zeros, so a rank-deficient metric gives ``-inf``, never a large
    negative number from round-off, and never NaN.

    Returns:
        ``(B,)`` tensor.
    """
    base = check_base(base)
    m = s.shape[-1]
    if k is None:
        k_eff = d
    else:
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= m:
            raise ValueError(f"k must be an integer in 1..min(n, d) = 1..{m}; got {k!r}")
        k_eff = k
    eps = torch.finfo(s.dtype).eps
    n_rows = max(m, d)
    s_max = s[..., :1]
    s = torch.where(s > n_rows * eps * s_max, s, torch.zeros_like(s))
    logs = torch.log(s[..., : min(k_eff, m)]).sum(-1)
    if k_eff > m:  # full determinant requested but rank <= n < d
        logs = torch.full_like(logs, -math.inf)
    return logs / math.log(base)


def log_volume_element(
    f: FeatureMap,
    x: torch.Tensor,
    *,
    k: int | None = None,
    base: float = 10,
    **kwargs,
) -> torch.Tensor:
    r"""Log volume element :math:`\log_b \sqrt{\det g(x)}`, or the top-``k`` pseudo-determinant.

    Computed from the singular values :math:`s_i` of ``J`` (never from :math:`\det g`):

    .. math::  \log_b \sqrt{\det g} = \sum_{i=1}^{d} \log_b s_i, \qquad
               \log_b \sqrt{\textstyle\prod_{i \le k}\lambda_i(g)} = \sum_{i=1}^{k} \log_b s_i .

    Args:
        f, x: as in :func:`jacobian`; ``kwargs`` (``chunk_size``, ``mode``, ``dtype``, ``device``) are passed on.
        k: ``None`` for the full determinant; an integer in ``1..min(n, d)`` for the product of the top ``k``
            eigenvalues. A full metric of rank below ``d`` (e.g. any map with ``n < d``, or a ReLU map whose
            units are all inactive) has volume element 0 and gives ``-inf``: pass ``k`` to measure the volume
            of the subspace the map does not collapse.
        base: logarithm base (default 10).

    Returns:
        ``(B,)`` tensor.
    """
    if k is not None and (isinstance(k, bool) or not isinstance(k, int)):
        raise ValueError(f"k must be None or a positive integer; got {k!r}")
    s = spectrum(f, x, **kwargs)
    d = math.prod(x.shape[1:])
    return log_volume_from_singular_values(s, d=d, k=k, base=base)


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

__all__ += [
    "MAX_CURVATURE_DIM",
    "christoffel_symbols",
    "riemann_tensor",
    "ricci_tensor",
    "ricci_scalar",
    "christoffel_symbols_of_metric",
    "riemann_tensor_of_metric",
    "ricci_tensor_of_metric",
    "ricci_scalar_of_metric",
]

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


def _check_curvature_dim(d: int, argname: str) -> None:
    if d > MAX_CURVATURE_DIM:
        raise ValueError(
            f"{argname} has d = {d} input dimensions; curvature by automatic differentiation is limited to "
            f"d <= MAX_CURVATURE_DIM = {MAX_CURVATURE_DIM} (its cost grows like d^4). For one-hidden-layer maps "
            "use the closed form paperlib.shallow.ricci_scalar (O(n d^3) per point); for the infinite-width "
            "average metric use paperlib.infinite.ricci_scalar"
        )


def _check_policy(degenerate: str, method: str | None = None) -> None:
    if degenerate not in ("raise", "nan"):
        raise ValueError(f"degenerate must be 'raise' or 'nan'; got {degenerate!r}")
    if method is not None and method not in ("gauss", "christoffel"):
        raise ValueError(f"method must be 'gauss' or 'christoffel'; got {method!r}")


def _check_rtol(rtol: float | None) -> float | None:
    if rtol is None:
        return None
    if isinstance(rtol, bool) or not isinstance(rtol, (int, float)) or not 0 <= rtol < 1:
        raise ValueError(f"rtol must be None or a number in [0, 1); got {rtol!r}")
    return float(rtol)


def _degenerate_points(g: torch.Tensor, rtol: float) -> torch.Tensor:
    r"""``(B,)`` bool: :math:`\lambda_{\min}(g) \le \mathrm{rtol}\,\lambda_{\max}(g)` (or non-finite ``g``).

    ``g``: ``(B, d, d)`` symmetric. Closed form for ``d <= 2`` (fast), ``eigvalsh`` otherwise.
    """
    d = g.shape[-1]
    finite = torch.isfinite(g).flatten(1).all(1)
    g = torch.where(finite[:, None, None], g, torch.zeros_like(g))
    if d == 1:
        lam_min = lam_max = g[:, 0, 0]
    elif d == 2:
        half_tr = 0.5 * (g[:, 0, 0] + g[:, 1, 1])
        det = g[:, 0, 0] * g[:, 1, 1] - g[:, 0, 1] * g[:, 1, 0]
        lam_max = half_tr + torch.sqrt((half_tr.square() - det).clamp_min(0))
        lam_min = det / torch.where(lam_max > 0, lam_max, torch.ones_like(lam_max))
    else:
        lam = torch.linalg.eigvalsh(g)
        lam_min, lam_max = lam[:, 0], lam[:, -1]
    return ~finite | ~(lam_max > 0) | (lam_min <= rtol * lam_max)


def _safe_inverse(g: torch.Tensor, bad: torch.Tensor) -> torch.Tensor:
    """Inverse of ``g: (B, d, d)``, with the identity substituted at ``bad`` points (their results are masked)."""
    eye = torch.eye(g.shape[-1], dtype=g.dtype, device=g.device).expand_as(g)
    g = torch.where(bad[:, None, None], eye, g)
    if g.shape[-1] == 2:  # explicit 2x2 inverse: much faster than a batched LAPACK call for tiny matrices
        det = g[:, 0, 0] * g[:, 1, 1] - g[:, 0, 1] * g[:, 1, 0]
        adj = torch.stack([torch.stack([g[:, 1, 1], -g[:, 0, 1]], -1),
                           torch.stack([-g[:, 1, 0], g[:, 0, 0]], -1)], -2)
        return adj / det[:, None, None]
    return torch.linalg.inv(g)


def _apply_policy(
    out: torch.Tensor, flat: torch.Tensor, bad: torch.Tensor, degenerate: str, what: str, x: torch.Tensor
) -> torch.Tensor:
    """Exact zeros at ``flat`` points; ``degenerate`` policy at ``bad & ~flat`` points (see module notes)."""
    shape = (-1,) + (1,) * (out.ndim - 1)
    out = torch.where(flat.reshape(shape), torch.zeros_like(out), out)
    undefined = bad & ~flat
    if bool(undefined.any()):
        idx = torch.nonzero(undefined).flatten()
        if degenerate == "raise":
            first = int(idx[0])
            raise ValueError(
                f"{what} is undefined at {idx.numel()} of {undefined.numel()} points of x (first: x[{first}] = "
                f"{x[first].tolist()}): the metric is numerically rank-deficient there (lambda_min <= "
                "rtol * lambda_max, e.g. saturated or inactive units). Pass degenerate='nan' to get NaN at those "
                "points instead (e.g. to mask them in a plot)"
            )
        out = torch.where(undefined.reshape(shape), torch.full_like(out, math.nan), out)
    return out


def _chunk_slices(batch: int, chunk_size: int | None):
    step = batch if chunk_size is None else chunk_size
    return [slice(s, min(s + step, batch)) for s in range(0, batch, step)]


# -- pullback maps: J and H by nested forward mode -----------------------------------------------------------------


def _prepare_map(f, x, dtype, device, chunk_size, what: str):
    x = check_input(x, "x", dtype=check_dtype(dtype), device=resolve_device(device))
    chunk_size = check_positive_int(chunk_size, "chunk_size")
    fn = functools.partial(_call, *_as_function(f, x.dtype, x.device))
    in_shape = x.shape[1:]
    batch, d = x.shape[0], math.prod(in_shape)
    _check_curvature_dim(d, "x")
    single = _per_point(fn, in_shape)
    flat = x.reshape(batch, d)
    with torch.no_grad():
        n = single(flat[0]).numel()
    if n < d:
        raise ValueError(
            f"f maps to n = {n} features but x has d = {d} input dimensions: the pullback metric has rank "
            f"<= n < d everywhere, so the {what} is undefined"
        )
    return flat, fn, in_shape, single, n, d, chunk_size


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


def _gauss_parts(J: torch.Tensor, H: torch.Tensor, rtol: float):
    r"""Metric, its inverse, flags, and the Gram matrix of the normal parts of the second derivatives.

    With :math:`T_{\lambda\mu\nu} = \sum_i J_{i\lambda} H_{i\mu\nu}` (Christoffel symbols of the first kind) and
    :math:`N = P H = H - J g^{-1} T` (never forming the ``n x n`` projector :math:`P = I - J g^{-1} J^\top`),
    returns ``A[b, (mu, rho), (nu, sigma)] = <N_{mu rho}, N_{nu sigma}>`` of shape ``(B, d^2, d^2)``. Forming
    ``N`` explicitly (rather than :math:`H^\top H - T^\top g^{-1} T`) avoids cancelling large tangential terms.
    """
    batch, n, d = J.shape
    Hf = H.reshape(batch, n, d * d)
    Jt = J.transpose(1, 2)
    g = Jt @ J
    bad = _degenerate_points(g, rtol)
    flat = ~Hf.reshape(batch, -1).any(1)
    G = _safe_inverse(g, bad)
    T = Jt @ Hf  # (B, d, d^2)
    N = Hf - J @ (G @ T)
    A = N.transpose(1, 2) @ N
    return g, G, T, A, bad, flat


def _gauss_scalar(A: torch.Tensor, G: torch.Tensor) -> torch.Tensor:
    r""":math:`R = g^{\mu\rho} g^{\nu\sigma}(A_{\mu\rho,\nu\sigma} - A_{\mu\sigma,\nu\rho})`
    :math:`= \sum_i [(\operatorname{tr} g^{-1} N_i)^2 - \operatorname{tr}(g^{-1} N_i g^{-1} N_i)]`."""
    batch, d = G.shape[0], G.shape[-1]
    vg = G.reshape(batch, d * d, 1)
    first = (vg.transpose(1, 2) @ A @ vg).reshape(batch)
    second = torch.einsum("bmrns,bms,bnr->b", A.reshape(batch, d, d, d, d), G, G)
    return first - second


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
    bad = _degenerate_points(g, rtol)
    flat = (dg == 0).flatten(1).all(1) & (d2g == 0).flatten(1).all(1)
    G = _safe_inverse(g, bad)
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
    x = check_input(x, "x", dtype=check_dtype(dtype), device=resolve_device(device))
    if x.ndim != 2:
        raise ValueError(f"x must have shape (B, d) for a metric function; got {tuple(x.shape)}")
    chunk_size = check_positive_int(chunk_size, "chunk_size")
    _check_curvature_dim(x.shape[1], "x")
    return x, chunk_size


def _metric_chunk(gfun, xc: torch.Tensor, rtol: float):
    g, dg, d2g = _metric_jets(gfun, xc)
    d = xc.shape[1]
    if g.shape != (xc.shape[0], d, d):
        raise ValueError(f"gfun must map a point (d,) = ({d},) to a (d, d) metric; got shape {tuple(g.shape[1:])}")
    return _christoffel_parts(g, dg, d2g, rtol)


def _metric_curvature(gfun, x, what: str, *, chunk_size, rtol, degenerate, dtype, device) -> torch.Tensor:
    _check_policy(degenerate)
    rtol = _check_rtol(rtol)
    x, chunk_size = _prepare_metric(gfun, x, dtype, device, chunk_size)
    d = x.shape[1]
    rtol = d * torch.finfo(x.dtype).eps if rtol is None else rtol
    outs, flats, bads = [], [], []
    for sl in _chunk_slices(x.shape[0], chunk_size):
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
    names = {"christoffel": "Christoffel symbols", "riemann": "Riemann tensor", "ricci": "Ricci tensor",
             "scalar": "Ricci scalar"}
    return _apply_policy(torch.cat(outs), torch.cat(flats), torch.cat(bads), degenerate, names[what], x)


def _map_curvature(f, x, what: str, *, method, chunk_size, rtol, degenerate, dtype, device) -> torch.Tensor:
    _check_policy(degenerate, method)
    rtol = _check_rtol(rtol)
    names = {"christoffel": "Christoffel symbols", "riemann": "Riemann tensor", "ricci": "Ricci tensor",
             "scalar": "Ricci scalar"}
    flat_x, fn, in_shape, single, n, d, chunk_size = _prepare_map(f, x, dtype, device, chunk_size, names[what])
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
    for sl in _chunk_slices(flat_x.shape[0], chunk_size):
        J, H = _batched_jets(rows, flat_x[sl])
        g, G, T, A, bad, flat = _gauss_parts(J, H, rtol)
        if what == "christoffel":
            out = (G @ T).reshape(-1, d, d, d)
        elif what == "scalar":
            out = _gauss_scalar(A, G)
        else:
            rie = _gauss_riemann(A, G)
            out = rie if what == "riemann" else _ricci_from_riemann(rie)
        outs.append(out), flats.append(flat), bads.append(bad)
    return _apply_policy(torch.cat(outs), torch.cat(flats), torch.cat(bads), degenerate, names[what], flat_x)


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
        dtype, device: as in :func:`jacobian` (float64 by default).
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
    """
    return _map_curvature(f, x, "christoffel", method="gauss", chunk_size=chunk_size, rtol=rtol,
                          degenerate=degenerate, dtype=dtype, device=device)


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
    """
    return _map_curvature(f, x, "riemann", method=method, chunk_size=chunk_size, rtol=rtol,
                          degenerate=degenerate, dtype=dtype, device=device)


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
) -> torch.Tensor:
    r"""Ricci tensor :math:`R_{\mu\nu} = R^\rho{}_{\mu\rho\nu}` of the pullback metric of ``f``.

    Same conventions and methods as :func:`riemann_tensor` (a round d-sphere of radius r has
    :math:`R_{\mu\nu} = (d-1) g_{\mu\nu}/r^2`).
    {args}{policy}
    Returns:
        ``(B, d, d)`` symmetric tensor.
    """
    return _map_curvature(f, x, "ricci", method=method, chunk_size=chunk_size, rtol=rtol,
                          degenerate=degenerate, dtype=dtype, device=device)


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
    """
    return _map_curvature(f, x, "scalar", method=method, chunk_size=chunk_size, rtol=rtol,
                          degenerate=degenerate, dtype=dtype, device=device)


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
    """
    return _metric_curvature(gfun, x, "scalar", chunk_size=chunk_size, rtol=rtol, degenerate=degenerate,
                             dtype=dtype, device=device)
