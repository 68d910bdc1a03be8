r"""Autodiff geometry of any batched feature map.

A feature map :math:`f: \mathbb{R}^d \to \mathbb{R}^n` pulls the flat metric of feature space back to input
space:

.. math::  g_{\mu\nu}(x) = \sum_i \partial_\mu f_i(x)\, \partial_\nu f_i(x) = (J^\top J)_{\mu\nu},
           \qquad dV = \sqrt{\det g}\, d^d x .

Feature maps are batched callables ``f: (B, *in_shape) -> (B, n)`` (an ``nn.Module`` works as it is). Inputs
``x`` have shape ``(B, *in_shape)``; ``d = prod(in_shape)``. Jacobians are computed with :func:`torch.func.jvp`
(forward mode, when ``d <= n``) or :func:`torch.func.vjp` (reverse mode, when ``d > n``) over the whole batch,
batched over directions with :func:`torch.func.vmap`; ``chunk_size`` bounds how many points are differentiated at
once. Geometry is computed in float64 by default (float32 on request; other precisions are refused): an
``nn.Module`` is evaluated with copies of its parameters and buffers, cast for the computation, so the module
itself is never modified. A plain callable must accept inputs of the requested ``dtype``. ``device="auto"`` uses
CUDA when it is present. ``compile=True`` runs the derivatives through :func:`torch.compile` (worth it when a
map is measured many times).

Checks made once per call, before any derivative. An ``nn.Module`` in training mode with a layer whose output
depends on the mode (batch norm, instance norm with running statistics, dropout, recurrent or attention
dropout) is refused with a ``ValueError`` that says to call ``.eval()``; ``train_mode="eval_copy"`` measures
an eval-mode deep copy instead. Batch norm without running statistics couples the points of a batch in either
mode and is always refused. (A custom layer that reads ``self.training`` itself, or a module called inside a plain
function, cannot be seen: call ``.eval()``.) The map is evaluated on the first two points: it must return a
floating tensor of the computation dtype with one row per point, ``(B, *out_shape)`` (flattened to ``n``
features); a tuple or dict, integers, or a first dimension other than ``B`` (for instance an image ``x`` given
without its batch dimension) raise an error that shows the shapes, and every chunk's row count is checked again.
A top-``k`` log volume element that is ``-inf`` because ``J`` has numerical rank below ``k`` comes with a
:class:`RankDeficiencyWarning`. ``torch.compile`` cannot trace forward-mode derivatives of batch norm (torch 2.13):
with ``compile=True`` a module with batch norm is differentiated in reverse mode, and ``mode="forward"`` is refused.

Volume elements and spectra come from the singular values of ``J``; in float64 with ``d <= n`` they are read off the
eigenvalues of the ``d x d`` metric wherever that loses no digits, and from a QR + SVD of ``J`` elsewhere (see
:func:`spectrum`).

Under ``torchrun`` (:mod:`paperlib.distributed`) :func:`jacobian`, :func:`metric`, :func:`spectrum` and
:func:`log_volume_element` split the points: each rank measures its contiguous shard of ``x`` and the results are
gathered in order, so every rank returns the result for all points (``distributed=``; see :func:`jacobian`).

All logarithms are base 10 unless ``base=`` says otherwise.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import inspect
import math
import time
import warnings
from typing import Callable, Literal, NamedTuple

import torch
from torch import nn
from torch.func import functional_call, jacfwd, jacrev, jvp, vjp, vmap

from . import distributed as _dist
from ._checks import check_base, check_bool, check_choice, check_int, check_select, output_hint, pick_output
from ._linalg import RankDeficiencyWarning, apply_policy, check_chunk_size, check_policy, check_rtol, chunk_slices
from ._linalg import degenerate_points, gauss_parts, gauss_scalar, log_volume, prepare_input, safe_inverse

FeatureMap = Callable[[torch.Tensor], torch.Tensor]
Mode = Literal["auto", "forward", "reverse"]
TrainMode = Literal["raise", "eval_copy"]
Strategy = Literal["auto", "vmap", "loop"]

#: numbers held by the vmapped directions of one chunk when ``chunk_size=None`` (2**24 float64 = 128 MiB)
_AUTO_CHUNK_NUMBERS = 1 << 24
#: the same with ``compile=True``: cache-sized chunks (2**18 float64 = 2 MiB), which fused code runs fastest
_COMPILED_CHUNK_NUMBERS = 1 << 18

__all__ = [
    "full_fp32",
    "jacobian",
    "metric",
    "singular_values",
    "spectrum",
    "log_volume_element",
    "log_volume_from_singular_values",
    "RankDeficiencyWarning",
]


# -- the map: module state, training mode, output checks -----------------------------------------------------------


def _mode_dependent(module: nn.Module) -> bool:
    """Whether ``module``'s own output differs between training and eval mode (standard torch layers)."""
    if isinstance(module, nn.modules.batchnorm._NormBase):  # batch norm, and instance norm with running stats
        return module.track_running_stats or isinstance(module, nn.modules.batchnorm._BatchNorm)
    if isinstance(module, (nn.modules.dropout._DropoutNd, nn.RNNBase, nn.MultiheadAttention)):
        return module.dropout > 0 if hasattr(module, "dropout") else module.p > 0
    return False


