"""The measures of :mod:`paperlib.geometry`: :func:`jacobian`, :func:`metric`, :func:`spectrum` and
:func:`log_volume_element` of a feature map, with their shared options (written once in :data:`_OPTIONS_DOC`, bound
and checked by :func:`_bind`, split across the ranks of ``torch.distributed`` by :func:`_sharded`), and the singular
values and log volume element of given Jacobians."""

from __future__ import annotations

import functools
import inspect
import math  # noqa: F401 -- the docstring examples use it
import warnings  # noqa: F401 -- the docstring examples use it
from typing import Callable

import torch
from torch import nn

from .. import distributed as _dist
from .._checks import check_base, check_bool, check_choice, check_int
from .._linalg import RankDeficiencyWarning, check_chunk_size, log_volume, prepare_input  # noqa: F401 -- examples
from .derivatives import _architecture_key, _chunked
from .feature_maps import FeatureMap, Mode, Strategy, TrainMode, _as_function, _Bound, _probe, _wants_graph


def _bind(f: FeatureMap, x: torch.Tensor, **options) -> _Bound:
    """Validate every argument (the options first, then ``x``, then the map on two points) and bind them.

    ``options`` are those of :func:`jacobian`, whose signature holds their defaults (``TypeError`` for another).
    """
    bound = inspect.signature(jacobian).bind(f, x, **options)
    bound.apply_defaults()
    o = bound.arguments
    chunk_size = check_chunk_size(o["chunk_size"])
    check_choice(o["mode"], "mode", ("auto", "forward", "reverse"))
    check_bool(o["compile"], "compile")
    strategy = check_choice(o["strategy"], "strategy", ("auto", "vmap", "loop"))
    if strategy == "loop" and o["mode"] == "forward":
        raise ValueError("strategy='loop' runs backward passes: it needs mode='reverse' (or 'auto')")
    graph = _wants_graph(o["create_graph"], x)
    if graph and o["compile"]:
        raise ValueError("compile=True cannot record gradients through the geometry (torch.compile does not "
                         "differentiate its compiled derivatives again): pass compile=False, which does, on every "
                         "strategy")
    x = prepare_input(x, "x", o["dtype"], o["device"])
    x = x if graph else x.detach()
    fn, state = _as_function(f, x.dtype, x.device, o["train_mode"], o["select"], graph)
    mode = o["mode"]
    if o["compile"] and isinstance(f, nn.Module) and any(isinstance(m, nn.modules.batchnorm._NormBase)
                                                         for m in f.modules()):
        # torch.compile cannot trace forward-mode derivatives of batch norm (and a failed trace inside a torch.func
        # transform leaves torch's transform state broken for the rest of the process): reverse mode compiles.
        if mode == "forward":
            raise ValueError(f"compile=True cannot compile forward-mode derivatives of batch norm in torch "
                             f"{torch.__version__}: pass mode='reverse' (or 'auto') or compile=False")
        mode = "reverse"
    if strategy == "loop":
        mode = "reverse"
    # the strategy "auto" picks is a property of the architecture (see _architecture_key)
    key = (_architecture_key(fn), o["select"], tuple(x.shape[1:]), x.dtype, x.device.type, graph)
    return _Bound(fn, state, x, _probe(fn, state, x), chunk_size, mode, o["compile"], strategy, key, graph)


def _sharded(public: Callable, f: FeatureMap, x: torch.Tensor, distributed: bool | None, **kwargs):
    """``public(f, x, **kwargs)`` computed in shards across the ranks of ``torch.distributed`` and gathered in order
    on every rank (each rank calls ``public`` on its contiguous shard of the points with ``distributed=False``), or
    ``None`` where the points are not split: ``distributed`` resolves to false (:func:`paperlib.distributed.use`),
    ``x`` is not a batch tensor (the single-process path reports it), or there are fewer points than ranks (every
    rank then measures them all)."""
    if not _dist.use(distributed) or not isinstance(x, torch.Tensor) or x.ndim == 0:
        return None
    if _wants_graph(kwargs.get("create_graph"), x):
        raise ValueError("gradients do not flow back through the gather of distributed=True: pass "
                         "distributed=False, so that each rank measures (and differentiates) its own points, as in "
                         "data-parallel training with a geometric penalty")
    n = x.shape[0]
    _dist.agree(n, what="the numbers of points")
    if n < _dist.world_size():
        return None
    return _dist.shard_map(lambda part: public(f, x[part], distributed=False, **kwargs), n)


