r"""Internal batched linear algebra shared by :mod:`paperlib.geometry` and :mod:`paperlib.shallow`.

Not public API: the supported precisions and the input set-up that enforces them, the numerical-rank rule and
log volume from singular values (with its rank warning), the degenerate-metric policy of the curvature routines,
and the Gauss-equation contractions that both the autodiff and the closed-form Ricci scalar use.
"""

from __future__ import annotations

import math
import os
import sys
import warnings

import torch

from ._checks import check_choice, check_dtype, check_input, check_int, check_number, resolve_device

#: precisions the geometry routines support: QR, SVD and symmetric eigensolvers have no half-precision kernels,
#: and float16's 3 digits could not resolve a metric's eigenvalues anyway
SUPPORTED_DTYPES = (torch.float32, torch.float64)


class RankDeficiencyWarning(RuntimeWarning):
    """A top-``k`` log volume element is ``-inf`` because the Jacobian's numerical rank is below ``k``."""


def warn(message: str, category: type[Warning]) -> None:
    """:func:`warnings.warn` pointing at the first caller outside paperlib (the user's line)."""
    package = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frame, level = sys._getframe(0), 1
    while frame is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


def check_precision(dtype: object) -> torch.dtype | None:
    """``dtype`` if it is ``None``, float32 or float64; ``TypeError`` naming ``dtype`` otherwise (float16 and
    bfloat16 included, with the supported precisions in the message)."""
    check_dtype(dtype)  # type: ignore[arg-type]
    if dtype is not None and dtype not in SUPPORTED_DTYPES:
        raise TypeError(f"dtype={dtype} is not supported: geometry is computed in torch.float32 or torch.float64 "
                        "(pass one of those, or None to keep the input's dtype if it is one of them)")
    return dtype  # type: ignore[return-value]


def prepare_input(x: object, name: str, dtype: object, device: object, **kwargs) -> torch.Tensor:
    """:func:`paperlib._checks.check_input` of ``x`` cast to ``dtype`` (``None``: keep ``x``'s) on ``device``,
    in a supported precision: ``TypeError`` naming ``name`` or ``dtype`` otherwise."""
    x = check_input(x, name, dtype=check_precision(dtype), device=resolve_device(device), **kwargs)
    if x.dtype not in SUPPORTED_DTYPES:
        raise TypeError(f"{name} has dtype {x.dtype}, which dtype=None keeps; geometry is computed in "
                        "torch.float32 or torch.float64: pass dtype=torch.float64 (the default) or torch.float32")
    return x


def chunk_slices(batch: int, chunk_size: int | None) -> list[slice]:
    step = batch if chunk_size is None else chunk_size
    return [slice(s, min(s + step, batch)) for s in range(0, batch, step)]


# -- volume element from singular values ---------------------------------------------------------------------------


def log_volume(s: torch.Tensor, d: int, k: int | None, base: float) -> torch.Tensor:
    r""":math:`\sum_{i \le k} \log_b s_i` for descending singular values ``s: (B, m)`` of ``(n, d)`` Jacobians.

    Singular values at or below ``max(n, d) * eps * s_max`` count as exact zeros (numerical rank). ``k = None``
    is the full determinant, ``k = d``. Where an explicit ``k`` exceeds the numerical rank the result is
    ``-inf`` and one :class:`RankDeficiencyWarning` per call says so, naming ``k`` and the ranks found. ``k``
    and ``base`` are validated by the caller.
    """
    m = s.shape[-1]
    k_eff = d if k is None else k
    eps = torch.finfo(s.dtype).eps
    s = torch.where(s > max(m, d) * eps * s[..., :1], s, torch.zeros_like(s))
    logs = torch.log(s[..., : min(k_eff, m)].double()).sum(-1)  # accumulated in float64 whatever s's dtype
    if k_eff > m:  # full determinant requested but rank <= n < d
        logs = torch.full_like(logs, -math.inf)
    if k is not None:
        rank = (s > 0).sum(-1)
        short = rank < k
        if bool(short.any()):
            lo, hi = int(rank[short].min()), int(rank[short].max())
            found = f"{lo}" if lo == hi else f"{lo} to {hi}"
            advice = (f"pass k <= {lo} to measure the directions the map does not collapse" if lo > 0 else
                      "J vanishes there (the map is locally constant)")
            warn(
                f"log volume element is -inf at {int(short.sum())} of {short.numel()} points: k = {k} exceeds the "
                f"numerical rank of the Jacobian found there, {found} (singular values <= max(n, d) * eps * s_max "
                f"count as zero), so the top-k volume is 0; {advice}", RankDeficiencyWarning)
    return logs / math.log(base)


