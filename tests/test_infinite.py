"""Tests for paperlib.infinite: infinite-width metric, volume element and Ricci scalar of random shallow nets."""

from __future__ import annotations

import math

import pytest
import torch
from torch.func import jacfwd, vmap

from paperlib import activations as act
from paperlib import infinite as inf

DT = torch.float64
SMOOTH_QUAD = ("sigmoid", "tanh", "gelu", "softplus")


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-300))


def _points(d: int, radii, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    v = torch.randn(len(radii), d, generator=gen, dtype=DT)
    return v / v.norm(dim=1, keepdim=True) * torch.tensor(radii, dtype=DT)[:, None]


# ------------------------------------------------------------------------------------------------------------
# Reference curvature: Christoffel symbols and the Riemann tensor by torch.func autodiff of a metric field.
# Conventions: Gamma^l_ij = 1/2 g^{lm}(d_i g_mj + d_j g_mi - d_m g_ij),
# R^r_{s m n} = d_m Gamma^r_{n s} - d_n Gamma^r_{m s} + Gamma^r_{m l} Gamma^l_{n s} - Gamma^r_{n l} Gamma^l_{m s},
# Ric_{sn} = R^r_{s r n}, R = g^{sn} Ric_{sn}   (round sphere: R = +d(d-1)/r^2).
# ------------------------------------------------------------------------------------------------------------
def _christoffel(gfun):
    def gamma(x: torch.Tensor) -> torch.Tensor:
        g = gfun(x)
        dg = jacfwd(gfun)(x)  # dg[i, j, k] = d_k g_ij
        first = 0.5 * (dg.permute(0, 2, 1) + dg - dg.permute(2, 0, 1))  # [m, i, j]: (d_i g_mj + d_j g_mi - d_m g_ij)/2
        return torch.einsum("lm,mij->lij", torch.linalg.inv(g), first)

    return gamma


def ricci_reference(gfun, x: torch.Tensor) -> torch.Tensor:
    """Ricci scalar at one point x (d,) of the metric field gfun: (d,) -> (d, d)."""
    gamma = _christoffel(gfun)
    G = gamma(x)  # [r, m, s]
    dG = jacfwd(gamma)(x)  # [r, n, s, m] = d_m Gamma^r_{ns}
    riem = (
        torch.einsum("rnsm->rsmn", dG)
        - torch.einsum("rmsn->rsmn", dG)
        + torch.einsum("rml,lns->rsmn", G, G)
        - torch.einsum("rnl,lms->rsmn", G, G)
    )
    ric = torch.einsum("rsrn->sn", riem)
    return torch.einsum("sn,sn->", torch.linalg.inv(gfun(x)), ric)


@pytest.mark.parametrize("d", [2, 3])
def test_reference_curvature_on_round_sphere(d):
    r = 1.7  # stereographic coordinates of a sphere of radius r: g = 4 r^2 / (1 + |x|^2)^2 delta

    def g(x):
        return (4 * r * r / (1 + (x * x).sum()) ** 2) * torch.eye(d, dtype=x.dtype)

    for x in _points(d, [0.0, 0.4, 1.3]):
        assert abs(float(ricci_reference(g, x)) - d * (d - 1) / r**2) < 1e-12


# ------------------------------------------------------------------------------------------------------------
# (a) Monte Carlo: E[phi'(z)^2 w w^T] with w ~ N(0, sigma^2 I), b ~ N(0, zeta^2)
# ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("activation", ["erf", "sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("d", [2, 3])
def test_monte_carlo(activation, d):
    sigma, zeta, n = 1.3, 0.7, 200_000
    gen = torch.Generator().manual_seed(1234 + d)
    W = sigma * torch.randn(n, d, generator=gen, dtype=DT)
    b = zeta * torch.randn(n, generator=gen, dtype=DT)
    x = _points(d, [0.0, 0.6, 1.5, 3.0], seed=d)
    z = x @ W.T + b  # (P, n)
    a = act.derivatives(activation, z, order=1)[1].square()
    samples = a[:, :, None, None] * (W[:, :, None] * W[:, None, :])  # (P, n, d, d)
    mean, se = samples.mean(1), samples.std(1) / math.sqrt(n)
    g = inf.metric(x, activation, sigma=sigma, zeta=zeta)
    # Monte-Carlo tolerance: 5 standard errors per entry (seeded, so deterministic)
    assert bool(((mean - g).abs() <= 5 * se + 1e-12).all()), ((mean - g).abs() / se).max()


# ------------------------------------------------------------------------------------------------------------
# (b) erf: closed form == generic quadrature route
# ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("d", [2, 3, 5])
@pytest.mark.parametrize("sigma,zeta", [(1.0, 1.0), (0.1, 0.0), (0.3, 5.0), (5.0, 0.1), (2.0, 0.5)])
def test_erf_closed_form_matches_quadrature(d, sigma, zeta):
    x = _points(d, [0.0, 0.01, 0.2, 0.9, 1.1, 3.0, 10.0])
    kw = dict(sigma=sigma, zeta=zeta)
    for fn in (inf.metric, inf.log_volume_element, inf.ricci_scalar):
        closed = fn(x, "erf", method="closed", **kw)
        quad = fn(x, "erf", method="quadrature", **kw)
        if fn is inf.ricci_scalar:  # relative per point (R = 0 at x = 0 in both)
            assert bool((quad - closed).abs().le(1e-10 * closed.abs()).all())
        else:
            assert _rel(quad, closed) <= 1e-10
    q = torch.tensor([0.0, 1e-6, 0.3, 1.0, 1.5, 40.0, 2525.0], dtype=DT)
    for c, n in zip(inf.gaussian_moments("erf", q), inf.gaussian_moments("erf", q, method="quadrature")):
        assert bool(((n - c).abs() <= 1e-10 * c.abs()).all())


def test_erf_closed_form_is_the_erf_z_over_sqrt2_formula_rescaled():
    # reference formula for phi = erf(z/sqrt 2), applied with sigma^2 -> 2 sigma^2, zeta^2 -> 2 zeta^2
    d, sigma, zeta = 3, 0.8, 0.6
    x = _points(d, [0.5, 1.0, 2.0])
    s = (x * x).sum(1)
    S2, Z2 = 2 * sigma**2, 2 * zeta**2
    R = -math.pi * (d - 1) * (d + 2) * S2 * s / (2 * (1 + 2 * Z2) * torch.sqrt(1 + 2 * Z2 + 2 * S2 * s))
    vol = (2 * S2 / math.pi) ** (d / 2) * math.sqrt(1 + 2 * Z2) / (1 + 2 * Z2 + 2 * S2 * s) ** ((d + 2) / 4)
    assert _rel(inf.ricci_scalar(x, "erf", sigma=sigma, zeta=zeta), R) < 1e-14
    assert _rel(inf.log_volume_element(x, "erf", sigma=sigma, zeta=zeta), torch.log10(vol)) < 1e-14


# ------------------------------------------------------------------------------------------------------------
# (c) Ricci scalar formula == autodiff of the metric through Christoffel/Riemann
# ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "activation,method", [("erf", "closed"), ("erf", "quadrature")] + [(a, "quadrature") for a in SMOOTH_QUAD]
)
@pytest.mark.parametrize("d", [2, 3])
def test_ricci_formula_matches_autodiff(activation, method, d):
    x = _points(d, [0.25, 0.8, 1.6, 3.5], seed=7)
    for sigma, zeta in [(1.0, 1.0), (0.6, 0.2)]:  # q from 0.06 to 13, both quadrature forms
        gfun = inf.metric_field(activation, sigma=sigma, zeta=zeta, method=method)
        ref = vmap(lambda p: ricci_reference(gfun, p))(x)
        got = inf.ricci_scalar(x, activation, sigma=sigma, zeta=zeta, method=method)
        assert bool(((got - ref).abs() <= 1e-8 * ref.abs()).all()), (got, ref)
        assert bool((ref.abs() > 0).all())


