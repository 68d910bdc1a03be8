"""How :mod:`paperlib.geometry` differentiates a feature map: the per-chunk kernels (the ``d`` JVPs of forward mode
or the ``n`` VJPs of reverse mode, batched with ``vmap``, or a loop of ``n`` backward passes), their
``torch.compile``-d versions, the reverse-mode route that ``strategy="auto"`` races on a pilot and remembers per
architecture (:data:`_STRATEGY`, keyed by :func:`_architecture_key`), chunking, and the context of every
derivative (:func:`full_fp32`, :func:`_derivative_context`)."""

from __future__ import annotations

import contextlib
import functools
import math
import time
import warnings
from typing import Callable

import torch
from torch import nn
from torch.func import jvp, vjp, vmap

from .feature_maps import FeatureMap, _Bound, _call, _shape_error


#: numbers held by the vmapped directions of one chunk when ``chunk_size=None`` (2**24 float64 = 128 MiB)
_AUTO_CHUNK_NUMBERS = 1 << 24
#: the same with ``compile=True``: cache-sized chunks (2**18 float64 = 2 MiB), which fused code runs fastest
_COMPILED_CHUNK_NUMBERS = 1 << 18


def _per_point(fn: FeatureMap, in_shape: torch.Size) -> Callable[[torch.Tensor], torch.Tensor]:
    """``(d,) -> (n,)``: evaluate the batched map on one flattened point."""

    def single(xi: torch.Tensor) -> torch.Tensor:
        return fn(xi.reshape(1, *in_shape)).reshape(-1)

    return single


def _rows(fn: FeatureMap, in_shape: torch.Size) -> Callable[[torch.Tensor], torch.Tensor]:
    """``(B, d) -> (B, n)``: the batched map on flattened inputs and outputs (one row per point, checked)."""

    def rows(flat: torch.Tensor) -> torch.Tensor:
        inp = flat.reshape(flat.shape[0], *in_shape)
        out = fn(inp)
        if out.ndim == 0 or out.shape[0] != flat.shape[0]:
            raise _shape_error(out, inp)
        return out.reshape(flat.shape[0], -1)

    return rows


def _derivative_stack(f, state, in_shape, flat: torch.Tensor, forward: bool, materialise: bool,
                      rows_only: int | None = None) -> torch.Tensor:
    r"""All directional derivatives of one chunk, direction-major.

    Forward: the ``d`` JVPs :math:`J e_\mu` of the whole batch, ``(d, B, n)``. Reverse: the ``n`` VJPs
    :math:`e_i^\top J`, ``(n, B, d)`` (only the first ``rows_only`` of them if given: the pilot of the strategy
    "auto"). The basis is a stride-0 view unless ``materialise`` (``torch.compile`` cannot trace an expanded
    tangent).
    """
    rows = _rows(functools.partial(_call, f, state), in_shape)
    batch, d = flat.shape
    if forward:
        basis = torch.eye(d, dtype=flat.dtype, device=flat.device).unsqueeze(1)
        basis = basis.repeat(1, batch, 1) if materialise else basis.expand(d, batch, d)
        return vmap(lambda v: jvp(rows, (flat,), (v,))[1])(basis)
    out, pullback = vjp(rows, flat)
    n = out.shape[1]
    basis = torch.eye(n, dtype=out.dtype, device=out.device)[:rows_only].unsqueeze(1)
    basis = basis.repeat(1, batch, 1) if materialise else basis.expand(basis.shape[0], batch, n)
    return vmap(lambda u: pullback(u)[0])(basis)


def _loop_stack(f, state, in_shape, flat: torch.Tensor, graph: bool = False,
                rows_only: int | None = None) -> torch.Tensor:
    r"""The ``n`` rows :math:`e_i^\top J` of every point's Jacobian, ``(n, B, d)``, by a loop of ``n`` backward
    passes of the whole chunk through one recorded forward pass (row ``i`` of every point is the gradient of
    :math:`\sum_b f_i(x_b)`, the points being independent). The same numbers as the vmapped VJPs, by another route:
    on CPU a loop of whole-batch backward passes can beat ``vmap`` over convolution backward.

    With ``graph`` the backward passes are themselves recorded (``create_graph=True``), through ``flat`` itself
    when it requires grad, so the rows are differentiable with respect to the inputs and to the parameters in
    ``state``."""
    rows = _rows(functools.partial(_call, f, state), in_shape)
    inp = flat if graph and flat.requires_grad else flat.detach().requires_grad_(True)
    with torch.enable_grad():
        out = rows(inp)
        n = out.shape[1] if rows_only is None else rows_only
        return torch.stack([torch.autograd.grad(out[:, i].sum(), inp, retain_graph=graph or i < n - 1,
                                                create_graph=graph, allow_unused=True, materialize_grads=True)[0]
                            for i in range(n)])


def _stack(f, state, in_shape, flat, forward: bool, materialise: bool, loop: bool, graph: bool) -> torch.Tensor:
    if loop:
        return _loop_stack(f, state, in_shape, flat, graph)
    return _derivative_stack(f, state, in_shape, flat, forward, materialise)


