"""Volume element of a [2, 250] sigmoid map on an 80 x 80 grid: paperlib vs the common autograd idiom.

Run: ``python benchmarks/bench_volume.py`` (prints a table; all routes timed in one run, in interleaved rounds,
best of ``--repeats``). The autodiff route is timed eagerly and with ``compile=True`` (after its one-off
compilation, whose time is printed). Targets (issue 2): autodiff >= 50x and closed form >= 100x faster than the
idiom; autodiff within 3x of the closed form.

Then ``compile=True`` against eager mode on a small CNN (issue 10): Conv2d(3, 16, 3) - GELU - Conv2d(16, 32, 3,
stride 2) - GELU - AdaptiveAvgPool2d(1) - Flatten on ``--cnn-batch`` 3 x 32 x 32 inputs (d = 3072, n = 32: reverse
mode), top-``k = 32`` log volume element, in float32 and float64 (``--cnn-batch 0`` skips it).
"""

from __future__ import annotations

import argparse
import time

import torch

from torch import nn

from paperlib import geometry, shallow


def idiom(f, x: torch.Tensor) -> torch.Tensor:
    """The common recipe: one full Jacobian of the summed batch, then det of J^T J per point."""
    J = torch.autograd.functional.jacobian(lambda x: f(x).sum(0), x)  # (n, B, d)
    J = J.permute(1, 0, 2)
    g = J.transpose(1, 2) @ J
    return torch.log10(torch.sqrt(torch.det(g)))


def interleaved_best(fns: dict, repeats: int) -> dict:
    """Best wall time of each route over ``repeats`` rounds; every round runs every route once, so a change of
    machine load during the run affects all routes alike."""
    best = {name: (float("inf"), None) for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            out = fn()
            sec = time.perf_counter() - t0
            if sec < best[name][0]:
                best[name] = (sec, out)
    return best


def small_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 16, 3), nn.GELU(), nn.Conv2d(16, 32, 3, stride=2), nn.GELU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten()).eval()


def cnn_compile_ratios(batch: int, repeats: int) -> None:
    """``compile=True`` against eager mode on the small CNN, float32 and float64: best times and their ratio."""
    net = small_cnn()
    x = torch.randn(batch, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    print(f"\nsmall CNN (3x32x32 -> 32, d = 3072), {batch} points, log_volume_element(k=32), best of {repeats}")
    print(f"{'dtype':10s} {'eager s':>9s} {'compiled s':>11s} {'eager / compiled':>17s} {'first call s':>13s} "
          f"{'max |diff|':>11s}")
    for dtype in (torch.float32, torch.float64):
        t0 = time.perf_counter()
        geometry.log_volume_element(net, x, k=32, dtype=dtype, compile=True)  # one-off compilation
        first = time.perf_counter() - t0
        best = interleaved_best({
            "eager": lambda: geometry.log_volume_element(net, x, k=32, dtype=dtype),
            "compiled": lambda: geometry.log_volume_element(net, x, k=32, dtype=dtype, compile=True),
        }, repeats)
        diff = float((best["eager"][1] - best["compiled"][1]).detach().abs().max())
        print(f"{str(dtype).removeprefix('torch.'):10s} {best['eager'][0]:9.4f} {best['compiled'][0]:11.4f} "
              f"{best['eager'][0] / best['compiled'][0]:17.2f} {first:13.1f} {diff:11.2e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--width", type=int, default=250)
    parser.add_argument("--grid", type=int, default=80)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--cnn-batch", type=int, default=64, help="points for the CNN compile comparison (0: skip)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    W, b = shallow.random_network(2, args.width, seed=0)
    f = shallow.feature_map(W, b, "sigmoid")
    t = torch.linspace(-1, 1, args.grid, dtype=torch.float64)
    x = torch.cartesian_prod(t, t)

    t0 = time.perf_counter()
    geometry.log_volume_element(f, x, compile=True)  # one-off: torch.compile traces and builds the kernel
    compile_seconds = time.perf_counter() - t0
    routes = {
        "idiom": ("torch.autograd.functional.jacobian + det (idiom)", lambda: idiom(f, x)),
        "eager": ("paperlib.geometry.log_volume_element (autodiff)", lambda: geometry.log_volume_element(f, x)),
        "compiled": ("  the same with compile=True", lambda: geometry.log_volume_element(f, x, compile=True)),
        "closed": ("paperlib.shallow.log_volume_element (closed form)",
                   lambda: shallow.log_volume_element(W, b, x, "sigmoid")),
    }
    best = interleaved_best({key: fn for key, (_, fn) in routes.items()}, args.repeats)
    ref = best["closed"][1]
    sec = {key: value[0] for key, value in best.items()}
    print(f"[2, {args.width}] sigmoid, {x.shape[0]} points, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, best of {args.repeats} interleaved rounds")
    print(f"{'route':52s} {'seconds':>10s} {'idiom / route':>14s} {'max |diff|':>11s}")
    for key, (name, _) in routes.items():
        diff = float((best[key][1] - ref).abs().max())
        print(f"{name:52s} {sec[key]:10.5f} {sec['idiom'] / sec[key]:14.1f} {diff:11.2e}")
    print(f"(compile=True: first call {compile_seconds:.1f} s, compiling; later calls reuse the kernel)")
    for key in ("eager", "compiled"):
        print(f"ratios, autodiff {key}: autodiff {sec['idiom'] / sec[key]:.0f}x (target >= 50), closed form "
              f"{sec['idiom'] / sec['closed']:.0f}x (target >= 100) faster than the idiom; autodiff / closed form = "
              f"{sec[key] / sec['closed']:.2f} (target <= 3)")
    print(f"compile=True on this map: eager / compiled = {sec['eager'] / sec['compiled']:.2f}")
    if args.cnn_batch:
        cnn_compile_ratios(args.cnn_batch, args.repeats)


if __name__ == "__main__":
    main()
