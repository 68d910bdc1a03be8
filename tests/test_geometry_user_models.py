"""A user's own models, measured as a new user would: a CNN with batch norm, a small vision transformer, an LSTM,
models returning tuples and dicts, callables closing over float32 modules, slices of a model, bad devices and
dtypes. Every hint an error message gives is followed here and must work."""

from __future__ import annotations

import copy
import re
import warnings

import pytest
import torch
from torch import nn

from paperlib import geometry, gih, models, slices


def vit() -> nn.Module:
    torch.manual_seed(0)
    return models.VisionTransformer(image_size=8, patch=4, in_channels=1, num_classes=3, dim=16, depth=1,
                                    heads=2).eval()


class LastState(nn.Module):
    """The LSTM's last hidden state: ``(B, T, 3) -> (B, 5)``."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        self.lstm = nn.LSTM(3, 5, batch_first=True)

    def forward(self, x):
        return self.lstm(x)[0][:, -1]


class TwoHeads(nn.Module):
    """Returns ``(features, logits)``; as a dict with ``as_dict``."""

    def __init__(self, as_dict: bool = False):
        super().__init__()
        torch.manual_seed(2)
        self.body = nn.Sequential(nn.Linear(4, 6), nn.Tanh())
        self.head = nn.Linear(6, 2)
        self.as_dict = as_dict

    def forward(self, x):
        h = self.body(x)
        return {"features": h, "logits": self.head(h)} if self.as_dict else (h, self.head(h))


def cnn() -> nn.Module:
    torch.manual_seed(3)
    net = nn.Sequential(nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4), nn.GELU(), nn.Conv2d(4, 3, 3), nn.Flatten())
    net[1].running_mean.uniform_(-0.2, 0.2)
    return net.eval()


def reference_jacobian(f, x: torch.Tensor) -> torch.Tensor:
    """Per-point Jacobians by torch.autograd.functional on one point at a time (float64), ``(B, n, d)``."""
    rows = []
    for xi in x:
        J = torch.autograd.functional.jacobian(lambda v: f(v.reshape(1, *x.shape[1:])).reshape(-1), xi.reshape(-1))
        rows.append(J)
    return torch.stack(rows)


# -- models -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make,shape", [(vit, (3, 1, 8, 8)), (LastState, (3, 6, 3)), (cnn, (3, 2, 6, 6))],
                         ids=["vit", "lstm", "cnn"])
def test_every_mode_and_strategy_agrees_with_autograd_on_users_models(make, shape):
    f = make()
    x = torch.randn(shape, generator=torch.Generator().manual_seed(4))
    want = reference_jacobian(copy.deepcopy(f).double(), x.double())
    for kw in ({"mode": "forward"}, {"strategy": "vmap", "mode": "reverse"}, {"strategy": "loop"}, {}):
        J = geometry.jacobian(f, x, **kw)
        assert torch.allclose(J, want, rtol=1e-10, atol=1e-12), kw


@pytest.mark.parametrize("make,shape,k", [(vit, (2, 1, 8, 8), 3), (LastState, (2, 4, 3), 4), (cnn, (2, 2, 6, 6), 5)],
                         ids=["vit", "lstm", "cnn"])
def test_gradients_through_users_models(make, shape, k):
    f = make()
    x = torch.randn(shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64).requires_grad_(True)
    for strategy in ("vmap", "loop"):
        assert torch.autograd.gradcheck(
            lambda v: geometry.log_volume_element(f, v, k=k, strategy=strategy, mode="reverse"), (x,),
            eps=1e-6, atol=1e-6, rtol=1e-4)
    geometry.log_volume_element(f, x.detach(), k=k, create_graph=True).sum().backward()
    assert any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in f.parameters())


def test_a_vision_transformer_leaks_no_vmap_warning():
    """In eval mode attention picks a fused kernel with no batching rule, whose performance warning torch prints
    under vmap: measured here, the math backend is used and nothing is printed."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        geometry.metric(vit(), torch.randn(2, 1, 8, 8), strategy="vmap", mode="reverse")
    assert torch.backends.mha.get_fastpath_enabled()  # the global switch is restored