def _eval_module(f: nn.Module, train_mode: str) -> tuple[nn.Module, bool]:
    """``(module to evaluate, whether it is a private copy)``: ``f`` itself, or an eval-mode deep copy of it where
    ``f`` is in training mode with mode-dependent layers and ``train_mode="eval_copy"`` (``ValueError`` with
    ``"raise"``). Batch norm without running statistics is refused in either mode."""
    for name, m in f.named_modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and not m.track_running_stats:
            raise ValueError(
                f"f has {type(m).__name__} at {name or 'the top level'!r} with track_running_stats=False: it "
                "normalises every batch by that batch's own statistics, in eval mode too, so the points of a "
                "batch are coupled and the geometry of one point is not defined. Use running statistics "
                "(track_running_stats=True, then .eval())")
    training = [f"{type(m).__name__} at {name or 'the top level'!r}" for name, m in f.named_modules()
                if m.training and _mode_dependent(m)]
    if not training:
        return f, False
    if train_mode == "raise":
        raise ValueError(
            f"f is in training mode ({', '.join(training[:3])}{', ...' if len(training) > 3 else ''}): there "
            "batch norm couples the points of a batch and updates its running statistics, and dropout is "
            "random, so the geometry would be wrong. Call f.eval() first, or pass train_mode='eval_copy' to "
            "measure an eval-mode copy of f (f itself is left as it is)")
    return copy.deepcopy(f).eval(), True


def _as_function(f: FeatureMap, dtype: torch.dtype, device: torch.device, train_mode: str = "raise",
                 select: int | str | None = None, graph: bool = False):
    """``(f, state)``: a callable and the tensors it is evaluated with, cast to ``dtype`` on ``device``.

    For an ``nn.Module``, ``state`` holds its parameters and buffers cast for the computation, and the map is
    evaluated by :func:`torch.func.functional_call`: nothing the call does (such as a layer updating a buffer in
    place) reaches the module. Buffers are always detached copies; parameters are detached copies too unless
    ``graph``, where they are the module's own parameters cast differentiably, so that gradients of the result
    reach them. With ``train_mode="eval_copy"`` the eval-mode copy is evaluated with the state of ``f`` itself (the
    names agree), so gradients reach ``f``'s parameters, not the copy's. For a plain callable ``state`` is
    ``None``. ``select`` picks one output of a map that returns a tuple, list or dict (:class:`Select`).
    """
    check_choice(train_mode, "train_mode", ("raise", "eval_copy"))
    if not callable(f):
        raise TypeError(f"f must be a callable feature map (B, *in_shape) -> (B, n); got {type(f).__name__}")
    if check_select(select) is not None:
        f = Select(f, select) if isinstance(f, nn.Module) else _select_callable(f, select)
    if not isinstance(f, nn.Module):
        return f, None
    module, _ = _eval_module(f, train_mode)

    def cast(v: torch.Tensor, differentiable: bool) -> torch.Tensor:
        target = dtype if v.is_floating_point() else v.dtype
        if differentiable:  # the module's own parameter, cast differentiably (no copy where nothing changes)
            return v.to(dtype=target, device=device)
        return v.detach().to(dtype=target, device=device, copy=True)

    state = {k: cast(v, graph) for k, v in f.named_parameters()}
    state.update({k: cast(v, False) for k, v in f.named_buffers()})
    return module, state


