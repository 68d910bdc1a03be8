"""Build the book with warnings as errors and check that every _toc.yml entry became an HTML page."""

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for e in entries or []:
            if "file" in e:
                files.append(e["file"])
            walk(e.get("sections"))
            for part in e.get("parts", []):
                walk(part.get("chapters"))

    walk(toc.get("chapters"))
    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    return files


def test_every_notebook_is_in_the_toc():
    listed = set(_toc_files())
    on_disk = {str(p.relative_to(ROOT).with_suffix("")) for p in (ROOT / "book").glob("*.ipynb")}
    assert on_disk <= listed, on_disk - listed


def test_every_code_cell_has_committed_output():
    """`execute_notebooks: auto` re-runs a notebook with any output-less code cell; ours must render as committed."""
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        nb = json.loads(path.read_text())
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        empty = ["".join(c["source"])[:50] for c in code if not c.get("outputs")]
        assert not empty, f"{path.name}: code cells without output: {empty}"
        errors = [o for c in code for o in c["outputs"] if o["output_type"] == "error" or o.get("name") == "stderr"]
        assert not errors, f"{path.name}: committed error or stderr output"


@pytest.mark.book
def test_book_builds_without_warnings(book_build):
    """The shared build (tests/conftest.py) passed -W, made a page per _toc.yml entry and ships MathJax itself."""
    proc, html = book_build.proc, book_build.html
    print(f"book build: {book_build.seconds:.0f} s")
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]
    pages_with_math = 0
    for entry in _toc_files():
        page = html / f"{entry}.html"
        assert page.is_file(), f"no page for {entry}"
        text = page.read_text()
        assert "Traceback" not in text
        # MathJax from the build's own _static folder (see _config.yml), never from a CDN
        scripts = re.findall(r'<script[^>]* src="([^"?]*mathjax[^"?]*)', text)
        assert scripts in ([], ["../" * entry.count("/") + "_static/mathjax/es5/tex-mml-chtml.js"]), scripts
        pages_with_math += bool(scripts)
    assert pages_with_math, "no page loads MathJax"
    assert (html / "index.html").is_file()
    assert (html / "_static" / "mathjax" / "es5" / "tex-mml-chtml.js").is_file()
    assert (html / "_static" / "mathjax" / "es5" / "output" / "chtml" / "fonts" / "woff-v2").is_dir()
