"""paperlib.geometry under the inputs real users pass (issue 10, "Nothing silent").

A module in training mode is refused (or, on request, measured as an eval-mode copy); no call changes a module's
parameters or buffers; the map's output is checked once per call; unsupported precisions are refused up front; a
-inf caused by rank < k warns; and property tests over random small maps and inputs: whatever the input, the
result is correct or the error names the argument, and the model is unchanged.
"""

import copy
import math
import os
import shutil
import warnings

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from paperlib import geometry, shallow

F64 = torch.float64


def snapshot(module: nn.Module) -> dict:
    """Everything a call must leave as it was: parameters, buffers (values, dtypes), modes and gradients."""
    return {
        "state": {k: v.detach().clone() for k, v in module.state_dict(keep_vars=True).items()},
        "training": [m.training for m in module.modules()],
        "grads": [p.grad for p in module.parameters()],
    }


def assert_unchanged(module: nn.Module, before: dict) -> None:
    after = snapshot(module)
    assert after["training"] == before["training"]
    assert all(g is None for g in after["grads"])
    assert after["state"].keys() == before["state"].keys()
    for key, old in before["state"].items():
        new = after["state"][key]
        assert new.dtype == old.dtype and new.device == old.device, key
        assert torch.equal(new, old), key  # bit-identical (NaN-free here)


def small_net(*, dropout: float = 0.1, seed: int = 0) -> nn.Module:
    """(B, 3) -> (B, 5) with batch norm (non-trivial running statistics) and dropout; float32."""
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(3, 6), nn.BatchNorm1d(6), nn.Tanh(), nn.Dropout(dropout), nn.Linear(6, 5))
    with torch.no_grad():
        net[1].running_mean.copy_(torch.randn(6) * 0.1)
        net[1].running_var.copy_(torch.rand(6) + 0.5)
        net[1].num_batches_tracked.fill_(7)
    return net


def small_cnn(channels: int = 16, *, batch_norm: bool = True, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    layers = [nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8) if batch_norm else nn.Identity(), nn.GELU(),
              nn.Conv2d(8, channels, 3, stride=2), nn.Dropout(0.2), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    return nn.Sequential(*layers)


POINT_FNS = {  # every public function of a feature map, with a small d = 3 input
    "jacobian": geometry.jacobian,
    "metric": geometry.metric,
    "spectrum": geometry.spectrum,
    "log_volume_element": geometry.log_volume_element,
    "christoffel_symbols": geometry.christoffel_symbols,
    "riemann_tensor": geometry.riemann_tensor,
    "ricci_tensor": geometry.ricci_tensor,
    "ricci_scalar": geometry.ricci_scalar,
}


def x3(batch: int = 5, seed: int = 1) -> torch.Tensor:
    return torch.randn(batch, 3, generator=torch.Generator().manual_seed(seed))


# ---------------------------------------------------------------------------------------------------------------
# training mode


@pytest.mark.parametrize("name", POINT_FNS)
def test_training_mode_is_refused_up_front_and_changes_nothing(name):
    net = small_net()  # training mode: batch norm with running statistics, dropout
    before = snapshot(net)
    with pytest.raises(ValueError, match=r"training mode \(BatchNorm1d at '1', Dropout at '3'\).*f\.eval\(\).*"
                                         r"train_mode='eval_copy'"):
        POINT_FNS[name](net, x3())
    assert_unchanged(net, before)


@pytest.mark.parametrize("layer", [nn.BatchNorm2d(8), nn.InstanceNorm2d(8, track_running_stats=True),
                                   nn.Dropout2d(0.3), nn.AlphaDropout(0.3)], ids=type)
def test_every_mode_dependent_layer_is_seen(layer):
    cnn = small_cnn()
    cnn[1] = layer
    before = snapshot(cnn)
    with pytest.raises(ValueError, match=type(layer).__name__ + ".*eval"):
        geometry.metric(cnn, torch.randn(2, 3, 9, 9))
    assert_unchanged(cnn, before)
    # layers whose output does not depend on the mode are measured in training mode as they are
    plain = nn.Sequential(nn.Flatten(), nn.Linear(12, 4), nn.Dropout(0.0), nn.LayerNorm(4), nn.Tanh())
    assert geometry.metric(plain, torch.randn(3, 3, 4)).shape == (3, 12, 12)


def test_batch_norm_without_running_statistics_is_refused_in_either_mode():
    for train in (True, False):
        net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4, track_running_stats=False), nn.Tanh()).train(train)
        before = snapshot(net)
        for train_mode in ("raise", "eval_copy"):
            with pytest.raises(ValueError, match="track_running_stats=False.*coupled"):
                geometry.jacobian(net, x3(), train_mode=train_mode)
        assert_unchanged(net, before)