# -- curvature: degenerate-metric policy ---------------------------------------------------------------------------


def check_policy(degenerate: object, method: object = None) -> None:
    check_choice(degenerate, "degenerate", ("raise", "nan"))
    if method is not None:
        check_choice(method, "method", ("gauss", "christoffel"))


def check_rtol(rtol: object) -> float | None:
    """``None`` or a number in ``[0, 1)``; errors name ``rtol``."""
    rtol = check_number(rtol, "rtol", min=0, max=1, none_ok=True)
    if rtol == 1:
        raise ValueError("rtol must be None or a number in [0, 1); got 1 (every point would be degenerate)")
    return rtol


def check_chunk_size(chunk_size: object) -> int | None:
    return check_int(chunk_size, "chunk_size", min=1, none_ok=True)


def degenerate_points(g: torch.Tensor, rtol: float) -> torch.Tensor:
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


def safe_inverse(g: torch.Tensor, bad: torch.Tensor) -> torch.Tensor:
    """Inverse of ``g: (B, d, d)``, with the identity substituted at ``bad`` points (their results are masked)."""
    eye = torch.eye(g.shape[-1], dtype=g.dtype, device=g.device).expand_as(g)
    g = torch.where(bad[:, None, None], eye, g)
    if g.shape[-1] == 2:  # explicit 2x2 inverse: much faster than a batched LAPACK call for tiny matrices
        det = g[:, 0, 0] * g[:, 1, 1] - g[:, 0, 1] * g[:, 1, 0]
        adj = torch.stack([torch.stack([g[:, 1, 1], -g[:, 0, 1]], -1),
                           torch.stack([-g[:, 1, 0], g[:, 0, 0]], -1)], -2)
        return adj / det[:, None, None]
    return torch.linalg.inv(g)


def apply_policy(
    out: torch.Tensor, flat: torch.Tensor, bad: torch.Tensor, degenerate: str, what: str, x: torch.Tensor
) -> torch.Tensor:
    """Exact zeros at ``flat`` points; ``degenerate`` policy at ``bad & ~flat`` points (see
    :mod:`paperlib.geometry`'s notes on degenerate points)."""
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


# -- curvature: the Gauss equation ---------------------------------------------------------------------------------


def gauss_parts(J: torch.Tensor, H: torch.Tensor, rtol: float):
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
    bad = degenerate_points(g, rtol)
    flat = ~Hf.reshape(batch, -1).any(1)
    G = safe_inverse(g, bad)
    T = Jt @ Hf  # (B, d, d^2)
    N = Hf - J @ (G @ T)
    A = N.transpose(1, 2) @ N
    return g, G, T, A, bad, flat


def gauss_scalar(A: torch.Tensor, G: torch.Tensor) -> torch.Tensor:
    r""":math:`R = g^{\mu\rho} g^{\nu\sigma}(A_{\mu\rho,\nu\sigma} - A_{\mu\sigma,\nu\rho})`
    :math:`= \sum_i [(\operatorname{tr} g^{-1} N_i)^2 - \operatorname{tr}(g^{-1} N_i g^{-1} N_i)]`."""
    batch, d = G.shape[0], G.shape[-1]
    vg = G.reshape(batch, d * d, 1)
    first = (vg.transpose(1, 2) @ A @ vg).reshape(batch)
    second = torch.einsum("bmrns,bms,bnr->b", A.reshape(batch, d, d, d, d), G, G)
    return first - second
