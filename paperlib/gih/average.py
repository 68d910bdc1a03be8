r"""The average geometry :math:`\hat G` of :mod:`paperlib.gih`: :func:`average_geometry` over freshly initialised
networks by the route ``"modules"`` or ``"stacked"`` (``"auto"``: the faster on a timed pilot, remembered in
:data:`_ROUTE`), its running sums (:class:`_Sums`), the estimate :class:`AverageGeometry` and :func:`combine`."""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import nn

from .. import distributed as _dist
from .._checks import check_choice, check_float_dtype, check_int, check_number, check_select, resolve_device
from ..workers import progress_bar, progress_enabled
from .gradients import OUTPUTS, _gradient_rows, _stacked_rows
from .matrices import Interval, eigen_images, jackknife, participation_ratio, unbiased_sq_norm
from .networks import _SEED_STRIDE, _factory, _Networks, _points


ROUTES = ("auto", "modules", "stacked")
#: route chosen by ``route="auto"``, per (architecture text, inputs, device type)
_ROUTE: dict[tuple, str] = {}

class _Sums:
    """Running sums of an average-geometry estimate: :math:`\\sum_k A_k` (float64) and :math:`\\sum_k \\|A_k\\|_F^2`;
    with ``bounds`` (block ``b`` holds the networks ``bounds[b] .. bounds[b + 1] - 1``) also the sum of each block.
    ``offset``: the index of the first network added (a rank's shard)."""

    def __init__(self, d: int, device: torch.device, bounds: list[int] | None = None, offset: int = 0):
        self.total = torch.zeros(d, d, dtype=torch.float64, device=device)
        self.sq, self.n, self.offset, self.bounds = 0.0, 0, offset, bounds
        self.blocks = None if bounds is None else torch.zeros(len(bounds) - 1, d, d, dtype=torch.float64,
                                                              device=device)

    def add(self, rows: torch.Tensor) -> None:
        """``rows: (n, M, D)``: ``M`` gradient rows of each of ``n`` networks (the next ``n`` in order)."""
        m = rows.shape[1]
        flat = rows.reshape(-1, rows.shape[-1])
        A = (flat.T @ flat).double() / m
        self.total += A
        if self.blocks is not None:
            first = self.offset + self.n
            for b in range(len(self.bounds) - 1):
                lo, hi = max(self.bounds[b], first) - first, min(self.bounds[b + 1], first + rows.shape[0]) - first
                if lo < hi:
                    part = rows[lo:hi].reshape(-1, rows.shape[-1])
                    self.blocks[b] += A if hi - lo == rows.shape[0] else (part.T @ part).double() / m
        gram = (rows @ rows.transpose(1, 2)).double()
        self.sq += float(gram.square().sum()) / m ** 2
        self.n += rows.shape[0]


# -- the estimate ----------------------------------------------------------------------------------------------------


