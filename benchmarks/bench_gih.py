"""The average geometry G of random networks: every estimation route of paperlib.gih and the authors' recipe.

Run: ``python benchmarks/bench_gih.py`` (CPU: 2 threads, the MLP 1024-100-100-2 and LeNet of the paper, GELU,
1 x 32 x 32 inputs, sigma_x = 1e-3, 200 networks per route) or ``python benchmarks/bench_gih.py --device cuda``
(also ResNet-18, and the paper's network count for the fastest route). Everything is timed in one run:

- ``authors``: one model at a time built by its constructor, B = 128 inputs, the gradient of ``output.mean()``
  (rows = our rows / B), the covariance accumulated one outer product at a time (their recipe, re-implemented
  from its description);
- ``modules B``: paperlib's route "modules" (one model at a time, the B rows of a network in one GEMM);
- ``stacked B``: paperlib's route "stacked" (parameters drawn directly in stacked form, vmap over networks);
- ``auto``: paperlib's choice (both timed on a pilot, the faster kept).

For each: networks per second and the estimate's relative error against a reference estimate from many more
networks (``--reference`` networks, route "stacked", one input each; its own Monte-Carlo error is printed).
Inputs are so small (sigma_x = 1e-3) that one input per network gives the same error as 128: the estimate's
error is set by the number of networks. The target (issue 14) is >= 10x the authors' networks per second at equal
error on CPU.
"""

from __future__ import annotations

import argparse
import functools
import math
import time

import torch

from paperlib import gih


def authors_recipe(architecture: str, networks: int, *, inputs: int = 128, sigma_x: float = 1e-3, device="cpu",
                   seed: int = 0, **kw) -> torch.Tensor:
    """Their procedure: build each network, grad of output.mean() over B inputs, G += r r^T row by row, G / N.
    Their rows are r = g / B (g: our per-input gradient of the mean over classes), so their sum over a network's
    rows is (1/B) times our mean over its inputs: multiplied by B here, to compare with ours."""
    d = 1024
    G = torch.zeros(d, d, device=device)
    torch.manual_seed(seed)
    for _ in range(networks):
        net = gih.network(architecture, **kw).to(device)
        x = (torch.randn(inputs, 1, 32, 32, device=device) * sigma_x).requires_grad_(True)
        (grads,) = torch.autograd.grad(net(x).mean(), x)
        for g in grads.flatten(1):
            G += torch.outer(g, g)
    return G.double() * inputs / networks


def relative_error(G: torch.Tensor, ref: torch.Tensor) -> float:
    return float(torch.linalg.matrix_norm(G.double().cpu() - ref) / torch.linalg.matrix_norm(ref))


def bench(architecture: str, networks: int, reference: int, device: str, kw: dict) -> list[tuple]:
    ref = gih.average_geometry(architecture, reference, inputs=1, route="stacked", seed=99, device=device,
                               progress=False, **kw)
    print(f"{architecture}: reference from {reference} networks, its relative error {ref.relative_error:.3f}")
    rows = []
    start = time.perf_counter()
    G = authors_recipe(architecture, networks, device=device, **kw)
    t = time.perf_counter() - start
    rows.append(("authors (B=128)", networks / t, relative_error(G, ref.G.cpu())))
    for route, inputs in (("modules", 128), ("stacked", 128), ("modules", 1), ("stacked", 1), ("auto", 1)):
        gih._ROUTE.clear()  # auto decides afresh in this run
        est = gih.average_geometry(architecture, networks, inputs=inputs, route=route, device=device,
                                   progress=False, **kw)
        name = f"{route} (B={inputs})" + (f" -> {est.route}" if route == "auto" else "")
        rows.append((name, est.networks_per_second, relative_error(est.G, ref.G.cpu())))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--networks", type=int, default=200)
    parser.add_argument("--reference", type=int, default=20_000)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    archs = {"mlp": {}, "lenet": {}}
    if args.device != "cpu":
        archs["resnet"] = {"depths": (2, 2, 2, 2), "width": 64}
    for arch, kw in archs.items():
        rows = bench(arch, args.networks, args.reference, args.device, kw)
        base = rows[0][1]
        print(f"{'route':28s} {'networks/s':>11s} {'x authors':>10s} {'rel. error':>11s}")
        for name, rate, err in rows:
            print(f"{name:28s} {rate:11.1f} {rate / base:10.1f} {err:11.3f}")
        if args.device != "cpu":  # the paper's network count with the fastest route
            est = gih.average_geometry(arch, 100_000, inputs=1, device=args.device, progress=False, **kw)
            print(f"{arch}: 10^5 networks in {est.seconds:.1f} s ({est.route}), relative error "
                  f"{est.relative_error:.3f}")
        print()


if __name__ == "__main__":
    main()