def _jacobian_kernel(f, state, in_shape, flat, forward: bool, materialise: bool = False,
                     loop: bool = False, graph: bool = False) -> torch.Tensor:
    """Jacobians of one chunk, ``(B, n, d)``."""
    stack = _stack(f, state, in_shape, flat, forward, materialise, loop, graph)
    return stack.permute(1, 2, 0) if forward else stack.permute(1, 0, 2)


def _metric_kernel(f, state, in_shape, flat, forward: bool, materialise: bool = False,
                   loop: bool = False, graph: bool = False) -> torch.Tensor:
    """Metrics of one chunk, ``(B, d, d)``, contracted straight from the direction-major derivatives."""
    stack = _stack(f, state, in_shape, flat, forward, materialise, loop, graph)
    if forward:
        return torch.einsum("mbi,nbi->bmn", stack, stack)
    return torch.einsum("ibm,ibn->bmn", stack, stack)


_KERNELS = {"jacobian": _jacobian_kernel, "metric": _metric_kernel}
_COMPILED: dict[str, Callable] = {}


def _kernel(name: str, compile: bool) -> Callable:
    """The per-chunk kernel ``name``, or its ``torch.compile``-d version (created once per process; torch
    compiles it again only for a new map or a new chunk shape)."""
    if not compile:
        return _KERNELS[name]
    if name not in _COMPILED:  # static shapes: make_dual cannot trace symbolic sizes; chunks are padded instead
        _COMPILED[name] = functools.partial(torch.compile(_KERNELS[name], dynamic=False), materialise=True)
    return _COMPILED[name]


def _architecture_key(f: object) -> object:
    """What a map is known by for the remembered strategy: a module by its repr (new weights or a new snapshot of
    the same network reuse the choice); a function by its code and the reprs of the modules it closes over (a
    fresh ``lambda x: model(x)[0]`` from the same line is the same map); a ``functools.partial`` by its function
    and arguments' types; anything else by its identity."""
    if isinstance(f, nn.Module):
        return repr(f)
    if isinstance(f, functools.partial):
        return ("partial", _architecture_key(f.func), tuple(_architecture_key(a) if callable(a) else type(a).__name__
                                                           for a in f.args))
    code = getattr(f, "__code__", None)
    if code is not None:
        cells = tuple(_architecture_key(c.cell_contents) if callable(c.cell_contents) else
                      type(c.cell_contents).__name__ for c in (getattr(f, "__closure__", None) or ()))
        wrapped = getattr(f, "__wrapped__", None)
        return (code, cells, None if wrapped is None else _architecture_key(wrapped))
    return id(f)


#: The reverse-mode route chosen by ``strategy="auto"`` (``True``: the loop), per map (:func:`_architecture_key`),
#: selected output, input shape, dtype, device, whether a graph is recorded and chunk size: timed once and
#: remembered for the process (a performance choice only; both routes give the same numbers).
_STRATEGY: dict[tuple, bool] = {}

#: the pilot of ``strategy="auto"`` computes ``max(1, n // _PILOT_FRACTION)`` of the ``n`` rows by each route
_PILOT_FRACTION = 16
#: a second round of the pilot is run unless one route is at least this much faster in the first
_DECISIVE = 2.0


def _pilot_seconds(b: _Bound, in_shape, chunk: torch.Tensor, rows: int, loop: bool) -> float:
    """Seconds to compute the first ``rows`` rows of the chunk's Jacobians by one reverse-mode route."""
    if chunk.is_cuda:
        torch.cuda.synchronize(chunk.device)
    start = time.perf_counter()
    if loop:
        _loop_stack(b.f, b.state, in_shape, chunk, b.graph, rows_only=rows)
    else:
        _derivative_stack(b.f, b.state, in_shape, chunk, False, False, rows_only=rows)
    if chunk.is_cuda:
        torch.cuda.synchronize(chunk.device)
    return time.perf_counter() - start


