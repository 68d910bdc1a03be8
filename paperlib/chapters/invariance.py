r"""Chapter 9: the geometric invariance hypothesis (Movahedi et al., arXiv:2410.12025).

:func:`run` measures, for one preset (figures: :mod:`paperlib.chapters.invariance_figures`),

1. the average geometry :math:`G` of an MLP, a LeNet and a ResNet at initialisation
   (:func:`paperlib.gih.average_geometry`), in independent blocks of networks: the anisotropic fraction and the
   participation ratio without the noise bias, with jackknife intervals, and the same for a positive control of
   known anisotropy (an MLP behind a fixed input scaling, :func:`scaled_mlp`); eigen-images;
2. the evolution at initialisation :math:`\Delta^0` on standardised two-digit data, for the linear model, the MLP,
   LeNet and the ResNet (networks independent of those of :math:`G`), and its debiased alignment with
   :math:`G S G` -- full, and beyond the top eigenvector of :math:`S` (the mean image) -- against the controls
   :math:`S` alone and :math:`G R G` with :math:`R` a random matrix of :math:`S`'s spectrum, with jackknife
   intervals over blocks of antithetic pairs (:meth:`paperlib.gih.Evolution.alignment_interval`);
3. the motivating experiment: two concentric circles in a plane spanned by eigenvectors of the ResNet's
   :math:`G` -- an *aligned* plane (two top eigenvectors) and an *unaligned* one (a top eigenvector and one from
   the bottom of the spectrum) -- learned by an MLP, LeNet and the ResNet, several seeds each. Test accuracy, and
   the *balanced axis accuracy*: :func:`balanced_accuracy` over test points of both classes (balanced) whose first
   coordinate is smaller than the inner radius, which only the second direction can classify (a constant
   classifier, or one invariant along the second direction, scores 0.5); and the trained network's sensitivity
   along the second direction relative to the first (:func:`sensitivity_ratio`);
4. a sweep over the eigen-index ``k`` of a label carried by the single direction :math:`u_k` with a margin
   (:func:`direction_task`), several seeds, the MLP as the control.

The claims and their thresholds: :data:`THRESHOLDS`, :func:`isotropy_claims`, :func:`alignment_claims`,
:func:`circle_claims`, :func:`sweep_claims`; :func:`circle_consistency` is a consistency check, not a claim.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass, field
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .. import cache as _cache
from .. import data as _data
from .. import gih as _gih
from .. import train as _train
from .._checks import check_choice, check_int, check_ints, check_number, resolve_device
from .core import Preset, cached, mean_sd, resolve
from .registry import Options, as_options

__all__ = ["GIHPreset", "PRESETS", "GIHExperiment", "CirclesMetrics", "run", "two_digit_data", "balanced_accuracy",
           "rank_correlation", "direction_task", "control_scale", "scaled_mlp", "sensitivity_ratio", "mean_se_gap",
           "Claim", "THRESHOLDS", "isotropy_claims", "alignment_claims", "circle_claims", "circle_consistency",
           "sweep_claims"]

_D = 1024  # 1 x 32 x 32 inputs


@dataclass(frozen=True)
class GIHPreset(Preset):
    r"""Settings of :func:`run`.

    Attributes:
        networks, inputs, sigma_x, route: of :func:`paperlib.gih.average_geometry` for LeNet and the ResNet; the
            MLP's :math:`G` takes ``mlp_networks`` (its Monte-Carlo error is the largest, and it enters the
            prediction :math:`G S G`); geometry_blocks: independent blocks of networks for the unbiased anisotropy
            and participation ratio with jackknife intervals. Both routes evaluate the same networks, so they agree
            to float rounding; the route is pinned (``"stacked"``) so the printed numbers are the same bits.
        control_anisotropy: the anisotropic fraction :math:`a = \lVert G - \bar\lambda I\rVert_F^2 /
            \lVert G\rVert_F^2` of the isotropy test's positive control, an MLP behind a fixed input scaling
            (:func:`scaled_mlp`), estimated with ``control_networks`` networks (the presets use no more than the
            MLP's, so that a rejection shows the power of the MLP's test at its own, larger, size; the claim prints
            both counts).
        resnet_depths, resnet_width, activation: the ResNet (and the activation of every network).
        evolution_networks: antithetic pairs for :math:`\Delta^0`, in evolution_blocks independent blocks (the
            jackknife intervals); evolution_inputs: points per network; evolution_architectures: which;
            evolution_images: digits 0 and 1 of the MNIST subset (targets -1 / +1), zero-padded to 32 x 32 and
            standardised as the authors do, :math:`(x - \text{pixel_mean}) / \text{pixel_sd}` with one mean and
            one sd for all pixels (the usual MNIST constants; global, not per pixel). The networks of
            :math:`\Delta^0` (seed 1) are independent of those of :math:`G` (seed 0).
        circle_architectures: networks trained on the circles; train_size, test_size: their data;
            axis_pool: points drawn to pick the axis test points from; r_outer, r_inner, noise: of
            :func:`paperlib.data.gih_circles`; aligned, unaligned: eigen-indices (0-based, descending) of the
            ResNet's :math:`G` spanning the two planes; seeds; epochs, lr, momentum, clip_norm, batch_size: SGD
            with the learning rate decayed linearly to 0; boundary_steps: the grid of the decision-region figure.
        sweep_indices, sweep_architectures, sweep_seeds, sweep_train, sweep_test, sweep_epochs, sweep_margin:
            the eigen-index sweep (:func:`direction_task`, label amplitude ``sweep_margin``).
        permutations: of the rank-correlation null (circles).
    """

    networks: int = 4096
    mlp_networks: int = 16384
    geometry_blocks: int = 16
    control_anisotropy: float = 0.25
    control_networks: int = 4096
    inputs: int = 1
    sigma_x: float = 1e-3
    route: str = "stacked"
    resnet_depths: tuple[int, ...] = (1, 1, 1, 1)
    resnet_width: int = 4
    activation: str = "gelu"
    evolution_networks: int = 1024
    evolution_blocks: int = 16
    evolution_inputs: int = 1
    evolution_architectures: tuple[str, ...] = ("linear", "mlp", "lenet", "resnet")
    evolution_images: int = 32
    pixel_mean: float = 0.1307
    pixel_sd: float = 0.3081
    circle_architectures: tuple[str, ...] = ("mlp", "lenet", "resnet")
    train_size: int = 4_000
    test_size: int = 2_000
    axis_pool: int = 40_000
    r_outer: float = 3.0
    r_inner: float = 0.25
    noise: float = 1.0
    aligned: tuple[int, int] = (5, 6)
    unaligned: tuple[int, int] = (5, 1023)
    seeds: tuple[int, ...] = (0, 1, 2)
    epochs: int = 10
    lr: float = 0.1
    momentum: float = 0.9
    clip_norm: float = 0.5
    batch_size: int = 128
    boundary_steps: int = 61
    sweep_indices: tuple[int, ...] = (0, 5, 50, 200, 1023)
    sweep_architectures: tuple[str, ...] = ("mlp", "resnet")
    sweep_seeds: tuple[int, ...] = (0, 1, 2)
    sweep_train: int = 1_000
    sweep_test: int = 1_000
    sweep_epochs: int = 5
    sweep_margin: float = 3.0
    permutations: int = 10_000

    def __post_init__(self) -> None:
        for name in ("networks", "mlp_networks", "control_networks", "inputs", "evolution_networks", "evolution_inputs",
                     "evolution_images", "train_size", "test_size", "axis_pool", "resnet_width", "epochs",
                     "boundary_steps", "batch_size", "sweep_train", "sweep_test", "sweep_epochs", "permutations"):
            check_int(getattr(self, name), name, min=1)
        check_int(self.geometry_blocks, "geometry_blocks", min=3,
                  max=min(self.networks, self.mlp_networks, self.control_networks))
        check_int(self.evolution_blocks, "evolution_blocks", min=3, max=self.evolution_networks)
        check_ints(self.resnet_depths, "resnet_depths", min=1)
        check_choice(self.route, "route", _gih.ROUTES)
        for name in ("aligned", "unaligned"):
            if len(check_ints(getattr(self, name), name, min=0, max=_D - 1)) != 2:
                raise ValueError(f"{name} must be two eigen-indices; got {getattr(self, name)!r}")
        check_ints(self.sweep_indices, "sweep_indices", min=0, max=_D - 1)
        check_ints(self.seeds, "seeds", min=0)
        check_ints(self.sweep_seeds, "sweep_seeds", min=0)
        for a in self.evolution_architectures:
            check_choice(a, "evolution_architectures", _gih.ARCHITECTURES)
        for name in ("circle_architectures", "sweep_architectures"):
            for a in getattr(self, name):
                check_choice(a, name, ("mlp", "lenet", "resnet"))
        for name in ("sigma_x", "r_outer", "lr", "clip_norm", "pixel_sd", "sweep_margin"):
            check_number(getattr(self, name), name, min=0, open_min=True)
        check_number(self.control_anisotropy, "control_anisotropy", min=0, max=0.5, open_min=True)
        check_number(self.r_inner, "r_inner", min=0, max=self.r_outer)
        check_number(self.noise, "noise", min=0)
        check_number(self.pixel_mean, "pixel_mean")
        if self.train_size % 2 or self.test_size % 2:
            raise ValueError("train_size and test_size must be even (balanced circles)")

    def network_kwargs(self, architecture: str) -> dict:
        """Keyword arguments of :func:`paperlib.gih.network` for ``architecture``."""
        kw = {"activation": self.activation}
        if architecture == "resnet":
            kw.update(depths=self.resnet_depths, width=self.resnet_width)
        return kw

    def train_config(self, seed: int, epochs: int | None = None) -> _train.TrainConfig:
        return _train.TrainConfig(lr=self.lr, momentum=self.momentum, schedule="linear", clip_norm=self.clip_norm,
                                  batch_size=self.batch_size, epochs=epochs or self.epochs, seed=seed)


#: ``"book"``: a 2-core CPU in minutes; ``"hours"``: the book's networks with 32 times the pairs of
#: :math:`\Delta^0` (the intervals of LeNet and the ResNet), four times the networks of :math:`G`, the circles on
#: 10,000 images for 20 epochs and five seeds (a few hours on a 2-core CPU, minutes on a GPU); ``"paper"``: the
#: paper's settings, for a GPU; ``"tiny"``: seconds, a smoke test (its numbers mean nothing).
PRESETS = {
    "book": GIHPreset(),
    "hours": GIHPreset(networks=16_384, mlp_networks=65_536, control_networks=16_384, evolution_networks=32_768,
                       evolution_blocks=32, train_size=10_000, epochs=20, seeds=(0, 1, 2, 3, 4),
                       sweep_seeds=(0, 1, 2, 3, 4), sweep_train=4_000, sweep_epochs=10),
    # the paper's settings: ResNet-18 (width 64), 10^5 networks with 128 inputs each, 20 epochs; 10,000 pairs
    # for Delta^0 (the paper estimates it differently, see the chapter)
    "paper": GIHPreset(networks=100_000, mlp_networks=100_000, inputs=128, resnet_depths=(2, 2, 2, 2),
                       resnet_width=64, evolution_networks=10_000, evolution_blocks=20, evolution_inputs=128,
                       evolution_images=512, epochs=20, seeds=(0, 1, 2, 3, 4), train_size=10_000, sweep_train=10_000,
                       sweep_epochs=30,
                       sweep_seeds=(0, 1, 2, 3, 4), sweep_indices=(0, 5, 10, 20, 50, 100, 200, 500, 1000, 1023)),
    "tiny": GIHPreset(networks=64, mlp_networks=64, control_networks=64, geometry_blocks=4, evolution_networks=16,
                      evolution_blocks=4, evolution_images=16, train_size=200, test_size=100, axis_pool=2000,
                      seeds=(0,), epochs=1,
                      boundary_steps=9, sweep_indices=(0, 1023), sweep_seeds=(0,), sweep_train=100, sweep_test=100,
                      sweep_epochs=1, permutations=100),
}


def balanced_accuracy(pred: torch.Tensor, y: torch.Tensor) -> float:
    r"""The mean over the classes present in ``y`` of the recall :math:`P(\hat y = c \mid y = c)`; ``pred, y:
    (N,)`` class labels. A constant classifier scores :math:`1/C` whatever the class proportions.

    Example:
        >>> balanced_accuracy(torch.ones(4, dtype=torch.long), torch.tensor([1, 1, 1, 0]))  # always "outer"
        0.5
    """
    if not isinstance(pred, torch.Tensor) or not isinstance(y, torch.Tensor) or pred.shape != y.shape or y.ndim != 1:
        raise ValueError("pred and y must be label tensors of the same shape (N,)")
    return float(torch.stack([(pred[y == c] == c).double().mean() for c in torch.unique(y)]).mean())


def rank_correlation(a: Sequence[float], b: Sequence[float], *, permutations: int = 10_000,
                     seed: int = 0) -> tuple[float, float]:
    r"""Spearman's :math:`r_s` of ``a`` and ``b`` (``(n,)`` each; ties take their mean rank) and its one-sided
    permutation p-value :math:`P(r_s^\pi \ge r_s)` over ``permutations`` random pairings (``+1`` smoothing).

    Example:
        >>> r, p = rank_correlation([1, 2, 3, 4, 5, 6], [2, 1, 4, 3, 6, 5], permutations=2000)
        >>> round(r, 3), p < 0.05
        (0.829, True)
    """
    x, y = (torch.tensor([float(v) for v in t], dtype=torch.float64) for t in (a, b))
    if x.shape != y.shape or x.numel() < 3:
        raise ValueError("a and b must be sequences of the same length >= 3")
    check_int(permutations, "permutations", min=1)

    from scipy.stats import rankdata  # noqa: PLC0415 (scipy only where used; ties take their mean rank)

    def ranks(v):
        r = torch.from_numpy(rankdata(v.numpy()))
        return (r - r.mean()) / (r - r.mean()).norm()

    rx, ry = ranks(x), ranks(y)
    rs = float(rx @ ry)
    gen = torch.Generator().manual_seed(seed)
    perm = torch.stack([torch.randperm(len(x), generator=gen) for _ in range(permutations)])
    null = ry[perm] @ rx
    return rs, float((1 + (null >= rs - 1e-12).sum()) / (1 + permutations))


def direction_task(u: torch.Tensor, n: int, *, margin: float = 3.0, noise: float = 1.0,
                   seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    r"""A label carried by one direction ``u`` with a margin: :math:`e = u/|u|`,
    :math:`x = \pm\,\text{margin}\; e + (I - e e^\top) z`, :math:`z \sim N(0, \text{noise}^2 I)`, class 1 for
    ``+``, balanced classes in random order (the label sits at the circles' outer radius; the class is read
    off :math:`x\cdot e` alone, and a network that sees all directions alike learns it for every ``u``).

    Returns:
        ``x: (n, *u.shape)`` float32, ``y: (n,)`` long.
    """
    n = check_int(n, "n", min=2)
    check_number(margin, "margin", min=0, open_min=True)
    check_number(noise, "noise", min=0)
    if not isinstance(u, torch.Tensor) or not u.double().norm() > 0:
        raise ValueError("u must be a non-zero tensor")
    e = u.flatten().double() / u.double().norm()
    gen = torch.Generator().manual_seed(check_int(seed, "seed", min=0))
    y = (torch.arange(n) % 2)[torch.randperm(n, generator=gen)]
    z = torch.randn(n, e.numel(), generator=gen, dtype=torch.float64) * noise
    x = (2.0 * y[:, None] - 1) * margin * e + z - (z @ e)[:, None] * e
    return x.reshape(n, *u.shape).float(), y


class _InputScale(nn.Module):
    def __init__(self, scale: torch.Tensor):
        super().__init__()
        self.register_buffer("scale", scale)

    def forward(self, x):
        return x * self.scale


def control_scale(anisotropy: float) -> torch.Tensor:
    r"""The input scaling ``(1, 32, 32)`` of the isotropy test's positive control: :math:`l_i^2 = 1` on even and
    :math:`s` on odd flat pixel indices, with :math:`s` chosen so that :math:`G_c = c\, \operatorname{diag}(l^2)`
    has the anisotropic fraction :math:`a = (1 - s)^2 / (2 (1 + s^2))` = ``anisotropy`` (in (0, 1/2])."""
    a = check_number(anisotropy, "anisotropy", min=0, max=0.5, open_min=True)
    # (1 - s)^2 = 2a (1 + s^2)  ->  (1 - 2a) s^2 - 2 s + (1 - 2a) = 0, the root in (0, 1)
    q = 1 - 2 * a
    s = (1 - math.sqrt(1 - q * q)) / q if q > 0 else 0.0
    l2 = torch.where(torch.arange(_D) % 2 == 0, 1.0, s)
    return l2.sqrt().reshape(1, 32, 32).float()


def scaled_mlp(scale: torch.Tensor, **network_kwargs) -> nn.Module:
    r"""The MLP of :func:`paperlib.gih.network` behind a fixed input scaling :math:`x \mapsto l \odot x`: its
    average geometry is :math:`\operatorname{diag}(l) G_{\mathrm{MLP}} \operatorname{diag}(l) = c\,
    \operatorname{diag}(l^2)` exactly (:math:`G_{\mathrm{MLP}} \propto I`), a known anisotropy (:func:`control_scale`)."""
    return nn.Sequential(_InputScale(scale), _gih.network("mlp", **network_kwargs)).eval()


class CirclesMetrics:
    """``evaluate`` of the circle runs: test accuracy, and the balanced axis accuracy: :func:`balanced_accuracy`
    over the axis set, the test points (inner and outer) whose first coordinate is below the inner radius (see
    the module docstring)."""

    def __init__(self, x_test, y_test, x_axis, y_axis):
        self.test = _train.classification_metrics(x_test, y_test)
        self.x_axis, self.y_axis = x_axis, y_axis
        self.description = {"circles": [self.test.description, _cache.fingerprint(x_axis, y_axis)]}

    @torch.no_grad()
    def __call__(self, model) -> dict:
        p = next(model.parameters())
        pred = model(self.x_axis.to(p.device, p.dtype)).argmax(1).cpu()
        return {"accuracy": self.test(model)["accuracy"], "axis_accuracy": balanced_accuracy(pred, self.y_axis)}


def sensitivity_ratio(model: nn.Module, x: torch.Tensor, e: torch.Tensor) -> float:
    r"""The trained network's geometry along the plane's two directions: :math:`\log_{10}` of
    :math:`\mathbb E_x[(e_2\cdot\nabla_x m)^2] / \mathbb E_x[(e_1\cdot\nabla_x m)^2]`, with :math:`m = f_1 - f_0`
    the logit margin, ``x: (N, 1, 32, 32)``, ``e: (2, 1024)`` (:math:`e_2^\top G_t e_2 / e_1^\top G_t e_1` for the
    margin's geometry :math:`G_t` on the data)."""
    p = next(model.parameters())
    xs = x.to(p.device, p.dtype).requires_grad_(True)
    out = model.eval()(xs)
    (g,) = torch.autograd.grad((out[:, 1] - out[:, 0]).sum(), xs)
    proj = (g.flatten(1).double() @ e.to(g.device).T).square().mean(0)
    return float(torch.log10(proj[1] / proj[0]))


def two_digit_data(n: int, mean: float = 0.0, sd: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n / 2`` zeros and ``n / 2`` ones of the MNIST subset's training split, pixels in [0, 1]
    zero-padded to ``(n, 1, 32, 32)`` (the padding is background), then standardised ``(x - mean) / sd`` (the
    defaults leave [0, 1]); targets -1 (zero) and +1 (one)."""
    x, y = _data.mnist("train", source="subset", scale="unit")
    idx = torch.cat([torch.nonzero(y == c).flatten()[: n - n // 2 if c else n // 2] for c in (0, 1)])
    x = F.pad(x[idx].reshape(-1, 1, 28, 28), (2, 2, 2, 2))
    return (x - mean) / sd, (2.0 * y[idx] - 1).float()


@dataclass
class GIHExperiment:
    """Result of :func:`run`.

    Attributes:
        preset, settings: the preset's name and the :class:`GIHPreset`.
        geometry: ``{architecture: AverageGeometry}`` (with block statistics); control: the positive control's
            :class:`~paperlib.gih.AverageGeometry` (:func:`scaled_mlp`).
        evolution: ``{architecture: Evolution}`` (without blocks); data_mean: :math:`\\rho(S, m m^\\top)` of the
            two-digit data, ``{"unit": ..., "standardised": ...}``; alignments: one row per architecture and view
            (``"full"``, ``"beyond"``: the top eigenvector of :math:`S` projected out of both matrices),
            ``{"architecture", "view", "raw", "GSG", "S", "random", "GSG_minus_S", "relative_error"}``, the
            debiased alignments as :class:`paperlib.gih.Interval` (95 %, jackknife over blocks of pairs).
        planes: ``{"aligned" | "unaligned": (2, 1024) orthonormal directions}``; plane_curvature: rows
            ``{"plane", "direction", "architecture", "value"}`` with :math:`u^\\top G u / \\lambda_{max}`.
        circles: rows ``{"architecture", "plane", "seed", "accuracy", "axis_accuracy", "axis_history",
            "sensitivity"}`` (balanced axis accuracy; :func:`sensitivity_ratio` of the trained network).
        boundaries: ``{(architecture, plane): (coords (P, P, 2), predicted class (P, P))}`` for the first seed.
        circle_data: ``{plane: (train coords (N, 2), labels (N,))}`` for the figures.
        sweep: rows ``{"architecture", "index", "seed", "accuracy", "curvature"}``.
    """

    preset: str
    settings: GIHPreset
    geometry: dict = field(default_factory=dict)
    control: object = None
    evolution: dict = field(default_factory=dict)
    data_mean: dict = field(default_factory=dict)
    alignments: list = field(default_factory=list)
    planes: dict = field(default_factory=dict)
    plane_curvature: list = field(default_factory=list)
    circles: list = field(default_factory=list)
    boundaries: dict = field(default_factory=dict)
    circle_data: dict = field(default_factory=dict)
    sweep: list = field(default_factory=list)

    def circle_summary(self, architecture: str, plane: str, key: str = "axis_accuracy") -> tuple[float, float]:
        """Mean and sd over seeds of ``key`` for ``architecture`` on ``plane``."""
        return mean_sd(r[key] for r in self.circles if r["architecture"] == architecture and r["plane"] == plane)

    def circle_gap(self, architecture: str, key: str = "axis_accuracy") -> list[float]:
        """Per seed: ``key`` on the aligned plane minus ``key`` on the unaligned one."""
        rows = {(r["plane"], r["seed"]): r[key] for r in self.circles if r["architecture"] == architecture}
        return [rows["aligned", s] - rows["unaligned", s] for s in self.settings.seeds]

    def alignment(self, architecture: str, view: str = "beyond") -> dict:
        """The row of :attr:`alignments` of ``architecture`` and ``view``."""
        return next(r for r in self.alignments if r["architecture"] == architecture and r["view"] == view)

    def sweep_summary(self, architecture: str, index: int) -> tuple[float, float]:
        """Mean and standard error over seeds of the sweep's test accuracy of ``architecture`` at ``index``."""
        m, sd = mean_sd(r["accuracy"] for r in self.sweep if r["architecture"] == architecture
                        and r["index"] == index)
        return m, sd / math.sqrt(len(self.settings.sweep_seeds))


def mean_se_gap(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    r"""``mean(a) - mean(b)`` and its standard error :math:`\sqrt{s_a^2/n_a + s_b^2/n_b}` (Welch; 0 variance for
    a single value)."""
    (ma, sa), (mb, sb) = mean_sd(a), mean_sd(b)
    sa, sb = (0.0 if math.isnan(v) else v for v in (sa, sb))
    return ma - mb, math.sqrt(sa ** 2 / len(list(a)) + sb ** 2 / len(list(b)))


def _geometry(s: GIHPreset, arch: str, store, device) -> _gih.AverageGeometry:
    """The average geometry of ``arch`` (``"control"``: :func:`scaled_mlp`), with block statistics."""
    n = {"mlp": s.mlp_networks, "control": s.control_networks}.get(arch, s.networks)
    kw = s.network_kwargs("mlp" if arch == "control" else arch)
    desc = {"kind": "gih-G", "architecture": arch, "networks": n, "inputs": s.inputs, "sigma_x": s.sigma_x,
            "route": s.route, "blocks": s.geometry_blocks, "network": kw,
            "code": _cache.code_digest(_gih.average_geometry, _gih._Sums.add, scaled_mlp, control_scale)}
    if arch == "control":
        desc["anisotropy"] = s.control_anisotropy

    def compute():
        if arch == "control":
            factory = functools.partial(scaled_mlp, control_scale(s.control_anisotropy), **kw)
            e = _gih.average_geometry(factory, n, in_shape=(1, 32, 32), inputs=s.inputs, sigma_x=s.sigma_x,
                                      route=s.route, device=device, blocks=s.geometry_blocks, progress=False)
        else:
            e = _gih.average_geometry(arch, n, inputs=s.inputs, sigma_x=s.sigma_x, route=s.route, device=device,
                                      blocks=s.geometry_blocks, progress=False, **kw)
        return {"G": e.G.cpu(), "sum_sq": e.sum_sq, "route": e.route, "seconds": e.seconds,
                "block_gram": e.block_gram, "block_trace": e.block_trace}
    p = cached(store, _json(desc), compute)
    return _gih.AverageGeometry(p["G"], n, s.inputs, s.sigma_x, "mean", p["route"], (1, 32, 32), p["sum_sq"],
                                p["seconds"], p["block_gram"], p["block_trace"])


def _json(desc: dict) -> dict:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in desc.items()} | {
        "network": {k: list(v) if isinstance(v, tuple) else v for k, v in desc.get("network", {}).items()}}


def _prediction_G(exp: GIHExperiment, arch: str) -> torch.Tensor:
    """The :math:`G` of the prediction :math:`G S G`: the estimate from independent networks (seed 0), or for the
    linear model the exact :math:`G = \\sigma^2 I` (any multiple of the identity gives the same alignments)."""
    if arch == "linear":
        return torch.eye(_D, dtype=torch.float64)
    return exp.geometry[arch].G


def _alignment_rows(ev: _gih.Evolution, G: torch.Tensor, arch: str) -> list[dict]:
    """Raw and debiased alignments with their intervals, full and beyond the top eigenvector of ``S``."""
    GSG, R = G @ ev.S @ G, G @ _gih.rotated_like(ev.S, seed=0) @ G
    top = torch.linalg.eigh(ev.S)[1][:, -1]
    rows = []
    for view, proj in (("full", None), ("beyond", top)):
        iv = {name: dataclasses.astuple(ev.alignment_interval(M, project=proj))
              for name, M in (("GSG", GSG), ("S", ev.S), ("random", R))}
        iv["GSG_minus_S"] = dataclasses.astuple(ev.alignment_interval(GSG, project=proj, minus=ev.S))
        rows.append({"architecture": arch, "view": view, "raw": ev.raw_alignment(GSG, project=proj),
                     "relative_error": ev.relative_error, **iv})
    return rows


def _evolution(s: GIHPreset, arch: str, x, y, G: torch.Tensor, store, device) -> tuple[_gih.Evolution, list]:
    desc = {"kind": "gih-delta", "architecture": arch, "networks": s.evolution_networks, "images": s.evolution_images,
            "inputs": s.evolution_inputs, "blocks": s.evolution_blocks, "seed": 1, "sigma_x": s.sigma_x,
            "network": s.network_kwargs(arch), "data": _cache.fingerprint(x, y), "G": _cache.fingerprint(G),
            "code": _cache.code_digest(_gih.evolution_at_init, _gih._delta_rows, _alignment_rows,
                                       _gih.Evolution.alignment_interval)}

    def compute():
        e = _gih.evolution_at_init(arch, x, y, s.evolution_networks, inputs=s.evolution_inputs, sigma_x=s.sigma_x,
                                   seed=1, blocks=s.evolution_blocks, device=device, **s.network_kwargs(arch))
        e.blocks = e.blocks.cpu()
        rows = _alignment_rows(dataclasses.replace(e, delta=e.delta.cpu(), G=e.G.cpu(), S=e.S.cpu()), G, arch)
        return {"delta": e.delta.cpu(), "G": e.G.cpu(), "sq": e.delta_sum_sq, "rows": rows}
    p = cached(store, _json(desc), compute)
    rows = [{k: _gih.Interval(*v) if isinstance(v, (list, tuple)) else v for k, v in r.items()} for r in p["rows"]]
    return _gih.Evolution(p["delta"], p["G"], _gih.second_moment(x), s.evolution_networks, p["sq"]), rows


def _axis_points(s: GIHPreset, u1, u2) -> tuple[torch.Tensor, torch.Tensor]:
    """The axis set: points of both circles whose first coordinate is below the inner radius, from a fresh draw
    (seed 1), balanced: every such outer point (a few percent of the outer circle) and as many inner points, the
    first in the draw's random order (almost every inner point qualifies; all of them, about ten times the outer
    ones, left the balanced accuracy as it is but made evaluating them every epoch most of the chapter's cost)."""
    x, y, c = _data.gih_circles(u1, u2, s.axis_pool, r_outer=s.r_outer, r_inner=s.r_inner, noise=s.noise, seed=1)
    near = c[:, 0].abs() < s.r_inner
    outer = torch.nonzero(near & (y == 1)).flatten()
    inner = torch.nonzero(near & (y == 0)).flatten()[: len(outer)]
    keep = torch.cat([outer, inner]).sort().values
    return x[keep], y[keep]


def _boundary(model, e: torch.Tensor, s: GIHPreset) -> tuple[torch.Tensor, torch.Tensor]:
    """Predicted class on a ``boundary_steps`` x ``boundary_steps`` grid of the plane spanned by ``e`` (2, D),
    through one fixed noise draw orthogonal to the plane (the slice a typical input lies on)."""
    lim = 1.3 * s.r_outer
    steps = s.boundary_steps
    t = torch.linspace(-lim, lim, steps, dtype=torch.float64)
    coords = torch.stack(torch.meshgrid(t, t, indexing="xy"), -1)  # (P, P, 2): [..., 0] along e1
    z = torch.randn(e.shape[1], generator=torch.Generator().manual_seed(2), dtype=torch.float64) * s.noise
    z = z - (e @ z) @ e
    pts = (coords.reshape(-1, 2) @ e + z).reshape(-1, 1, 32, 32).float()
    with torch.no_grad():
        pred = model.eval()(pts).argmax(1)
    return coords.float(), pred.reshape(steps, steps)


def _circle_jobs(s: GIHPreset, exp: GIHExperiment) -> tuple[list, list, dict]:
    jobs, keys, axis = [], [], {}
    for plane, e in exp.planes.items():
        u1, u2 = (v.reshape(1, 32, 32) for v in e)
        n = s.train_size + s.test_size
        x, y, c = _data.gih_circles(u1, u2, n, r_outer=s.r_outer, r_inner=s.r_inner, noise=s.noise, seed=0)
        exp.circle_data[plane] = (c[: s.train_size], y[: s.train_size])
        axis[plane] = _axis_points(s, u1, u2)
        metrics = CirclesMetrics(x[s.train_size:], y[s.train_size:], *axis[plane])
        for arch in sorted(s.circle_architectures, key=lambda a: a == "mlp"):  # the long runs first
            for seed in s.seeds:
                model = functools.partial(_gih.network, arch, **s.network_kwargs(arch))
                jobs.append({"model": model, "data": (x[: s.train_size], y[: s.train_size]),
                             "config": s.train_config(seed), "evaluate": metrics})
                keys.append(("circles", arch, plane, seed))
    return jobs, keys, axis


def _sweep_jobs(s: GIHPreset, U: torch.Tensor) -> tuple[list, list]:
    jobs, keys = [], []
    for k in s.sweep_indices:
        for seed in s.sweep_seeds:
            x, y = direction_task(U[:, k].reshape(1, 32, 32), s.sweep_train + s.sweep_test, margin=s.sweep_margin,
                                  noise=s.noise, seed=seed)
            for arch in sorted(s.sweep_architectures, key=lambda a: a == "mlp"):
                jobs.append({"model": functools.partial(_gih.network, arch, **s.network_kwargs(arch)),
                             "data": (x[: s.sweep_train], y[: s.sweep_train]),
                             "config": s.train_config(seed, s.sweep_epochs),
                             "evaluate": _train.classification_metrics(x[s.sweep_train:], y[s.sweep_train:])})
                keys.append(("sweep", arch, k, seed))
    return jobs, keys


def _measure_geometry(s: GIHPreset, exp: GIHExperiment, store, dev) -> None:
    for arch in ("mlp", "lenet", "resnet"):
        exp.geometry[arch] = _geometry(s, arch, store, dev)
    exp.control = _geometry(s, "control", store, dev)
    unit = two_digit_data(s.evolution_images)[0]
    x, y = two_digit_data(s.evolution_images, s.pixel_mean, s.pixel_sd)
    for name, data in (("unit", unit), ("standardised", x)):
        m = data.flatten(1).double().mean(0)
        exp.data_mean[name] = _gih.alignment(_gih.second_moment(data), torch.outer(m, m))
    for arch in s.evolution_architectures:
        exp.evolution[arch], rows = _evolution(s, arch, x, y, _prediction_G(exp, arch), store, dev)
        exp.alignments.extend(rows)
    values, U = exp.geometry["resnet"].eigen
    for plane in ("aligned", "unaligned"):
        i, j = getattr(s, plane)
        exp.planes[plane] = _data.orthonormal_plane(U[:, i], U[:, j])
        for arch, g in exp.geometry.items():
            for which, u in zip((i, j), exp.planes[plane]):
                exp.plane_curvature.append({"plane": plane, "direction": which, "architecture": arch,
                                            "value": float(u @ g.G @ u / g.eigen[0][0])})


def run(preset: str | GIHPreset = "book", options: Options | None = None, **overrides) -> GIHExperiment:
    r"""Run chapter 9's measurements (see the module docstring) for ``preset`` (``"book"``, ``"paper"``, ``"tiny"``
    or a :class:`GIHPreset`) with ``overrides`` of its fields. Average geometries and :math:`\Delta^0` (with their
    block statistics) are cached with a digest of the code that measures them; every training run goes through
    the training cache (resumable) in worker processes (``options.workers``; ``None``: one per CPU core on the
    CPU, one on a GPU). ``options`` (:class:`~paperlib.chapters.registry.Options`) also gives the device, the
    cache and progress bars.

    Returns:
        :class:`GIHExperiment`.
    """
    options = as_options(options)
    s = resolve(PRESETS, preset, **overrides)
    dev = resolve_device(options.device)
    store = options.store()
    exp = GIHExperiment(preset if isinstance(preset, str) else "custom", s)
    _measure_geometry(s, exp, store, dev)
    U = exp.geometry["resnet"].eigen[1]
    (jobs, keys, axis), (sjobs, skeys) = _circle_jobs(s, exp), _sweep_jobs(s, U)
    results = _train.train_many(jobs + sjobs, workers=options.workers if options.workers or dev.type == "cpu" else 1,
                                cache=options.cache, cache_dir=options.cache_dir, progress=options.progress,
                                device=dev)
    G, top = exp.geometry["resnet"].G, exp.geometry["resnet"].eigen[0][0]
    for (kind, arch, which, seed), r in zip(keys + skeys, results):
        last = {k: float(v[-1]) for k, v in r.history.items()}
        if kind == "circles":
            model = r.model()
            exp.circles.append({"architecture": arch, "plane": which, "seed": seed, "accuracy": last["accuracy"],
                                "axis_accuracy": last["axis_accuracy"],
                                "axis_history": [float(a) for a in r.history["axis_accuracy"]],
                                "sensitivity": sensitivity_ratio(model, axis[which][0], exp.planes[which])})
            if seed == s.seeds[0]:
                exp.boundaries[arch, which] = _boundary(model, exp.planes[which], s)
        else:
            u = U[:, which]
            exp.sweep.append({"architecture": arch, "index": which, "seed": seed, "accuracy": last["accuracy"],
                              "curvature": float(u @ G @ u / top)})
    return exp


# -- the chapter's claims, each against its null, with the thresholds fixed before the measurement ----------------

#: Thresholds of the claims (the chapter states them with their reasons before the measurements).
THRESHOLDS = {
    "anisotropy": 0.05,        # anisotropic fraction a: isotropic below, anisotropic above (control: 0.25)
    "rank_fraction": 0.1,      # effectively low-rank: participation ratio below D / 10
    "aligned": 0.8,            # lower 95 % bound of -rho(Delta^0, G S G)
    "control": 0.2,            # |rho(Delta^0, G R G)| below this over its whole interval
    "se_multiple": 3.0,        # a difference of means counts when it exceeds 3 standard errors ...
    "min_difference": 0.02,    # ... and 0.02 (two test points in a hundred)
    "learnable": 0.95,         # the MLP control learns the sweep's task at every k
}


@dataclass(frozen=True)
class Claim:
    """A claim of the chapter: its statement, whether it passed its null, and the numbers behind the verdict."""

    statement: str
    passed: bool
    numbers: str

    def __str__(self) -> str:
        return f"[{'reproduced' if self.passed else 'not reproduced at this scale'}] {self.statement}: {self.numbers}"

    def to_dict(self) -> dict:
        return {"statement": self.statement, "passed": self.passed, "numbers": self.numbers}


def _margin(se: float) -> float:
    """The margin a difference of means must clear: ``max(3 SE, 0.02)``."""
    return max(THRESHOLDS["se_multiple"] * se, THRESHOLDS["min_difference"])


def isotropy_claims(ex: GIHExperiment) -> list[Claim]:
    """The average-geometry claims: MLP isotropic, the positive control rejected, LeNet and ResNet anisotropic and
    effectively low-rank (:data:`THRESHOLDS`, 95 % jackknife intervals of the debiased statistics)."""
    t, d = THRESHOLDS["anisotropy"], _D
    mlp, ctl = ex.geometry["mlp"].anisotropy_interval(), ex.control.anisotropy_interval()
    out = [Claim(f"MLP isotropic (upper bound of a < {t})", mlp.high < t, f"a = {mlp:.4f}"),
           Claim(f"the test rejects the known anisotropy a = {ex.settings.control_anisotropy} with "
                 f"{ex.control.networks} networks, the MLP's test has {ex.geometry['mlp'].networks} "
                 f"(lower bound > {t})",
                 ctl.low > t, f"a = {ctl:.4f}")]
    for arch in ("lenet", "resnet"):
        a = ex.geometry[arch].anisotropy_interval()
        pr = ex.geometry[arch].participation_interval()
        limit = THRESHOLDS["rank_fraction"] * d
        out.append(Claim(f"{arch} anisotropic (lower bound of a > {t})", a.low > t, f"a = {a:.4f}"))
        out.append(Claim(f"{arch} effectively low-rank (upper bound of PR < D/10 = {limit:.1f})", pr.high < limit,
                         f"PR = {pr:.1f}, {1 - pr.high / limit:.0%} below the limit"))
    return out


def alignment_claims(ex: GIHExperiment) -> list[Claim]:
    """The :math:`\\Delta^0` claims per architecture and view: aligned with :math:`G S G` (lower bound of
    :math:`-\\tilde\\rho`), not with the random control, and for LeNet and the ResNet better than :math:`S` alone."""
    lo, c = THRESHOLDS["aligned"], THRESHOLDS["control"]
    out = []
    for view in ("beyond", "full"):
        where = "beyond the top direction of S" if view == "beyond" else "full matrices"
        for arch in ex.settings.evolution_architectures:
            r = ex.alignment(arch, view)
            g, rnd = r["GSG"], r["random"]
            out.append(Claim(f"{arch}, {where}: Delta0 aligned with GSG (-rho > {lo}) and not with GRG "
                             f"(|rho| < {c})", -g.high > lo and max(abs(rnd.low), abs(rnd.high)) < c,
                             f"rho(GSG) = {g:.2f} (raw {r['raw']:.2f}), rho(GRG) = {rnd:.2f}"))
            if arch in ("lenet", "resnet"):
                dd = r["GSG_minus_S"]
                out.append(Claim(f"{arch}, {where}: GSG explains Delta0 better than S alone (lower bound > 0)",
                                 dd.low > 0, f"|rho(GSG)| - |rho(S)| = {dd:.2f}"))
    return out


def circle_claims(ex: GIHExperiment) -> list[Claim]:
    """The circles: the ResNet's aligned-minus-unaligned gap in balanced axis accuracy exceeds the MLP's (the
    control, whose geometry is alike on both planes) by ``max(3 SE, 0.02)``."""
    mlp = ex.circle_gap("mlp")
    out = []
    for arch in [a for a in ex.settings.circle_architectures if a == "resnet"]:
        gap, se = mean_se_gap(ex.circle_gap(arch), mlp)
        m = _margin(se)
        out.append(Claim(f"{arch} loses more balanced axis accuracy on the unaligned plane than the MLP "
                         f"(difference of gaps > max(3 SE, 0.02))", gap > m,
                         f"difference {gap:.3f} ± {se:.3f} (SE), margin {m:.3f}"))
    return out


def circle_consistency(ex: GIHExperiment) -> tuple[float, float]:
    """Spearman's :math:`r_s` between the trained sensitivity along the second direction and the balanced axis
    accuracy over all circle runs, and its permutation p-value. Not a claim: a network that classifies the axis
    points must vary along that direction, so the two measure nearly the same thing (a consistency check of the
    two measurements, not evidence for the invariance hypothesis)."""
    return rank_correlation([r["sensitivity"] for r in ex.circles], [r["axis_accuracy"] for r in ex.circles],
                            permutations=ex.settings.permutations)


def sweep_claims(ex: GIHExperiment) -> list[Claim]:
    """The eigen-index sweep: the MLP control learns the task at every ``k``; the ResNet is not worse than it at
    the top (``k <= 50``) and worse at the bottom (``k >= 200``) by ``max(3 SE, 0.02)`` (mean over seeds, Welch
    SE)."""
    s = ex.settings
    acc = {(r["architecture"], r["index"]): [] for r in ex.sweep}
    for r in ex.sweep:
        acc[r["architecture"], r["index"]].append(r["accuracy"])
    worst = min(mean_sd(acc["mlp", k])[0] for k in s.sweep_indices)
    out = [Claim(f"the MLP control learns the task at every k (mean accuracy >= {THRESHOLDS['learnable']})",
                 worst >= THRESHOLDS["learnable"], f"lowest MLP mean {worst:.3f}")]
    if "resnet" not in s.sweep_architectures:
        return out
    for which, ks in (("top", [k for k in s.sweep_indices if k <= 50]), ("bottom", [k for k in s.sweep_indices
                                                                                    if k >= 200])):
        gaps = {k: mean_se_gap(acc["mlp", k], acc["resnet", k]) for k in ks}
        if which == "top":
            ok = all(g <= _margin(e) for g, e in gaps.values())
            text = "ResNet not worse than the MLP at the top (k <= 50; MLP - ResNet <= max(3 SE, 0.02))"
        else:
            ok = all(g > _margin(e) for g, e in gaps.values())
            text = "ResNet worse than the MLP at the bottom (k >= 200; MLP - ResNet > max(3 SE, 0.02))"
        out.append(Claim(text, ok, ", ".join(f"k={k}: {g:.3f} ± {e:.3f}" for k, (g, e) in gaps.items())))
    return out