# ------------------------------------------------------------------------------------------------------------
# (d) relu / linear: flat, R == 0 exactly, no NaN (x = 0, zeta = 0 included); d = 1: R == 0
# ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("activation,F", [("relu", 0.5), ("linear", 1.0)])
@pytest.mark.parametrize("zeta", [0.0, 1.0])
def test_piecewise_linear_flat(activation, F, zeta):
    for d in (1, 2, 3):
        x = torch.cat([torch.zeros(1, d, dtype=DT), _points(d, [0.5, 4.0])])
        g = inf.metric(x, activation, sigma=1.5, zeta=zeta)
        assert torch.equal(g, torch.eye(d, dtype=DT).expand(3, d, d) * (2.25 * F))
        R = inf.ricci_scalar(x, activation, sigma=1.5, zeta=zeta)
        assert torch.equal(R, torch.zeros(3, dtype=DT))
        lv = inf.log_volume_element(x, activation, sigma=1.5, zeta=zeta)
        assert torch.allclose(lv, torch.full((3,), d / 2 * math.log10(2.25 * F), dtype=DT), rtol=0, atol=1e-15)
    Fq = inf.gaussian_moments(activation, torch.tensor([0.0, 3.0], dtype=DT))
    assert torch.equal(Fq[0], torch.full((2,), F, dtype=DT)) and not Fq[1].any() and not Fq[2].any()