#: the options shared by :func:`jacobian`, :func:`metric`, :func:`spectrum` and :func:`log_volume_element`, written
#: once and filled into their docstrings by :func:`_options_doc`
_OPTIONS_DOC = """
        f: batched feature map ``(B, *in_shape) -> (B, n)`` (outputs of any shape ``(B, ...)`` are flattened to
            ``n``), returning a floating tensor in its input's dtype; checked on ``x[:2]`` (see the module notes).
        x: inputs, shape ``(B, *in_shape)``; ``d = prod(in_shape)``.
        chunk_size: differentiate at most this many points at once. ``None`` picks it so that the ``k``
            vmapped directions (``k = d`` forward, ``n`` reverse) hold at most about ``2**24`` numbers,
            ``chunk * k * max(n, d)``; the map's own activations scale with it too.
        mode: ``"forward"`` (``d`` JVPs), ``"reverse"`` (``n`` VJPs), or ``"auto"``: forward when ``d <= n``.
        dtype: computation dtype, ``torch.float64`` (default) or ``torch.float32``; ``None`` keeps ``x``'s dtype
            (which must be one of those two). Other precisions raise ``TypeError``.
        device: ``"auto"`` (CUDA when present), a device, or ``None`` to stay on ``x``'s device.
        compile: run the batched derivatives through :func:`torch.compile`, which fuses the map's forward pass
            with its JVPs and works in cache-sized chunks. What it gains depends on the map: measured on a
            2-core CPU by ``benchmarks/bench_volume.py``, see the README. The first call for a map and chunk
            shape compiles (seconds; on CPU it needs a C++ compiler); later calls reuse the compiled code, also
            for new weights of the same architecture. Past ``torch._dynamo.config.recompile_limit`` (8) variants
            torch falls back to eager mode.
        train_mode: what to do with an ``nn.Module`` in training mode that has mode-dependent layers (batch norm,
            dropout): ``"raise"`` (default; ``ValueError`` saying to call ``.eval()``) or ``"eval_copy"``: measure
            an eval-mode deep copy (``f`` is left in training mode, untouched).
        strategy: the reverse-mode route: ``"vmap"`` (the ``n`` VJPs vmapped), ``"loop"`` (a loop of ``n``
            backward passes of the whole chunk through one recorded forward pass; implies reverse mode), or
            ``"auto"`` (default): the faster of the two, raced the first time a map is measured with a given input
            shape, dtype, device and chunk size (each route computes 1/16 of the first chunk's Jacobian rows at
            the chunk's full size; that pilot is thrown away, and costs a fraction of the call:
            ``benchmarks/bench_strategy.py``) and remembered. Maps are known by their architecture: a module by its
            ``repr``, a function by its code and the modules it closes over (a fresh ``lambda`` of the same line is
            the same map). On CPU the loop can win for convolutional and attention maps, where ``vmap`` over their
            backward is slow (``benchmarks/bench_jacobian.py``).
            Forward mode and ``compile=True`` use ``vmap``.
        select: for a map that returns a tuple, list or dict, the output to measure: its index (``int``) or key
            (``str``). A module stays a module (wrapped in :class:`Select`), so it is cast for the computation like
            any other; a wrong index or key raises an error listing the outputs.
        create_graph: record the computation so that the result can be differentiated, with respect to ``x``
            and to the parameters of ``f`` (a module's parameters that require grad; tensors a callable closes
            over), e.g. for a penalty on the volume element while training. ``None`` (default): exactly when grad
            mode is on and ``x`` requires grad; ``True``: always (``ValueError`` inside ``torch.no_grad()``);
            ``False``: never (results carry no graph, the cheapest). Every strategy and mode is differentiable;
            ``compile=True`` and ``distributed=True`` are not and raise ``ValueError`` saying so. Without a graph
            nothing is recorded at all (no partial graph through some points or some parameters).
        distributed: split the points across the ranks of ``torch.distributed`` (started by ``torchrun``, see
            :mod:`paperlib.distributed`): each rank measures its contiguous shard of ``x`` (sizes differing by at
            most one) and the results are gathered in order, so every rank returns all ``B`` rows, equal to the
            single-process result up to rounding (each shard is chunked, and with ``strategy="auto"`` timed, on
            its own). ``None`` (default): split when a process group with more than one rank is initialised;
            ``False``: every rank measures all points; ``True``: split (``RuntimeError`` without a process group).
            Every rank must make the same call with the same ``f`` and ``x`` (code that runs on one rank only
            passes ``False``); fewer points than ranks are not split.
"""