@pytest.mark.parametrize("name", POINT_FNS)
def test_eval_copy_measures_the_eval_mode_map_and_leaves_the_module_in_training(name):
    net = small_net()
    before = snapshot(net)
    got = POINT_FNS[name](net, x3(), train_mode="eval_copy")
    want = POINT_FNS[name](copy.deepcopy(net).eval(), x3())
    assert torch.equal(got, want)
    assert_unchanged(net, before)
    assert all(m.training for m in net.modules())


def test_eval_copy_of_an_image_model_with_tracked_batch_norm():
    cnn = small_cnn()
    before = snapshot(cnn)
    x = torch.randn(3, 3, 9, 9)
    got = geometry.log_volume_element(cnn, x, k=4, train_mode="eval_copy", dtype=torch.float32)
    # the same numbers up to float32 rounding (the first call chose the route timing one half of the chunk by each)
    want = geometry.log_volume_element(copy.deepcopy(cnn).eval(), x, k=4, dtype=torch.float32)
    assert torch.allclose(got, want, rtol=0, atol=1e-5)
    assert_unchanged(cnn, before)  # num_batches_tracked, running_mean and running_var included


def test_train_mode_must_be_a_known_value():
    with pytest.raises(ValueError, match="train_mode"):
        geometry.metric(small_net().eval(), x3(), train_mode="copy")


# ---------------------------------------------------------------------------------------------------------------
# no call changes the module, in any mode and dtype


class Counting(nn.Module):
    """A layer that writes to its own buffer on every forward pass run without gradients (in eval mode too), as the
    output check runs it. (Under torch.func transforms torch refuses such writes itself.)"""

    def __init__(self):
        super().__init__()
        self.register_buffer("calls", torch.zeros((), dtype=torch.int64))
        self.register_buffer("scale", torch.full((), 1.5))

    def forward(self, x):
        if not torch.is_grad_enabled():
            self.calls += 1
        return x * self.scale


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, None])
@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_no_call_changes_the_module(dtype, mode):
    net = small_net().eval()  # float32 parameters: float64 is the cast path, float32 / None the same-dtype path
    net.append(Counting())
    before = snapshot(net)
    x = x3()
    for name, fn in POINT_FNS.items():
        kwargs = {"mode": mode} if name in ("jacobian", "metric", "spectrum", "log_volume_element") else {}
        out = fn(net, x, dtype=dtype, **kwargs)
        want = torch.float64 if name == "log_volume_element" else dtype or torch.float32  # logs summed in float64
        assert out.dtype == want and bool(torch.isfinite(out).all()), name
        assert_unchanged(net, before)
    assert next(net.parameters()).dtype == torch.float32  # never cast in place
    with torch.no_grad():
        net(x)
    assert int(net[-1].calls) == 1  # the layer does write: the calls above wrote to copies only


