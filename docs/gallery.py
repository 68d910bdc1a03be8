"""The README's gallery: figures copied from the executed chapters (their committed outputs, nothing recomputed).

Run ``python docs/gallery.py`` after re-executing a chapter; ``tests/test_readme.py`` checks that every image is
still the notebook's output.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "gallery"

#: file name -> (notebook, a line of the cell's source that draws it, index of the image among the cell's images)
FIGURES = {
    "figD1_curvature.png": ("book/04_curvature.ipynb", "rows = [(f\"bias {bias:g}\", grid_d1.image(lv)", 0),
    "fig1_sinusoid.png": ("book/05_toy_networks.ipynb", "fig = plot.snapshot_figure([run.snapshots[e] for e in", 0),
    "fig2_mnist_line.png": ("book/06_mnist.ipynb", "fig = plot.line_figure(main, mn.figure_epochs)", 0),
    "fig2_mnist_plane.png": ("book/06_mnist.ipynb", "fig = plot.plane_figure(mn.plane)", 0),
    "fig3_resnet_plane.png": ("book/07_deep_networks.ipynb", "fig = plot.plane_figure(ex.plane)", 0),
    "fig4_resnet_blocks.png": ("book/07_deep_networks.ipynb", "fig = plot.blocks_figure(ex.blocks)", 0),
    "fig5_ssl_lines.png": ("book/08_self_supervised.ipynb", "fig = plot.methods_line_figure(ex.lines, epoch)", 1),
    "fig6_barlow_plane.png": ("book/08_self_supervised.ipynb", "for method, plane in ex.planes.items():", 0),
    "gih_eigenvectors.png": ("book/09_geometric_invariance.ipynb", "fig = plot.invariance.eigen_figure(", 0),
    "gih_circles.png": ("book/09_geometric_invariance.ipynb", "fig = plot.invariance.circles_figure(ex)", 0),
    "gih_sweep.png": ("book/09_geometric_invariance.ipynb", "plot.invariance.sweep_plot(ex.sweep", 0),
}


def image(notebook: str, snippet: str, index: int) -> bytes:
    """The PNG bytes of the ``index``-th image output of the one code cell of ``notebook`` containing ``snippet``."""
    cells = json.loads((ROOT / notebook).read_text())["cells"]
    found = [c for c in cells if c["cell_type"] == "code" and snippet in "".join(c["source"])]
    if len(found) != 1:
        raise ValueError(f"{notebook}: {len(found)} code cells contain {snippet!r}; expected one")
    pngs = [o["data"]["image/png"] for o in found[0]["outputs"] if "image/png" in o.get("data", {})]
    return base64.b64decode(pngs[index])


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, where in FIGURES.items():
        (OUT / name).write_bytes(image(*where))
        print(OUT / name)


if __name__ == "__main__":
    main()
