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

#: file name -> (notebook, cell id, index of the image among the cell's image outputs)
FIGURES = {
    "figD1_curvature.png": ("book/04_curvature.ipynb", "22fb941f", 0),
    "fig1_sinusoid.png": ("book/05_toy_networks.ipynb", "b6ef256e", 0),
    "fig2_mnist_line.png": ("book/06_mnist.ipynb", "d2befe7f", 0),
    "fig2_mnist_plane.png": ("book/06_mnist.ipynb", "3cecba42", 0),
    "fig3_resnet_plane.png": ("book/07_deep_networks.ipynb", "c21", 0),
    "fig4_resnet_blocks.png": ("book/07_deep_networks.ipynb", "c28", 0),
    "fig5_ssl_lines.png": ("book/08_self_supervised.ipynb", "c15", 1),
    "fig6_barlow_plane.png": ("book/08_self_supervised.ipynb", "c23", 0),
    "gih_eigenvectors.png": ("book/09_geometric_invariance.ipynb", "c13", 0),
    "gih_circles.png": ("book/09_geometric_invariance.ipynb", "c19", 0),
    "gih_sweep.png": ("book/09_geometric_invariance.ipynb", "c24", 0),
}


def image(notebook: str, cell_id: str, index: int) -> bytes:
    """The PNG bytes of the ``index``-th image output of cell ``cell_id`` of ``notebook``."""
    cells = json.loads((ROOT / notebook).read_text())["cells"]
    cell = next(c for c in cells if c.get("id") == cell_id)
    pngs = [o["data"]["image/png"] for o in cell["outputs"] if "image/png" in o.get("data", {})]
    return base64.b64decode(pngs[index])


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, where in FIGURES.items():
        (OUT / name).write_bytes(image(*where))
        print(OUT / name)


if __name__ == "__main__":
    main()