class Select(nn.Module):
    """``Select(model, key)(x) = model(x)[key]``: one output of a model that returns a tuple, list or dict (by
    index or key), as an ``nn.Module``, so that :mod:`paperlib.geometry` casts it for the computation like any
    module (a ``lambda x: model(x)[0]`` would keep ``model``'s dtype). ``select=`` of the geometry functions
    wraps a module in it."""

    def __init__(self, model: nn.Module, select: int | str):
        super().__init__()
        self.model, self.select = model, select

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pick_output(self.model(x), self.select)

    def extra_repr(self) -> str:
        return f"select={self.select!r}"


def _select_callable(f: Callable, select: int | str) -> Callable:
    @functools.wraps(f)
    def selected(inp: torch.Tensor) -> object:
        return pick_output(f(inp), select)

    return selected


def _call(f: FeatureMap, state: dict | None, inp: torch.Tensor) -> torch.Tensor:
    return f(inp) if state is None else functional_call(f, state, (inp,))


def _shape_error(out: torch.Tensor, inp: torch.Tensor) -> ValueError:
    return ValueError(
        f"f must return one row per point, shape (B, n) = ({inp.shape[0]}, n) for inputs of shape "
        f"{tuple(inp.shape)}; it returned shape {tuple(out.shape)}. If x is a single point without its batch "
        "dimension, pass x.unsqueeze(0); if f transposes its output or stacks the points, make it return (B, n)")


def _check_output(out: object, inp: torch.Tensor, plain: bool = False) -> int:
    """``n``, the number of features of ``out = f(inp)``, after checking that it is a floating tensor of
    ``inp``'s dtype with first dimension ``B`` (errors name ``f`` and show the shapes)."""
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"f must return a tensor of shape (B, n); it returned a {type(out).__name__}"
                        f"{output_hint(out)}")
    if not out.dtype.is_floating_point:
        raise TypeError(f"f must return a floating tensor (its derivatives are measured); it returned {out.dtype}")
    if out.dtype != inp.dtype:
        raise TypeError(
            f"f returned {out.dtype} for {inp.dtype} inputs: it must compute in its input's dtype (the "
            f"computation dtype, dtype=). {_CALLABLE_DTYPE_ADVICE if plain else ''}")
    if out.ndim == 0 or out.shape[0] != inp.shape[0]:
        raise _shape_error(out, inp)
    if out[0].numel() == 0:
        raise ValueError(f"f returned no features: shape {tuple(out.shape)}")
    return out[0].numel()


#: advice for a plain callable that does not compute in the measuring dtype (each hint is tested to work)
_CALLABLE_DTYPE_ADVICE = (
    "paperlib casts an nn.Module for the computation, but not a plain callable (such as a lambda around a "
    "module, which keeps the module's float32 parameters). Pass the module itself: select= picks one output of a "
    "multi-output model (e.g. select=0), and Plane.restrict(model) / Line.restrict(model) measure a model on a "
    "slice; or measure in the callable's precision with dtype=torch.float32; or make the callable compute in "
    "float64 (e.g. around copy.deepcopy(model).double())")

#: how torch words a dtype mismatch between an input and a layer's parameters
_DTYPE_MISMATCH = ("should be the same", "same dtype", "dtype", "expected scalar type", "Input type")