def _options_doc(fn):
    """Decorator: fill the ``{options}`` placeholder of a docstring with :data:`_OPTIONS_DOC`."""
    fn.__doc__ = fn.__doc__.replace("    {options}\n", _OPTIONS_DOC.strip("\n") + "\n")
    return fn


#: the options of :func:`jacobian` that :func:`metric`, :func:`spectrum` and :func:`log_volume_element` share
_OPTION_NAMES = ("chunk_size", "mode", "strategy", "dtype", "device", "compile", "train_mode", "select", "create_graph")


def _options(values: dict) -> dict:
    """The shared options out of a public function's ``locals()``."""
    return {name: values[name] for name in _OPTION_NAMES}


def _measure(public: Callable, compute: Callable[[_Bound], torch.Tensor], f: FeatureMap, x: torch.Tensor,
             distributed: bool | None, options: dict, **extra) -> torch.Tensor:
    """``public(f, x, ...)``: sharded across the ranks of ``torch.distributed`` (:func:`_sharded`), or
    ``compute`` of the bound call in this process."""
    sharded = _sharded(public, f, x, distributed, **extra, **options)
    return compute(_bind(f, x, **options)) if sharded is None else sharded


@_options_doc
def jacobian(
    f: FeatureMap,
    x: torch.Tensor,
    *,
    chunk_size: int | None = None,
    mode: Mode = "auto",
    strategy: Strategy = "auto",
    dtype: torch.dtype | None = torch.float64,
    device: str | torch.device | None = "auto",
    compile: bool = False,
    train_mode: TrainMode = "raise",
    select: int | str | None = None,
    create_graph: bool | None = None,
    distributed: bool | None = None,
) -> torch.Tensor:
    r"""Jacobian :math:`J_{i\mu}(x) = \partial f_i / \partial x_\mu` at every point of a batch.

    The map must treat the points of a batch independently (true of any network in ``eval()`` mode). Then one
    forward-mode JVP of the whole batch along input direction :math:`e_\mu` gives column :math:`\mu` of every
    point's Jacobian, and one reverse-mode VJP with cotangent :math:`e_i` gives row :math:`i`; the ``d`` JVPs
    (or ``n`` VJPs) are batched with :func:`torch.func.vmap`.

    Args:
    {options}

    Returns:
        ``(B, n, d)`` tensor.

    Example:
        A linear map has the constant Jacobian ``W`` (a module's parameters are cast to float64 for the computation):

        >>> _ = torch.manual_seed(0)
        >>> f = nn.Linear(3, 2)  # (B, 3) -> (B, 2)
        >>> J = jacobian(f, torch.randn(4, 3))
        >>> tuple(J.shape), J.dtype
        ((4, 2, 3), torch.float64)
        >>> torch.allclose(J.cpu(), f.weight.double().expand(4, 2, 3))
        True
    """
    return _measure(jacobian, functools.partial(_chunked, "jacobian"), f, x, distributed, _options(locals()))


