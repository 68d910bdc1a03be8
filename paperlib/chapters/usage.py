r"""Chapter 11 (using paperlib): a penalty on the volume element, trained through the geometry.

A one-hidden-layer sigmoid network :math:`[2, n, 2]` (the paper's initialisation) learns the sinusoid task of
chapter 5 with the cross-entropy loss, with or without a penalty on the log volume element of its hidden layer at
the training points,

.. math::  L(\theta) = \mathrm{CE}(\theta) + \lambda\, \frac1B \sum_b \log_{10}\sqrt{\det g_\theta(x_b)},

whose gradient with respect to :math:`\theta` flows through :func:`paperlib.geometry.log_volume_element`
(``create_graph=True``). What it does to the magnification near the decision boundary is measured by the
*boundary contrast*: the mean log volume element on a grid within ``band`` of the true boundary
(:math:`|s(x)| <` ``band``, :func:`paperlib.data.sinusoid_score`) minus its mean far from it (:math:`|s(x)| >`
``far``). The unpenalised network of the same seed, data and schedule is the null.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .. import data as _data
from .. import geometry as _geometry
from .. import models as _models
from .._checks import check_int, check_ints, check_number

__all__ = ["PenaltyResult", "volume_penalty"]


@dataclass(frozen=True)
class PenaltyResult:
    """Per seed (arrays of ``len(seeds)``), for the penalised network and its unpenalised null.

    Attributes:
        seeds, strength: the settings; contrast_plain, contrast_penalised: boundary contrasts (decades);
        accuracy_plain, accuracy_penalised: test accuracy on 2,000 fresh points; mean_plain, mean_penalised: the
        grid's mean log volume element.
    """

    seeds: tuple[int, ...]
    strength: float
    contrast_plain: torch.Tensor
    contrast_penalised: torch.Tensor
    accuracy_plain: torch.Tensor
    accuracy_penalised: torch.Tensor
    mean_plain: torch.Tensor
    mean_penalised: torch.Tensor


def _train(seed: int, strength: float, hidden: int, steps: int, lr: float, x: torch.Tensor,
           y: torch.Tensor) -> _models.MLP:
    model = _models.MLP([2, hidden, 2], "sigmoid", seed=seed).double()
    features = model.feature_map(1)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        if strength:
            loss = loss + strength * _geometry.log_volume_element(features, x, create_graph=True).mean()
        loss.backward()
        opt.step()
    return model.eval()


def volume_penalty(seeds=(0, 1, 2), *, strength: float = 0.02, hidden: int = 16, steps: int = 300,
                   lr: float = 0.05, n: int = 400, band: float = 0.1, far: float = 0.4,
                   grid_size: int = 60) -> PenaltyResult:
    r"""Train the network of the module docstring with (``strength`` :math:`= \lambda`) and without the penalty,
    for each seed (full-batch Adam, ``steps`` steps, ``n`` training points of :func:`paperlib.data.sinusoid` drawn
    with the seed), and measure both on a ``grid_size x grid_size`` grid of :math:`[-1, 1]^2`.

    Returns:
        :class:`PenaltyResult`.
    """
    seeds = check_ints(seeds, "seeds", min=0)
    strength = check_number(strength, "strength", min=0, open_min=True)
    hidden, steps, n = check_int(hidden, "hidden", min=1), check_int(steps, "steps", min=1), check_int(n, "n", min=2)
    lr = check_number(lr, "lr", min=0, open_min=True)
    band, far = check_number(band, "band", min=0, open_min=True), check_number(far, "far", min=0, open_min=True)
    if far <= band:
        raise ValueError(f"far must exceed band; got band={band}, far={far}")
    grid = _data.grid(size=check_int(grid_size, "grid_size", min=2)).points.double()
    score = _data.sinusoid_score(grid).abs()
    near, away = score < band, score > far
    x_test, y_test = _data.sinusoid(2000, seed=10_000, dtype=torch.float64)
    out: dict[str, list[float]] = {k: [] for k in ("cp", "cq", "ap", "aq", "mp", "mq")}
    for seed in seeds:
        x, y = _data.sinusoid(n, seed=seed, dtype=torch.float64)
        for tag, lam in (("p", 0.0), ("q", strength)):
            model = _train(seed, lam, hidden, steps, lr, x, y)
            lv = _geometry.log_volume_element(model.feature_map(1), grid)
            out["c" + tag].append(float(lv[near].mean() - lv[away].mean()))
            out["m" + tag].append(float(lv.mean()))
            with torch.no_grad():
                out["a" + tag].append(float((model(x_test).argmax(1) == y_test).double().mean()))
    t = {k: torch.tensor(v, dtype=torch.float64) for k, v in out.items()}
    return PenaltyResult(seeds, strength, t["cp"], t["cq"], t["ap"], t["aq"], t["mp"], t["mq"])
