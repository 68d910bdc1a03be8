"""Every registered figure, made on the tiny preset through the command line's runner: the images and the numbers
are written, and the JSON names the function that drew it (the one the chapter's notebook calls)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

from paperlib import cli  # noqa: E402
from paperlib.chapters import registry  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SPECS = registry.figures()


@pytest.fixture(scope="module")
def options(tmp_path_factory) -> registry.Options:
    return registry.Options(device="cpu", cache_dir=str(tmp_path_factory.mktemp("cache")), progress=False, workers=1)


@pytest.mark.parametrize("name", list(SPECS))
def test_every_registered_figure_is_written_on_the_tiny_preset(name, options, tmp_path, capsys):
    spec = SPECS[name]
    preset = "tiny" if spec.presets else None
    assert cli.reproduce([name], preset=preset, out=tmp_path, options=options) == cli.EXIT_OK
    doc = json.loads((tmp_path / f"{name}.json").read_text())
    assert doc["figure"] == name and doc["function"] == spec.function and doc["preset"] == preset
    assert doc["numbers"], "no numbers written"
    pngs = [tmp_path / f for f in doc["files"] if f.endswith(".png")]
    assert pngs and len(pngs) == len([f for f in doc["files"] if f.endswith(".pdf")])
    for png in pngs:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5_000  # an image, not a blank


def _notebook(chapter: int) -> Path:
    (path,) = sorted(ROOT.glob(f"book/{chapter:02d}_*.ipynb"))
    return path


@pytest.mark.parametrize("name", list(SPECS))
def test_the_chapter_draws_the_figure_with_the_registered_function(name):
    """The chapter's notebook calls the registered function (``<module>.<function>(``) in one cell."""
    spec = SPECS[name]
    module = spec.draw.__module__.rsplit(".", 1)[-1]
    cells = json.loads(_notebook(spec.chapter).read_text())["cells"]
    calls = [c for c in cells if c["cell_type"] == "code"
             and re.search(rf"\b{module}\.{spec.draw.__name__}\(", "".join(c["source"]))]
    assert len(calls) == 1, f"{name}: {len(calls)} cells of the chapter call {module}.{spec.draw.__name__}"


def test_no_chapter_draws_a_registered_figure_with_its_own_code():
    """Notebook cells of the registry's chapters do not build figures with plt.subplots/plt.figure themselves."""
    chapters = {s.chapter for s in SPECS.values()}
    for chapter in sorted(chapters):
        cells = json.loads(_notebook(chapter).read_text())["cells"]
        for c in cells:
            src = "".join(c["source"]) if c["cell_type"] == "code" else ""
            assert not re.search(r"plt\.(subplots|figure)\(", src), f"chapter {chapter} draws with its own code:\n{src}"


def test_unknown_and_renamed_figures_are_usage_errors_with_the_new_name():
    with pytest.raises(cli.UsageError, match="toy-sinusoid"):
        cli.reproduce(["ch5-fig1-sinusoid"], out="unused")


def test_options_are_checked():
    with pytest.raises(ValueError, match="workers"):
        registry.Options(workers=0)
    with pytest.raises(TypeError, match="cache"):
        registry.Options(cache="yes")
    with pytest.raises(TypeError, match="options"):
        registry.make("toy-sinusoid", "tiny", {"device": "cpu"})


@pytest.mark.parametrize("module", ["deep", "selfsup", "invariance", "hypothesis"])
def test_the_hours_preset_sits_between_book_and_paper_on_the_books_data(module):
    """``hours`` keeps the book's data (nothing to download, CPU-runnable) and its networks, and enlarges what the
    open claims need: at least the book's seeds and epochs (or runs), never fewer of anything it scales."""
    import importlib

    presets = importlib.import_module(f"paperlib.chapters.{module}").PRESETS
    book, hours, paper = presets["book"], presets["hours"], presets["paper"]
    if hasattr(book, "data"):
        assert hours.data == book.data != paper.data  # MNIST digits, not the paper's CIFAR-10
    for width in ("width", "resnet_width", "depths", "resnet_depths"):
        if hasattr(book, width):
            assert getattr(hours, width) == getattr(book, width)  # the book's networks
    grown = [f for f in ("seeds", "epochs", "lines", "runs", "evolution_networks", "train_size", "task_epochs")
             if hasattr(book, f)]
    size = lambda v: len(v) if isinstance(v, tuple) else v  # noqa: E731
    assert grown and all(size(getattr(hours, f)) >= size(getattr(book, f)) for f in grown if getattr(book, f))
    assert any(size(getattr(hours, f)) > size(getattr(book, f)) for f in grown if getattr(book, f))
