"""Jacobians of a small ResNet's features: every reverse-mode strategy, paperlib's choice and the authors' recipe.

Run: ``python benchmarks/bench_jacobian.py`` (CPU: the ResNet of chapter 7's book preset, one block per stage,
width 8, GELU, on 1 x 32 x 32 inputs, k = 64 pooled features, 32 points, float32 as in the chapter, 2 threads) or ``python benchmarks/bench_jacobian.py --device
cuda`` (ResNet-34, width 64, on 3 x 32 x 32, k = 512, 256 points, float32 and float64, TF32 off). All strategies
do the same k backward passes' worth of work; they are timed in one run, in interleaved rounds, best of
``--repeats``:

- ``loop``: a Python loop of k backward passes of the whole batch (``torch.autograd.functional.jacobian`` of the
  summed batch, the common idiom);
- ``authors``: the same on scan batches of 5 points with ``create_graph=True`` (the authors' scripts);
- ``vmap``: the k VJPs vmapped (``paperlib.geometry.jacobian(..., strategy="vmap")``);
- ``replicated``: one backward pass through k replicas of the batch;
- ``grads_batched``: ``torch.autograd.grad(..., is_grads_batched=True)``;
- ``paperlib``: ``paperlib.geometry.jacobian`` with ``strategy="auto"`` (its choice, timed once and remembered,
  is printed).

Targets (issue 12): on CPU paperlib <= 1.2x the fastest strategy and >= 2x faster than the authors' recipe; on a
GPU >= 10x faster than the authors' recipe. Peak memory is reported on CUDA (``torch.cuda.max_memory_allocated``).
"""

from __future__ import annotations

import argparse
import time

import torch

from paperlib import geometry
from paperlib.chapters.deep import PRESETS as DEEP_PRESETS
from paperlib.models import RESNET_DEPTHS, ResNet


def loop_idiom(f, x):
    return torch.autograd.functional.jacobian(lambda v: f(v).sum(0), x).transpose(0, 1).flatten(2)


def authors(f, x, scan: int = 5):
    rows = []
    for xs in x.split(scan):
        J = torch.autograd.functional.jacobian(lambda v: f(v).sum(0), xs, create_graph=True)
        rows.append(J.transpose(0, 1).flatten(2).detach())
    return torch.cat(rows)


def replicated(f, x):
    n, batch = f(x[:1]).shape[1], x.shape[0]
    rep = x.repeat(n, *([1] * (x.ndim - 1))).requires_grad_(True)
    out = f(rep).reshape(n, batch, n)
    picked = out.diagonal(dim1=0, dim2=2).sum()  # output i of replica i
    (grad,) = torch.autograd.grad(picked, rep)
    return grad.reshape(n, batch, -1).transpose(0, 1)


def grads_batched(f, x):
    xr = x.detach().requires_grad_(True)
    out = f(xr)
    n = out.shape[1]
    basis = torch.eye(n, dtype=out.dtype, device=out.device).unsqueeze(1).expand(n, x.shape[0], n)
    (grad,) = torch.autograd.grad(out, xr, grad_outputs=basis, is_grads_batched=True)
    return grad.transpose(0, 1).flatten(2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--points", type=int, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    torch.manual_seed(0)
    if dev.type == "cuda":
        net, shape, points, dtypes = ResNet(RESNET_DEPTHS["resnet34"], 64), (3, 32, 32), 256, (torch.float32,
                                                                                                 torch.float64)
    else:  # the network of chapter 7's book preset, in its precision
        book = DEEP_PRESETS["book"]
        net, shape, points, dtypes = book.model("gelu")(), (1, 32, 32), 32, (torch.float32,)
    points = args.points or points
    with geometry.full_fp32(dev):  # TF32 off on CUDA for every route, as paperlib's own geometry does
        for dtype in dtypes:
            run(net, shape, points, dtype, dev, args)


def run(net, shape, points, dtype, dev, args) -> None:
    """Time every route for one network and precision and print the table."""
    f = net.to(dev, dtype).eval().feature_map(4)
    for p in f.parameters():
        p.requires_grad_(False)
    x = torch.randn(points, *shape, device=dev, dtype=dtype)
    routes = {
        "loop": lambda: loop_idiom(f, x),
        "authors": lambda: authors(f, x),
        "vmap": lambda: geometry.jacobian(f, x, mode="reverse", strategy="vmap", dtype=dtype, device=None),
        "replicated": lambda: replicated(f, x),
        "grads_batched": lambda: grads_batched(f, x),
        "paperlib": lambda: geometry.jacobian(f, x, dtype=dtype, device=None),
    }
    best = {name: float("inf") for name in routes}
    peak = {}
    results = {}
    for _ in range(args.repeats):
        for name, fn in routes.items():
            if dev.type == "cuda":
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
            start = time.perf_counter()
            out = fn()
            if dev.type == "cuda":
                torch.cuda.synchronize()
                peak[name] = torch.cuda.max_memory_allocated() / 2**20
            best[name] = min(best[name], time.perf_counter() - start)
            results[name] = out
    ref = results["loop"]
    err = {k: float((v - ref).abs().max() / ref.abs().max()) for k, v in results.items()}
    choice = [v for k, v in geometry._STRATEGY.items() if k[0] == repr(f)]
    fastest = min(v for k, v in best.items() if k != "paperlib")
    print(f"\n{type(net).__name__} depths {list(net.depths)} width {net.width}, {points} points of {shape}, "
          f"k = {f.size}, {dtype}, {dev.type}, {args.threads} threads; paperlib chose "
          f"{'loop' if choice and choice[0] else 'vmap'}")
    print(f"{'strategy':>14} {'seconds':>9} {'/ fastest':>10} {'authors /':>10} {'max rel err':>12}"
          + (f" {'peak MiB':>9}" if peak else ""))
    for name in routes:
        line = (f"{name:>14} {best[name]:9.3f} {best[name] / fastest:10.2f} {best['authors'] / best[name]:10.2f} "
                f"{err[name]:12.1e}")
        print(line + (f" {peak[name]:9.0f}" if peak else ""))


if __name__ == "__main__":
    main()