@pytest.mark.skipif(not (os.environ.get("CXX") or shutil.which("g++")), reason="torch.compile on CPU needs g++")
def test_compiled_calls_do_not_change_the_module():
    net = small_net()
    before = snapshot(net)
    want = geometry.metric(copy.deepcopy(net).eval(), x3())
    got = geometry.metric(net, x3(), compile=True, mode="reverse", train_mode="eval_copy")
    assert torch.allclose(got, want, rtol=1e-13, atol=0)
    # forward-mode derivatives of batch norm do not compile: refused up front (a failed trace inside a torch.func
    # transform would break later eager calls), and mode="auto" takes the reverse mode, which compiles
    with pytest.raises(ValueError, match="compile=True cannot compile forward-mode derivatives of batch norm"):
        geometry.metric(net, x3(), compile=True, mode="forward", train_mode="eval_copy")
    got = geometry.metric(net, x3(), compile=True, train_mode="eval_copy")
    assert torch.allclose(got, want, rtol=1e-13, atol=0)
    assert_unchanged(net, before)
    # eager forward mode still works after all that
    assert torch.allclose(geometry.metric(net, x3(), mode="forward", train_mode="eval_copy"), want, rtol=1e-13, atol=0)


def test_float64_module_with_same_dtype_is_not_modified():
    net = small_net().double().eval()
    net.append(Counting().double())
    before = snapshot(net)
    for fn in POINT_FNS.values():
        fn(net, x3().double())
    assert_unchanged(net, before)


# ---------------------------------------------------------------------------------------------------------------
# the map's output, checked once per call

A = torch.randn(4, 3, generator=torch.Generator().manual_seed(3), dtype=F64)


def tanh_map(v):
    return torch.tanh(v @ A.T)


@pytest.mark.parametrize("name", POINT_FNS)
@pytest.mark.parametrize("f,exc,pattern", [
    (lambda v: (tanh_map(v), v), TypeError, r"returned a tuple.*select=0"),
    (lambda v: {"features": tanh_map(v)}, TypeError, "returned a dict"),
    (lambda v: (tanh_map(v) > 0).long(), TypeError, "floating.*int64"),
    (lambda v: tanh_map(v).float(), TypeError, "float32 for torch.float64 inputs"),
    (lambda v: torch.cat([tanh_map(v), tanh_map(v)]), ValueError, r"\(B, n\) = \(2, n\).*returned shape \(4, 4\)"),
    (lambda v: tanh_map(v).T, ValueError, r"\(2, n\).*returned shape \(4, 2\)"),
    (lambda v: tanh_map(v)[:1], ValueError, r"returned shape \(1, 4\)"),
    (lambda v: tanh_map(v).sum(), ValueError, r"returned shape \(\)"),
    (lambda v: tanh_map(v)[:, :0], ValueError, "no features"),
], ids=["tuple", "dict", "int", "float32", "2B_rows", "transposed", "fewer_rows", "scalar", "empty"])
def test_bad_outputs_are_refused_with_the_shapes(name, f, exc, pattern):
    with pytest.raises(exc, match=pattern):
        POINT_FNS[name](f, x3())


def test_row_count_is_checked_on_every_chunk():
    # right on the first two points (the probe), wrong on a larger batch
    f = lambda v: tanh_map(v) if v.shape[0] <= 2 else tanh_map(v)[:-1]  # noqa: E731
    with pytest.raises(ValueError, match=r"\(5, n\).*returned shape \(4, 4\)"):
        geometry.metric(f, x3())
    assert geometry.metric(f, x3(), chunk_size=2).shape == (5, 3, 3)


def test_unbatched_image_input_says_the_batch_dimension_is_missing():
    cnn = small_cnn().eval()
    image = torch.randn(3, 16, 16)
    for fn in (geometry.jacobian, geometry.log_volume_element):
        with pytest.raises(ValueError, match=r"x of shape \(3, 16, 16\) lacks its batch dimension.*unsqueeze\(0\)"):
            fn(cnn, image)
    # a flattening model: (2, 16, 16) has the wrong number of inputs, (1, 3, 16, 16) the right one
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(768, 5))
    with pytest.raises(ValueError, match="lacks its batch dimension"):
        geometry.metric(mlp, image)
    assert geometry.jacobian(cnn, image.unsqueeze(0), dtype=torch.float32).shape == (1, 16, 768)


