"""The feature map of a :mod:`paperlib.geometry` call: a module's state cast for the computation, its training
mode, one output of a multi-output map (:class:`Select`), the checks of the map's output on the first points, and
the bound call (:class:`_Bound`)."""

from __future__ import annotations

import copy
import functools
import math
from typing import Callable, Literal, NamedTuple

import torch
from torch import nn
from torch.func import functional_call

from .._checks import check_bool, check_choice, check_select, output_hint, pick_output

FeatureMap = Callable[[torch.Tensor], torch.Tensor]
Mode = Literal["auto", "forward", "reverse"]
TrainMode = Literal["raise", "eval_copy"]
Strategy = Literal["auto", "vmap", "loop"]


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
