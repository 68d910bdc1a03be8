"""Ricci scalar of a [2, 250] sigmoid shallow map on an 80 x 80 grid over [-1, 1]^2 (6,400 points).

Run: ``python benchmarks/bench_ricci.py`` (prints a table; every route is timed in the same run with
``time.perf_counter``, best of ``--repeats`` after one warm-up call; torch's default thread count).

Routes on the full grid: the O(n d^3) tensor formula (``paperlib.shallow.ricci_scalar``, the default), the d = 2
closed form contracted to O(n^2) per point, the closed-form Gauss route, and autodiff
(``paperlib.geometry.ricci_scalar`` on ``shallow.feature_map``: Gauss equation from forward-over-forward second
derivatives). Timed on a ``--sub``-point sub-grid and scaled per point to the full grid: the literal O(n^3) triple
sum (``method="triple_sum"``, one einsum over i, j, k), the same O(n^3) sum with i contracted first by a GEMM
(for reference: a smarter evaluation of the same triple sum), and the autodiff Christoffel route.

Targets: tensor formula >= 1000x faster than the triple sum; autodiff <= 20x the tensor formula's time.
"""

from __future__ import annotations

import argparse
import time

import torch

from paperlib import activations, geometry, shallow


def best_times(fns: list, repeats: int) -> list[tuple[float, torch.Tensor]]:
    """Best wall time of each callable over ``repeats`` round-robin rounds (after one warm-up call each).

    Round-robin keeps the ratios fair when the machine's load changes during the run.
    """
    outs = [fn() for fn in fns]  # warm-up (the first torch.func call loads its decompositions)
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for k, fn in enumerate(fns):
            t0 = time.perf_counter()
            outs[k] = fn()
            best[k] = min(best[k], time.perf_counter() - t0)
    return list(zip(best, outs))


def triple_sum_gemm(W: torch.Tensor, b: torch.Tensor, x: torch.Tensor, activation: str) -> torch.Tensor:
    """The same O(n^3)-per-point triple sum, but with i contracted first as one GEMM (not the literal einsum)."""
    n = W.shape[0]
    _, d1, d2 = activations.derivatives(activation, shallow.preactivations(W, b, x), order=2)
    a, C = d1 * d1, d1 * d2
    m = torch.outer(W[:, 0], W[:, 1]) - torch.outer(W[:, 1], W[:, 0])
    X = torch.einsum("bi,ij,ik->bjk", a, m, m)  # (B, n, n), n^3 multiply-adds per point
    S = torch.einsum("bjk,bj,bk,jk->b", X, C, C, m.square())
    g = torch.einsum("bj,jm,jn->bmn", a / n, W, W)
    det = g[:, 0, 0] * g[:, 1, 1] - g[:, 0, 1] ** 2
    return -S / (n**3 * det**2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=int, default=250)
    parser.add_argument("--grid", type=int, default=80)
    parser.add_argument("--repeats", type=int, default=7, help="repeats for the fast routes (best is reported)")
    parser.add_argument("--sub", type=int, default=16, help="points on which the O(n^3) triple sum is timed")
    args = parser.parse_args()

    W, b = shallow.random_network(2, args.width, seed=0)
    f = shallow.feature_map(W, b, "sigmoid")
    t = torch.linspace(-1, 1, args.grid, dtype=torch.float64)
    x = torch.cartesian_prod(t, t)
    n_points = x.shape[0]
    sub = torch.linspace(0, n_points - 1, args.sub).round().long()  # spread over the grid

    full_rows = [
        ("shallow tensor formula O(n d^3)  [default]", lambda: shallow.ricci_scalar(W, b, x, "sigmoid")),
        ("shallow closed form d=2, O(n^2)",
         lambda: shallow.ricci_scalar(W, b, x, "sigmoid", method="closed_form_2d")),
        ("shallow Gauss equation O(n d^4)", lambda: shallow.ricci_scalar(W, b, x, "sigmoid", method="gauss")),
        ("autodiff geometry.ricci_scalar (Gauss)", lambda: geometry.ricci_scalar(f, x)),
    ]
    timed = best_times([fn for _, fn in full_rows], args.repeats)
    results = [(name, sec, out) for (name, _), (sec, out) in zip(full_rows, timed)]
    ref = results[0][2]
    sub_rows = [
        ("O(n^3) sum, i contracted by GEMM", lambda: triple_sum_gemm(W, b, x[sub], "sigmoid")),
        ("autodiff Christoffel route (4th deriv.)", lambda: geometry.ricci_scalar(f, x[sub], method="christoffel")),
    ]
    timed = best_times([fn for _, fn in sub_rows], args.repeats)
    sub_results = [(name, sec * n_points / args.sub, out) for (name, _), (sec, out) in zip(sub_rows, timed)]
    # the literal triple sum is slow: fewer repeats, interleaved with the tensor formula on the full grid
    (sec_sub, out_sub), (sec_tensor_again, _) = best_times(
        [lambda: shallow.ricci_scalar(W, b, x[sub], "sigmoid", method="triple_sum"),
         lambda: shallow.ricci_scalar(W, b, x, "sigmoid")], max(1, args.repeats // 3))
    sec_triple = sec_sub * n_points / args.sub
    results[0] = (results[0][0], min(results[0][1], sec_tensor_again), ref)

    t_tensor = results[0][1]
    t_auto = results[3][1]
    scale = ref.abs().max()
    print(f"Ricci scalar, [2, {args.width}] sigmoid (random_network(2, {args.width}, seed=0)), {args.grid}x{args.grid}"
          f" grid on [-1, 1]^2 = {n_points} points; torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"best of {args.repeats}")
    print(f"{'route':44s} {'seconds':>10s} {'/ tensor':>9s} {'max|diff|/max|R|':>17s}")
    for name, sec, out in results:
        print(f"{name:44s} {sec:10.4f} {sec / t_tensor:9.2f} {float((out - ref).abs().max() / scale):17.1e}")
    print(f"timed on {args.sub} grid points, scaled to {n_points}:")
    name = "literal triple sum O(n^3), one einsum"
    diff = float((out_sub - ref[sub]).abs().max() / scale)
    print(f"{name:44s} {sec_triple:10.2f} {sec_triple / t_tensor:9.0f} {diff:17.1e}")
    for name, sec, out in sub_results:
        diff = float((out - ref[sub]).abs().max() / scale)
        print(f"{name:44s} {sec:10.2f} {sec / t_tensor:9.1f} {diff:17.1e}")
    speedup = sec_triple / t_tensor
    ratio = t_auto / t_tensor
    print(f"targets: tensor formula {speedup:.0f}x faster than the triple sum (>= 1000: "
          f"{'met' if speedup >= 1000 else 'NOT met'}); autodiff / tensor formula = {ratio:.1f} (<= 20: "
          f"{'met' if ratio <= 20 else 'NOT met'})")


if __name__ == "__main__":
    main()