@_options_doc
def metric(
    f: FeatureMap,
    x: torch.Tensor,
    *,
    chunk_size: int | None = None,
    mode: Mode = "auto",
    strategy: Strategy = "auto",
    dtype: torch.dtype | None = torch.float64,
    device: str | torch.device | None = "auto",
    compile: bool = False,
    train_mode: TrainMode = "raise",
    select: int | str | None = None,
    create_graph: bool | None = None,
    distributed: bool | None = None,
) -> torch.Tensor:
    r"""Pullback metric :math:`g = J^\top J`, :math:`g_{\mu\nu} = \sum_i \partial_\mu f_i\,\partial_\nu f_i`.

    Contracted chunk by chunk from the directional derivatives, so the full ``(B, n, d)`` Jacobian is never
    stored.

    Args:
    {options}

    Returns:
        ``(B, d, d)`` symmetric positive semi-definite tensor.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> f, x = nn.Sequential(nn.Linear(2, 5), nn.Tanh()), torch.randn(4, 2)
        >>> g, J = metric(f, x), jacobian(f, x)
        >>> tuple(g.shape), torch.allclose(g, J.mT @ J)
        ((4, 2, 2), True)
    """
    return _measure(metric, functools.partial(_chunked, "metric"), f, x, distributed, _options(locals()))


#: the metric's eigenvalues are used directly where :math:`\lambda_{min} \ge` this times :math:`\lambda_{max}`
GRAM_RTOL = 1e-4


def singular_values(J: torch.Tensor) -> torch.Tensor:
    r"""Singular values of a batch of matrices ``(B, n, d)``, descending: ``(B, min(n, d))``.

    For tall (or wide) matrices a Householder QR first reduces ``J`` to its ``min(n, d)``-square triangular
    factor ``R`` (same singular values, backward stable), which is much cheaper than an SVD of ``J`` itself.
    Where ``J`` requires grad, the singular values are taken from an SVD of ``J`` directly: the derivative of
    :math:`s_i` is :math:`u_i^\top\, dJ\, v_i`, defined for any rank, while QR's derivative needs ``Q`` and
    ``R^{-1}`` (undefined for a rank-deficient ``J``).

    Args:
        J: ``(B, n, d)`` tensor (e.g. from :func:`jacobian`).

    Returns:
        ``(B, min(n, d))`` tensor, descending along the last axis.

    Examples:
        >>> singular_values(torch.tensor([[[3.0, 0.0], [0.0, 4.0], [0.0, 0.0]]]))  # one (3, 2) matrix
        tensor([[4., 3.]])
        >>> _ = torch.manual_seed(0)
        >>> J = torch.randn(5, 8, 3, dtype=torch.float64)
        >>> torch.allclose(singular_values(J) ** 2, torch.linalg.eigvalsh(J.mT @ J).flip(-1))  # s_i^2 = lambda_i(g)
        True
    """
    n, d = J.shape[-2:]
    if J.requires_grad:
        return torch.linalg.svdvals(J)
    if n >= 2 * d:
        J = torch.linalg.qr(J, mode="r")[1]
    elif d >= 2 * n:
        J = torch.linalg.qr(J.mT, mode="r")[1]
    return torch.linalg.svdvals(J)


