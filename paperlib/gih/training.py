r"""The average geometry *during training* and the experiments built on the eigen-directions of :mod:`paperlib.gih`.

- :func:`network_geometry`: :math:`\hat G` over a given list of (trained) networks, one network at a time;
  :func:`geometry_during_training`: :math:`\hat G_t` over training runs at their snapshot epochs, with the same
  input points for network ``k`` at every epoch (so :math:`\hat G_t - \hat G_0` is a paired difference);
  :func:`velocity`: :math:`1 - \rho(G_{t+1}, G_t)`;
- :func:`eigen_directions`: eigenvectors of :math:`G S G`, descending; :func:`projection_labels`: balanced labels
  that depend on an input only through its projection :math:`\langle x, u\rangle`; :func:`project_out`,
  :func:`random_directions`: removing directions from the inputs;
- :func:`geometry_scores`: :math:`s(x) = \hat x^\top G \hat x`; :func:`prune`: the indices a pruning by score keeps.

Inputs are batches ``(N, *in_shape)`` and directions live in the flattened ``C x H x W`` order of the inputs
(PyTorch's own; nothing is permuted), ``D = prod(in_shape)``.

The stacked route of :func:`paperlib.gih.average_geometry` draws *fresh* networks from the initialisation law;
trained networks have no such law to draw from, so :func:`network_geometry` evaluates each given network on its
own (the ``"modules"`` route).
"""

from __future__ import annotations

import math
from typing import Iterable, Mapping, Sequence

import torch
from torch import nn

from .._checks import check_choice, check_int, check_ints, check_number
from .average import AverageGeometry, _Sums
from .gradients import OUTPUTS, _gradient_rows
from .matrices import _square, alignment
from .networks import _SEED_STRIDE, _pick

__all__ = ["network_rows", "geometry_from_rows", "network_geometry", "geometry_during_training", "velocity", "eigen_directions", "LABEL_FORMS",
           "projection_labels", "project_out", "random_directions", "geometry_scores", "PRUNE_MODES", "prune"]

LABEL_FORMS = ("linear", "quadratic", "sinusoidal")
PRUNE_MODES = ("geometry", "reverse", "random")


