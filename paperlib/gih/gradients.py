r"""Input gradients for :mod:`paperlib.gih`: the rows :math:`\nabla_x s` of one network (:func:`input_gradients`)
or of a stack of networks evaluated at once with :func:`torch.func.vmap`, for the outputs of :data:`OUTPUTS`."""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn
from torch.func import functional_call, vmap

from .._checks import check_choice, check_select
from .networks import _pick, network  # noqa: F401 -- network: the docstring examples use it


OUTPUTS = ("mean", "logits")


# -- input gradients -------------------------------------------------------------------------------------------------


def _scalars(out: torch.Tensor, output: str, batch_dims: int = 1) -> list[torch.Tensor]:
    """The scalar outputs whose input gradients are rows, from outputs whose first ``batch_dims`` dimensions are
    batch dimensions, flattened per point to ``C`` numbers: ``[mean over the C]`` or ``[output c for each c]``."""
    out = out.flatten(batch_dims) if out.ndim > batch_dims else out[..., None]
    if output == "mean":
        return [out.mean(-1)]
    return [out[..., c] for c in range(out.shape[-1])]


def input_gradients(model: nn.Module, x: torch.Tensor, output: str = "mean", *,
                    select: int | str | None = None) -> torch.Tensor:
    r"""Rows :math:`\nabla_x s(x_b)` of one network at a batch of inputs: ``x: (B, *in_shape)`` ->
    ``(M, D)``, ``D = prod(in_shape)``, ``M = B`` for ``output="mean"`` (:math:`s = \tfrac1C\sum_c f_c` over the
    ``C`` numbers of each point's output, flattened) and ``M = B C`` for ``"logits"`` (rows of logit 0 for every
    input, then logit 1, ...). ``select``: for a model returning a tuple, list or dict, the entry (index or key)
    to differentiate.

    The model must treat the points of a batch independently (eval mode with batch norm); it is not modified.

    Example:
        A linear network's gradient of the mean logit is the mean of its weight rows, at every input:

        >>> _ = torch.manual_seed(0)
        >>> net = network("linear", image_size=2)  # (B, 1, 2, 2) -> (B, 2)
        >>> rows = input_gradients(net, torch.randn(3, 1, 2, 2))
        >>> tuple(rows.shape), torch.allclose(rows, net[1].weight.mean(0).expand(3, 4))
        ((3, 4), True)
        >>> tuple(input_gradients(net, torch.randn(3, 1, 2, 2), "logits").shape)  # B C rows
        (6, 4)
    """
    check_choice(output, "output", OUTPUTS)
    check_select(select)
    if not isinstance(x, torch.Tensor) or x.ndim < 2:
        raise ValueError(f"x must be a batch (B, *in_shape); got {getattr(x, 'shape', type(x).__name__)}")
    return _gradient_rows(lambda xx: _pick(model(xx), select), x, output, batch_dims=1)


def _gradient_rows(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, output: str,
                   batch_dims: int) -> torch.Tensor:
    """Input gradients of the scalar outputs of ``fn`` at ``x``, whose first ``batch_dims`` dimensions are batch
    dimensions (the points, after the networks when stacked), flattened and concatenated over the scalars along
    the points' dimension: ``(..., M, D)``."""
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        scalars = _scalars(fn(x), output, batch_dims)
        rows = [torch.autograd.grad(s.sum(), x, retain_graph=i < len(scalars) - 1)[0].flatten(batch_dims)
                for i, s in enumerate(scalars)]
    return torch.cat(rows, dim=batch_dims - 1)


def _stacked_rows(template: nn.Module, params: dict, buffers: dict, x: torch.Tensor, output: str,
                  per_network_buffers: bool = False, select: int | str | None = None) -> torch.Tensor:
    """Rows ``(N, M, D)`` of ``N`` stacked networks at their inputs ``x: (N, B, *in_shape)``; the buffers are
    shared, or stacked like the parameters with ``per_network_buffers``."""
    if per_network_buffers:
        each = vmap(lambda p, b, xx: _pick(functional_call(template, (p, b), (xx,)), select))
        return _gradient_rows(lambda xx: each(params, buffers, xx), x, output, batch_dims=2)
    stacked = vmap(lambda p, xx: _pick(functional_call(template, (p, buffers), (xx,)), select))
    return _gradient_rows(lambda xx: stacked(params, xx), x, output, batch_dims=2)