def _probe(f: FeatureMap, state: dict | None, x: torch.Tensor) -> int:
    """Evaluate the map on the first two points of ``x`` (without gradients) and check its output (once per
    call); returns ``n``. Where the map fails on them but accepts ``x.unsqueeze(0)`` as one point,
    ``ValueError`` says that ``x`` lacks its batch dimension; a plain callable that fails with a dtype mismatch
    gets ``TypeError`` saying how to measure it; other exceptions raised by the map get a note showing the shape
    it was called with."""
    sample = x[:2]
    try:
        with torch.no_grad():
            out = _call(f, state, sample)
    except Exception as exc:
        if _one_point(f, state, x):
            raise _unbatched_error(x) from exc
        if state is None and isinstance(exc, RuntimeError) and any(m in str(exc) for m in _DTYPE_MISMATCH):
            raise TypeError(f"f failed on {sample.dtype} inputs with a dtype mismatch ({str(exc).splitlines()[0]}). "
                            + _CALLABLE_DTYPE_ADVICE) from exc
        exc.add_note(
            f"paperlib.geometry: raised by f on the first points of x, x[:2] of shape {tuple(sample.shape)} and "
            f"dtype {sample.dtype}; f must map (B, *in_shape) -> (B, n)")
        raise
    return _check_output(out, sample, plain=state is None)


def _one_point(f: FeatureMap, state: dict | None, x: torch.Tensor) -> bool:
    """Whether the map takes all of ``x`` as one point: it returns two rows for two copies of ``x`` stacked."""
    try:
        with torch.no_grad():
            out = _call(f, state, x.unsqueeze(0).expand(2, *x.shape))
    except Exception:  # noqa: BLE001 -- any failure means: not a single point
        return False
    return isinstance(out, torch.Tensor) and out.ndim >= 1 and out.shape[0] == 2


def _unbatched_error(x: torch.Tensor) -> ValueError:
    return ValueError(
        f"x of shape {tuple(x.shape)} lacks its batch dimension: f fails on x[:2] but accepts x.unsqueeze(0), "
        f"shape {(1, *x.shape)}, as one point. Pass inputs of shape (B, *in_shape), e.g. x.unsqueeze(0) for a "
        "single point")


class _Bound(NamedTuple):
    """A validated map and input, with the options of one call."""

    f: FeatureMap
    state: dict | None
    x: torch.Tensor  # (B, *in_shape), cast
    n: int
    chunk_size: int | None
    mode: str
    compile: bool
    strategy: str = "vmap"
    key: tuple = ()
    graph: bool = False  # the result is differentiable (create_graph)

    @property
    def d(self) -> int:
        return math.prod(self.x.shape[1:])


def _wants_graph(create_graph: object, x: object) -> bool:
    """Whether the result is to be differentiable: ``create_graph``, or (``None``) grad mode is on and ``x``
    requires grad. ``ValueError`` for ``create_graph=True`` where grad mode is off."""
    if create_graph is None:
        return torch.is_grad_enabled() and isinstance(x, torch.Tensor) and x.requires_grad
    check_bool(create_graph, "create_graph")
    if create_graph and not torch.is_grad_enabled():
        raise ValueError("create_graph=True inside torch.no_grad() (or inference mode): gradients cannot be "
                         "recorded there; call outside it, or pass create_graph=False")
    return create_graph


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


_CURVATURE_NAMES = {"christoffel": "Christoffel symbols", "riemann": "Riemann tensor", "ricci": "Ricci tensor",
                    "scalar": "Ricci scalar"}


def _check_curvature_dim(d: int, argname: str) -> None:
    if d > MAX_CURVATURE_DIM:
        raise ValueError(
            f"{argname} has d = {d} input dimensions; curvature by automatic differentiation is limited to "
            f"d <= MAX_CURVATURE_DIM = {MAX_CURVATURE_DIM} (its cost grows like d^4). For one-hidden-layer maps "
            "use the closed form paperlib.shallow.ricci_scalar (O(n d^3) per point); for the infinite-width "
            "average metric use paperlib.infinite.ricci_scalar"
        )


