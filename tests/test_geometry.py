"""paperlib.geometry: autodiff Jacobian, metric, volume element and spectrum, against closed forms."""

import math
import os
import shutil

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from paperlib import geometry, shallow

RTOL = 1e-12  # float64 agreement between autodiff and closed forms


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a - b).abs().max() / b.abs().max().clamp_min(1e-300)).detach())


def polar(x: torch.Tensor) -> torch.Tensor:
    """(r, theta) -> (r cos theta, r sin theta): volume element r."""
    r, t = x[:, 0], x[:, 1]
    return torch.stack([r * torch.cos(t), r * torch.sin(t)], -1)


def sphere(x: torch.Tensor) -> torch.Tensor:
    """(r, theta, phi) -> R^3: volume element r^2 sin(theta)."""
    r, t, p = x.unbind(-1)
    return torch.stack([r * torch.sin(t) * torch.cos(p), r * torch.sin(t) * torch.sin(p), r * torch.cos(t)], -1)


@pytest.mark.parametrize("mode", ["forward", "reverse", "auto"])
def test_known_volume_elements(mode):
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(50, 3, generator=gen, dtype=torch.float64) * torch.tensor([2.0, 3.0, 6.0]) + torch.tensor(
        [0.1, 0.05, 0.0]
    )
    got = geometry.log_volume_element(sphere, x, mode=mode, base=math.e)
    want = torch.log(x[:, 0] ** 2 * torch.sin(x[:, 1]))
    assert rel_err(got, want) < RTOL
    got = geometry.log_volume_element(polar, x[:, :2], mode=mode)
    assert rel_err(got, torch.log10(x[:, 0])) < RTOL


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "erf", "gelu", "softplus", "relu", "linear"])
@pytest.mark.parametrize("d,n", [(2, 3), (2, 250), (3, 7), (5, 12)])
def test_autodiff_matches_closed_form(activation, d, n):
    W, b = shallow.random_network(d, n, seed=d * 100 + n)
    x = torch.randn(40, d, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    f = shallow.feature_map(W, b, activation)
    assert rel_err(geometry.jacobian(f, x), shallow.jacobian(W, b, x, activation)) < RTOL
    assert rel_err(geometry.metric(f, x), shallow.metric(W, b, x, activation)) < RTOL
    got = geometry.log_volume_element(f, x)
    want = shallow.log_volume_element(W, b, x, activation)
    assert torch.allclose(got, want, rtol=1e-10, atol=1e-10)
    assert rel_err(geometry.spectrum(f, x), shallow.spectrum(W, b, x, activation)) < RTOL


def test_chunking_and_modes_agree():
    W, b = shallow.random_network(4, 9, seed=3)
    f = shallow.feature_map(W, b, "tanh")
    x = torch.randn(37, 4, dtype=torch.float64)
    ref = geometry.jacobian(f, x)
    for kw in ({"chunk_size": 5}, {"mode": "reverse"}, {"mode": "forward", "chunk_size": 1}):
        assert rel_err(geometry.jacobian(f, x, **kw), ref) < 1e-14


def test_module_and_image_inputs_float32_module_not_modified():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 5), torch.nn.Tanh())
    x = torch.randn(6, 3, 2, 2)  # float32 image-shaped inputs
    J = geometry.jacobian(net, x)
    assert J.shape == (6, 5, 12) and J.dtype == torch.float64
    assert next(net.parameters()).dtype == torch.float32  # the module was not cast in place
    W = net[1].weight.double()
    z = x.double().flatten(1) @ W.T + net[1].bias.double()
    want = (1 - torch.tanh(z) ** 2).unsqueeze(-1) * W
    assert rel_err(J, want) < RTOL
    # n = 5 < d = 12: the full volume element is exactly zero; the top-k pseudo-determinant is finite
    assert torch.isneginf(geometry.log_volume_element(net, x)).all()
    top = geometry.log_volume_element(net, x, k=5)
    assert torch.isfinite(top).all()
    assert rel_err(top, torch.log10(torch.linalg.svdvals(want)).sum(-1)) < 1e-12


