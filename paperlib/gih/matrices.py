"""Matrices and images of :mod:`paperlib.gih`: the alignment of two matrices, the participation ratio, the data's
second moment, a rotated random-matrix control, eigenvectors as images and their centred power spectra."""

from __future__ import annotations

import math
from typing import Sequence

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

    Example:
        >>> A = torch.diag(torch.tensor([1.0, 2.0, 3.0]))
        >>> alignment(A, 2 * A), alignment(A, -A), round(alignment(A, torch.eye(3)), 4)
        (1.0, -1.0, 0.9258)
    """
    A, B = _square(A, "A"), _square(B, "B")
    if A.shape != B.shape:
        raise ValueError(f"A and B must have the same shape; got {tuple(A.shape)} and {tuple(B.shape)}")
    return float(torch.trace(A @ B) / torch.sqrt(torch.trace(A @ A) * torch.trace(B @ B)))


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