# -- several outputs: select -----------------------------------------------------------------------------------------


def test_tuple_output_error_hint_works():
    model, x = TwoHeads(), torch.randn(3, 4)
    with pytest.raises(TypeError, match=r"returned a tuple of 2 outputs.*select=0") as info:
        geometry.metric(model, x)
    hint = int(re.search(r"select=(\d+)", str(info.value)).group(1))
    got = geometry.jacobian(model, x, select=hint)
    assert torch.allclose(got, reference_jacobian(lambda v: copy.deepcopy(model).double()(v)[0], x.double()),
                          rtol=1e-12, atol=1e-14)
    assert torch.allclose(geometry.jacobian(model, x, select=1),
                          reference_jacobian(lambda v: copy.deepcopy(model).double()(v)[1], x.double()),
                          rtol=1e-12, atol=1e-14)


def test_dict_output_error_hint_works_and_bad_keys_are_named():
    model, x = TwoHeads(as_dict=True), torch.randn(3, 4)
    with pytest.raises(TypeError, match=r"returned a dict with keys \['features', 'logits'\].*select='features'"):
        geometry.log_volume_element(model, x)
    lv = geometry.log_volume_element(model, x, select="features")
    assert lv.shape == (3,) and bool(torch.isfinite(lv).all())
    with pytest.raises(ValueError, match=r"select='feature' is not a key.*\['features', 'logits'\]"):
        geometry.metric(model, x, select="feature")
    with pytest.raises(ValueError, match="select=2 does not pick one of f's 2 outputs"):
        geometry.metric(TwoHeads(), x, select=2)
    with pytest.raises(TypeError, match="select must be an output's index"):
        geometry.metric(TwoHeads(), x, select=1.0)
    with pytest.raises(TypeError, match="leave select=None"):
        geometry.metric(nn.Linear(4, 4), x, select=0)


def test_select_on_a_raw_lstm_and_on_ricci_scalar():
    lstm = nn.LSTM(2, 3, batch_first=True).eval()  # returns (output, (h, c))
    x = torch.randn(2, 1, 2)
    assert geometry.jacobian(lstm, x, select=0).shape == (2, 3, 2)
    model = TwoHeads()
    R = geometry.ricci_scalar(lambda v: model.body(v), torch.randn(2, 4).float(), dtype=torch.float32,
                              degenerate="nan")
    assert R.shape == (2,)
    assert geometry.ricci_scalar(model, torch.randn(2, 4), select=0).shape == (2,)


# -- plain callables -------------------------------------------------------------------------------------------------


def test_a_lambda_around_a_float32_module_says_what_to_do_and_every_hint_works():
    model, x = TwoHeads(), torch.randn(3, 4)
    with pytest.raises(TypeError, match="dtype mismatch.*select=.*dtype=torch.float32.*double") as info:
        geometry.metric(lambda v: model(v)[0], x)
    message = str(info.value)
    assert "Plane.restrict" in message
    want = geometry.metric(model, x, select=0)  # hint 1: the module itself, with select=
    # hint 2: the callable's own precision
    assert torch.allclose(geometry.metric(lambda v: model(v)[0], x, dtype=torch.float32).double(), want, rtol=1e-5)
    double = copy.deepcopy(model).double()  # hint 3: a float64 copy
    assert torch.allclose(geometry.metric(lambda v: double(v)[0], x), want, rtol=1e-12)