@pytest.mark.parametrize("activation", act.NAMES)
def test_no_nan_at_origin_and_d1(activation):
    x0 = torch.zeros(2, 3, dtype=DT)
    for fn in (inf.metric, inf.log_volume_element, inf.ricci_scalar):
        for zeta in (0.0, 1.0):
            assert bool(torch.isfinite(fn(x0, activation, zeta=zeta)).all())
    assert torch.equal(inf.ricci_scalar(x0, activation, zeta=0.0), torch.zeros(2, dtype=DT))
    x1 = torch.tensor([[0.0], [0.7], [-3.0]], dtype=DT)
    assert torch.equal(inf.ricci_scalar(x1, activation), torch.zeros(3, dtype=DT))
    assert bool(torch.isfinite(inf.log_volume_element(x1, activation)).all())


@pytest.mark.parametrize("activation", inf.SMOOTH)
@pytest.mark.parametrize("zeta", [0.0, 1.0])
def test_extreme_radii_stay_finite(activation, zeta):
    x = torch.tensor([[1e-150, 0.0], [1e-3, 0.0], [1e20, 0.0], [1e100, 0.0]], dtype=DT)
    for fn in (inf.metric, inf.log_volume_element, inf.ricci_scalar):
        assert bool(torch.isfinite(fn(x, activation, zeta=zeta, method="quadrature")).all())
    if activation in ("sigmoid", "tanh", "erf"):  # F ~ C/sqrt(q): R grows like |x|, as erf's closed form does
        R = inf.ricci_scalar(x, activation, zeta=zeta, method="quadrature")
        assert abs(float(R[3] / R[2]) / 1e80 - 1) < 1e-10


# ------------------------------------------------------------------------------------------------------------
# (e) spherical symmetry
# ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("activation", ["erf", "sigmoid", "tanh", "gelu", "softplus"])
@pytest.mark.parametrize("d", [2, 3])
def test_rotation_invariance(activation, d):
    gen = torch.Generator().manual_seed(99)
    Q, _ = torch.linalg.qr(torch.randn(d, d, generator=gen, dtype=DT))
    x = _points(d, [0.0, 0.3, 1.0, 2.5, 8.0])
    xr = x @ Q.T
    kw = dict(sigma=1.2, zeta=0.4)
    g, gr = inf.metric(x, activation, **kw), inf.metric(xr, activation, **kw)
    assert _rel(gr, Q @ g @ Q.T) < 1e-13
    for fn in (inf.log_volume_element, inf.ricci_scalar):
        a, b = fn(x, activation, **kw), fn(xr, activation, **kw)
        assert bool(((a - b).abs() <= 1e-13 * a.abs() + 1e-300).all())
    # and the metric has the form e^Omega (I + 2 Omega' x x^T) with Omega from omega()
    O, O1, _ = inf.omega((x * x).sum(1), activation, **kw)
    expect = O.exp()[:, None, None] * (torch.eye(d, dtype=DT) + 2 * O1[:, None, None] * x[:, :, None] * x[:, None, :])
    assert _rel(g, expect) < 1e-14