@_options_doc
def spectrum(
    f: FeatureMap,
    x: torch.Tensor,
    *,
    chunk_size: int | None = None,
    mode: Mode = "auto",
    strategy: Strategy = "auto",
    dtype: torch.dtype | None = torch.float64,
    device: str | torch.device | None = "auto",
    compile: bool = False,
    train_mode: TrainMode = "raise",
    select: int | str | None = None,
    create_graph: bool | None = None,
    distributed: bool | None = None,
) -> torch.Tensor:
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
    {options}

    Returns:
        ``(B, min(n, d))`` tensor, descending along the last axis.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> f, x = nn.Sequential(nn.Linear(2, 5), nn.Tanh()), torch.randn(4, 2)
        >>> s = spectrum(f, x)
        >>> tuple(s.shape), torch.allclose(s ** 2, torch.linalg.eigvalsh(metric(f, x)).flip(-1))
        ((4, 2), True)
    """
    return _measure(spectrum, _spectrum, f, x, distributed, _options(locals()))


def _spectrum(b: _Bound) -> torch.Tensor:
    if b.x.dtype != torch.float64 or b.d > b.n:
        J = _chunked("jacobian", b)
        # the exact singular values of the computed J: a float32 J is decomposed in float64 (cheap next to J)
        return singular_values(J.double()).to(J.dtype) if J.dtype == torch.float32 else singular_values(J)
    g = _chunked("metric", b)
    lam = _eigenvalues_descending(g, differentiable=g.requires_grad)
    ill = ~(lam[:, -1] >= GRAM_RTOL * lam[:, 0])  # also NaN, and negative round-off
    if not bool(ill.any()):
        return lam.clamp_min(0).sqrt()
    # few points: not worth a compilation for their shape. Out of place, and no sqrt at the replaced points
    # (its derivative at 0 is infinite, and 0 * inf would poison the gradients of the parameters)
    s = torch.where(ill[:, None], torch.ones_like(lam), lam).clamp_min(0).sqrt()
    idx = ill.nonzero().flatten()
    return s.index_put((idx,), singular_values(_chunked("jacobian", b._replace(x=b.x[idx], compile=False))))


def _eigenvalues_descending(g: torch.Tensor, differentiable: bool = False) -> torch.Tensor:
    r"""Eigenvalues of symmetric PSD ``(B, d, d)`` matrices, descending. For ``d = 2`` in closed form,
    :math:`\lambda_1 = m + \sqrt{((a - c)/2)^2 + b^2}`, :math:`m = (a + c)/2` (no cancellation) and
    :math:`\lambda_2 = (ac - b^2)/\lambda_1`, whose absolute error :math:`\sim\epsilon\lambda_1` matches a
    symmetric eigensolver's; otherwise (and where the result is to be differentiated: the closed form's
    ``hypot`` has no derivative at an isotropic metric) LAPACK via :func:`torch.linalg.eigvalsh`."""
    if g.shape[-1] != 2 or differentiable:
        return torch.linalg.eigvalsh(g).flip(-1)
    a, b, c = g[:, 0, 0], g[:, 0, 1], g[:, 1, 1]
    big = 0.5 * (a + c) + torch.hypot(0.5 * (a - c), b)
    small = (a * c - b * b) / torch.where(big > 0, big, torch.ones_like(big))
    return torch.stack([big, small], -1)


def log_volume_from_singular_values(
    s: torch.Tensor, *, d: int, k: int | None = None, base: float = 10
) -> torch.Tensor:
    r"""Log volume element from the singular values of ``J`` (shape ``(B, m)``, descending, ``m = min(n, d)``).

    .. math::  \log_b \sqrt{\textstyle\prod_{i \le k} \lambda_i(g)} = \sum_{i \le k} \log_b s_i .

    ``k = None`` is the full determinant (``k = d``): it is :math:`-\infty` when ``J`` has rank below ``d``
    (in particular whenever ``n < d``). Singular values below the numerical-rank threshold
    ``max(n, d) * eps * s_max`` count as exact zeros, so a rank-deficient metric gives ``-inf``, never a large
    negative number from round-off, and never NaN. Where a given ``k`` exceeds that numerical rank the result is
    ``-inf`` and one :class:`RankDeficiencyWarning` (a ``RuntimeWarning``) per call names ``k`` and the rank.

    Args:
        s: ``(B, m)`` singular values, descending (e.g. from :func:`spectrum` or :func:`singular_values`).
        d: the input dimension of the Jacobians (``k = None`` means ``k = d``).
        k: ``None`` or an integer in ``1..m``.
        base: logarithm base (default 10).

    Returns:
        ``(B,)`` float64 tensor (the logarithms are summed in float64 whatever the dtype of ``s``).

    Example:
        >>> s = torch.tensor([[100.0, 10.0, 0.0]])  # the singular values of a rank-2 (n, 3) Jacobian
        >>> log_volume_from_singular_values(s, d=3, k=2)  # log10(100 * 10)
        tensor([3.], dtype=torch.float64)
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     full = log_volume_from_singular_values(s, d=3, k=3)  # k above the rank
        >>> full, caught[0].category is RankDeficiencyWarning
        (tensor([-inf], dtype=torch.float64), True)
    """
    base = check_base(base)
    d = check_int(d, "d", min=1)
    k = check_int(k, "k", min=1, max=s.shape[-1], none_ok=True)
    return log_volume(s, d, k, base)


@_options_doc
def log_volume_element(
    f: FeatureMap,
    x: torch.Tensor,
    *,
    k: int | None = None,
    base: float = 10,
    chunk_size: int | None = None,
    mode: Mode = "auto",
    strategy: Strategy = "auto",
    dtype: torch.dtype | None = torch.float64,
    device: str | torch.device | None = "auto",
    compile: bool = False,
    train_mode: TrainMode = "raise",
    select: int | str | None = None,
    create_graph: bool | None = None,
    distributed: bool | None = None,
) -> torch.Tensor:
    r"""Log volume element :math:`\log_b \sqrt{\det g(x)}`, or the top-``k`` pseudo-determinant.

    Computed from the singular values :math:`s_i` of ``J`` (never from :math:`\det g`):

    .. math::  \log_b \sqrt{\det g} = \sum_{i=1}^{d} \log_b s_i, \qquad
               \log_b \sqrt{\textstyle\prod_{i \le k}\lambda_i(g)} = \sum_{i=1}^{k} \log_b s_i .

    Args:
        k: ``None`` for the full determinant; an integer in ``1..min(n, d)`` for the product of the top ``k``
            eigenvalues. A full metric of rank below ``d`` (e.g. any map with ``n < d``, or a ReLU map whose
            units are all inactive) has volume element 0 and gives ``-inf``: pass ``k`` to measure the volume
            of the subspace the map does not collapse. A ``k`` above the numerical rank of ``J`` (e.g. ``k = 64``
            behind a 32-channel bottleneck) also gives ``-inf``, with a :class:`RankDeficiencyWarning` that
            names the rank found. Where the result is ``-inf`` it has no derivative (NaN gradients there).
        base: logarithm base (default 10).
    {options}

    With ``dtype=torch.float32`` (half the memory, e.g. for ResNet-34 on a GPU; what it saves in time depends on
    the map and the device: ``benchmarks/bench_volume.py``) the Jacobian is computed in float32 with TF32 off
    (:func:`full_fp32`), its singular values are taken in float64 and their logarithms summed in float64;
    singular values below ``max(n, d) * eps * s_max`` (float32 ``eps``) count as zero.

    Returns:
        ``(B,)`` float64 tensor.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> f, x = nn.Sequential(nn.Linear(2, 5), nn.Tanh()), torch.randn(4, 2)
        >>> lv = log_volume_element(f, x)  # log10 sqrt(det g)
        >>> tuple(lv.shape), torch.allclose(lv, 0.5 * torch.logdet(metric(f, x)) / math.log(10))
        ((4,), True)
        >>> torch.allclose(log_volume_element(f, x, k=1), spectrum(f, x)[:, 0].log10())  # top-1: log10 s_1
        True
    """
    k = check_int(k, "k", min=1, none_ok=True)
    base = check_base(base)

    def compute(b: _Bound) -> torch.Tensor:
        if k is not None and k > min(b.n, b.d):
            raise ValueError(f"k must be an integer in 1..min(n, d) = 1..{min(b.n, b.d)}; got {k!r}")
        return log_volume(_spectrum(b), b.d, k, base)

    return _measure(log_volume_element, compute, f, x, distributed, _options(locals()), k=k, base=base)