# -- pullback maps: J and H by nested forward mode -----------------------------------------------------------------


def _prepare_map(f, x, dtype, device, chunk_size, what: str, train_mode: str, select, create_graph):
    b = _bind(f, x, chunk_size=chunk_size, dtype=dtype, device=device, train_mode=train_mode, select=select,
              create_graph=create_graph)
    in_shape, n, d = b.x.shape[1:], b.n, b.d
    _check_curvature_dim(d, "x")
    if n < d:
        raise ValueError(
            f"f maps to n = {n} features but x has d = {d} input dimensions: the pullback metric has rank "
            f"<= n < d everywhere, so the {what} is undefined"
        )
    fn = functools.partial(_call, b.f, b.state)
    return b.x.reshape(-1, d), fn, in_shape, _per_point(fn, in_shape), n, d, b.chunk_size, b.graph


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
    bad = degenerate_points(g, rtol)
    flat = (dg == 0).flatten(1).all(1) & (d2g == 0).flatten(1).all(1)
    G = safe_inverse(g, bad)
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
    chunk_size = check_chunk_size(chunk_size)
    x = prepare_input(x, "x", dtype, device)
    if x.ndim != 2:
        raise ValueError(f"x must have shape (B, d) for a metric function; got {tuple(x.shape)}")
    _check_curvature_dim(x.shape[1], "x")
    return x, chunk_size


def _metric_chunk(gfun, xc: torch.Tensor, rtol: float):
    g, dg, d2g = _metric_jets(gfun, xc)
    d = xc.shape[1]
    if g.shape != (xc.shape[0], d, d):
        raise ValueError(f"gfun must map a point (d,) = ({d},) to a (d, d) metric; got shape {tuple(g.shape[1:])}")
    return _christoffel_parts(g, dg, d2g, rtol)


def _metric_curvature(gfun, x, what: str, *, chunk_size, rtol, degenerate, dtype, device) -> torch.Tensor:
    check_policy(degenerate)
    rtol = check_rtol(rtol)
    x, chunk_size = _prepare_metric(gfun, x, dtype, device, chunk_size)
    d = x.shape[1]
    rtol = d * torch.finfo(x.dtype).eps if rtol is None else rtol
    outs, flats, bads = [], [], []
    for sl in chunk_slices(x.shape[0], chunk_size):
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
    return apply_policy(torch.cat(outs), torch.cat(flats), torch.cat(bads), degenerate, _CURVATURE_NAMES[what], x)


def _map_curvature(f, x, what: str, *, method, chunk_size, rtol, degenerate, dtype, device, train_mode, select,
                   create_graph) -> torch.Tensor:
    check_policy(degenerate, method)
    rtol = check_rtol(rtol)
    flat_x, fn, in_shape, single, n, d, chunk_size, graph = _prepare_map(
        f, x, dtype, device, chunk_size, _CURVATURE_NAMES[what], train_mode, select, create_graph)
    with _derivative_context():
        out = _map_curvature_chunks(flat_x, fn, in_shape, single, n, d, what, method, chunk_size, rtol, degenerate)
    return out if graph else out.detach()