def _network_points(seed: int, k: int, inputs: int, in_shape: tuple, dtype: torch.dtype) -> torch.Tensor:
    """The ``inputs`` standard normal points of network ``k`` (the same at every epoch)."""
    gen = torch.Generator().manual_seed(seed * _SEED_STRIDE + k + _SEED_STRIDE // 2)
    return torch.randn(inputs, *in_shape, generator=gen, dtype=dtype)


def network_rows(net: nn.Module, index: int, in_shape: Sequence[int], *, inputs: int = 8, sigma_x: float = 1.0,
                 output: str = "mean", seed: int = 0, select: int | str | None = None) -> torch.Tensor:
    r"""The gradient rows :math:`\nabla_x s(x_r)` of one network at its own input points: network number
    ``index`` of an estimate is evaluated (in eval mode; its own modes are restored afterwards) at ``inputs``
    points :math:`x \sim N(0, \sigma_x^2 I)` drawn from a generator seeded by ``(seed, index)`` alone, whatever
    the network's weights -- so the same run at two epochs sees the same points. Returns ``(M, D)``
    (``M = inputs`` for ``"mean"``, ``inputs * C`` for ``"logits"``), detached, on the CPU.

    Example:
        >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 1))
        >>> rows = network_rows(net, 0, (1, 2, 2), inputs=3)
        >>> rows.shape, torch.allclose(rows, net[1].weight.detach().expand(3, 4))
        (torch.Size([3, 4]), True)
    """
    if not isinstance(net, nn.Module):
        raise TypeError(f"net must be an nn.Module; got {type(net).__name__}")
    shape = check_ints(in_shape, "in_shape", min=1)
    check_int(index, "index", min=0)
    check_int(inputs, "inputs", min=1)
    sigma_x = check_number(sigma_x, "sigma_x", min=0, open_min=True)
    check_choice(output, "output", OUTPUTS)
    check_int(seed, "seed", min=0)
    p = next(net.parameters(), None)
    dtype = p.dtype if p is not None else torch.float32
    dev = p.device if p is not None else torch.device("cpu")
    x = _network_points(seed, index, inputs, shape, dtype).to(dev) * sigma_x
    modes = [(m, m.training) for m in net.modules()]
    net.eval()
    try:
        return _gradient_rows(lambda xx: _pick(net(xx), select), x, output, batch_dims=1).detach().cpu()
    finally:  # the caller's network is left in the modes it came in
        for m, training in modes:
            m.training = training


def geometry_from_rows(rows: torch.Tensor, in_shape: Sequence[int], *, inputs: int | None = None,
                       sigma_x: float = 1.0, output: str = "mean") -> AverageGeometry:
    r"""The estimate :math:`\hat G = \tfrac1N \sum_k \tfrac1M \sum_r g_{kr} g_{kr}^\top` from the gradient rows
    ``(N, M, D)`` of ``N`` networks (e.g. :func:`network_rows` of each), with its Monte-Carlo error
    (:class:`paperlib.gih.AverageGeometry`; ``inputs``, ``sigma_x``, ``output`` are recorded as given,
    ``inputs`` defaults to ``M``).

    Example:
        >>> rows = torch.ones(2, 3, 4, dtype=torch.float64)  # 2 networks, 3 points, D = 4
        >>> est = geometry_from_rows(rows, (4,))
        >>> torch.equal(est.G, torch.ones(4, 4, dtype=torch.float64)), est.networks
        (True, 2)
    """
    shape = check_ints(in_shape, "in_shape", min=1)
    if not isinstance(rows, torch.Tensor) or rows.ndim != 3 or rows.shape[0] < 1 or rows.shape[2] != math.prod(shape):
        raise ValueError(f"rows must be (N, M, D) with N >= 1 and D = {math.prod(shape)}; got "
                         f"{getattr(rows, 'shape', type(rows).__name__)}")
    sums = _Sums(rows.shape[2], rows.device)
    sums.add(rows)
    return AverageGeometry(sums.total.cpu() / sums.n, sums.n, inputs or rows.shape[1], sigma_x, output, "modules",
                           shape, sums.sq)


def network_geometry(networks: Iterable[nn.Module], in_shape: Sequence[int], *, inputs: int = 8,
                     sigma_x: float = 1.0, output: str = "mean", seed: int = 0,
                     select: int | str | None = None) -> AverageGeometry:
    r"""The average geometry over the given networks (e.g. trained ones),
    :math:`\hat G = \tfrac1N \sum_k \tfrac1M \sum_r g_{kr} g_{kr}^\top`, one network at a time.

    Network ``k`` (in the order given) is evaluated at its own points (:func:`network_rows` with ``index=k``), so
    estimates of the same runs at two epochs are paired.

    Args:
        networks: modules mapping ``(B, *in_shape)`` to outputs ``(B, ...)`` (evaluated in eval mode and left in
            the modes they came in; not modified). At least one.
        in_shape: the shape of one input, e.g. ``(1, 32, 32)``; ``D = prod(in_shape)``.
        inputs: points per network; sigma_x: their standard deviation (> 0).
        output: ``"mean"`` (the mean over the output's numbers) or ``"logits"`` (:mod:`paperlib.gih`).
        seed: seed of the points; select: the entry of a tuple/list/dict output.

    Returns:
        :class:`paperlib.gih.AverageGeometry` with ``G: (D, D)`` float64 and route ``"modules"``.

    Example:
        >>> nets = [nn.Sequential(nn.Flatten(), nn.Linear(4, 1)) for _ in range(3)]
        >>> est = network_geometry(nets, (1, 2, 2), inputs=2)
        >>> w = torch.stack([n[1].weight[0] for n in nets]).double()
        >>> torch.allclose(est.G, w.T @ w / 3, atol=1e-7), est.networks
        (True, 3)
    """
    shape = check_ints(in_shape, "in_shape", min=1)
    sums = None
    for k, net in enumerate(networks):
        if not isinstance(net, nn.Module):
            raise TypeError(f"networks must hold nn.Module objects; item {k} is a {type(net).__name__}")
        rows = network_rows(net, k, shape, inputs=inputs, sigma_x=sigma_x, output=output, seed=seed, select=select)
        if sums is None:
            sums = _Sums(math.prod(shape), torch.device("cpu"))
        sums.add(rows[None])
    if sums is None:
        raise ValueError("networks must hold at least one network")
    return AverageGeometry(sums.total / sums.n, sums.n, inputs, sigma_x, output, "modules", shape, sums.sq)


def geometry_during_training(results: Sequence, epochs: Sequence[int] | None = None, *,
                             in_shape: Sequence[int], **kwargs) -> dict[int, AverageGeometry]:
    r""":math:`\hat G_t` over training runs at each of ``epochs``: :func:`network_geometry` of the runs' snapshots
    ``[r.model(t) for r in results]`` (run ``k`` keeps its input points at every epoch, so differences between
    epochs are paired). The expectation is over the runs' seeds, i.e. over initialisation and minibatch order.

    Args:
        results: :class:`paperlib.train.TrainResult` objects (or anything with ``.model(epoch)`` and
            ``.snapshots``) holding a snapshot at every epoch asked for.
        epochs: the epochs (``None``: those every run has a snapshot of).
        in_shape, kwargs: of :func:`network_geometry`.

    Returns:
        ``{epoch: AverageGeometry}``, each ``G: (D, D)``.

    Example:
        >>> class Run:  # two snapshots of one linear network: weights w and 2 w
        ...     snapshots = [0, 1]
        ...     def model(self, t):
        ...         net = nn.Linear(2, 1, bias=False)
        ...         with torch.no_grad():
        ...             net.weight.copy_(torch.tensor([[1.0, 2.0]]) * (1 + t))
        ...         return net
        >>> Gt = geometry_during_training([Run()], in_shape=(2,), inputs=2)
        >>> sorted(Gt), float(Gt[1].G[1, 1] / Gt[0].G[1, 1])
        ([0, 1], 4.0)
    """
    if not results:
        raise ValueError("results must hold at least one training run")
    common = sorted(set.intersection(*(set(r.snapshots) for r in results)))
    epochs = common if epochs is None else check_ints(epochs, "epochs", min=0)
    missing = [t for t in epochs if t not in common]
    if missing:
        raise ValueError(f"epochs {missing} are not snapshot epochs of every run (they have {common})")
    return {t: network_geometry([r.model(t) for r in results], in_shape, **kwargs) for t in epochs}


def velocity(geometries: Sequence[torch.Tensor] | Mapping[int, object]) -> list[float]:
    r"""The velocity of a sequence of geometries, :math:`1 - \rho(G_{t+1}, G_t)` for consecutive entries
    (``T`` matrices ``(D, D)``, or ``{epoch: AverageGeometry}`` in epoch order) -> ``T - 1`` floats.

    Example:
        >>> I = torch.eye(3, dtype=torch.float64)
        >>> [round(v, 6) for v in velocity([I, 2 * I, torch.diag(torch.tensor([1.0, 0, 0], dtype=torch.float64))])]
        [0.0, 0.42265]
    """
    if isinstance(geometries, Mapping):
        geometries = [getattr(geometries[t], "G", geometries[t]) for t in sorted(geometries)]
    mats = list(geometries)
    if len(mats) < 2:
        raise ValueError("geometries must hold at least two matrices")
    return [1.0 - alignment(a, b) for a, b in zip(mats[1:], mats[:-1])]


def eigen_directions(G: torch.Tensor, S: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Eigenvalues ``(D,)`` and eigenvectors ``(D, D)`` (column ``k`` is :math:`u_k`) of :math:`G S G`,
    descending: the directions in which :math:`\Delta^0 \propto G S G` changes the geometry most (``k = 0``) and
    least. ``G``, ``S``: symmetric ``(D, D)``.

    Example:
        >>> values, U = eigen_directions(torch.eye(3), torch.diag(torch.tensor([1.0, 3.0, 2.0])))
        >>> values.tolist(), U[:, 0].abs().tolist()
        ([3.0, 2.0, 1.0], [0.0, 1.0, 0.0])
    """
    G, S = _square(G, "G"), _square(S, "S")
    if G.shape != S.shape:
        raise ValueError(f"G and S must have the same shape; got {tuple(G.shape)} and {tuple(S.shape)}")
    M = G @ S @ G
    values, vectors = torch.linalg.eigh((M + M.T) / 2)
    return values.flip(0), vectors.flip(1)


def _projection(x: torch.Tensor, u: torch.Tensor, name: str = "x") -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.ndim < 2:
        raise ValueError(f"{name} must be a batch (N, *in_shape); got {getattr(x, 'shape', type(x).__name__)}")
    u = u.flatten() if isinstance(u, torch.Tensor) else u
    if not isinstance(u, torch.Tensor) or u.numel() != x[0].numel():
        raise ValueError(f"u must be a direction with D = {x[0].numel()} entries; got "
                         f"{getattr(u, 'shape', type(u).__name__)}")
    return x.flatten(1).double() @ u.double()


def projection_labels(x: torch.Tensor, u: torch.Tensor, form: str = "linear", *, reference: torch.Tensor | None = None,
                      frequency: float = 2.0) -> torch.Tensor:
    r"""Binary labels that depend on each input only through its projection :math:`p = \langle x, u\rangle`.

    With :math:`m` the median and :math:`s` the standard deviation of the projections of ``reference``
    (default ``x``) and :math:`q = (p - m)/s`:

    - ``"linear"``: :math:`h = q` (the label is :math:`\operatorname{sign}(\langle x, u\rangle - m)`);
    - ``"quadratic"``: :math:`h = q^2` (far from the median vs near it);
    - ``"sinusoidal"``: :math:`h = \sin(\pi f q)` with :math:`f` = ``frequency``;

    and the label is :math:`[h(x) > \operatorname{median}_{\text{reference}} h]`. On the reference set itself (an
    even number of distinct projections) exactly half the labels are 1.

    Args:
        x: ``(N, *in_shape)``; u: a direction with ``D`` entries (any shape); form: one of :data:`LABEL_FORMS`.
        reference: ``(M, *in_shape)`` inputs fixing :math:`m`, :math:`s` and the threshold (e.g. the training
            set when labelling its test set).
        frequency: :math:`f` of the sinusoidal form (> 0).

    Returns:
        ``(N,)`` long labels in ``{0, 1}``.

    Example:
        >>> x = torch.arange(6.0).reshape(6, 1, 1, 1)
        >>> projection_labels(x, torch.ones(1)).tolist()
        [0, 0, 0, 1, 1, 1]
        >>> projection_labels(x, torch.ones(1), "quadratic").tolist()
        [1, 0, 0, 0, 1, 1]
    """
    check_choice(form, "form", LABEL_FORMS)
    check_number(frequency, "frequency", min=0, open_min=True)
    p = _projection(x, u)
    ref = p if reference is None else _projection(reference, u, "reference")
    m = ref.median()
    s = ref.std() if ref.numel() > 1 else torch.ones((), dtype=ref.dtype)
    s = s if float(s) > 0 else torch.ones((), dtype=ref.dtype)

    def h(v: torch.Tensor) -> torch.Tensor:
        q = (v - m) / s
        return q if form == "linear" else q.square() if form == "quadratic" else torch.sin(math.pi * frequency * q)
    return (h(p) > h(ref).median()).long()


def random_directions(d: int, m: int, *, seed: int = 0, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    r"""``m`` orthonormal directions in :math:`\mathbb R^d` drawn uniformly (QR of a Gaussian ``(d, m)`` matrix,
    signs of :math:`\operatorname{diag} R` fixed), seeded: ``(d, m)``, columns orthonormal.

    Example:
        >>> U = random_directions(5, 2, seed=1)
        >>> tuple(U.shape), torch.allclose(U.T @ U, torch.eye(2, dtype=torch.float64))
        ((5, 2), True)
    """
    d, m = check_int(d, "d", min=1), check_int(m, "m", min=0, max=d)
    gen = torch.Generator().manual_seed(check_int(seed, "seed"))
    Q, R = torch.linalg.qr(torch.randn(d, m, generator=gen, dtype=torch.float64))
    return (Q * torch.sign(torch.diagonal(R))).to(dtype)


def project_out(x: torch.Tensor, U: torch.Tensor) -> torch.Tensor:
    r"""The inputs with the span of the orthonormal columns of ``U`` removed, :math:`x - U U^\top x`.

    Args:
        x: ``(N, *in_shape)``; U: ``(D, m)`` with orthonormal columns (``m = 0`` leaves ``x`` unchanged).

    Returns:
        ``(N, *in_shape)`` in ``x``'s dtype.

    Example:
        >>> x = torch.ones(2, 1, 1, 3)
        >>> project_out(x, torch.eye(3)[:, :1]).flatten(1).tolist()
        [[0.0, 1.0, 1.0], [0.0, 1.0, 1.0]]
    """
    if not isinstance(x, torch.Tensor) or x.ndim < 2:
        raise ValueError(f"x must be a batch (N, *in_shape); got {getattr(x, 'shape', type(x).__name__)}")
    if not isinstance(U, torch.Tensor) or U.ndim != 2 or U.shape[0] != x[0].numel():
        raise ValueError(f"U must be (D, m) with D = {x[0].numel()}; got {getattr(U, 'shape', type(U).__name__)}")
    flat = x.flatten(1).double()
    Ud = U.double()
    return (flat - (flat @ Ud) @ Ud.T).to(x.dtype).reshape(x.shape)


def geometry_scores(x: torch.Tensor, G: torch.Tensor) -> torch.Tensor:
    r"""The geometry score of each input, :math:`s(x) = \hat x^\top G \hat x` with :math:`\hat x = x / \|x\|`
    (0 for a zero input): how much the average geometry stretches the input's direction.

    Each score is a function of its own input alone, so shuffling or splitting the data moves the scores with
    the inputs. ``x: (N, *in_shape)``, ``G: (D, D)`` -> ``(N,)`` float64.

    Example:
        >>> geometry_scores(torch.tensor([[2.0, 0.0], [0.0, 3.0]]), torch.diag(torch.tensor([1.0, 5.0]))).tolist()
        [1.0, 5.0]
    """
    G = _square(G, "G")
    if not isinstance(x, torch.Tensor) or x.ndim < 2 or x[0].numel() != G.shape[0]:
        raise ValueError(f"x must be a batch (N, *in_shape) with D = {G.shape[0]}; got "
                         f"{getattr(x, 'shape', type(x).__name__)}")
    flat = x.flatten(1).double()
    xhat = flat / flat.norm(dim=1, keepdim=True).clamp_min(torch.finfo(torch.float64).tiny)
    return ((xhat @ G.to(xhat.device)) * xhat).sum(1)


def prune(scores: torch.Tensor, fraction: float, mode: str = "geometry", *, seed: int = 0) -> torch.Tensor:
    r"""The indices that a pruning keeps: ``round(fraction * N)`` of the ``N`` items, sorted ascending --
    ``"geometry"``: the highest scores, ``"reverse"``: the lowest, ``"random"``: a uniformly random subset
    (generator seeded with ``seed``; the scores are not read). Ties are broken by index.

    Args:
        scores: ``(N,)``, e.g. :func:`geometry_scores` of the training inputs in their own order.
        fraction: in ``(0, 1]``; mode: one of :data:`PRUNE_MODES`.

    Returns:
        ``(K,)`` long tensor of indices into the scored data.

    Example:
        >>> prune(torch.tensor([0.1, 0.9, 0.5, 0.7]), 0.5).tolist(), prune(torch.tensor([0.1, 0.9, 0.5, 0.7]), 0.5, "reverse").tolist()
        ([1, 3], [0, 2])
    """
    if not isinstance(scores, torch.Tensor) or scores.ndim != 1 or scores.numel() == 0:
        raise ValueError(f"scores must be a non-empty (N,) tensor; got {getattr(scores, 'shape', type(scores).__name__)}")
    check_number(fraction, "fraction", min=0, open_min=True, max=1)
    check_choice(mode, "mode", PRUNE_MODES)
    n = scores.numel()
    k = max(1, round(fraction * n))
    if mode == "random":
        idx = torch.randperm(n, generator=torch.Generator().manual_seed(check_int(seed, "seed")))[:k]
    else:
        order = torch.argsort(scores.double(), descending=mode == "geometry", stable=True)
        idx = order[:k]
    return torch.sort(idx).values
