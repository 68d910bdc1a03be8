"""Gradients through the geometry: with respect to the inputs and to a module's parameters, on every route.

Every derivative is checked against finite differences in float64 (``torch.autograd.gradcheck`` for the inputs,
central differences along random directions for the parameters), so a detached half-chunk, a missing graph or a
gradient that stops at a copy of the parameters fails here.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from paperlib import geometry

STRATEGIES = ["vmap", "loop", "auto"]


def tall_net() -> nn.Module:
    """d = 3 inputs, n = 5 features (forward mode by default, full determinant defined)."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 6), nn.Tanh(), nn.Linear(6, 5), nn.Sigmoid()).double().eval()


def wide_net() -> nn.Module:
    """d = 6 inputs, n = 3 features (reverse mode by default; the top-k pseudo-determinant with k <= 3)."""
    torch.manual_seed(1)
    return nn.Sequential(nn.Linear(6, 7), nn.Tanh(), nn.Linear(7, 3)).double().eval()


def points(d: int, b: int = 5, seed: int = 2) -> torch.Tensor:
    return torch.randn(b, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def geometry_values(name: str, f, x, **kw) -> torch.Tensor:
    if name == "jacobian":
        return geometry.jacobian(f, x, **kw)
    if name == "metric":
        return geometry.metric(f, x, **kw)
    if name == "spectrum":
        return geometry.spectrum(f, x, **kw)
    if name == "logvol":
        return geometry.log_volume_element(f, x, **kw)
    return geometry.log_volume_element(f, x, k=2, **kw)


NAMES = ["jacobian", "metric", "spectrum", "logvol", "logvol_top2"]


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("net,mode", [(tall_net, "reverse"), (tall_net, "forward"), (wide_net, "reverse")],
                         ids=["tall-reverse", "tall-forward", "wide-reverse"])
def test_input_gradients_match_finite_differences(net, mode, name, strategy):
    f = net()
    if name == "logvol" and net is wide_net:
        pytest.skip("the full determinant of a map with n < d is -inf: no derivative")
    if mode == "forward" and strategy != "vmap":
        pytest.skip("the strategies are reverse-mode routes")
    x = points(6 if net is wide_net else 3).requires_grad_(True)
    geometry._STRATEGY.clear()  # strategy "auto" times its first chunk again: one half by each route
    fn = lambda v: geometry_values(name, f, v, mode=mode, strategy=strategy, chunk_size=4)  # noqa: E731
    assert fn(x).requires_grad
    assert torch.autograd.gradcheck(fn, (x,), eps=1e-6, atol=1e-7, rtol=1e-5)


def _fd_directional(loss, params: list[torch.Tensor], direction: list[torch.Tensor], eps: float = 1e-6) -> float:
    """Central difference of ``loss()`` along ``direction`` in parameter space (parameters restored after)."""
    with torch.no_grad():
        for p, v in zip(params, direction):
            p.add_(eps * v)
        up = float(loss())
        for p, v in zip(params, direction):
            p.sub_(2 * eps * v)
        down = float(loss())
        for p, v in zip(params, direction):
            p.add_(eps * v)
    return (up - down) / (2 * eps)


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("name", ["metric", "spectrum", "logvol", "logvol_top2"])
@pytest.mark.parametrize("net", [tall_net, wide_net], ids=["tall", "wide"])
def test_parameter_gradients_match_finite_differences(net, name, strategy):
    if name == "logvol" and net is wide_net:
        pytest.skip("the full determinant of a map with n < d is -inf: no derivative")
    f = net()
    x = points(6 if net is wide_net else 3)  # x does not require grad: create_graph=True asks for the graph
    geometry._STRATEGY.clear()

    def loss(graph: bool = False):
        return geometry_values(name, f, x, strategy=strategy, mode="reverse", chunk_size=4,
                               create_graph=graph).square().sum()

    params = list(f.parameters())
    grads = torch.autograd.grad(loss(True), params, allow_unused=True, materialize_grads=True)
    gen = torch.Generator().manual_seed(3)
    for _ in range(2):
        direction = [torch.randn(p.shape, generator=gen, dtype=p.dtype) for p in params]
        want = _fd_directional(loss, params, direction)
        got = float(sum((g * v).sum() for g, v in zip(grads, direction)))
        assert got == pytest.approx(want, rel=1e-6, abs=1e-9)


def test_ricci_scalar_gradients_inputs_and_parameters():
    torch.manual_seed(4)
    f = nn.Sequential(nn.Linear(2, 6), nn.Tanh(), nn.Linear(6, 3), nn.Tanh()).double().eval()
    x = points(2, b=4).requires_grad_(True)
    for method in ("gauss", "christoffel"):
        assert torch.autograd.gradcheck(lambda v: geometry.ricci_scalar(f, v, method=method), (x,),
                                        eps=1e-6, atol=1e-6, rtol=1e-5)
    params = list(f.parameters())

    def loss(graph: bool = False):
        return geometry.ricci_scalar(f, x.detach(), create_graph=graph).sum()

    grads = torch.autograd.grad(loss(True), params, allow_unused=True, materialize_grads=True)
    direction = [torch.randn(p.shape, generator=torch.Generator().manual_seed(5), dtype=p.dtype) for p in params]
    want = _fd_directional(loss, params, direction)
    assert float(sum((g * v).sum() for g, v in zip(grads, direction))) == pytest.approx(want, rel=1e-5)


def test_auto_strategy_keeps_the_graph_of_both_timed_halves():
    """The first call with strategy "auto" computes one half of its first chunk by each route: the gradients of
    every point equal those of the vmapped route (before the fix the loop half had none)."""
    f = wide_net()
    x = points(6, b=8)
    geometry._STRATEGY.clear()
    grads = {}
    for strategy in ("auto", "vmap"):
        xx = x.clone().requires_grad_(True)
        geometry.log_volume_element(f, xx, k=3, strategy=strategy).sum().backward()
        grads[strategy] = xx.grad
    assert bool((grads["auto"].abs().sum(1) > 0).all())
    assert torch.allclose(grads["auto"], grads["vmap"], rtol=1e-10, atol=1e-12)


def test_a_float32_module_measured_in_float64_gets_float32_gradients():
    f = nn.Sequential(nn.Linear(3, 6), nn.Tanh(), nn.Linear(6, 5)).eval()
    lv = geometry.log_volume_element(f, points(3), create_graph=True)
    assert lv.dtype == torch.float64 and lv.requires_grad
    lv.sum().backward()
    # the readout's bias does not enter the Jacobian: no gradient; every other parameter gets one, in float32
    assert f[2].bias.grad is None
    assert all(p.grad.dtype == torch.float32 and bool(p.grad.abs().sum() > 0)
               for p in (f[0].weight, f[0].bias, f[2].weight))
    assert all(p.dtype == torch.float32 for p in f.parameters())  # the module itself was not cast


def test_eval_copy_gradients_reach_the_modules_own_parameters():
    torch.manual_seed(6)
    f = nn.Sequential(nn.Linear(3, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 4)).double()
    f.train()
    f[1].running_mean.uniform_(-0.5, 0.5)
    x = points(3)
    geometry.log_volume_element(f, x, train_mode="eval_copy", create_graph=True).sum().backward()
    got = [p.grad for p in f.parameters()]
    assert got[0] is not None and bool(got[0].abs().sum() > 0)
    ref = copy.deepcopy(f).eval()
    geometry.log_volume_element(ref, x, create_graph=True).sum().backward()
    for g, p in zip(got, ref.parameters()):
        assert (g is None) == (p.grad is None)  # the readout's bias: no gradient in either
        assert g is None or torch.allclose(g, p.grad, rtol=1e-12, atol=1e-14)
    assert f.training  # f was left in training mode


def test_no_graph_unless_asked_for_on_every_route():
    f = wide_net()
    w = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    closure = lambda v: torch.tanh(v @ w)  # noqa: E731  (a plain callable closing over a tensor that requires grad)
    x = points(6).requires_grad_(True)
    for strategy in STRATEGIES:
        geometry._STRATEGY.clear()
        for fn in (f, closure):
            assert not geometry.metric(fn, x, strategy=strategy, create_graph=False).requires_grad
            assert not geometry.metric(fn, x.detach(), strategy=strategy).requires_grad
            assert geometry.metric(fn, x.detach(), strategy=strategy, create_graph=True).requires_grad
        with torch.no_grad():
            assert not geometry.metric(f, x, strategy=strategy).requires_grad


def test_routes_that_cannot_record_gradients_say_so():
    f, x = tall_net(), points(3)
    with torch.no_grad(), pytest.raises(ValueError, match="create_graph=True inside torch.no_grad"):
        geometry.metric(f, x, create_graph=True)
    with pytest.raises(ValueError, match="compile=True cannot record gradients.*compile=False"):
        geometry.log_volume_element(f, x, compile=True, create_graph=True)
    with pytest.raises(TypeError, match="create_graph must be True or False"):
        geometry.metric(f, x, create_graph="yes")


def test_gradients_of_a_volume_penalty_train_a_model():
    """The use case: a penalty on the log volume element lowers it, by gradient steps on the parameters."""
    torch.manual_seed(7)
    f = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 4)).eval()
    x = torch.rand(64, 2) * 2 - 1
    opt = torch.optim.SGD(f.parameters(), lr=0.02)
    before = float(geometry.log_volume_element(f, x).mean())
    for _ in range(10):
        opt.zero_grad()
        geometry.log_volume_element(f, x, create_graph=True).mean().backward()
        opt.step()
    assert float(geometry.log_volume_element(f, x).mean()) < before - 0.5  # -1.13 -> -2.3 when written