# ------------------------------------------------------------------------------------------------------------
# quadrature internals: derivatives up to order 5, F' and F'' vs finite differences, convergence in nodes
# ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("activation", inf.SMOOTH)
def test_moment_derivatives_match_finite_differences(activation):
    q = torch.tensor([0.05, 0.5, 0.97, 1.03, 2.0, 30.0, 400.0], dtype=DT)
    eps = 1e-4 * q
    _, F1, F2 = inf.gaussian_moments(activation, q, method="quadrature")
    Fp, F1p, _ = inf.gaussian_moments(activation, q + eps, method="quadrature")
    Fm, F1m, _ = inf.gaussian_moments(activation, q - eps, method="quadrature")
    assert bool(((Fp - Fm) / (2 * eps) - F1).abs().le(1e-7 * F1.abs()).all())
    assert bool(((F1p - F1m) / (2 * eps) - F2).abs().le(1e-7 * F2.abs()).all())
    # Omega(s) = log(sigma^2 F(sigma^2 s + zeta^2)): Omega' and Omega'' against differences of omega()
    s = torch.tensor([0.02, 0.3, 1.5, 9.0, 60.0], dtype=DT)
    h = 1e-4 * s
    kw = dict(sigma=0.9, zeta=0.4)
    O, O1, O2 = inf.omega(s, activation, **kw)
    Op, O1p, _ = inf.omega(s + h, activation, **kw)
    Om, O1m, _ = inf.omega(s - h, activation, **kw)
    assert bool(((Op - Om) / (2 * h) - O1).abs().le(1e-7 * O1.abs()).all())
    assert bool(((O1p - O1m) / (2 * h) - O2).abs().le(1e-7 * O2.abs()).all())


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "softplus", "gelu"])
def test_quadrature_converged_against_many_nodes(activation):
    # sigma, zeta in [0.1, 5], |x| up to 10 covers q in [0.01, 2525]
    q = torch.tensor([0.0, 0.01, 0.3, 1.0, 1.0 + 1e-9, 4.0, 25.0, 300.0, 2525.0], dtype=DT)
    ref = inf.gaussian_moments(activation, q, nodes=2001)
    for a, b in zip(inf.gaussian_moments(activation, q), ref):
        assert bool(((a - b).abs() <= 1e-12 * b.abs() + 1e-300).all())
    x = _points(2, [0.0, 0.1, 1.0, 4.0, 10.0])
    for sigma, zeta in [(0.1, 0.1), (5.0, 0.1), (5.0, 5.0), (0.1, 5.0)]:
        kw = dict(sigma=sigma, zeta=zeta)
        R = inf.ricci_scalar(x, activation, **kw)
        Rref = inf.ricci_scalar(x, activation, nodes=2001, **kw)
        assert bool(((R - Rref).abs() <= 1e-11 * Rref.abs()).all())


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "softplus", "gelu"])
def test_quadrature_matches_mpmath(activation):
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 25
    h = {
        "tanh": lambda z: mp.sech(z) ** 4,
        "sigmoid": lambda z: (1 / (mp.exp(z / 2) + mp.exp(-z / 2))) ** 4,
        "softplus": lambda z: 1 / (1 + mp.exp(-z)) ** 2,
        "gelu": lambda z: (mp.ncdf(z) + z * mp.npdf(z)) ** 2,
    }[activation]
    qs = [0.04, 6.0, 2525.0]  # derivative form; Hermite form; sigma = 5, |x| = 10, zeta = 5
    got = inf.gaussian_moments(activation, torch.tensor(qs, dtype=DT))
    for i, q in enumerate(qs):
        q = mp.mpf(q)
        breaks = {mp.mpf(v) for v in (-30, -8, -2, 0, 2, 8, 30)} | {k * mp.sqrt(q) for k in (-8, -2, 2, 8)}
        pts = [-mp.inf] + sorted(breaks) + [mp.inf]
        dens = lambda z: mp.exp(-z * z / (2 * q)) / mp.sqrt(2 * mp.pi * q)  # noqa: E731
        he = [lambda u: 1, lambda u: (u - 1) / (2 * q), lambda u: (u * u - 6 * u + 3) / (4 * q * q)]  # u = z^2/q
        for k in range(3):
            ref = mp.quad(lambda z: h(z) * dens(z) * he[k](z * z / q), pts)
            assert abs(float(got[k][i]) / float(ref) - 1) < 1e-13, (k, float(q))