def test_rank_deficient_gives_minus_inf_not_nan():
    # ReLU map with every unit inactive on the batch: J = 0
    W = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=torch.float64)
    b = torch.full((3,), -10.0, dtype=torch.float64)
    x = torch.rand(8, 2, dtype=torch.float64)
    f = shallow.feature_map(W, b, "relu")
    out = geometry.log_volume_element(f, x)
    assert torch.isneginf(out).all()
    assert torch.isneginf(shallow.log_volume_element(W, b, x, "relu")).all()
    # rank one: two parallel rows
    f1 = lambda x: torch.stack([x[:, 0] + x[:, 1], 2 * (x[:, 0] + x[:, 1]), torch.sin(x[:, 0] + x[:, 1])], -1)
    assert torch.isneginf(geometry.log_volume_element(f1, x)).all()
    assert torch.isfinite(geometry.log_volume_element(f1, x, k=1)).all()


def test_top_k_pseudo_determinant():
    W, b = shallow.random_network(6, 10, seed=5)
    f = shallow.feature_map(W, b, "sigmoid")
    x = torch.randn(10, 6, dtype=torch.float64)
    s = torch.linalg.svdvals(shallow.jacobian(W, b, x, "sigmoid"))
    for k in (1, 3, 6):
        got = geometry.log_volume_element(f, x, k=k, base=2)
        assert rel_err(got, torch.log2(s[:, :k]).sum(-1)) < RTOL
    assert rel_err(geometry.log_volume_element(f, x, k=6), geometry.log_volume_element(f, x)) < RTOL


@pytest.mark.parametrize(
    "kwargs,exc,word",
    [
        ({"x": torch.randn(3)}, ValueError, "batch"),
        ({"x": torch.ones(4, 2, dtype=torch.int64)}, TypeError, "x"),
        ({"x": torch.tensor([[0.0, float("nan")]])}, ValueError, "NaN"),
        ({"x": torch.tensor([[0.0, float("inf")]])}, ValueError, "x"),
        ({"x": [[0.0, 1.0]]}, TypeError, "x"),
        ({"x": torch.randn(0, 2)}, ValueError, "empty"),
        ({"k": 0}, ValueError, "k"),
        ({"k": 3}, ValueError, "k"),
        ({"k": 1.5}, TypeError, "k"),
        ({"base": 1}, ValueError, "base"),
        ({"base": -2.0}, ValueError, "base"),
        ({"chunk_size": 0}, ValueError, "chunk_size"),
        ({"mode": "sideways"}, ValueError, "mode"),
        ({"dtype": torch.int32}, TypeError, "dtype"),
        ({"device": "warp-drive"}, ValueError, "device"),
    ],
)
def test_bad_input_names_the_argument(kwargs, exc, word):
    W, b = shallow.random_network(2, 5, seed=0)
    args = {"x": torch.randn(4, 2, dtype=torch.float64)} | kwargs
    with pytest.raises(exc, match=word):
        geometry.log_volume_element(shallow.feature_map(W, b, "tanh"), **args)


def test_bad_feature_map():
    with pytest.raises(TypeError, match="f must be"):
        geometry.jacobian(42, torch.randn(2, 2))


# ---------------------------------------------------------------------------------------------------------------
# Property tests (hypothesis): random shallow networks of random size, activation and seed.

nets = st.tuples(
    st.integers(1, 4),  # d
    st.integers(1, 9),  # extra width beyond d
    st.sampled_from(["sigmoid", "tanh", "erf", "gelu", "softplus"]),
    st.integers(0, 2**31 - 1),
)


def _log_volume_tolerance(f, x, extra: float = 1.0) -> torch.Tensor:
    """Per-point bound on float64 round-off in log10 sqrt(det g): the smallest singular value of J is accurate to
    about eps * cond(J) relative (d of them summed), plus a floor of 1e-10."""
    s = geometry.spectrum(f, x)
    cond = s[:, 0] / s[:, -1]
    return 1e-10 + 100 * extra * s.shape[1] * torch.finfo(s.dtype).eps * cond / math.log(10)


def _setup(d, extra, activation, seed):
    n = d + extra
    W, b = shallow.random_network(d, n, seed=seed)
    x = torch.randn(7, d, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64)
    return W, b, x, shallow.feature_map(W, b, activation)


@settings(max_examples=40, deadline=None)
@given(nets)
def test_metric_is_symmetric_psd(net):
    W, b, x, f = _setup(*net)
    g = geometry.metric(f, x)
    assert torch.allclose(g, g.transpose(-1, -2), rtol=0, atol=1e-15 * float(g.abs().max()))
    lam = torch.linalg.eigvalsh(g)
    assert float(lam.min()) >= -1e-13 * float(lam.abs().max())


