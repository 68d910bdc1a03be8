"""The first call of ``strategy="auto"`` against later calls and against each fixed route.

Run: ``python benchmarks/bench_strategy.py`` (CPU, 2 threads) or ``python benchmarks/bench_strategy.py --device
cuda``. For two maps -- the pooled block-4 features of chapter 7's ResNet (book preset: one block per stage, width
8, GELU, 1 x 32 x 32 inputs, k = 64 features, float32) and a small vision transformer
(:class:`paperlib.models.VisionTransformer`: 32 x 32 inputs, 4 x 4 patches, width 64, 2 layers, 64 pooled outputs
of the class token, float64), and a dense control where vmap should win (an MLP 1024-256-64, GELU, float64)
-- and the batch sizes the book and the benchmarks use (chapter 7: lines of 25
points and planes of 256 points; ``bench_jacobian.py``: 32 points), it times in one run:

- ``vmap`` and ``loop``: the log volume element (top 16) by each reverse-mode route (best of ``--repeats``);
- ``first``: the first call with ``strategy="auto"`` (the remembered choices cleared), which times the routes;
- ``later``: a later call with ``strategy="auto"`` (best of ``--repeats``), on the route it chose.

Targets (the issue "Your own model, measured right"): ``first / later <= 1.5`` and ``later / fastest <= 1.2``.
The first call is timed ``--firsts`` times (the choice forgotten before each) and its worst ratio is reported.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from paperlib import geometry
from paperlib.chapters.deep import PRESETS as DEEP_PRESETS
from paperlib.models import VisionTransformer


class Pooled(nn.Module):
    """A transformer's class-token output, ``(B, 64)``."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = VisionTransformer(image_size=32, patch=4, in_channels=1, num_classes=64, dim=64, depth=2, heads=4)

    def forward(self, x):
        return self.net(x)


def maps(device: torch.device):
    resnet = DEEP_PRESETS["book"].model("gelu")().to(device).eval().feature_map(4)
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(1024, 256), nn.GELU(), nn.Linear(256, 64)).to(device).eval()
    return [("resnet (ch. 7)", resnet, torch.float32, (25, 32, 256)),
            ("vit", Pooled().to(device).eval(), torch.float64, (8, 32, 128)),
            ("mlp", mlp, torch.float64, (8, 32, 256))]


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--firsts", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    print(f"{'map':>15} {'points':>6} {'vmap s':>8} {'loop s':>8} {'later s':>8} {'chose':>5} "
          f"{'first/later':>11} {'later/fastest':>13}")
    for name, f, dtype, sizes in maps(dev):
        for points in sizes:
            x = torch.randn(points, *((1, 32, 32)), generator=torch.Generator().manual_seed(points)).to(dev)
            kw = dict(k=16, dtype=dtype, device=dev, mode="reverse")
            best = {}
            for _ in range(args.repeats):  # fixed routes, interleaved; the first round also warms up
                for s in ("vmap", "loop"):
                    best[s] = min(best.get(s, float("inf")), timed(lambda: geometry.log_volume_element(
                        f, x, strategy=s, **kw)))
            firsts = []
            for _ in range(args.firsts):
                geometry._STRATEGY.clear()
                firsts.append(timed(lambda: geometry.log_volume_element(f, x, **kw)))
            later = min(timed(lambda: geometry.log_volume_element(f, x, **kw)) for _ in range(args.repeats))
            chose = "loop" if any(geometry._STRATEGY.values()) else "vmap"
            print(f"{name:>15} {points:6d} {best['vmap']:8.3f} {best['loop']:8.3f} {later:8.3f} {chose:>5} "
                  f"{max(firsts) / later:11.2f} {later / min(best.values()):13.2f}", flush=True)


if __name__ == "__main__":
    main()