def test_a_model_on_a_plane_slice_measured_in_float64():
    torch.manual_seed(7)
    model = nn.Sequential(nn.Flatten(), nn.Linear(8, 6), nn.Tanh(), nn.Linear(6, 4), nn.Tanh()).eval()
    a, b, c = torch.randn(3, 2, 2, 2).unbind(0)
    plane = slices.plane(a, b, c, steps=4)
    with pytest.raises(TypeError, match="Plane.restrict"):
        geometry.ricci_scalar(lambda ab: model(plane.origin.float() + ab.float()[:, :1, None, None] * plane.right.float()), plane.coords)
    chart = plane.restrict(model)
    g = geometry.metric(chart, plane.coords)
    J = geometry.jacobian(model, plane.points)
    V = torch.stack([plane.right, plane.up]).reshape(2, -1)
    assert torch.allclose(g, V @ J.mT @ J @ V.T, rtol=1e-12, atol=1e-14)  # the pulled-back metric of the slice
    R = geometry.ricci_scalar(chart, plane.coords)
    assert R.dtype == torch.float64 and bool(torch.isfinite(R).all())
    line = slices.line(a, b, steps=5)
    lv = geometry.log_volume_element(line.restrict(model), line.t[:, None])
    Jl = geometry.jacobian(model, line.points) @ (b - a).reshape(-1, 1).double()
    assert torch.allclose(lv, torch.log10(Jl.norm(dim=(1, 2))), rtol=1e-12)
    with pytest.raises(ValueError, match=r"coords must have shape \(B, 2\)"):
        chart(torch.zeros(3, 3))
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_fresh_lambdas_of_the_same_line_share_the_remembered_strategy():
    model = cnn()
    x = torch.randn(4, 2, 6, 6)
    geometry._STRATEGY.clear()
    for _ in range(3):
        geometry.metric(lambda v, m=model: m(v), x, dtype=torch.float32, mode="reverse")
    assert len(geometry._STRATEGY) == 1


# -- devices and dtypes ----------------------------------------------------------------------------------------------


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error where CUDA is missing")
def test_cuda_without_cuda_is_a_value_error_naming_device():
    x = torch.randn(2, 4)
    with pytest.raises(ValueError, match=r"device='cuda', but CUDA is not available.*device='cpu'"):
        geometry.metric(nn.Linear(4, 4), x, device="cuda")
    with pytest.raises(ValueError, match="device='cuda:0', but CUDA is not available"):
        geometry.log_volume_element(nn.Linear(4, 4), x, device="cuda:0")
    with pytest.raises(ValueError, match="device='cuda'"):
        geometry.ricci_scalar(nn.Linear(4, 4), x, device="cuda")
    with pytest.raises(ValueError, match="device='cuda'"):
        gih.average_geometry("mlp", 2, image_size=4, hidden=(3,), device="cuda")
    with pytest.raises(ValueError, match="device='gpu' is not a valid torch device"):
        geometry.metric(nn.Linear(4, 4), x, device="gpu")


def test_half_inputs_are_measured_in_the_computation_dtype_and_half_computation_is_refused():
    model = TwoHeads().half()
    x = torch.randn(3, 4).half()
    got = geometry.metric(model, x, select=0)  # module and inputs cast to float64: exact for half values
    want = geometry.metric(copy.deepcopy(model).double(), x.double(), select=0)
    assert got.dtype == torch.float64 and torch.equal(got, want)
    with pytest.raises(TypeError, match="dtype=torch.float16 is not supported"):
        geometry.metric(model, x, dtype=torch.float16, select=0)
    with pytest.raises(TypeError, match="x has dtype torch.float16"):
        geometry.metric(model, x, dtype=None, select=0)


def test_integer_inputs_say_how_to_measure_a_model_of_tokens():
    emb = nn.Embedding(10, 4)
    ids = torch.randint(0, 10, (3, 5))
    with pytest.raises(TypeError, match=r"torch.int64.*embedding's output.*model.embedding\(ids\).detach\(\)"):
        geometry.metric(nn.Sequential(emb, nn.Flatten()), ids)
    # the hint: measure the layers after the embedding at the embedded inputs
    lv = geometry.log_volume_element(nn.Sequential(nn.Flatten(), nn.Linear(20, 3)), emb(ids).detach(), k=3)
    assert lv.shape == (3,)