@settings(max_examples=40, deadline=None)
@given(nets, st.integers(0, 2**31 - 1))
def test_log_volume_invariant_under_rotation_of_feature_space(net, qseed):
    W, b, x, f = _setup(*net)
    n = W.shape[0]
    Q, _ = torch.linalg.qr(torch.randn(n, n, generator=torch.Generator().manual_seed(qseed), dtype=torch.float64))
    rotated = lambda u: f(u) @ Q.T
    base = geometry.log_volume_element(f, x)
    assume(bool(torch.isfinite(base).all()))
    err = (geometry.log_volume_element(rotated, x) - base).abs()
    assert bool((err <= _log_volume_tolerance(f, x)).all()), err


@settings(max_examples=40, deadline=None)
@given(nets, st.integers(0, 2**31 - 1))
def test_linear_change_of_input_coordinates_shifts_log_volume(net, aseed):
    W, b, x, f = _setup(*net)
    d = W.shape[1]
    A = torch.randn(d, d, generator=torch.Generator().manual_seed(aseed), dtype=torch.float64)
    assume(float(torch.linalg.cond(A)) < 1e6)
    u = torch.linalg.solve(A, x.T).T  # x = A u
    pulled = lambda u: f(u @ A.T)
    shift = math.log10(abs(float(torch.linalg.det(A))))
    base = geometry.log_volume_element(f, x)
    assume(bool(torch.isfinite(base).all()))
    err = (geometry.log_volume_element(pulled, u) - base - shift).abs()
    assert bool((err <= _log_volume_tolerance(f, x, extra=float(torch.linalg.cond(A)))).all()), err


def _skewed_map(delta: float):
    """tanh(x A^T) with A's two columns at angle ~delta: cond(J) ~ 1/delta."""
    gen = torch.Generator().manual_seed(11)
    a, v = torch.randn(2, 6, generator=gen, dtype=torch.float64)
    A = torch.stack([a, a + delta * v], -1)  # (6, 2)
    return lambda x: torch.tanh(x @ A.T)


def test_metric_eigenvalues_used_only_where_accurate(monkeypatch):
    # points from well-conditioned to numerically rank-deficient; the metric's eigenvalues are used where
    # lambda_min >= GRAM_RTOL lambda_max, the Jacobian's QR + SVD everywhere else
    x = torch.randn(20, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    seen = []
    real = geometry.singular_values
    monkeypatch.setattr(geometry.measures, "singular_values", lambda J: (seen.append(J.shape[0]), real(J))[1])
    for delta in (1.0, 1e-1, 1e-3, 1e-6, 1e-9, 0.0):
        f = _skewed_map(delta)
        seen.clear()
        s = geometry.spectrum(f, x)
        ref = real(geometry.jacobian(f, x))
        lam = ref.square()
        ill = ~(lam[:, 1] >= geometry.GRAM_RTOL * lam[:, 0])
        assert sum(seen) == int(ill.sum())
        cond = ref[:, 0] / ref[:, 1].clamp_min(1e-300)
        tol = torch.clamp(1e-15 * cond, min=1e-12)  # the QR route's own accuracy: eps * cond(J)
        if delta > 0:
            assert ((s - ref).abs() / ref <= tol[:, None]).all()
        assert torch.equal(s[ill], ref[ill])  # ill points: exactly the QR route
        if delta == 0.0:
            assert torch.isneginf(geometry.log_volume_element(f, x)).all()


def test_closed_form_2x2_eigenvalues():
    gen = torch.Generator().manual_seed(4)
    B = torch.randn(500, 2, 2, generator=gen, dtype=torch.float64)
    g = B @ B.mT
    g = torch.cat([g, torch.zeros(1, 2, 2, dtype=torch.float64), torch.diag(torch.tensor([3.0, 0.0])).double()[None]])
    got = geometry._eigenvalues_descending(g)
    want = torch.linalg.eigvalsh(g).flip(-1)
    assert ((got - want).abs() <= 4e-16 * want[:, :1] + 1e-300).all()


@pytest.mark.skipif(not (os.environ.get("CXX") or shutil.which("g++")), reason="torch.compile on CPU needs g++")
@pytest.mark.parametrize("kernel", ["jacobian", "metric", "log_volume_element"])
def test_compiled_kernels_match_eager(kernel):
    # forward mode on a batch that is not a multiple of the chunk (padding), and reverse mode on a module
    W, b = shallow.random_network(3, 7, seed=2)
    f = shallow.feature_map(W, b, "sigmoid")
    x = torch.randn(37, 3, dtype=torch.float64)
    fn = getattr(geometry, kernel)
    assert rel_err(fn(f, x, compile=True, chunk_size=16), fn(f, x)) < 1e-14
    if kernel == "metric":
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 5), torch.nn.Tanh())
        xi = torch.randn(6, 3, 4)
        assert rel_err(fn(net, xi, compile=True), fn(net, xi)) < 1e-14


