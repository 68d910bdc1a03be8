r"""Chapter 9: the geometric invariance hypothesis (Movahedi et al., arXiv:2410.12025).

:func:`run` measures, for one preset (figures: :mod:`paperlib.chapters.invariance_figures`),

1. the average geometry :math:`G` of an MLP, a LeNet and a ResNet at initialisation
   (:func:`paperlib.gih.average_geometry`): isotropy, participation ratio, eigen-images;
2. the evolution at initialisation :math:`\Delta^0` on two-digit data and its alignment with :math:`G S G`,
   against the controls :math:`S` alone and :math:`G R G` with :math:`R` a random matrix of :math:`S`'s spectrum
   (:func:`paperlib.gih.evolution_at_init`);
3. the motivating experiment: two concentric circles in a plane spanned by eigenvectors of the ResNet's
   :math:`G` -- an *aligned* plane (two top eigenvectors) and an *unaligned* one (a top eigenvector and one from
   the bottom of the spectrum) -- learned by an MLP and by the ResNet, several seeds each. Test accuracy, and the
   *axis accuracy*: the accuracy on outer-circle points whose first coordinate is smaller than the inner radius,
   which only the second direction can classify (a network invariant along it calls them inner);
4. a sweep over the eigen-index ``k`` of a label carried by the single direction :math:`u_k`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from .. import cache as _cache
from .. import data as _data
from .. import gih as _gih
from .. import train as _train
from .._checks import check_choice, check_int, check_ints, check_number, resolve_device
from .core import Preset, cached, mean_sd, resolve
from .registry import Options, as_options

__all__ = ["GIHPreset", "PRESETS", "GIHExperiment", "CirclesMetrics", "run", "two_digit_data"]

_D = 1024  # 1 x 32 x 32 inputs


@dataclass(frozen=True)
class GIHPreset(Preset):
    r"""Settings of :func:`run`.

    Attributes:
        networks, inputs, sigma_x, route: of :func:`paperlib.gih.average_geometry` (for each architecture). Both
            routes evaluate the same networks (:func:`paperlib.gih.average_geometry`), so they agree to float
            rounding; the route is still pinned (``"stacked"``) so that the chapter's printed numbers are the same
            bits whichever route a timing would pick.
        resnet_depths, resnet_width, activation: the ResNet (and the activation of every network).
        evolution_networks: pairs of networks for :math:`\Delta^0`; evolution_inputs: points per network where
            it is evaluated; evolution_architectures: which;
            evolution_images: digits 0 and 1 of the MNIST subset (targets -1 / +1), zero-padded to 32 x 32.
        circle_architectures: networks trained on the circles; train_size, test_size: their data;
            axis_pool: points drawn to pick the axis test points from; r_outer, r_inner, noise: of
            :func:`paperlib.data.gih_circles`; aligned, unaligned: eigen-indices (0-based, descending) of the
            ResNet's :math:`G` spanning the two planes; seeds; epochs, lr, momentum, clip_norm, batch_size: SGD
            with the learning rate decayed linearly to 0; boundary_steps: the grid of the decision-region figure.
        sweep_indices, sweep_train, sweep_epochs: the eigen-index sweep (seed 0,
            :func:`paperlib.data.gih_direction`).
    """

    networks: int = 4096
    inputs: int = 1
    sigma_x: float = 1e-3
    route: str = "stacked"
    resnet_depths: tuple[int, ...] = (1, 1, 1, 1)
    resnet_width: int = 4
    activation: str = "gelu"
    evolution_networks: int = 2000
    evolution_inputs: int = 1
    evolution_architectures: tuple[str, ...] = ("linear", "mlp", "lenet")
    evolution_images: int = 64
    circle_architectures: tuple[str, ...] = ("mlp", "resnet")
    train_size: int = 10_000
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
    sweep_train: int = 2_000
    sweep_epochs: int = 5

    def __post_init__(self) -> None:
        for name in ("networks", "inputs", "evolution_networks", "evolution_inputs", "evolution_images", "train_size", "test_size",
                     "axis_pool", "resnet_width", "epochs", "boundary_steps", "batch_size", "sweep_train", "sweep_epochs"):
            check_int(getattr(self, name), name, min=1)
        check_ints(self.resnet_depths, "resnet_depths", min=1)
        check_choice(self.route, "route", _gih.ROUTES)
        for name in ("aligned", "unaligned"):
            if len(check_ints(getattr(self, name), name, min=0, max=_D - 1)) != 2:
                raise ValueError(f"{name} must be two eigen-indices; got {getattr(self, name)!r}")
        check_ints(self.sweep_indices, "sweep_indices", min=0, max=_D - 1)
        check_ints(self.seeds, "seeds", min=0)
        for a in self.evolution_architectures:
            check_choice(a, "evolution_architectures", _gih.ARCHITECTURES)
        for a in self.circle_architectures:
            check_choice(a, "circle_architectures", ("mlp", "lenet", "resnet"))
        for name in ("sigma_x", "r_outer", "lr", "clip_norm"):
            check_number(getattr(self, name), name, min=0, open_min=True)
        check_number(self.r_inner, "r_inner", min=0, max=self.r_outer)
        check_number(self.noise, "noise", min=0)
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


#: ``"book"``: a 2-core CPU in minutes; ``"paper"``: the paper's settings, for a GPU; ``"tiny"``: seconds, a smoke
#: test (its numbers mean nothing).
PRESETS = {
    "book": GIHPreset(),
    # the paper's settings: ResNet-18 (width 64), 10^5 networks with 128 inputs each, 20 epochs; 10,000 pairs
    # for Delta^0 (the paper estimates it differently, see the chapter)
    "paper": GIHPreset(networks=100_000, inputs=128, resnet_depths=(2, 2, 2, 2), resnet_width=64,
                       evolution_networks=10_000, evolution_inputs=128, evolution_images=512, epochs=20, seeds=(0, 1, 2, 3, 4),
                       sweep_train=10_000, sweep_epochs=30,
                       sweep_indices=(0, 5, 10, 20, 50, 100, 200, 500, 1000, 1023)),
    "tiny": GIHPreset(networks=64, evolution_networks=64, evolution_images=16, train_size=200, test_size=100,
                      axis_pool=2000, seeds=(0,), epochs=1, boundary_steps=9, sweep_indices=(0, 1023), sweep_train=100,
                      sweep_epochs=1),
}


class CirclesMetrics:
    """``evaluate`` of the circle runs: test accuracy and the axis accuracy (see the module docstring)."""

    def __init__(self, x_test, y_test, x_axis, y_axis):
        self.test = _train.classification_metrics(x_test, y_test)
        self.axis = _train.classification_metrics(x_axis, y_axis)

    def __call__(self, model) -> dict:
        return {"accuracy": self.test(model)["accuracy"], "axis_accuracy": self.axis(model)["accuracy"]}


def two_digit_data(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n / 2`` zeros and ``n / 2`` ones of the MNIST subset's training split, pixels in [0, 1]
    zero-padded to ``(n, 1, 32, 32)``, with targets -1 (zero) and +1 (one)."""
    x, y = _data.mnist("train", source="subset", scale="unit")
    idx = torch.cat([torch.nonzero(y == c).flatten()[: n - n // 2 if c else n // 2] for c in (0, 1)])
    return F.pad(x[idx].reshape(-1, 1, 28, 28), (2, 2, 2, 2)), (2.0 * y[idx] - 1).float()


@dataclass
class GIHExperiment:
    """Result of :func:`run`.

    Attributes:
        preset, settings: the preset's name and the :class:`GIHPreset`.
        geometry: ``{architecture: AverageGeometry}``.
        evolution: ``{architecture: Evolution}``; alignments: one row per architecture, ``{"architecture",
            "GSG", "S", "random", "relative_error"}`` (debiased :meth:`paperlib.gih.Evolution.alignment`).
        planes: ``{"aligned" | "unaligned": (2, 1024) orthonormal directions}``; plane_curvature: rows
            ``{"plane", "direction", "architecture", "value"}`` with :math:`u^\\top G u / \\lambda_{max}`.
        circles: rows ``{"architecture", "plane", "seed", "accuracy", "axis_accuracy", "axis_history"}``.
        boundaries: ``{(architecture, plane): (coords (P, P, 2), predicted class (P, P))}`` for the first seed.
        circle_data: ``{plane: (train coords (N, 2), labels (N,))}`` for the figures.
        sweep: rows ``{"architecture", "index", "accuracy", "curvature"}``.
    """

    preset: str
    settings: GIHPreset
    geometry: dict = field(default_factory=dict)
    evolution: dict = field(default_factory=dict)
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


def _geometry(s: GIHPreset, arch: str, store, device) -> _gih.AverageGeometry:
    desc = {"kind": "gih-G", "architecture": arch, "networks": s.networks, "inputs": s.inputs, "sigma_x": s.sigma_x,
            "route": s.route,
            "network": s.network_kwargs(arch), "code": _cache.code_digest(_gih.average_geometry, _gih._Sums.add)}

    def compute():
        e = _gih.average_geometry(arch, s.networks, inputs=s.inputs, sigma_x=s.sigma_x, route=s.route,
                                  device=device, **s.network_kwargs(arch))
        return {"G": e.G.cpu(), "sum_sq": e.sum_sq, "route": e.route, "seconds": e.seconds}
    p = cached(store, _json(desc), compute)
    return _gih.AverageGeometry(p["G"], s.networks, s.inputs, s.sigma_x, "mean", p["route"], (1, 32, 32),
                                p["sum_sq"], p["seconds"])


def _json(desc: dict) -> dict:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in desc.items()} | {
        "network": {k: list(v) if isinstance(v, tuple) else v for k, v in desc.get("network", {}).items()}}


def _evolution(s: GIHPreset, arch: str, x, y, store, device) -> _gih.Evolution:
    desc = {"kind": "gih-delta", "architecture": arch, "networks": s.evolution_networks, "images": s.evolution_images,
            "inputs": s.evolution_inputs,
            "sigma_x": s.sigma_x, "network": s.network_kwargs(arch),
            "code": _cache.code_digest(_gih.evolution_at_init, _gih._delta_rows)}

    def compute():
        e = _gih.evolution_at_init(arch, x, y, s.evolution_networks, inputs=s.evolution_inputs, sigma_x=s.sigma_x,
                                   device=device,
                                   **s.network_kwargs(arch))
        return {"delta": e.delta.cpu(), "G": e.G.cpu(), "sq": e.delta_sum_sq}
    p = cached(store, _json(desc), compute)
    return _gih.Evolution(p["delta"], p["G"], _gih.second_moment(x), s.evolution_networks, p["sq"])


def _axis_points(s: GIHPreset, e: torch.Tensor, u1, u2) -> tuple[torch.Tensor, torch.Tensor]:
    """Outer-circle points whose first coordinate is below the inner radius, from a fresh draw (seed 1)."""
    x, y, c = _data.gih_circles(u1, u2, s.axis_pool, r_outer=s.r_outer, r_inner=s.r_inner, noise=s.noise, seed=1)
    keep = (y == 1) & (c[:, 0].abs() < s.r_inner)
    return x[keep], y[keep]


def _boundary(model, e: torch.Tensor, s: GIHPreset) -> tuple[torch.Tensor, torch.Tensor]:
    """Predicted class on a ``boundary_steps`` x ``boundary_steps`` grid of the plane spanned by ``e`` (2, D), through one fixed noise
    draw orthogonal to the plane (the slice a typical input lies on)."""
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


def _circle_jobs(s: GIHPreset, exp: GIHExperiment) -> tuple[list, list]:
    jobs, keys = [], []
    for plane, e in exp.planes.items():
        u1, u2 = (v.reshape(1, 32, 32) for v in e)
        n = s.train_size + s.test_size
        x, y, c = _data.gih_circles(u1, u2, n, r_outer=s.r_outer, r_inner=s.r_inner, noise=s.noise, seed=0)
        exp.circle_data[plane] = (c[: s.train_size], y[: s.train_size])
        metrics = CirclesMetrics(x[s.train_size:], y[s.train_size:], *_axis_points(s, e, u1, u2))
        for arch in sorted(s.circle_architectures, key=lambda a: a != "resnet"):  # the long runs first
            for seed in s.seeds:
                model = functools.partial(_gih.network, arch, **s.network_kwargs(arch))
                jobs.append({"model": model, "data": (x[: s.train_size], y[: s.train_size]),
                             "config": s.train_config(seed), "evaluate": metrics})
                keys.append(("circles", arch, plane, seed))
    return jobs, keys


def _sweep_jobs(s: GIHPreset, U: torch.Tensor) -> tuple[list, list]:
    jobs, keys = [], []
    for k in s.sweep_indices:
        x, y = _data.gih_direction(U[:, k].reshape(1, 32, 32), s.sweep_train + 1000, noise=s.noise, seed=0)
        for arch in s.circle_architectures:
            jobs.append({"model": functools.partial(_gih.network, arch, **s.network_kwargs(arch)),
                         "data": (x[: s.sweep_train], y[: s.sweep_train]), "config": s.train_config(0, s.sweep_epochs),
                         "evaluate": _train.classification_metrics(x[s.sweep_train:], y[s.sweep_train:])})
            keys.append(("sweep", arch, k, 0))
    return jobs, keys


def _measure_geometry(s: GIHPreset, exp: GIHExperiment, store, dev) -> None:
    for arch in ("mlp", "lenet", "resnet"):
        exp.geometry[arch] = _geometry(s, arch, store, dev)
    x, y = two_digit_data(s.evolution_images)
    for arch in s.evolution_architectures:
        ev = exp.evolution[arch] = _evolution(s, arch, x, y, store, dev)
        exp.alignments.append({"architecture": arch, "GSG": ev.alignment(ev.GSG), "S": ev.alignment(ev.S),
                               "random": ev.alignment(ev.G @ _gih.rotated_like(ev.S, seed=0) @ ev.G),
                               "relative_error": ev.relative_error})
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
    or a :class:`GIHPreset`) with ``overrides`` of its fields. Average geometries and :math:`\Delta^0` are cached with a
    digest of the code that measures them; every training run goes through the training cache (resumable) in
    worker processes (``options.workers``; ``None``: one per CPU core on the CPU, one on a GPU). ``options``
    (:class:`~paperlib.chapters.registry.Options`) also gives the device, the cache and progress bars.

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
    (jobs, keys), (sjobs, skeys) = _circle_jobs(s, exp), _sweep_jobs(s, U)
    results = _train.train_many(jobs + sjobs, workers=options.workers if options.workers or dev.type == "cpu" else 1,
                                cache=options.cache, cache_dir=options.cache_dir, progress=options.progress,
                                device=dev)
    for (kind, arch, which, seed), r in zip(keys + skeys, results):
        last = {k: float(v[-1]) for k, v in r.history.items()}
        if kind == "circles":
            exp.circles.append({"architecture": arch, "plane": which, "seed": seed, "accuracy": last["accuracy"],
                                "axis_accuracy": last["axis_accuracy"],
                                "axis_history": [float(a) for a in r.history["axis_accuracy"]]})
            if seed == s.seeds[0]:
                exp.boundaries[arch, which] = _boundary(r.model(), exp.planes[which], s)
        else:
            u = U[:, which]
            exp.sweep.append({"architecture": arch, "index": which, "accuracy": last["accuracy"],
                              "curvature": float(u @ exp.geometry["resnet"].G @ u / exp.geometry["resnet"].eigen[0][0])})
    return exp