@dataclass
class AverageGeometry:
    r"""An estimate :math:`\hat G` of the average geometry (see the module docstring).

    Attributes:
        G: ``(D, D)`` float64, the mean of the networks' :math:`A_k`.
        networks: ``N``; inputs: inputs per network; sigma_x: their standard deviation; output: ``"mean"`` or
            ``"logits"``; route: the route used; in_shape: the input shape (``D = prod(in_shape)``).
        sum_sq: :math:`\sum_k \|A_k\|_F^2` (for the Monte-Carlo error and for :func:`combine`).
        seconds: wall time of the estimate.
        block_gram, block_trace: with ``average_geometry(blocks=K)``, the ``(K, K)`` Gram matrix
            :math:`\operatorname{tr}(\hat G_j \hat G_l)` and the ``(K,)`` traces :math:`\operatorname{tr}\hat G_j` of the
            means of ``K`` disjoint contiguous blocks of networks (independent estimates), for the unbiased
            statistics :meth:`anisotropy_interval` and :meth:`participation_interval`; else ``None``.

    Example:
        >>> est = average_geometry("linear", networks=8, inputs=1, image_size=2)  # D = 4
        >>> values, vectors = est.eigen  # descending
        >>> tuple(values.shape), tuple(vectors.shape), tuple(est.eigen_images(k=2).shape)
        ((4,), (4, 4), (2, 1, 2, 2))
        >>> 1 <= est.participation_ratio <= 4, 0 < est.relative_error < 1
        (True, True)
    """

    G: torch.Tensor
    networks: int
    inputs: int
    sigma_x: float
    output: str
    route: str
    in_shape: tuple[int, ...]
    sum_sq: float
    seconds: float = 0.0
    block_gram: torch.Tensor | None = None
    block_trace: torch.Tensor | None = None

    @property
    def standard_error(self) -> float:
        r"""The standard error of :math:`\hat G` in Frobenius norm, :math:`\sqrt{\sum_{ij}\widehat{\mathrm{Var}}
        \hat G_{ij}}` (``inf`` for one network)."""
        if self.networks < 2:
            return math.inf
        spread = self.sum_sq - self.networks * float(self.G.square().sum())
        return math.sqrt(max(spread, 0.0) / (self.networks * (self.networks - 1)))

    @property
    def relative_error(self) -> float:
        r""":attr:`standard_error` / :math:`\|\hat G\|_F`."""
        return self.standard_error / float(torch.linalg.matrix_norm(self.G))

    @functools.cached_property
    def eigen(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(values (D,), vectors (D, D))`` of :math:`\\hat G`, descending; eigenvector ``i`` is ``vectors[:, i]``."""
        values, vectors = torch.linalg.eigh(self.G)
        return values.flip(0), vectors.flip(1)

    @property
    def participation_ratio(self) -> float:
        """:func:`participation_ratio` of :math:`\\hat G`."""
        return participation_ratio(self.G)

    @property
    def isotropy_ratio(self) -> float:
        r"""The ratio :math:`\|\hat G - \bar\lambda I\|_F / \mathrm{SE}` with :math:`\bar\lambda = \operatorname{tr}
        \hat G / D`, about 1 or below when :math:`G \propto I` (the deviation is then Monte-Carlo noise), large
        otherwise."""
        d = self.G.shape[0]
        iso = torch.eye(d, dtype=self.G.dtype, device=self.G.device) * (torch.trace(self.G) / d)
        return float(torch.linalg.matrix_norm(self.G - iso)) / self.standard_error

    def _block_statistic(self, which: str, level: float) -> Interval:
        if self.block_gram is None or self.block_gram.shape[0] < 3:
            raise ValueError("this estimate has no blocks: use average_geometry(..., blocks=K), K >= 3")
        gram, t = self.block_gram.double().cpu(), self.block_trace.double().cpu()
        d = self.G.shape[0]

        def stat(keep):
            norm2, tr2 = unbiased_sq_norm(gram[keep][:, keep]), unbiased_sq_norm(torch.outer(t[keep], t[keep]))
            return (norm2 - tr2 / d) / norm2 if which == "anisotropy" else tr2 / norm2
        return jackknife(stat, gram.shape[0], level=level)

    def anisotropy_interval(self, level: float = 0.95) -> Interval:
        r"""The anisotropic fraction of :math:`G`'s squared norm, :math:`a = \lVert G - \bar\lambda I\rVert_F^2 /
        \lVert G\rVert_F^2 = 1 - (\operatorname{tr} G)^2 / (D \lVert G\rVert_F^2)` (0 for :math:`G \propto I`,
        :math:`1 - 1/D` for rank one), with :math:`\lVert G\rVert_F^2` and :math:`(\operatorname{tr} G)^2` estimated
        without bias from products of different blocks (:func:`unbiased_sq_norm`), so that Monte-Carlo noise does
        not count as anisotropy; a jackknife interval over the blocks (needs :attr:`block_gram`)."""
        return self._block_statistic("anisotropy", level)

    def participation_interval(self, level: float = 0.95) -> Interval:
        r"""The participation ratio :math:`(\operatorname{tr} G)^2 / \lVert G\rVert_F^2` of the true :math:`G`,
        estimated without the noise bias (as :meth:`anisotropy_interval`; noise lowers the plain
        :attr:`participation_ratio`), with a jackknife interval over the blocks."""
        return self._block_statistic("participation", level)

    def eigen_images(self, k: int = 8, start: int = 0) -> torch.Tensor:
        """Eigenvectors ``start .. start + k - 1`` as images ``(k, *in_shape)`` (:func:`eigen_images`)."""
        return eigen_images(self.eigen[1][:, start: start + k], self.in_shape)

    @property
    def networks_per_second(self) -> float:
        return self.networks / self.seconds if self.seconds > 0 else math.inf


def combine(estimates: Sequence[AverageGeometry]) -> AverageGeometry:
    r"""One estimate from several of the same settings drawn from disjoint networks (e.g. shards, or resumed
    work): :math:`\hat G = \sum_j N_j \hat G_j / \sum_j N_j`, with the sums of squares added.

    Args:
        estimates: :class:`AverageGeometry` estimates sharing ``inputs``, ``sigma_x``, ``output`` and ``in_shape``.

    Returns:
        :class:`AverageGeometry` of all their networks, ``G: (D, D)``.

    Example:
        >>> a = average_geometry("linear", networks=4, image_size=2, seed=0)
        >>> b = average_geometry("linear", networks=4, image_size=2, seed=1)  # other networks
        >>> both = combine([a, b])
        >>> both.networks, torch.allclose(both.G, (a.G + b.G) / 2)
        (8, True)
    """
    if not estimates:
        raise ValueError("estimates must be a non-empty sequence of AverageGeometry")
    first = estimates[0]
    for e in estimates:
        if (e.inputs, e.sigma_x, e.output, e.in_shape) != (first.inputs, first.sigma_x, first.output, first.in_shape):
            raise ValueError("estimates must share inputs, sigma_x, output and in_shape")
    n = sum(e.networks for e in estimates)
    G = sum(e.G * e.networks for e in estimates) / n
    routes = sorted({e.route for e in estimates})
    return dataclasses.replace(first, G=G, networks=n, sum_sq=sum(e.sum_sq for e in estimates),
                               route="+".join(routes), seconds=sum(e.seconds for e in estimates),
                               block_gram=None, block_trace=None)  # blocks of different estimates are not combined


def _chunk_rows_modules(nets: _Networks, seeds, inputs, sigma_x, shape, output, dtype, dev) -> torch.Tensor:
    """Rows ``(n, M, D)`` of the networks of ``seeds``, one network at a time."""
    rows = []
    for s in seeds:
        x = _points(s, inputs, shape, dtype).to(dev) * sigma_x
        rows.append(_gradient_rows(nets.one(s), x, output, batch_dims=1))
    return torch.stack(rows)


def _chunk_rows_stacked(nets: _Networks, seeds, inputs, sigma_x, shape, output, dtype, dev) -> torch.Tensor:
    """Rows ``(n, M, D)`` of the networks of ``seeds``, stacked and evaluated at once."""
    params, buffers, per_network = nets.stacked(seeds)
    xs = torch.stack([_points(s, inputs, shape, dtype) for s in seeds]).to(dev) * sigma_x
    return _stacked_rows(nets.template, params, buffers, xs, output, per_network, nets.select)


def _auto_chunk(inputs: int, output_rows: int, d: int) -> int:
    """Networks per chunk: about 2**22 gradient numbers, between 1 and 256."""
    return max(1, min(256, (1 << 22) // max(1, inputs * output_rows * d)))


def _pick_route(key: tuple, run: Callable[[str, list], torch.Tensor], seeds: list) -> tuple[str, torch.Tensor | None]:
    """``route="auto"``: run both routes on the pilot ``seeds`` (first half to warm up, second half timed); return
    the faster and its rows for the pilot (reused by the estimate). The two routes evaluate the same networks, so
    the choice changes the speed only; ``"stacked"`` is skipped where it fails (e.g. a factory whose networks
    cannot be stacked, or a layer :func:`torch.func.vmap` cannot batch), and an error of ``"modules"`` is raised."""
    if key in _ROUTE:
        return _ROUTE[key], None
    timing, rows, h = {}, {}, max(1, len(seeds) // 2)
    for route in ("modules", "stacked"):
        try:
            first = run(route, seeds[:h])
            start = time.perf_counter()
            rows[route] = torch.cat([first, run(route, seeds[h:])]) if len(seeds) > h else first
            timing[route] = time.perf_counter() - start
        except Exception:
            if route == "modules":
                raise
            continue
    best = min(timing, key=timing.get)
    _ROUTE[key] = best
    return best, rows[best]


def average_geometry(
    architecture: str | Callable[[], nn.Module],
    networks: int,
    *,
    in_shape: Sequence[int] | None = None,
    inputs: int = 128,
    sigma_x: float = 1e-3,
    output: str = "mean",
    route: str = "auto",
    seed: int = 0,
    chunk: int | None = None,
    select: int | str | None = None,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "auto",
    progress: bool | None = None,
    blocks: int = 1,
    distributed: bool | None = None,
    **network_kwargs,
) -> AverageGeometry:
    r"""Estimate :math:`G = \mathbb{E}_\theta \mathbb{E}_x[\nabla_x s \nabla_x s^\top]`, ``(D, D)``, over ``networks``
    freshly initialised networks with ``inputs`` inputs :math:`x \sim N(0, \sigma_x^2 I)` each:
    :math:`\hat G = \tfrac1N \sum_k \tfrac1M \sum_r g_{kr} g_{kr}^\top` (see the module docstring for the outputs,
    the Monte-Carlo error, which networks are drawn and the routes).

    Which networks, and the routes. For a named architecture network ``k`` has the parameters
    ``stacked_parameters(template, [s_k])``, PyTorch's default initialisation drawn directly (all layers of
    :func:`network` use it); for a factory it is ``torch.manual_seed(s_k); factory()``, whatever initialisation
    the factory does. ``route`` only decides how these same networks are evaluated -- ``"modules"`` one at a time,
    ``"stacked"`` a chunk at once with :func:`torch.func.vmap` -- so the routes agree to floating-point rounding and
    ``"auto"`` (the faster on a timed pilot) never changes the answer.

    Args:
        architecture: a name of :data:`ARCHITECTURES` (built by :func:`network` with ``network_kwargs``), or a
            factory ``() -> nn.Module`` that builds a freshly initialised network at each call (e.g.
            ``lambda: MyNet()`` or the class ``MyNet``; not a module instance: the average is over networks).
        networks: ``N`` >= 1.
        in_shape: with a factory (required there), the shape of one input without the batch dimension, e.g.
            ``(1, 28, 28)``: the networks see batches ``(B, *in_shape)``, ``D = prod(in_shape)``. Not with a named
            architecture, whose shape is ``(in_channels, image_size, image_size)``.
        inputs: ``B`` >= 1 per network; sigma_x: > 0.
        output: ``"mean"`` (the authors' scalar, up to their factor ``1/B``) or ``"logits"``; each point's output
            is flattened to ``C`` numbers.
        route: ``"auto"``, ``"modules"`` or ``"stacked"`` (a factory whose networks differ in structure,
            parameter or buffer names or shapes cannot be stacked: ``ValueError``, use ``"modules"``).
        seed: network ``k`` is drawn from the seed ``s_k = seed * 1_000_003 + k``.
        chunk: networks evaluated together (default: about 2**22 gradient numbers).
        select: for a network returning a tuple, list or dict, the entry to differentiate (``out[select]``: an
            index such as ``0`` or a key such as ``"logits"``); ``None``: the output is a tensor.
        dtype: precision of the networks. float32 by default: the Monte-Carlo error of :math:`\hat G` (at least
            ``1e-2`` relative in every use) dwarfs float32 rounding (about ``1e-7``), and the sums over networks
            are kept in float64; pass ``torch.float64`` for more.
        device: ``"auto"`` (CUDA when present, else CPU; default), ``"cpu"`` or ``"cuda"``.
        progress: a progress bar over networks (``None``: automatic, as in :mod:`paperlib.train`); with
            distributed work, on rank 0 only, over its own networks.
        distributed: split the networks across the ranks of ``torch.distributed`` (started by ``torchrun``):
            each rank draws and differentiates its contiguous shard of the ``N`` networks (the same seeds), then
            the sums :math:`\sum_k A_k`, :math:`\sum_k \|A_k\|_F^2` and the count are added over the ranks, so
            every rank returns the full estimate. ``route="auto"`` is timed on rank 0 (on its first networks)
            and its choice sent to every rank, so all ranks round alike. ``None`` (default): split when a process
            group with more than one rank is initialised; ``False``: this process computes all networks itself;
            ``True``: split (``RuntimeError`` without a process group). ``seconds`` is this rank's wall time.
        blocks: also sum ``blocks`` disjoint contiguous blocks of the networks and return their Gram matrix and
            traces (:attr:`AverageGeometry.block_gram`; ``1``: none), for the unbiased anisotropy and participation
            ratio; the networks and :math:`\hat G` do not depend on it.
        network_kwargs: options of :func:`network` for a named architecture (``image_size``, ``hidden``, ...).

    Returns:
        :class:`AverageGeometry` with ``G: (D, D)`` float64, ``D = prod(in_shape)``.

    Raises:
        TypeError: a module instance, or no factory, for ``architecture``; a factory that returns no
            ``nn.Module``; ``in_shape`` missing with a factory or given with a named architecture; a network
            output that is not a tensor (pass ``select``).
        ValueError: a network that fails on a batch ``(1, *in_shape)`` (a wrong ``in_shape``); a factory's
            networks that cannot be stacked with ``route="stacked"``; an argument out of range.

    Example:
        >>> est = average_geometry("mlp", networks=8, inputs=2, image_size=4, hidden=(8,))
        >>> tuple(est.G.shape), est.networks, torch.allclose(est.G, est.G.T)
        ((16, 16), 8, True)
        >>> again = average_geometry("mlp", networks=8, inputs=2, image_size=4, hidden=(8,), route="modules")
        >>> torch.allclose(est.G, again.G)  # the route changes the speed, never the networks
        True
    """
    factory, shape, named = _factory(architecture, in_shape, dict(network_kwargs))
    n = check_int(networks, "networks", min=1)
    check_int(inputs, "inputs", min=1)
    sigma_x = check_number(sigma_x, "sigma_x", min=0, open_min=True)
    check_choice(output, "output", OUTPUTS)
    check_choice(route, "route", ROUTES)
    check_int(seed, "seed", min=0)
    check_select(select)
    check_float_dtype(dtype)
    dev = resolve_device(device)
    split = _dist.use(distributed)
    nets = _Networks(factory, named, shape, select, seed, dtype, dev)
    classes = nets.outputs()
    classes = classes if output == "logits" else 1
    step = check_int(chunk, "chunk", min=1, none_ok=True) or _auto_chunk(inputs, classes, math.prod(shape))

    def run(r: str, seeds: list) -> torch.Tensor:
        fn = _chunk_rows_modules if r == "modules" else _chunk_rows_stacked
        return fn(nets, seeds, inputs, sigma_x, shape, output, dtype, dev)

    nblocks = check_int(blocks, "blocks", min=1, max=n)
    bounds = [b * n // nblocks for b in range(nblocks + 1)] if nblocks > 1 else None
    seeds = [seed * _SEED_STRIDE + k for k in range(n)]
    offset = 0
    if split:  # this rank's networks; the same seeds as one process
        _dist.agree(n, inputs, seed, step, what="networks, inputs, seed and chunk")
        offset = _dist.shard(n).start
        seeds = seeds[_dist.shard(n)]
    start, sums = time.perf_counter(), _Sums(math.prod(shape), dev, bounds, offset)
    done = 0
    if route == "auto":
        pilot = seeds[: min(len(seeds), 16, step)]
        key = (named, repr(nets.template), inputs, output, select, str(dtype), dev.type)
        if not split:
            route, rows = _pick_route(key, run, pilot)
        else:  # rank 0 times the routes on its first networks and every rank takes its choice
            route, rows = _dist.all_succeed(lambda: _pick_route(key, run, pilot) if _dist.rank() == 0 else
                                            (None, None))
            route = _dist.broadcast_object(route)
        if rows is not None:
            sums.add(rows)
            done = len(pilot)

    def accumulate() -> None:
        bar = progress_bar(len(seeds), "average geometry", progress_enabled(progress) and _dist.rank() == 0,
                           initial=done, unit="network")
        for i in range(done, len(seeds), step):
            sums.add(run(route, seeds[i: i + step]))
            if bar is not None:
                bar.update(min(step, len(seeds) - i))
        if bar is not None:
            bar.close()

    if not split:
        accumulate()
    else:  # sum_k A_k, sum_k ||A_k||^2 and the count over all ranks
        _dist.all_succeed(accumulate)
        total = _dist.all_reduce_sum(sums.total)
        rest = _dist.all_reduce_sum(torch.tensor([sums.sq, sums.n], dtype=torch.float64, device=dev))
        sums.total, sums.sq, sums.n = total, float(rest[0]), int(rest[1])
        if sums.blocks is not None:
            sums.blocks = _dist.all_reduce_sum(sums.blocks)
        if sums.n != n:
            raise RuntimeError(f"paperlib.gih: the ranks measured {sums.n} networks in all, not {n}")
    gram = trace = None
    if sums.blocks is not None:
        means = sums.blocks / torch.tensor(bounds, dtype=torch.float64, device=dev).diff()[:, None, None]
        gram, trace = (means.flatten(1) @ means.flatten(1).T).cpu(), torch.diagonal(means, dim1=1, dim2=2).sum(1).cpu()
    return AverageGeometry(sums.total / n, n, inputs, sigma_x, output, route, shape, sums.sq,
                           time.perf_counter() - start, gram, trace)
