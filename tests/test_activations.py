"""paperlib.activations: derivatives against autograd and sympy, by name."""

import pytest
import sympy as sp
import torch

from paperlib import activations

Z = torch.linspace(-15, 15, 301, dtype=torch.float64)


@pytest.mark.parametrize("name", activations.NAMES)
@pytest.mark.parametrize("order", [0, 1, 2, 3, 4, 5])
def test_derivatives_match_autograd(name, order):
    z = Z.clone().requires_grad_(True)
    want = [activations.function(name)(z)]
    for _ in range(order):
        if not want[-1].requires_grad:  # a constant derivative: all higher ones vanish
            want.append(torch.zeros_like(z))
            continue
        (grad,) = torch.autograd.grad(want[-1].sum(), z, create_graph=True, allow_unused=True)
        want.append(torch.zeros_like(z) if grad is None else grad)
    got = activations.derivatives(name, Z, order)
    assert len(got) == order + 1
    for k, (g, w) in enumerate(zip(got, want)):
        assert float((g - w.detach()).abs().max()) < 1e-13, (name, k)


@pytest.mark.parametrize("name", [n for n in activations.NAMES if n != "relu"])
def test_sympy_function_matches_torch(name):
    t = sp.Symbol("t", real=True)
    expr = activations.sympy_function(name)(t)
    f = sp.lambdify(t, expr, modules=[{"erf": lambda v: torch.special.erf(torch.as_tensor(v)).numpy()}, "numpy"])
    got = torch.as_tensor(f(Z.numpy()), dtype=torch.float64) * torch.ones_like(Z)
    assert torch.allclose(got, activations.function(name)(Z), rtol=1e-13, atol=1e-15)


def test_bad_names_and_orders():
    with pytest.raises(ValueError, match="activation"):
        activations.derivatives("swish", Z)
    with pytest.raises(TypeError, match="activation"):
        activations.function(3)
    with pytest.raises(ValueError, match="order"):
        activations.derivatives("tanh", Z, order=6)


def test_sigmoid_slope_does_not_round_to_zero():
    z = torch.tensor([40.0, 200.0, -300.0], dtype=torch.float64)
    d1 = activations.derivatives("sigmoid", z, order=1)[1]
    want = torch.exp(-z.abs())  # sigma(z) sigma(-z) = e^{-|z|} (1 + e^{-|z|})^{-2}
    assert torch.allclose(d1, want, rtol=1e-15, atol=0)