def _map_curvature_chunks(flat_x, fn, in_shape, single, n, d, what, method, chunk_size, rtol, degenerate):
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
    for sl in chunk_slices(flat_x.shape[0], chunk_size):
        J, H = _batched_jets(rows, flat_x[sl])
        g, G, T, A, bad, flat = gauss_parts(J, H, rtol)
        if what == "christoffel":
            out = (G @ T).reshape(-1, d, d, d)
        elif what == "scalar":
            out = gauss_scalar(A, G)
        else:
            rie = _gauss_riemann(A, G)
            out = rie if what == "riemann" else _ricci_from_riemann(rie)
        outs.append(out), flats.append(flat), bads.append(bad)
    return apply_policy(torch.cat(outs), torch.cat(flats), torch.cat(bads), degenerate, _CURVATURE_NAMES[what], flat_x)


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
        dtype, device, train_mode, select: as in :func:`jacobian` (float64 by default).
        create_graph: as in :func:`jacobian`: the result is differentiable with respect to ``x`` and the
            parameters of ``f`` (third derivatives of ``f``, by autodiff through the nested forward-mode
            derivatives; e.g. a curvature penalty); ``None``: when grad mode is on and ``x`` requires grad.
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
    train_mode: TrainMode = "raise",
    select: int | str | None = None,
    create_graph: bool | None = None,
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

    Example:
        The flat plane in polar coordinates :math:`(r, \theta)`: :math:`\Gamma^r_{\theta\theta} = -r`,
        :math:`\Gamma^\theta_{r\theta} = 1/r`.

        >>> polar = lambda x: torch.stack([x[:, 0] * x[:, 1].cos(), x[:, 0] * x[:, 1].sin()], 1)
        >>> G = christoffel_symbols(polar, torch.tensor([[2.0, 0.3]]))  # r = 2
        >>> tuple(G.shape), round(G[0, 0, 1, 1].item(), 12), round(G[0, 1, 0, 1].item(), 12)
        ((1, 2, 2, 2), -2.0, 0.5)
    """
    return _map_curvature(f, x, "christoffel", method="gauss", chunk_size=chunk_size, rtol=rtol,
                          degenerate=degenerate, dtype=dtype, device=device, train_mode=train_mode,
                          select=select, create_graph=create_graph)


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
    train_mode: TrainMode = "raise",
    select: int | str | None = None,
    create_graph: bool | None = None,
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

    Example:
        The saddle, the graph of :math:`h = x_0 x_1` in :math:`\mathbb{R}^3`; the two methods agree, and contracting
        :math:`\rho` with :math:`\mu` gives the Ricci tensor:

        >>> saddle = lambda x: torch.cat([x, x.prod(1, keepdim=True)], 1)  # (B, 2) -> (B, 3)
        >>> x = torch.tensor([[0.5, -1.0], [2.0, 0.1]])
        >>> Rm = riemann_tensor(saddle, x)
        >>> tuple(Rm.shape), torch.allclose(Rm, riemann_tensor(saddle, x, method="christoffel"))
        ((2, 2, 2, 2, 2), True)
        >>> torch.allclose(Rm.diagonal(dim1=1, dim2=3).sum(-1), ricci_tensor(saddle, x))
        True
    """
    return _map_curvature(f, x, "riemann", method=method, chunk_size=chunk_size, rtol=rtol,
                          degenerate=degenerate, dtype=dtype, device=device, train_mode=train_mode,
                          select=select, create_graph=create_graph)


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
    train_mode: TrainMode = "raise",
    select: int | str | None = None,
    create_graph: bool | None = None,
) -> torch.Tensor:
    r"""Ricci tensor :math:`R_{\mu\nu} = R^\rho{}_{\mu\rho\nu}` of the pullback metric of ``f``.

    Same conventions and methods as :func:`riemann_tensor` (a round d-sphere of radius r has
    :math:`R_{\mu\nu} = (d-1) g_{\mu\nu}/r^2`).
    {args}{policy}
    Returns:
        ``(B, d, d)`` symmetric tensor.

    Example:
        In ``d = 2`` the Ricci tensor is :math:`\tfrac R2 g` (here on the saddle, the graph of :math:`x_0 x_1`):

        >>> saddle = lambda x: torch.cat([x, x.prod(1, keepdim=True)], 1)  # (B, 2) -> (B, 3)
        >>> x = torch.tensor([[0.5, -1.0], [2.0, 0.1]])
        >>> Ric, R = ricci_tensor(saddle, x), ricci_scalar(saddle, x)
        >>> tuple(Ric.shape), torch.allclose(Ric, R[:, None, None] / 2 * metric(saddle, x))
        ((2, 2, 2), True)
    """
    return _map_curvature(f, x, "ricci", method=method, chunk_size=chunk_size, rtol=rtol,
                          degenerate=degenerate, dtype=dtype, device=device, train_mode=train_mode,
                          select=select, create_graph=create_graph)


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
    train_mode: TrainMode = "raise",
    select: int | str | None = None,
    create_graph: bool | None = None,
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

    Example:
        The saddle, the graph of :math:`h = x_0 x_1`, has :math:`R = 2K = -2/(1 + |x|^2)^2`; a ReLU network is flat:

        >>> saddle = lambda x: torch.cat([x, x.prod(1, keepdim=True)], 1)  # (B, 2) -> (B, 3)
        >>> x = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
        >>> [round(r, 12) for r in ricci_scalar(saddle, x).tolist()]  # -2, -2/9
        [-2.0, -0.222222222222]
        >>> _ = torch.manual_seed(0)
        >>> bool((ricci_scalar(nn.Sequential(nn.Linear(2, 3), nn.ReLU()), x) == 0).all())
        True
    """
    return _map_curvature(f, x, "scalar", method=method, chunk_size=chunk_size, rtol=rtol,
                          degenerate=degenerate, dtype=dtype, device=device, train_mode=train_mode,
                          select=select, create_graph=create_graph)


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

    Example:
        The Poincaré half-plane :math:`g = I / x_1^2`: :math:`\Gamma^1_{00} = 1/x_1`,
        :math:`\Gamma^1_{11} = \Gamma^0_{01} = -1/x_1`.

        >>> half_plane = lambda p: torch.diag(torch.ones_like(p)) / p[1] ** 2  # one point (2,) -> (2, 2)
        >>> G = christoffel_symbols_of_metric(half_plane, torch.tensor([[0.3, 2.0]]))
        >>> [round(G[0, l, m, n].item(), 12) for l, m, n in [(1, 0, 0), (1, 1, 1), (0, 0, 1)]]
        [0.5, -0.5, -0.5]
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

    Example:
        The Poincaré half-plane :math:`g = I / x_1^2` has :math:`K = -1`, so
        :math:`R^0{}_{101} = K g_{11} = -1/x_1^2`:

        >>> half_plane = lambda p: torch.diag(torch.ones_like(p)) / p[1] ** 2  # one point (2,) -> (2, 2)
        >>> Rm = riemann_tensor_of_metric(half_plane, torch.tensor([[0.3, 2.0]]))
        >>> tuple(Rm.shape), round(Rm[0, 0, 1, 0, 1].item(), 12), torch.allclose(Rm, -Rm.transpose(3, 4))
        ((1, 2, 2, 2, 2), -0.25, True)
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

    Example:
        The Poincaré half-plane :math:`g = I / x_1^2` has :math:`R_{\mu\nu} = K g_{\mu\nu} = -g_{\mu\nu}`:

        >>> half_plane = lambda p: torch.diag(torch.ones_like(p)) / p[1] ** 2  # one point (2,) -> (2, 2)
        >>> Ric = ricci_tensor_of_metric(half_plane, torch.tensor([[0.3, 2.0]]))
        >>> tuple(Ric.shape), [round(v, 12) for v in Ric[0].diagonal().tolist()]
        ((1, 2, 2), [-0.25, -0.25])
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

    Example:
        The Poincaré half-plane :math:`g = I / x_1^2` has constant curvature :math:`R = 2K = -2`:

        >>> half_plane = lambda p: torch.diag(torch.ones_like(p)) / p[1] ** 2  # one point (2,) -> (2, 2)
        >>> R = ricci_scalar_of_metric(half_plane, torch.tensor([[0.3, 2.0], [-1.0, 0.5]]))
        >>> tuple(R.shape), torch.allclose(R, torch.full_like(R, -2.0))
        ((2,), True)
    """
    return _metric_curvature(gfun, x, "scalar", chunk_size=chunk_size, rtol=rtol, degenerate=degenerate,
                             dtype=dtype, device=device)