def test_large_batch_is_chunked_consistently(monkeypatch):
    monkeypatch.setattr(inf, "_CHUNK", 50 * inf.DEFAULT_NODES)  # 50 points per chunk
    x = _points(2, torch.linspace(0, 6, 1_001).tolist(), seed=3)  # q crosses the switch at 1 inside chunks
    R = inf.ricci_scalar(x, "tanh", sigma=1.1, zeta=0.3)
    g = inf.metric(x, "tanh", sigma=1.1, zeta=0.3)
    idx = torch.tensor([0, 1, 87, 500, 1_000])
    monkeypatch.setattr(inf, "_CHUNK", 1 << 22)
    assert _rel(R[idx], inf.ricci_scalar(x[idx], "tanh", sigma=1.1, zeta=0.3)) < 1e-15
    # the pure (torch.where) route of metric_field equals the split route of metric
    assert _rel(inf.metric_field("tanh", sigma=1.1, zeta=0.3)(x), g) < 1e-15


def test_dtype_device_base_and_shapes():
    x = _points(3, [0.5, 1.0]).float()
    g = inf.metric(x, "sigmoid", dtype=None, device="cpu")
    assert g.dtype == torch.float32 and g.shape == (2, 3, 3)
    assert inf.metric(x, "sigmoid").dtype == torch.float64
    xx = _points(4, [0.5, 1.0]).reshape(2, 2, 2)  # (B, *in_shape) is flattened
    assert inf.metric(xx, "tanh").shape == (2, 4, 4)
    lv10 = inf.log_volume_element(x, "gelu")
    lve = inf.log_volume_element(x, "gelu", base=math.e)
    assert _rel(lve, lv10 * math.log(10)) < 1e-14
    assert inf.ricci_scalar(x, "softplus").shape == (2,)
    F, F1, F2 = inf.gaussian_moments("tanh", 0.7)
    assert F.shape == () and F1 < 0


# ------------------------------------------------------------------------------------------------------------
# (f) bad input
# ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [inf.metric, inf.log_volume_element, inf.ricci_scalar])
def test_bad_input(fn):
    x = torch.ones(2, 2, dtype=DT)
    with pytest.raises(ValueError, match="x"):
        fn(torch.tensor([[0.0, float("nan")]]), "tanh")
    with pytest.raises(ValueError, match="x"):
        fn(torch.tensor([[0.0, float("inf")]]), "erf")
    with pytest.raises(ValueError, match="batch"):
        fn(torch.ones(3, dtype=DT), "tanh")
    with pytest.raises(TypeError, match="x"):
        fn(torch.ones(2, 2, dtype=torch.int64), "tanh")
    with pytest.raises(TypeError, match="x"):
        fn([[1.0, 2.0]], "tanh")
    with pytest.raises(ValueError, match="d >= 1"):
        fn(torch.ones(2, 0, dtype=DT), "tanh")
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="sigma"):
            fn(x, "tanh", sigma=bad)
    for bad in (-0.1, float("nan")):
        with pytest.raises(ValueError, match="zeta"):
            fn(x, "tanh", zeta=bad)
    with pytest.raises(TypeError, match="sigma"):
        fn(x, "tanh", sigma="1")
    with pytest.raises(TypeError, match="zeta"):
        fn(x, "tanh", zeta=True)
    with pytest.raises(ValueError, match="activation"):
        fn(x, "swish")
    with pytest.raises(TypeError, match="activation"):
        fn(x, None)
    with pytest.raises(ValueError, match="method"):
        fn(x, "tanh", method="gauss")
    with pytest.raises(ValueError, match="closed"):
        fn(x, "sigmoid", method="closed")
    with pytest.raises(ValueError, match="quadrature"):
        fn(x, "relu", method="quadrature")
    with pytest.raises(ValueError, match="nodes"):
        fn(x, "tanh", nodes=3)
    with pytest.raises(TypeError, match="dtype"):
        fn(x, "tanh", dtype=torch.int32)


def test_bad_input_helpers():
    with pytest.raises(ValueError, match="base"):
        inf.log_volume_element(torch.ones(1, 2, dtype=DT), "tanh", base=1)
    with pytest.raises(ValueError, match="q"):
        inf.gaussian_moments("tanh", torch.tensor([-1.0], dtype=DT))
    with pytest.raises(TypeError, match="q"):
        inf.gaussian_moments("tanh", "1")
    with pytest.raises(ValueError, match="s"):
        inf.omega(torch.tensor([float("nan")], dtype=DT), "tanh")
    with pytest.raises(ValueError, match="sigma"):
        inf.metric_field("tanh", sigma=-1.0)
