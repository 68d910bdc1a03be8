"""The README's gallery: figures copied from the executed chapters (their committed outputs, nothing recomputed).

Each gallery image is a registered figure (:mod:`paperlib.chapters.registry`), picked by its name: the image is
the output of the one cell of the figure's chapter that calls its registered function. Run
``python docs/gallery.py`` after re-executing a chapter; ``tests/test_readme.py`` checks that every image is still
the notebook's output.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "gallery"

#: file name -> (registered figure name, index of the image among the cell's images)
FIGURES = {
    "figD1_curvature.png": ("curvature-three-units", 0),
    "fig1_sinusoid.png": ("toy-sinusoid", 0),
    "fig2_mnist_line.png": ("mnist-line", 0),
    "fig2_mnist_plane.png": ("mnist-plane", 0),
    "fig3_resnet_plane.png": ("deep-plane", 0),
    "fig4_resnet_blocks.png": ("deep-blocks", 0),
    "fig5_ssl_lines.png": ("selfsup-lines", 1),
    "fig6_barlow_plane.png": ("selfsup-planes", 0),
    "gih_eigenvectors.png": ("invariance-eigenvectors", 0),
    "gih_circles.png": ("invariance-circles", 0),
    "gih_sweep.png": ("invariance-sweep", 0),
}


def image(figure: str, index: int) -> bytes:
    """The PNG bytes of the ``index``-th image output of the one code cell of the figure's chapter that calls its
    registered function (``<module>.<function>(``)."""
    from paperlib.chapters import registry

    spec = registry.figures()[figure]
    module = spec.draw.__module__.rsplit(".", 1)[-1]
    (notebook,) = sorted(ROOT.glob(f"book/{spec.chapter:02d}_*.ipynb"))
    cells = json.loads(notebook.read_text())["cells"]
    call = re.compile(rf"\b{module}\.{spec.draw.__name__}\(")
    found = [c for c in cells if c["cell_type"] == "code" and call.search("".join(c["source"]))]
    if len(found) != 1:
        raise ValueError(f"{notebook.name}: {len(found)} code cells call {module}.{spec.draw.__name__}; expected one")
    pngs = [o["data"]["image/png"] for o in found[0]["outputs"] if "image/png" in o.get("data", {})]
    return base64.b64decode(pngs[index])


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, where in FIGURES.items():
        (OUT / name).write_bytes(image(*where))
        print(OUT / name)


if __name__ == "__main__":
    main()