def test_other_errors_of_the_map_keep_their_type_with_a_note():
    def broken(v):
        raise KeyError("inside the map")

    with pytest.raises(KeyError) as info:
        geometry.metric(broken, x3())
    assert any("x[:2] of shape (2, 3)" in note for note in info.value.__notes__)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_is_refused_up_front(dtype):
    calls = []

    def f(v):
        calls.append(v.shape)
        return tanh_map(v.double()).to(v.dtype)

    for fn in POINT_FNS.values():
        with pytest.raises(TypeError, match=r"dtype=torch\.(float16|bfloat16) is not supported.*float32.*float64"):
            fn(f, x3(), dtype=dtype)
        with pytest.raises(TypeError, match=r"x has dtype torch\.(float16|bfloat16).*float32.*float64"):
            fn(f, x3().to(dtype), dtype=None)
    assert not calls  # refused before the map ran
    W, b = shallow.random_network(3, 5, seed=0)
    with pytest.raises(TypeError, match="float32 or torch.float64"):
        shallow.log_volume_element(W, b, x3(), "tanh", dtype=dtype)


def test_validators_name_the_argument():
    cases = [({"chunk_size": 1.5}, TypeError, "chunk_size"), ({"chunk_size": 0}, ValueError, "chunk_size"),
             ({"compile": 1}, TypeError, "compile"), ({"mode": None}, ValueError, "mode"),
             ({"k": True}, TypeError, "k"),
             ({"k": 4}, ValueError, r"k must be an integer in 1\.\.min\(n, d\) = 1\.\.3"),
             ({"base": "e"}, ValueError, "base")]
    for kwargs, exc, word in cases:
        with pytest.raises(exc, match=word):
            geometry.log_volume_element(tanh_map, x3(), **kwargs)
    with pytest.raises(TypeError, match="rtol"):
        geometry.ricci_scalar(tanh_map, x3(), rtol="small")
    with pytest.raises(ValueError, match="rtol"):
        geometry.ricci_scalar(tanh_map, x3(), rtol=1)
    with pytest.raises(TypeError, match="seed"):
        shallow.random_network(2, 3, seed=1.5)
    with pytest.raises(ValueError, match="sigma"):
        shallow.random_network(2, 3, sigma=0)


# ---------------------------------------------------------------------------------------------------------------
# -inf from rank < k says so


def test_k_above_the_rank_warns_once_naming_k_and_the_rank():
    torch.manual_seed(0)
    # 64 features behind a 32-channel bottleneck: rank J <= 32
    net = nn.Sequential(nn.Conv2d(3, 32, 3), nn.GELU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 64))
    x = torch.randn(4, 3, 8, 8)
    with pytest.warns(geometry.RankDeficiencyWarning) as record:
        out = geometry.log_volume_element(net, x, k=64)
    assert torch.isneginf(out).all()
    assert len(record) == 1 and issubclass(record[0].category, RuntimeWarning)
    assert record[0].filename == __file__  # points at the caller
    message = str(record[0].message)
    assert "-inf at 4 of 4 points" in message and "k = 64" in message
    assert "rank of the Jacobian found there, 32" in message
    assert "pass k <= 32" in message
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert torch.isfinite(geometry.log_volume_element(net, x, k=32)).all()
        # the full determinant of a map with n < d is -inf by definition: documented, no warning
        assert torch.isneginf(geometry.log_volume_element(net[:4], x)).all()