def _auto_route(b: _Bound, in_shape, first: torch.Tensor) -> bool:
    """The reverse-mode route for this call (``True``: the loop).

    As asked (``strategy="loop"``/``"vmap"``), or remembered for this map and chunk size (:data:`_STRATEGY`);
    otherwise (``"auto"``) a pilot race on the first chunk at its full size: each route computes only the first
    ``m = max(1, n // 16)`` rows of the chunk's Jacobians (vmap, then the loop), and -- unless one route was at
    least twice as fast -- once more in the other order; the faster is remembered. Both routes pay the same forward
    pass, so the comparison of the ``m``-row times orders the ``n``-row times; the pilot costs about
    ``2 m / n`` (up to ``4 m / n``) of one pass of each route over the chunk, and is thrown away."""
    if b.strategy != "auto":
        return b.strategy == "loop"
    key = (*b.key, first.shape[0])
    if key not in _STRATEGY:
        rows = max(1, b.n // _PILOT_FRACTION)
        best = {False: math.inf, True: math.inf}
        for order in ((False, True), (True, False)):
            for loop in order:
                best[loop] = min(best[loop], _pilot_seconds(b, in_shape, first, rows, loop))
            fast, slow = sorted(best.values())
            if slow >= _DECISIVE * fast:
                break
        _STRATEGY[key] = best[True] <= best[False]
    return _STRATEGY[key]


@contextlib.contextmanager
def full_fp32(device: torch.device):
    """Within the block, float32 matrix products and convolutions on ``device`` run in full IEEE float32 (TF32 off,
    which NVIDIA GPUs from Ampere on otherwise use for convolutions by default: 10-bit mantissas, relative errors
    of about 1e-3); the previous settings are restored afterwards. A no-op off CUDA.

    Args:
        device: the device whose float32 products are to be exact (``torch.device`` or a string such as ``"cuda"``).

    Returns:
        A context manager (yields nothing).

    Example:
        >>> dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        >>> with full_fp32(dev):
        ...     y = torch.ones(2, 3, device=dev) @ torch.ones(3, 2, device=dev)
        >>> y.tolist()
        [[3.0, 3.0], [3.0, 3.0]]
    """
    if torch.device(device).type != "cuda":
        yield
        return
    matmul, conv = torch.backends.cuda.matmul, torch.backends.cudnn.conv
    new_api = hasattr(matmul, "fp32_precision") and hasattr(conv, "fp32_precision")
    if new_api:  # torch >= 2.9 (mixing it with the allow_tf32 flags is deprecated)
        saved = (matmul.fp32_precision, conv.fp32_precision)
        matmul.fp32_precision, conv.fp32_precision = "ieee", "ieee"
    else:
        saved = (matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
        matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = False, False
    try:
        yield
    finally:
        if new_api:
            matmul.fp32_precision, conv.fp32_precision = saved
        else:
            matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def _chunked(name: str, b: _Bound) -> torch.Tensor:
    """:func:`_chunks` with TF32 off on CUDA (:func:`full_fp32`) and torch's vmap performance warnings silenced. The
    result is differentiable exactly when ``b.graph`` (then ``x`` keeps its graph and the parameters in ``b.state``
    are the module's own); otherwise ``x`` and the parameters were detached by :func:`_bind` and the result is
    detached too (a plain callable may close over tensors that require grad), so that no route returns a partial
    graph."""
    with full_fp32(b.x.device), _derivative_context():
        out = _chunks(name, b)
    return out if b.graph else out.detach()


@contextlib.contextmanager
def _derivative_context():
    """The context of every derivative taken here. It silences torch's "There is a performance drop because we
    have not yet implemented the batching rule" warnings (the strategy "auto" measures what that costs; the user
    cannot act on them), and it makes attention differentiable in every mode: the fused kernels that
    ``nn.MultiheadAttention`` and ``nn.TransformerEncoderLayer`` pick in eval mode (the "fast path", flash
    attention on CPU) have no forward-mode derivative and no double backward in torch 2.13, so attention runs
    through scaled dot-product attention's math backend (the same numbers) and the fast path is off within."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    mha = getattr(torch.backends, "mha", None)
    fast = mha.get_fastpath_enabled() if mha is not None else None
    with warnings.catch_warnings(), sdpa_kernel([SDPBackend.MATH]):
        warnings.filterwarnings("ignore", message="There is a performance drop because we have not yet implemented")
        if mha is not None:
            mha.set_fastpath_enabled(False)
        try:
            yield
        finally:
            if mha is not None:
                mha.set_fastpath_enabled(fast)


def _chunks(name: str, b: _Bound) -> torch.Tensor:
    """Run kernel ``name`` over ``b.x`` chunk by chunk.

    Eager chunks are as large as the memory bound allows (each call has a fixed cost of about a millisecond).
    Compiled chunks are cache-sized (about ``2**18`` numbers of directional derivatives), a power of two when
    the batch is smaller, and the last one is padded with copies of the last point so that a map is compiled for
    one chunk shape only.
    """
    kernel = _kernel(name, b.compile)
    in_shape = b.x.shape[1:]
    flat = b.x.reshape(b.x.shape[0], -1)
    batch, d, n = flat.shape[0], b.d, b.n
    forward = d <= n if b.mode == "auto" else b.mode == "forward"
    numbers = (d if forward else n) * max(n, d)  # held by the directional derivatives of one point
    if not b.compile:
        chunk_size = b.chunk_size or max(1, _AUTO_CHUNK_NUMBERS // numbers)
        chunks = list(flat.split(chunk_size))
        loop = False if forward else _auto_route(b, in_shape, chunks[0])
        return torch.cat([kernel(b.f, b.state, in_shape, chunk, forward, loop=loop, graph=b.graph)
                          for chunk in chunks])
    chunk_size = b.chunk_size or min(max(1, _COMPILED_CHUNK_NUMBERS // numbers), 1 << (batch - 1).bit_length())
    pad = -batch % chunk_size
    if pad:
        flat = torch.cat([flat, flat[-1:].expand(pad, d)])
    # clone: torch.compile cannot make a dual tensor of a view with a storage offset
    out = torch.cat([kernel(b.f, b.state, in_shape, chunk.clone(), forward) for chunk in flat.split(chunk_size)])
    return out[:batch]
