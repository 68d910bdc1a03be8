"""paperlib.shallow: the closed-form geometry of one-hidden-layer maps (log volume element by QR, singular values,
argument errors); its agreement with autodiff and sympy is tested in test_geometry.py, test_curvature.py and
test_symbolic_shallow.py."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from paperlib import geometry, shallow


def _net(n, d, seed=0, w_scale=1.0, b_scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return (w_scale * torch.randn(n, d, generator=g, dtype=torch.float64),
            b_scale * torch.randn(n, generator=g, dtype=torch.float64))


def _cauchy_binet_log10(W, b, x, activation="sigmoid"):
    """Exact log10 sqrt(det g) from the Cauchy-Binet sum over all d-subsets of units (log-sum-exp)."""
    n, d = W.shape
    z = x @ W.T + b
    logd = torch.nn.functional.logsigmoid(z) + torch.nn.functional.logsigmoid(-z)
    terms = []
    for S in itertools.combinations(range(n), d):
        S = list(S)
        _, logdet = torch.linalg.slogdet(W[S])
        terms.append(2 * logd[:, S].sum(1) + 2 * logdet)  # prod phi'^2 det(W_S)^2
    total = torch.logsumexp(torch.stack(terms, 1), 1) - d * math.log(n)
    return 0.5 * total / math.log(10)


def test_qr_log_volume_matches_the_svd_route_and_cauchy_binet():
    W, b = _net(7, 3, seed=1)
    x = torch.randn(9, 3, dtype=torch.float64)
    qr = shallow.log_volume_element(W, b, x, "sigmoid")
    assert qr.shape == (9,) and qr.dtype == torch.float64
    svd = shallow.log_volume_element(W, b, x, "sigmoid", device=None)
    assert torch.allclose(qr, svd, atol=1e-11)
    assert torch.allclose(qr, _cauchy_binet_log10(W, b, x), atol=1e-11)
    for act in ("tanh", "erf", "softplus"):
        assert torch.allclose(shallow.log_volume_element(W, b, x, act),
                              shallow.log_volume_element(W, b, x, act, device=None), atol=1e-10)
    assert torch.allclose(shallow.log_volume_element(W, b, x, "sigmoid", base=math.e), qr * math.log(10))
    assert torch.allclose(shallow.log_volume_element(W, b, x, "sigmoid", chunk_size=2), qr)


def test_qr_log_volume_is_accurate_for_saturated_units_and_dead_columns():
    # strongly saturated units: phi' spans ~1e-2 .. 1e-40; the Cauchy-Binet sum is the exact reference
    W, b = _net(6, 3, seed=2, w_scale=20.0)
    x = torch.randn(5, 3, dtype=torch.float64)
    assert torch.allclose(shallow.log_volume_element(W, b, x, "sigmoid"), _cauchy_binet_log10(W, b, x), atol=1e-9)
    # square W: det g = det(W)^2 prod phi'^2 / n^d exactly, whatever the saturation
    Wq, bq = _net(5, 5, seed=3, w_scale=30.0)
    xq = torch.randn(4, 5, dtype=torch.float64)
    z = xq @ Wq.T + bq
    logd = torch.nn.functional.logsigmoid(z) + torch.nn.functional.logsigmoid(-z)
    exact = (torch.linalg.slogdet(Wq)[1] + logd.sum(1) - 2.5 * math.log(5)) / math.log(10)
    assert torch.allclose(shallow.log_volume_element(Wq, bq, xq, "sigmoid"), exact, atol=1e-10)
    # a column scaled by 1e-30 (a pixel whose weights decayed): exactly -30 decades more, which the SVD misses
    W2, b2 = _net(40, 30, seed=4)
    x2 = torch.rand(3, 30, dtype=torch.float64)
    W3 = W2.clone()
    W3[:, 0] *= 1e-30
    x3 = x2.clone()
    x3[:, 0] = 0.0  # the pixel is blank, so the pre-activations do not change
    base = shallow.log_volume_element(W2, b2, x3, "sigmoid")
    assert torch.allclose(shallow.log_volume_element(W3, b2, x3, "sigmoid"), base - 30.0, atol=1e-9)
    sv = shallow.spectrum(W3, b2, x3, "sigmoid", method="jacobi")
    assert torch.allclose(torch.log10(sv).sum(1), base - 30.0, atol=1e-9)  # Jacobi SVD keeps relative accuracy


def test_singular_values_methods_agree_when_well_conditioned():
    W, b = _net(12, 5, seed=5, w_scale=0.5)
    x = torch.randn(3, 5, dtype=torch.float64)
    jac = shallow.spectrum(W, b, x, "sigmoid", method="jacobi")
    svd = shallow.spectrum(W, b, x, "sigmoid", method="svd")
    ref = shallow.spectrum(W, b, x, "sigmoid", device=None)
    assert jac.shape == (3, 5) and bool((jac[:, :-1] >= jac[:, 1:]).all())
    assert torch.allclose(jac, ref, rtol=1e-10) and torch.allclose(svd, ref, rtol=1e-10)
    with pytest.raises(ValueError, match="method"):
        shallow.spectrum(W, b, x, "sigmoid", method="eig")


def test_shallow_argument_errors():
    W, b = _net(4, 6)
    x = torch.randn(2, 6, dtype=torch.float64)
    assert torch.isneginf(shallow.log_volume_element(W, b, x, "sigmoid")).all()  # n < d: det g = 0
    with pytest.raises(ValueError, match="jacobi"):
        shallow.spectrum(W, b, x, "sigmoid", method="jacobi")
    W, b = _net(8, 6)
    with pytest.raises(ValueError, match="b"):
        shallow.log_volume_element(W, b[:3], x, "sigmoid")
    with pytest.raises(ValueError, match="x"):
        shallow.log_volume_element(W, b, x[:, :4], "sigmoid")
    with pytest.raises(ValueError, match="activation|relu6"):
        shallow.log_volume_element(W, b, x, "relu6")
    with pytest.raises(ValueError, match="chunk_size"):
        shallow.log_volume_element(W, b, x, "sigmoid", chunk_size=0)
    with pytest.raises(ValueError, match="base"):
        shallow.log_volume_element(W, b, x, "sigmoid", base=1)


def test_feature_map_computes_in_the_inputs_dtype_and_device():
    W, b = _net(5, 3, seed=6)
    f = shallow.feature_map(W, b, "tanh")
    x = torch.randn(4, 3, dtype=torch.float32)
    assert f(x).dtype == torch.float32 and f(x).device == x.device
    assert torch.allclose(geometry.metric(f, x.double(), device="cpu"), shallow.metric(W, b, x.double(), "tanh",
                                                                                       device="cpu"), atol=1e-12)