def test_rank_warning_from_the_closed_form_and_from_singular_values():
    W = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 1.0, 0.0], [2.0, 0.0, 0.0]], dtype=F64)  # rank 2
    b = torch.zeros(4, dtype=F64)
    x = torch.randn(6, 3, dtype=F64)
    with pytest.warns(geometry.RankDeficiencyWarning, match=r"k = 3 exceeds.*found there, 2"):
        assert torch.isneginf(shallow.log_volume_element(W, b, x, "tanh", k=3)).all()
    s = torch.tensor([[3.0, 1.0, 0.0], [3.0, 0.0, 0.0]], dtype=F64)
    with pytest.warns(geometry.RankDeficiencyWarning, match=r"2 of 2 points.*found there, 1 to 2"):
        geometry.log_volume_from_singular_values(s, d=3, k=3)
    dead = torch.zeros(1, 3, dtype=F64)
    with pytest.warns(geometry.RankDeficiencyWarning, match="J vanishes there"):
        geometry.log_volume_from_singular_values(dead, d=3, k=1)


# ---------------------------------------------------------------------------------------------------------------
# property tests: random small maps, shapes and faults


def _reference_jacobian(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Per point, torch.autograd.functional.jacobian of an eval-mode float64 copy: (B, n, d)."""
    ref = copy.deepcopy(net).eval().double()
    rows = []
    for xi in x.double():
        J = torch.autograd.functional.jacobian(lambda v: ref(v.unsqueeze(0)).reshape(-1), xi)
        rows.append(J.reshape(J.shape[0], -1))
    return torch.stack(rows)


ACTIVATIONS = [nn.Tanh, nn.GELU, nn.Softplus, nn.Sigmoid]
FAULTS = [None] * 6 + ["chunk_size", "mode", "dtype", "train_mode", "x_unbatched", "x_int", "x_nan", "x_shape",
                       "output_rows"]


@st.composite
def cases(draw):
    in_shape = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=3)))
    return dict(
        in_shape=in_shape,
        widths=draw(st.lists(st.integers(1, 7), min_size=1, max_size=3)),
        activation=draw(st.sampled_from(ACTIVATIONS)),
        batch_norm=draw(st.booleans()),
        dropout=draw(st.sampled_from([0.0, 0.3])),
        training=draw(st.booleans()),
        train_mode=draw(st.sampled_from(["raise", "eval_copy"])),
        batch=draw(st.integers(1, 5)),
        dtype=draw(st.sampled_from([torch.float64, torch.float32, None])),
        mode=draw(st.sampled_from(["auto", "forward", "reverse"])),
        chunk_size=draw(st.sampled_from([None, 1, 2, 3])),
        fn=draw(st.sampled_from(["jacobian", "metric", "spectrum", "log_volume_element"])),
        fault=draw(st.sampled_from(FAULTS)),
        seed=draw(st.integers(0, 2**20)),
    )


def _build(case) -> nn.Module:
    torch.manual_seed(case["seed"])
    d = math.prod(case["in_shape"])
    layers: list[nn.Module] = [nn.Flatten()]
    for i, width in enumerate(case["widths"]):
        layers.append(nn.Linear(d if i == 0 else case["widths"][i - 1], width))
        if case["batch_norm"] and i == 0:
            layers.append(nn.BatchNorm1d(width))
        layers += [case["activation"](), nn.Dropout(case["dropout"])]
    net = nn.Sequential(*layers)
    if case["batch_norm"]:
        with torch.no_grad():
            net[2].running_mean.uniform_(-0.2, 0.2), net[2].running_var.uniform_(0.5, 1.5)
    return net.train(case["training"])


def _call_with_fault(case, net, x):
    """Call the drawn function with the drawn fault; returns ``(output, the x passed)``."""
    kwargs = {"chunk_size": case["chunk_size"], "mode": case["mode"], "dtype": case["dtype"],
              "train_mode": case["train_mode"]}
    f = net
    fault = case["fault"]
    if fault == "chunk_size":
        kwargs["chunk_size"] = -1
    elif fault == "mode":
        kwargs["mode"] = "sideways"
    elif fault == "dtype":
        kwargs["dtype"] = torch.float16
    elif fault == "train_mode":
        kwargs["train_mode"] = "copy"
    elif fault == "x_unbatched":
        x = x[0]
    elif fault == "x_int":
        x = x.long()
    elif fault == "x_nan":
        x = x.clone()
        x.view(-1)[-1] = math.nan
    elif fault == "x_shape":
        x = torch.cat([x.flatten(1), x.flatten(1)[:, :1]], 1)  # one input too many
    elif fault == "output_rows":
        twin = copy.deepcopy(net).eval().double()
        f = lambda v: torch.cat([twin(v.double()), twin(v.double())]).to(v.dtype)  # noqa: E731
    return getattr(geometry, case["fn"])(f, x, **kwargs), x


def _expected_error(case):
    """What the call must raise, by the documented order of the checks: ``(type, word in the message)``;
    ``None`` for a valid call; ``RuntimeError`` for an error of the map itself (with a note naming x)."""
    fault, in_shape = case["fault"], case["in_shape"]
    words = {"chunk_size": (ValueError, "chunk_size"), "mode": (ValueError, "mode"), "dtype": (TypeError, "dtype"),
             "x_int": (TypeError, "x must have a real floating dtype"), "x_nan": (ValueError, "x contains NaN")}
    if fault in words:
        return words[fault]
    if fault == "x_unbatched" and len(in_shape) == 1:
        return ValueError, "x must have a batch dimension"
    if fault == "train_mode":
        return ValueError, "train_mode must be one of"
    mode_matters = case["training"] and (case["batch_norm"] or case["dropout"] > 0)
    if mode_matters and case["train_mode"] == "raise" and fault != "output_rows":  # (a plain callable there)
        return ValueError, "Call f.eval() first"
    if fault == "x_unbatched" and in_shape[0] > 1:
        return ValueError, "lacks its batch dimension"
    if fault == "x_shape":
        return RuntimeError, "x[:2]"
    if fault == "output_rows":
        return ValueError, "one row per point"
    return None


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_any_input_gives_the_right_answer_or_names_the_argument(case):
    net = _build(case)
    before = snapshot(net)
    x = torch.randn(case["batch"], *case["in_shape"], generator=torch.Generator().manual_seed(case["seed"]))
    expected = _expected_error(case)
    if expected is None:
        out, x_used = _call_with_fault(case, net, x)
        _check_against_reference(case, net, x_used, out)
    else:
        with pytest.raises(expected[0]) as info:
            _call_with_fault(case, net, x)
        text = "\n".join([str(info.value), *getattr(info.value, "__notes__", [])])
        assert expected[1] in text, (case, text)
    assert_unchanged(net, before)


def _check_against_reference(case, net, x, out):
    out, J = out.detach(), _reference_jacobian(net, x)
    dtype = case["dtype"] or x.dtype
    assert out.dtype == (F64 if case["fn"] == "log_volume_element" else dtype)  # logs are summed in float64
    tol = 1e-10 if dtype == F64 else 2e-4
    if case["fn"] == "jacobian":
        want = J
    elif case["fn"] == "metric":
        want = J.mT @ J
    else:
        s = torch.linalg.svdvals(J)
        if case["fn"] == "spectrum":
            want = s
        else:  # full determinant: -inf where n < d; compared where J is well conditioned
            if s.shape[1] < J.shape[2]:
                assert torch.isneginf(out).all()
                return
            ok = s[:, -1] > 1e-3 * s[:, 0]
            out, want = out[ok].double(), torch.log10(s[ok]).sum(-1)
            tol = 1e-10 if dtype == F64 else 1e-4 * s.shape[1]
            assert bool(((out - want).abs() <= tol).all()), (out, want)
            return
    scale = want.abs().max().clamp_min(1e-30)
    assert float((out.double() - want).abs().max() / scale) < tol