def test_compile_must_be_a_bool():
    W, b = shallow.random_network(2, 5, seed=0)
    with pytest.raises(TypeError, match="compile"):
        geometry.metric(shallow.feature_map(W, b, "tanh"), torch.randn(4, 2), compile="yes")


def test_lower_precision_spectrum_takes_the_jacobian_route():
    # in float32 n eps / GRAM_RTOL ~ 1e-2: the metric's eigenvalues would cost digits, so J's QR + SVD is used
    W, b = shallow.random_network(2, 30, seed=8)
    f = shallow.feature_map(W.float(), b.float(), "tanh")
    x = torch.randn(25, 2)
    s = geometry.spectrum(f, x, dtype=None)
    assert s.dtype == torch.float32
    J = geometry.jacobian(f, x, dtype=None)
    # the exact singular values of the float32 J (decomposed in float64), rounded to float32
    assert torch.equal(s, geometry.singular_values(J.double()).float())
    assert (s.double() - geometry.singular_values(J.double())).abs().max() <= 6e-8 * s.double().max()


def test_float32_log_volume_is_summed_in_float64():
    # 400 singular values near 1e3: the float32 sum of their logs would lose ~1e-4 decades; the float64 sum is exact
    s = torch.full((1, 400), 1000.0, dtype=torch.float32) * (1 + torch.linspace(0, 1e-3, 400))[None]
    lv = geometry.log_volume_from_singular_values(s, d=400)
    assert lv.dtype == torch.float64
    assert abs(float(lv[0]) - float(torch.log10(s.double()).sum())) < 1e-12


def test_full_fp32_turns_tf32_off_on_cuda_only_and_restores_it():
    matmul, conv = torch.backends.cuda.matmul, torch.backends.cudnn.conv
    before = (matmul.fp32_precision, conv.fp32_precision)
    with geometry.full_fp32(torch.device("cpu")):
        assert (matmul.fp32_precision, conv.fp32_precision) == before
    with geometry.full_fp32(torch.device("cuda")):  # only the flags: no GPU is touched
        assert (matmul.fp32_precision, conv.fp32_precision) == ("ieee", "ieee")
    assert (matmul.fp32_precision, conv.fp32_precision) == before


def test_reverse_mode_strategies_agree_and_auto_remembers_its_choice():
    torch.manual_seed(0)
    cnn = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3, padding=1), torch.nn.GELU(),
                              torch.nn.Conv2d(4, 6, 3, stride=2, padding=1), torch.nn.Flatten()).eval()
    x = torch.randn(5, 2, 6, 6)
    want = torch.autograd.functional.jacobian(lambda v: cnn.double()(v).sum(0), x.double()).permute(1, 0, 2, 3, 4)
    cnn.float()
    for strategy in ("vmap", "loop", "auto"):
        J = geometry.jacobian(cnn, x, mode="reverse", strategy=strategy, chunk_size=2)
        assert J.shape == (5, 54, 72)
        assert torch.allclose(J, want.reshape(5, 54, 72), rtol=1e-12, atol=1e-12), strategy
    g = {s: geometry.metric(cnn, x, strategy=s) for s in ("vmap", "loop")}
    assert torch.allclose(g["vmap"], g["loop"], rtol=1e-12, atol=1e-14)
    chosen = [k for k in geometry._STRATEGY if k[0] == repr(cnn)]
    assert chosen and all(isinstance(geometry._STRATEGY[k], bool) for k in chosen)
    with pytest.raises(ValueError, match="strategy"):
        geometry.jacobian(cnn, x, strategy="fast")
    with pytest.raises(ValueError, match="reverse"):
        geometry.jacobian(cnn, x, strategy="loop", mode="forward")
    # the loop runs backward passes: no gradient reaches the module, and the results carry no autograd history
    assert all(p.grad is None for p in cnn.parameters())
    assert not J.requires_grad and not geometry.log_volume_element(cnn, x, k=4).requires_grad
