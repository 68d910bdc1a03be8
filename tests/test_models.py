"""paperlib.models: the paper's initialisation, feature maps per layer, and agreement with paperlib.shallow."""

import math

import pytest
import torch

from paperlib import geometry, shallow
from paperlib.models import MLP


def test_paper_init_is_standard_normal_and_seeded():
    m = MLP([2, 4000, 2], "sigmoid", seed=1)
    w, b = m.layers[0].weight.detach(), m.layers[0].bias.detach()
    for t in (w, b, m.layers[1].weight.detach()):
        assert abs(float(t.mean())) < 0.1 and abs(float(t.std()) - 1) < 0.1
    again = MLP([2, 4000, 2], "sigmoid", seed=1)
    other = MLP([2, 4000, 2], "sigmoid", seed=2)
    assert all(torch.equal(p, q) for p, q in zip(m.parameters(), again.parameters()))
    assert not torch.equal(m.layers[0].weight, other.layers[0].weight)


def test_paper_forward_formula():
    m = MLP([2, 5, 7, 3], "tanh", seed=0).double()
    x = torch.randn(11, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    (W1, b1), (W2, b2), (W3, b3) = [(lin.weight, lin.bias) for lin in m.layers]
    h1 = torch.tanh(x @ W1.T + b1)                                # first layer unscaled
    h2 = torch.tanh((h1 @ W2.T + b2) / math.sqrt(5))              # later layers / sqrt(fan_in)
    logits = (h2 @ W3.T + b3) / math.sqrt(7)                      # readout / sqrt(width)
    assert torch.allclose(m(x), logits, atol=1e-13)
    assert torch.allclose(m.hidden(x, 2), h2, atol=1e-13)
    assert torch.allclose(m.feature_map(2)(x), h2 / math.sqrt(7), atol=1e-13)
    assert torch.allclose(m.feature_map(1)(x), h1 / math.sqrt(5), atol=1e-13)
    assert torch.equal(m.hidden(x, 0), x)
    assert m.depth == 2


def test_pytorch_init_has_default_bounds_and_no_scaling():
    m = MLP([2, 300, 4], "relu", init="pytorch", seed=0).double().requires_grad_(False)
    assert float(m.layers[0].weight.abs().max()) <= 1 / math.sqrt(2)
    assert float(m.layers[1].weight.abs().max()) <= 1 / math.sqrt(300)
    x = torch.randn(5, 2, dtype=torch.float64)
    ref = torch.relu(x @ m.layers[0].weight.T + m.layers[0].bias) @ m.layers[1].weight.T + m.layers[1].bias
    assert torch.allclose(m(x), ref, atol=1e-13)


@pytest.mark.parametrize("init", ["paper", "pytorch"])
def test_first_layer_feature_map_is_the_shallow_map(init):
    m = MLP([2, 50, 2], "sigmoid", init=init, seed=3)
    W, b = m.shallow_parameters()
    assert W.dtype == torch.float64 and W.shape == (50, 2) and b.shape == (50,)
    x = torch.rand(64, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 2 - 1
    f = m.feature_map(1)
    assert torch.allclose(f(x.float()).double(), shallow.feature_map(W, b, "sigmoid")(x), atol=1e-6)
    auto = geometry.log_volume_element(f, x, device=None)
    closed = shallow.log_volume_element(W, b, x, "sigmoid", device=None)
    assert torch.allclose(auto, closed, atol=1e-10)
    # the model itself is untouched by the float64 geometry computation
    assert m.layers[0].weight.dtype == torch.float32


def test_feature_map_follows_parameter_updates():
    m = MLP([2, 8, 8, 2], "sigmoid", seed=0)
    f = m.feature_map(2)
    x = torch.rand(4, 2)
    before = f(x).clone()
    with torch.no_grad():
        m.layers[1].weight.mul_(2)
    assert not torch.allclose(before, f(x))
    assert isinstance(f, torch.nn.Module) and f.layer == 2


def test_bad_inputs_name_the_argument():
    with pytest.raises(ValueError, match="widths"):
        MLP([2], "sigmoid")
    with pytest.raises(ValueError, match="widths"):
        MLP([2, 0, 2], "sigmoid")
    with pytest.raises(TypeError, match="widths"):
        MLP("2,3", "sigmoid")
    with pytest.raises(ValueError, match="activation"):
        MLP([2, 3, 2], "swish")
    with pytest.raises(ValueError, match="init"):
        MLP([2, 3, 2], "sigmoid", init="xavier")
    with pytest.raises(TypeError, match="seed"):
        MLP([2, 3, 2], "sigmoid", seed=1.5)
    m = MLP([2, 3, 3, 2], "sigmoid", seed=0)
    with pytest.raises(ValueError, match="layer"):
        m.feature_map(0)
    with pytest.raises(ValueError, match="layer"):
        m.feature_map(3)
    with pytest.raises(ValueError, match="shallow_parameters"):
        m.shallow_parameters()
    with pytest.raises(ValueError, match="x must have shape"):
        m(torch.zeros(3, 5))
    with pytest.raises(TypeError, match="x must be"):
        m([[0.0, 0.0]])


# ------------------------------------------------------------------------------------------------ the CIFAR ResNet


def test_resnet_architecture_matches_the_cifar_variant():
    from paperlib.models import RESNET_DEPTHS, Activation, ResNet

    r18, r34 = ResNet(RESNET_DEPTHS["resnet18"]), ResNet(RESNET_DEPTHS["resnet34"])
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(r18) == 11_173_962 and count(r34) == 21_282_122  # the CIFAR ResNet-18/34 with 10 classes
    assert r34.stem[0].kernel_size == (3, 3) and r34.stem[0].stride == (1, 1)  # 3x3 stride-1 stem, no max-pool
    assert not any(isinstance(m, torch.nn.MaxPool2d) for m in r34.modules())
    # the activation is applied everywhere, inside the blocks too
    relu = ResNet((1, 1, 1, 1), 8, "relu")
    names = {m.name for m in relu.modules() if isinstance(m, Activation)}
    assert names == {"relu"} and sum(isinstance(m, Activation) for m in relu.modules()) == 1 + 4
    x = torch.randn(3, 3, 32, 32)
    net = ResNet((1, 1, 1, 1), 8).eval()
    assert net(x).shape == (3, 10)
    shapes = [net.features(x, b).shape for b in range(5)]
    assert shapes == [(3, 8, 32, 32), (3, 8, 32, 32), (3, 16, 16, 16), (3, 32, 8, 8), (3, 64, 4, 4)]
    # the last block pooled to its channels is the global average pool that feeds the readout
    f4 = net.feature_map(4)
    assert f4(x).shape == (3, net.feature_dim) == (3, 64)
    with torch.no_grad():
        assert torch.allclose(net.head(f4(x)), net(x), atol=1e-6)
        # a block pooled to C * k numbers averages k horizontal strips of each channel
        h = net.features(x, 2)
        want = h.reshape(3, 16, 2, 8, 16).mean((3, 4)).reshape(3, 32)
        assert torch.allclose(net.feature_map(2, 32)(x), want, atol=1e-6)
    mnist_net = ResNet((1, 1, 1, 1), 4, in_channels=1)
    assert mnist_net(torch.randn(2, 1, 32, 32)).shape == (2, 10)


def test_resnet_geometry_needs_eval_mode_and_bad_arguments():
    from paperlib import geometry
    from paperlib.models import ResNet

    net = ResNet((1, 1, 1, 1), 4, in_channels=1)
    x = torch.randn(2, 1, 16, 16)
    with pytest.raises(ValueError, match="eval"):
        geometry.log_volume_element(net.feature_map(4), x, k=8)
    lv = geometry.log_volume_element(net.eval().feature_map(4), x, k=8)
    assert lv.shape == (2,) and bool(torch.isfinite(lv).all())
    for kw, err, match in [(dict(depths=(2, 2, 2)), ValueError, "depths"), (dict(width=0), ValueError, "width"),
                           (dict(activation="swish"), ValueError, "activation"),
                           (dict(in_channels=1.5), TypeError, "in_channels")]:
        with pytest.raises(err, match=match):
            ResNet(**kw)
    with pytest.raises(ValueError, match="block"):
        net.feature_map(5)
    with pytest.raises(ValueError, match="x must have shape"):
        net.features(torch.randn(2, 3, 16, 16))
    with pytest.raises(ValueError, match="size"):
        net.feature_map(4, 1000)(x)
