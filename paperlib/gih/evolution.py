r"""The evolution at initialisation of :mod:`paperlib.gih`: :math:`\Delta^0 = \tfrac{d}{dt} G^t|_{t=0}` under
gradient flow on the squared error (:func:`evolution_at_init`), with antithetic twins, and its estimate
:class:`Evolution`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import nn
from torch.func import functional_call, grad, jvp, vmap

from .. import distributed as _dist
from .._checks import check_bool, check_float_dtype, check_int, check_number, check_select, resolve_device
from .gradients import _scalars
from .matrices import Interval, alignment, complement_projector, jackknife, second_moment, unbiased_sq_norm
from .networks import _SEED_STRIDE, _factory, _Networks, _pick, _points


# -- evolution at initialisation -------------------------------------------------------------------------------------


@dataclass
class Evolution:
    r"""An estimate of :math:`\Delta^0 = \tfrac{d}{dt}G^t|_{t=0}` (:func:`evolution_at_init`) with the :math:`G^0`
    of the same networks and inputs, and the data's :math:`S`.

    Attributes:
        delta, G, S: ``(D, D)`` float64; networks: ``N``, the Monte-Carlo samples (pairs of twins with
            ``antithetic``, else networks); delta_sum_sq: :math:`\sum_k\|\Delta_k\|_F^2` over them;
            antithetic: whether every network was paired with its twin (:func:`evolution_at_init`);
            blocks: ``(K, D, D)`` float64, the means of ``K`` disjoint contiguous blocks of the samples (independent
            estimates of :math:`\Delta^0`, ``evolution_at_init(blocks=K)``), or ``None``. With blocks,
            :math:`\lVert\Delta^0\rVert_F^2` is estimated without bias from products of different blocks
            (:func:`unbiased_sq_norm`) and :meth:`alignment_interval` gives a jackknife interval.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> x, y = torch.randn(6, 1, 2, 2), torch.ones(6)
        >>> ev = evolution_at_init("linear", x, y, networks=8, image_size=2)
        >>> tuple(ev.delta.shape), tuple(ev.GSG.shape), ev.networks, ev.antithetic
        ((4, 4), (4, 4), 8, True)
        >>> ev.standard_error > 0, math.isfinite(ev.relative_error)
        (True, True)
    """

    delta: torch.Tensor
    G: torch.Tensor
    S: torch.Tensor
    networks: int
    delta_sum_sq: float
    antithetic: bool = True
    blocks: torch.Tensor | None = None

    @property
    def standard_error(self) -> float:
        """The standard error of ``delta`` in Frobenius norm (as :attr:`AverageGeometry.standard_error`)."""
        n = self.networks
        if n < 2:
            return math.inf
        return math.sqrt(max(self.delta_sum_sq - n * float(self.delta.square().sum()), 0.0) / (n * (n - 1)))

    @property
    def relative_error(self) -> float:
        """:attr:`standard_error` / :math:`\\|\\hat\\Delta\\|_F`."""
        return self.standard_error / float(torch.linalg.matrix_norm(self.delta))

    @property
    def GSG(self) -> torch.Tensor:
        """:math:`G S G`, ``(D, D)``."""
        return self.G @ self.S @ self.G

    def alignment(self, M: torch.Tensor, *, debiased: bool = True) -> float:
        r""":math:`\rho(\Delta^0, M)` (:func:`alignment`). ``debiased``: the Monte-Carlo noise inflates
        :math:`\|\hat\Delta\|_F^2` while leaving :math:`\operatorname{tr}(\hat\Delta M)` unbiased, so the norm is
        replaced by an estimate of :math:`\|\Delta^0\|_F`: with :attr:`blocks`, the unbiased one from products of
        different blocks (:func:`unbiased_sq_norm`); without, :math:`\sqrt{\|\hat\Delta\|_F^2 - \mathrm{SE}^2}`.
        ``nan`` when the estimate of the squared norm is not positive (noise larger than the signal). The debiased
        value is a ratio of noisy estimates, not a cosine: with few samples it can leave [-1, 1] (by about its
        interval's half-width, :meth:`alignment_interval`); it is not clipped."""
        rho = alignment(self.delta, M)
        if not debiased:
            return rho
        if self.blocks is not None and self.blocks.shape[0] >= 3:
            return self.alignment_interval(M).value
        norm2 = float(self.delta.square().sum())
        signal = norm2 - self.standard_error ** 2
        return rho * math.sqrt(norm2 / signal) if signal > 0 else math.nan

    def _block_terms(self, M: torch.Tensor, project: torch.Tensor | None):
        """``(tr(B_j M') (K,), gram tr(B_j B_l) (K, K), tr(M'^2))`` of the blocks, projected by ``P`` when given."""
        if self.blocks is None or self.blocks.shape[0] < 3:
            raise ValueError("this Evolution has no blocks: estimate it with evolution_at_init(..., blocks=K), K >= 3")
        B, M = self.blocks, M.to(self.blocks.device, torch.float64)
        if project is not None:
            P = complement_projector(project.to(B.device))
            B, M = P @ B @ P, P @ M @ P
        flat = B.flatten(1)
        return flat @ M.flatten(), flat @ flat.T, float(M.square().sum())

    def alignment_interval(self, M: torch.Tensor, *, project: torch.Tensor | None = None,
                           minus: torch.Tensor | None = None, level: float = 0.95) -> Interval:
        r"""The debiased alignment :math:`\tilde\rho(\Delta^0, M) = \overline{\operatorname{tr}(B_j M)} /
        \sqrt{U \operatorname{tr} M^2}`, :math:`U` = :func:`unbiased_sq_norm` of the blocks' Gram matrix, with a
        delete-one-block jackknife interval (:func:`jackknife`; needs :attr:`blocks`).

        Args:
            M: ``(D, D)``; project: directions ``(D,)`` or ``(D, r)`` to project out of both matrices first
                (:func:`complement_projector`: the alignment *beyond* them); minus: another ``(D, D)`` matrix: the
                interval of the contrast :math:`|\tilde\rho(\Delta^0, M)| - |\tilde\rho(\Delta^0, \text{minus})|`
                instead; level: of the interval.

        Returns:
            :class:`Interval` (``nan`` value where the squared-norm estimate is not positive).
        """
        terms = [self._block_terms(A, project) for A in ((M,) if minus is None else (M, minus))]

        def rho(keep, a, gram, m2):
            u = unbiased_sq_norm(gram[keep][:, keep])
            return float(a[keep].mean()) / math.sqrt(u * m2) if u > 0 else math.nan

        if minus is None:
            return jackknife(lambda keep: rho(keep, *terms[0]), self.blocks.shape[0], level=level)
        return jackknife(lambda keep: abs(rho(keep, *terms[0])) - abs(rho(keep, *terms[1])), self.blocks.shape[0],
                         level=level)

    def raw_alignment(self, M: torch.Tensor, *, project: torch.Tensor | None = None) -> float:
        r""":math:`\rho(\hat\Delta, M)` of the estimate itself (biased towards 0 by its noise), after projecting
        out ``project`` from both (as :meth:`alignment_interval`)."""
        D, M = self.delta, M.to(self.delta.device, torch.float64)
        if project is not None:
            P = complement_projector(project.to(D.device))
            D, M = P @ D @ P, P @ M @ P
        return alignment(D, M)


def _delta_rows(template: nn.Module, output: str, select: int | str | None = None,
                per_network_buffers: bool = False):
    """Per network: ``(g, u)``, input gradients ``(B, D)`` at ``xg`` and their derivative along
    :math:`\\dot\\theta = -\\nabla_\\theta L`, :math:`L = \\tfrac12\\sum_i (s(x_i) - y_i)^2`; vmapped over the
    networks' parameters ``(n, ...)`` (and buffers with ``per_network_buffers``) and points ``xg: (n, B, ...)``."""
    def scalar(p, b, x):
        return _scalars(_pick(functional_call(template, (p, b), (x,)), select), output)[0]

    def one(p, b, xg, X, y):
        v = grad(lambda q: 0.5 * (scalar(q, b, X) - y).square().sum())(p)
        flow = {k: -t for k, t in v.items()}
        return jvp(lambda q: grad(lambda x: scalar(q, b, x).sum())(xg).flatten(1), (p,), (flow,))
    return vmap(one, in_dims=(0, 0 if per_network_buffers else None, 0, None, None))


def _readout(template: nn.Module) -> list[str]:
    """Names of the parameters of the last ``nn.Linear`` (the readout), which the antithetic twin negates."""
    last = [name for name, m in template.named_modules() if isinstance(m, nn.Linear)]
    if not last:
        raise NotImplementedError("evolution_at_init's antithetic twins negate the last nn.Linear (the readout), "
                                  "and this network has none; pass antithetic=False")
    prefix = last[-1] + "." if last[-1] else ""
    return [prefix + k for k, _ in dict(template.named_modules())[last[-1]].named_parameters()]


def _with_twins(params: dict[str, torch.Tensor], readout: list[str]) -> dict[str, torch.Tensor]:
    """``2m`` networks: the ``m`` drawn, then their twins with the readout negated (the same law)."""
    return {k: torch.cat([p, -p if k in readout else p]) for k, p in params.items()}


def evolution_at_init(
    architecture: str | Callable[[], nn.Module],
    x: torch.Tensor,
    y: torch.Tensor,
    networks: int,
    *,
    in_shape: Sequence[int] | None = None,
    inputs: int = 4,
    sigma_x: float = 1e-3,
    seed: int = 0,
    chunk: int = 16,
    antithetic: bool | None = None,
    blocks: int = 1,
    select: int | str | None = None,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "auto",
    distributed: bool | None = None,
    **network_kwargs,
) -> Evolution:
    r"""Estimate :math:`\Delta^0 = \mathbb{E}_\theta\,\mathbb{E}_{x'}[\dot g\, g^\top + g\,\dot g^\top]`, ``(D, D)``,
    at initialisation, :math:`g = \nabla_{x'} s_\theta(x')` (``output="mean"``), under gradient flow
    :math:`\dot\theta = -\nabla_\theta L` on the squared error :math:`L = \tfrac12\sum_i (s_\theta(x_i) - y_i)^2`
    of the data ``(x, y)``. The derivative :math:`\dot g = \partial_\theta g\,\dot\theta` is exact (a forward-mode
    derivative through the input gradient, :func:`torch.func.jvp`), so there is no step size; only the average
    over networks and over ``inputs`` points :math:`x' \sim N(0, \sigma_x^2 I)` per network is random. The
    networks are those of :func:`average_geometry` (seed ``s_k``; a named architecture's parameters drawn by
    :func:`stacked_parameters`, a factory's own networks), evaluated stacked with :func:`torch.func.vmap`.

    Antithetic twins (``antithetic=True``). Every network drawn is paired with its *twin*, the same network with
    the readout (last ``nn.Linear``) negated. With readout :math:`r` and features :math:`h`, the twin has
    :math:`f \to -f`, :math:`g \to -g`, and the label terms :math:`\pm y_i` of the two flows cancel exactly in
    :math:`\dot g g^\top` -- the labels enter :math:`\Delta^0` only through :math:`\mathbb{E}[r] = 0` -- which
    removes the largest part of the Monte-Carlo noise. This is exact only when the readout's law is symmetric
    under negation (the twin has the same law as the network): true of PyTorch's default initialisation, so the
    default (``None``) is ``True`` for a named architecture; a factory's law is unknown here, so ``None`` is
    ``False`` for a factory, and ``True`` is your statement that its readout's law is symmetric (zero-mean
    symmetric weights and biases, e.g. :math:`N(0, \sigma^2)`, uniform, or zero). With twins ``networks`` counts
    the pairs and the Monte-Carlo error is computed over pairs; without, ``networks`` counts networks and the
    error is over networks.

    Args:
        architecture, networks, in_shape, seed, select, device, network_kwargs: as :func:`average_geometry`.
        x: data ``(n, *in_shape)``, floating point (input gradients need real-valued inputs: token ids cannot
            be differentiated; embed them first); y: floating targets ``(n,)`` (e.g. +-1.0).
        inputs, sigma_x: the points where :math:`G` and :math:`\Delta^0` are evaluated.
        chunk: networks differentiated together.
        antithetic: pair every network with its twin (above); ``None``: ``True`` for a named architecture,
            ``False`` for a factory.
        blocks: keep the means of ``blocks`` disjoint contiguous blocks of the samples (pairs) as well
            (:attr:`Evolution.blocks`; ``1``: none kept), for unbiased norms and jackknife intervals. Blocks and
            chunks never share a sample, so the networks and the estimate do not depend on ``blocks``.
        dtype: precision of the networks (float32 default, as :func:`average_geometry`: the Monte-Carlo error
            dwarfs its rounding; the sums are kept in float64).
        distributed: split the networks (pairs) across the ranks of ``torch.distributed``, as in
            :func:`average_geometry`: each rank draws its contiguous shard of the seeds, and
            :math:`\hat\Delta^0`, :math:`G^0` and the sum of squares are added over the ranks (every rank
            returns the full estimate).

    Returns:
        :class:`Evolution` with :math:`\Delta^0`, :math:`G^0` and :math:`S = \sum_i x_i x_i^\top` (``(D, D)``).
        For a linear model :math:`f = w\cdot x` with i.i.d. zero-mean weights of variance :math:`\sigma^2`,
        :math:`\Delta^0 = -2\sigma^2 S = -(2/\sigma^2)\, G S G` exactly (:func:`paperlib.symbolic.linear_average_geometry`).

    Raises:
        TypeError: as :func:`average_geometry`; ``x`` or ``y`` not floating point.
        ValueError: as :func:`average_geometry`; ``x`` not ``(n, *in_shape)`` or ``y`` not ``(n,)``; a factory's
            networks that cannot be stacked.

    Example:
        A linear model, whose :math:`\Delta^0` is anti-aligned with :math:`G S G` (above):

        >>> _ = torch.manual_seed(0)
        >>> x = torch.randn(6, 1, 2, 2)
        >>> y = torch.sign(x.flatten(1).sum(1))  # targets +-1
        >>> ev = evolution_at_init("linear", x, y, networks=8, image_size=2)
        >>> tuple(ev.delta.shape), torch.allclose(ev.S, second_moment(x)), ev.alignment(ev.GSG) < 0
        ((4, 4), True, True)
    """
    factory, shape, named = _factory(architecture, in_shape, dict(network_kwargs))
    n = check_int(networks, "networks", min=1)
    check_int(inputs, "inputs", min=1)
    sigma_x = check_number(sigma_x, "sigma_x", min=0, open_min=True)
    step = check_int(chunk, "chunk", min=1)
    check_int(seed, "seed", min=0)
    nblocks = check_int(blocks, "blocks", min=1, max=n)
    twins = named if antithetic is None else check_bool(antithetic, "antithetic")
    check_select(select)
    check_float_dtype(dtype)
    dims = ", ".join(map(str, shape))
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a tensor of data (n, {dims}); got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"x must be floating-point data (n, {dims}); got {x.dtype}. The input gradients need "
                        "real-valued inputs: integer data such as token ids cannot be differentiated (embed them "
                        "first, or convert images with x.float())")
    if tuple(x.shape[1:]) != shape:
        raise ValueError(f"x must be data (n, {dims}); got {tuple(x.shape)}")
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"y must be a tensor of targets ({x.shape[0]},); got {type(y).__name__}")
    if not y.is_floating_point():
        raise TypeError(f"y must be floating targets of the squared error (e.g. +-1.0); got {y.dtype}: convert class "
                        "labels 0/1 with y.float() * 2 - 1, or y.float()")
    if y.shape != (x.shape[0],):
        raise ValueError(f"y must be targets of shape ({x.shape[0]},); got {tuple(y.shape)}")
    dev = resolve_device(device)
    nets = _Networks(factory, named, shape, select, seed, dtype, dev)
    nets.outputs()
    template = nets.template
    fn, d = _delta_rows(template, "mean", select, not named), math.prod(shape)
    readout = _readout(template) if twins else []
    X, Y = x.to(dev, dtype), y.to(dev, dtype)
    delta = torch.zeros(d, d, dtype=torch.float64, device=dev)
    G, sq = torch.zeros_like(delta), 0.0
    parts = torch.zeros(nblocks, d, d, dtype=torch.float64, device=dev) if nblocks > 1 else None
    bounds = [b * n // nblocks for b in range(nblocks + 1)]  # block b: samples bounds[b] .. bounds[b + 1] - 1
    split = _dist.use(distributed)
    if split:
        _dist.agree(n, seed, step, inputs, what="networks, seed, chunk and inputs")
    mine = _dist.shard(n) if split else slice(0, n)  # this rank's networks (pairs)

    def accumulate() -> None:
        nonlocal delta, G, sq
        starts = [(b, i) for b in range(nblocks) for i in range(max(bounds[b], mine.start),
                                                               min(bounds[b + 1], mine.stop), step)]
        for b, i in starts:
            seeds = [seed * _SEED_STRIDE + k for k in range(i, min(mine.stop, bounds[b + 1], i + step))]
            params, buffers, per_network = nets.stacked(seeds)
            xs = torch.stack([_points(s, inputs, shape, dtype) for s in seeds]).to(dev) * sigma_x
            if twins:  # (m, 2B, D): a pair (network, twin) is one sample of the estimate
                params = _with_twins(params, readout)
                if per_network:
                    buffers = {k: torch.cat([b, b]) for k, b in buffers.items()}
                out = fn(params, buffers, torch.cat([xs, xs]), X, Y)
                g, u = (torch.cat(t.double().chunk(2), dim=1) for t in out)
            else:  # (m, B, D): a network is one sample
                g, u = (t.double() for t in fn(params, buffers, xs, X, Y))
            rows = g.shape[1]
            a = u.flatten(0, 1).T @ g.flatten(0, 1) / rows  # sum over samples of sum_r u_r g_r^T / rows
            delta += a + a.T
            if parts is not None:
                parts[b] += a + a.T
            G += g.flatten(0, 1).T @ g.flatten(0, 1) / rows
            # ||A + A^T||^2 = 2 ||A||^2 + 2 tr(A A) per sample, A = U^T Gr / rows, from rows x rows Gram matrices
            uu, gg, ug = u @ u.transpose(1, 2), g @ g.transpose(1, 2), u @ g.transpose(1, 2)
            sq += float(2 * (uu * gg).sum() + 2 * (ug * ug.transpose(1, 2)).sum()) / rows ** 2

    if not split:
        accumulate()
    else:  # Delta, G and the sum of squares over all ranks
        _dist.all_succeed(accumulate)
        delta, G = _dist.all_reduce_sum(delta), _dist.all_reduce_sum(G)
        if parts is not None:
            parts = _dist.all_reduce_sum(parts)
        sq = float(_dist.all_reduce_sum(torch.tensor([sq], dtype=torch.float64, device=dev))[0])
    if parts is not None:
        parts /= torch.tensor([bounds[b + 1] - bounds[b] for b in range(nblocks)], dtype=torch.float64,
                              device=dev)[:, None, None]
    return Evolution(delta / n, G / n, second_moment(x), n, sq, twins, parts)
