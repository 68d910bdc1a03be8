"""The README's `import paperlib` example runs as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README has no python example"
    for code in blocks:
        exec(compile(code, str(README), "exec"), {"__name__": "readme"})
    assert "log10 volume element: mean" in capsys.readouterr().out


def test_readme_gives_the_two_commands():
    text = README.read_text()
    assert "make html" in text and "make test" in text
    ci = (README.parent / ".ci" / "run").read_text()
    assert "make test" in ci


def test_gallery_images_are_the_chapters_outputs():
    """Every image the README shows exists, and each gallery image is still its chapter's committed output."""
    import importlib.util

    text = README.read_text()
    linked = re.findall(r'src="(docs/gallery/[^"]+)"', text)
    spec = importlib.util.spec_from_file_location("gallery", README.parent / "docs" / "gallery.py")
    gallery = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gallery)
    assert sorted(linked) == sorted(f"docs/gallery/{name}" for name in gallery.FIGURES)
    for name, where in gallery.FIGURES.items():
        assert (gallery.OUT / name).read_bytes() == gallery.image(*where), f"{name}: run python docs/gallery.py"
