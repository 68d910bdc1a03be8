"""Volume element of a [2, 250] sigmoid map on an 80 x 80 grid: paperlib vs the common autograd idiom.

Run: ``python benchmarks/bench_volume.py`` (prints a table; all three routes timed in one run, best of
``--repeats``). Targets (issue 2): autodiff >= 50x and closed form >= 100x faster than the idiom; autodiff
within 3x of the closed form.
"""

from __future__ import annotations

import argparse
import time

import torch

from paperlib import geometry, shallow


def idiom(f, x: torch.Tensor) -> torch.Tensor:
    """The common recipe: one full Jacobian of the summed batch, then det of J^T J per point."""
    J = torch.autograd.functional.jacobian(lambda x: f(x).sum(0), x)  # (n, B, d)
    J = J.permute(1, 0, 2)
    g = J.transpose(1, 2) @ J
    return torch.log10(torch.sqrt(torch.det(g)))


def best_time(fn, repeats: int) -> tuple[float, torch.Tensor]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--width", type=int, default=250)
    parser.add_argument("--grid", type=int, default=80)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    W, b = shallow.random_network(2, args.width, seed=0)
    f = shallow.feature_map(W, b, "sigmoid")
    t = torch.linspace(-1, 1, args.grid, dtype=torch.float64)
    x = torch.cartesian_prod(t, t)

    rows = [
        ("torch.autograd.functional.jacobian + det (idiom)", lambda: idiom(f, x)),
        ("paperlib.geometry.log_volume_element (autodiff)", lambda: geometry.log_volume_element(f, x)),
        ("paperlib.shallow.log_volume_element (closed form)",
         lambda: shallow.log_volume_element(W, b, x, "sigmoid")),
    ]
    results = [(name, *best_time(fn, args.repeats)) for name, fn in rows]
    ref = results[-1][2]
    t_idiom, t_auto, t_closed = (r[1] for r in results)
    print(f"[2, {args.width}] sigmoid, {x.shape[0]} points, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, best of {args.repeats}")
    print(f"{'route':52s} {'seconds':>10s} {'idiom / route':>14s} {'max |diff|':>11s}")
    for name, sec, out in results:
        print(f"{name:52s} {sec:10.5f} {t_idiom / sec:14.1f} {float((out - ref).abs().max()):11.2e}")
    print(f"ratios: autodiff {t_idiom / t_auto:.0f}x (target >= 50), closed form {t_idiom / t_closed:.0f}x "
          f"(target >= 100) faster than the idiom; autodiff / closed form = {t_auto / t_closed:.2f} (target <= 3)")


if __name__ == "__main__":
    main()
