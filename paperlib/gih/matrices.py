"""Matrices and images of :mod:`paperlib.gih`: the alignment of two matrices, the participation ratio, the data's
second moment, a rotated random-matrix control, eigenvectors as images and their centred power spectra; and the
block statistics of the estimates (unbiased squared norms from independent blocks, jackknife intervals)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import scipy.stats
import torch

from .._checks import check_int, check_ints


# -- matrices and images ---------------------------------------------------------------------------------------------


def _square(A: object, name: str) -> torch.Tensor:
    if not isinstance(A, torch.Tensor) or A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"{name} must be a square matrix (D, D); got {getattr(A, 'shape', type(A).__name__)}")
    return A.double()


def alignment(A: torch.Tensor, B: torch.Tensor) -> float:
    r"""Alignment of two ``(D, D)`` matrices, :math:`\rho(A, B) = \operatorname{tr}(AB) /
    \sqrt{\operatorname{tr}(A^2)\operatorname{tr}(B^2)}` (the cosine of the angle between symmetric matrices in
    the Frobenius inner product): 1 for :math:`B = cA`, :math:`c > 0`, and -1 for :math:`c < 0`. Returns a float.
    The traces are sums of elementwise products, :math:`\operatorname{tr}(AB) = \sum_{ij} A_{ij} B_{ji}`:
    :math:`O(D^2)`, no matrix product.

    Example:
        >>> A = torch.diag(torch.tensor([1.0, 2.0, 3.0]))
        >>> alignment(A, 2 * A), alignment(A, -A), round(alignment(A, torch.eye(3)), 4)
        (1.0, -1.0, 0.9258)
    """
    A, B = _square(A, "A"), _square(B, "B")
    if A.shape != B.shape:
        raise ValueError(f"A and B must have the same shape; got {tuple(A.shape)} and {tuple(B.shape)}")
    return float((A * B.T).sum() / torch.sqrt((A * A.T).sum() * (B * B.T).sum()))


def participation_ratio(G: torch.Tensor) -> float:
    r""":math:`(\sum_i \lambda_i)^2 / \sum_i \lambda_i^2 = (\operatorname{tr} G)^2 / \|G\|_F^2` of a symmetric
    ``(D, D)`` matrix, or of eigenvalues ``(D,)``: ``D`` for :math:`G \propto I`, 1 for rank one. Returns a float.

    Example:
        >>> v = torch.ones(4, 1)
        >>> participation_ratio(torch.eye(4)), participation_ratio(v @ v.T)
        (4.0, 1.0)
        >>> participation_ratio(torch.tensor([1.0, 1.0, 0.0]))  # eigenvalues
        2.0
    """
    if isinstance(G, torch.Tensor) and G.ndim == 1:
        lam = G.double()
        return float(lam.sum() ** 2 / lam.square().sum())
    G = _square(G, "G")
    return float(torch.trace(G) ** 2 / G.square().sum())


def second_moment(x: torch.Tensor) -> torch.Tensor:
    r"""The uncentred second moment :math:`S = \sum_i x_i x_i^\top` of data ``x: (N, *shape)``: ``(D, D)``
    float64 (a sum over the data, as in the paper's :math:`\Delta^0 \propto G S G`), ``D = prod(shape)``.

    Example:
        >>> S = second_moment(torch.ones(3, 1, 2))  # three data points, D = 2
        >>> S.tolist(), S.dtype
        ([[3.0, 3.0], [3.0, 3.0]], torch.float64)
    """
    if not isinstance(x, torch.Tensor) or x.ndim < 2:
        raise ValueError(f"x must be data (N, *shape); got {getattr(x, 'shape', type(x).__name__)}")
    flat = x.flatten(1).double()
    return flat.T @ flat


def rotated_like(S: torch.Tensor, seed: int = 0) -> torch.Tensor:
    r"""A random-matrix control for ``S``: :math:`Q \operatorname{diag}(\lambda(S)) Q^\top` with the same
    eigenvalues and a Haar-random orthogonal :math:`Q` (QR of a Gaussian matrix with the signs of
    :math:`\operatorname{diag} R` fixed), drawn from a generator seeded with ``seed``.

    Args:
        S: a symmetric ``(D, D)`` matrix; seed: seed of the rotation.

    Returns:
        ``(D, D)`` float64 tensor on ``S``'s device.

    Example:
        >>> S = torch.diag(torch.tensor([3.0, 2.0, 1.0]))
        >>> R = rotated_like(S, seed=0)
        >>> torch.allclose(torch.linalg.eigvalsh(R), torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))
        True
        >>> torch.allclose(R, S.double()), torch.allclose(R, rotated_like(S, seed=0))  # rotated; seeded
        (False, True)
    """
    S = _square(S, "S")
    gen = torch.Generator().manual_seed(check_int(seed, "seed"))
    Q, R = torch.linalg.qr(torch.randn(S.shape, generator=gen, dtype=torch.float64))
    Q = Q * torch.sign(torch.diagonal(R))
    lam = torch.linalg.eigvalsh(S.cpu()).to(torch.float64)
    return ((Q * lam) @ Q.T).to(S.device)


def eigen_images(vectors: torch.Tensor, in_shape: Sequence[int]) -> torch.Tensor:
    """Columns of ``vectors: (D, k)`` as images ``(k, *in_shape)`` (the eigenvectors live in the flattened
    ``C x H x W`` order of the inputs, PyTorch's own; no axis is permuted), ``D = prod(in_shape)``.

    Example:
        >>> vectors = torch.eye(4)[:, :2]  # two eigenvectors of a (4, 4) matrix, as columns
        >>> images = eigen_images(vectors, (1, 2, 2))
        >>> tuple(images.shape), images[1, 0].tolist()
        ((2, 1, 2, 2), [[0.0, 1.0], [0.0, 0.0]])
    """
    shape = check_ints(in_shape, "in_shape", min=1)
    if not isinstance(vectors, torch.Tensor) or vectors.ndim != 2 or vectors.shape[0] != math.prod(shape):
        raise ValueError(f"vectors must be (D, k) with D = prod(in_shape) = {math.prod(shape)}; got "
                         f"{getattr(vectors, 'shape', type(vectors).__name__)}")
    return vectors.T.reshape(-1, *shape)


def power_spectrum(images: torch.Tensor) -> torch.Tensor:
    r"""Centred power spectrum :math:`|\mathcal F u|^2` of images ``(..., H, W)`` (2-D FFT over the last two axes,
    zero frequency moved to the centre by ``fftshift``), same shape, float64.

    Example:
        A constant image has all its power at zero frequency, at the centre ``(H // 2, W // 2)``:

        >>> P = power_spectrum(torch.ones(4, 4))
        >>> tuple(P.shape), P[2, 2].item(), P.sum().item()
        ((4, 4), 256.0, 256.0)
    """
    if not isinstance(images, torch.Tensor) or images.ndim < 2:
        raise ValueError(f"images must be (..., H, W); got {getattr(images, 'shape', type(images).__name__)}")
    spec = torch.fft.fftshift(torch.fft.fft2(images.double()), dim=(-2, -1))
    return spec.abs().square()


# -- block estimates: unbiased squared norms and jackknife intervals ---------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """A point estimate with its delete-one-block jackknife standard error and a two-sided confidence interval
    ``[low, high]`` at ``level`` (Student's t with ``blocks - 1`` degrees of freedom).

    Example:
        >>> f"{Interval(-0.001, -0.02, 0.018, 0.01):.2f}"
        '0.00 [-0.02, 0.02]'
    """

    value: float
    low: float
    high: float
    se: float
    level: float = 0.95

    def __format__(self, spec: str) -> str:
        """``"value [low, high]"``, each with ``spec`` (default ``.2f``); a value that rounds to zero prints
        without a sign (no ``-0.00``)."""
        spec = spec or ".2f"
        digits = int(spec[1:-1]) if spec.startswith(".") and spec.endswith("f") and spec[1:-1].isdigit() else None

        def one(v: float) -> str:
            return format(round(v, digits) + 0.0 if digits is not None and math.isfinite(v) else v, spec)
        return f"{one(self.value)} [{one(self.low)}, {one(self.high)}]"

    def to_dict(self) -> dict:
        """``{"value", "low", "high", "se", "level"}`` (plain data, e.g. for JSON)."""
        return {"value": self.value, "low": self.low, "high": self.high, "se": self.se, "level": self.level}


def unbiased_sq_norm(gram: torch.Tensor) -> float:
    r"""Unbiased estimate of :math:`\lVert \mathbb E B\rVert_F^2` from ``K`` independent, identically distributed
    block estimates :math:`B_1, \dots, B_K` of a matrix, given their Gram matrix ``gram[j, l]`` =
    :math:`\operatorname{tr}(B_j^\top B_l)`, ``(K, K)``: the mean of the off-diagonal entries,
    :math:`\tfrac{1}{K(K-1)}\sum_{j \ne l} \operatorname{tr}(B_j^\top B_l)` (a U-statistic; for ``K = 2`` the
    split-half product). :math:`\mathbb E\operatorname{tr}(B_j^\top B_l) = \lVert\mathbb E B\rVert_F^2` for
    :math:`j \ne l` because the blocks are independent, whereas :math:`\lVert\bar B\rVert_F^2` of the mean is
    inflated by its Monte-Carlo variance. May be negative when the signal is below the noise.

    Example:
        >>> gram = torch.tensor([[5.0, 1.0], [1.0, 5.0]])  # two blocks
        >>> unbiased_sq_norm(gram)
        1.0
    """
    if not isinstance(gram, torch.Tensor) or gram.ndim != 2 or gram.shape[0] != gram.shape[1] or gram.shape[0] < 2:
        raise ValueError(f"gram must be a (K, K) Gram matrix of K >= 2 blocks; got "
                         f"{getattr(gram, 'shape', type(gram).__name__)}")
    k = gram.shape[0]
    g = gram.double()
    return float((g.sum() - torch.diagonal(g).sum()) / (k * (k - 1)))


def jackknife(statistic: Callable[[torch.Tensor], float], blocks: int, *, level: float = 0.95) -> Interval:
    r"""Delete-one-block jackknife of ``statistic(keep)``, a function of a boolean mask ``keep: (K,)`` of the
    blocks it may use: value on all blocks, :math:`\mathrm{SE}^2 = \tfrac{K-1}{K}\sum_i (\theta_{(-i)} -
    \bar\theta)^2`, and the interval value :math:`\pm\, t_{K-1}\,\mathrm{SE}` at ``level``. ``blocks`` >= 3, so that
    every deletion leaves two blocks to multiply (:func:`unbiased_sq_norm`).

    Example:
        >>> x = torch.tensor([1.0, 2.0, 3.0, 4.0])
        >>> iv = jackknife(lambda keep: float(x[keep].mean()), 4)
        >>> iv.value, round(iv.se, 4)  # the jackknife SE of a mean is the usual s / sqrt(n)
        (2.5, 0.6455)
    """
    k = check_int(blocks, "blocks", min=3)
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1); got {level!r}")
    full = float(statistic(torch.ones(k, dtype=torch.bool)))
    loo = torch.tensor([float(statistic(torch.arange(k) != i)) for i in range(k)], dtype=torch.float64)
    se = float(math.sqrt((k - 1) / k * float((loo - loo.mean()).square().sum())))
    t = float(scipy.stats.t.ppf(0.5 + level / 2, k - 1))
    return Interval(full, full - t * se, full + t * se, se, level)


def complement_projector(v: torch.Tensor) -> torch.Tensor:
    r""":math:`P = I - V V^\top`, ``(D, D)`` float64, onto the orthogonal complement of the columns of ``v``
    (``(D,)`` or ``(D, r)``, orthonormalised here by QR). :math:`\rho(P A P, P B P)` is the alignment of two
    matrices *beyond* the directions ``v``.

    Example:
        >>> P = complement_projector(torch.tensor([1.0, 0.0, 0.0]))
        >>> torch.diagonal(P).tolist()
        [0.0, 1.0, 1.0]
    """
    if not isinstance(v, torch.Tensor) or v.ndim not in (1, 2):
        raise ValueError(f"v must be a direction (D,) or directions (D, r); got {getattr(v, 'shape', type(v).__name__)}")
    V = torch.linalg.qr(v.double().reshape(v.shape[0], -1))[0]
    return torch.eye(V.shape[0], dtype=torch.float64, device=V.device) - V @ V.T
