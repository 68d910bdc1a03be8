"""Shared test set-up: a non-interactive matplotlib backend, no figures left open between tests, a file server
on 127.0.0.1 for the download tests (nothing is fetched from the internet), and one build of the whole book shared
by tests/test_book.py and tests/test_browser.py."""

import dataclasses
import functools
import http.server
import subprocess
import sys
import threading
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # no request lines on stderr
        pass


@pytest.fixture()
def http_folder(tmp_path):
    folder = tmp_path / "www"
    folder.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=folder))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


ROOT = Path(__file__).resolve().parents[1]


@dataclasses.dataclass
class BookBuild:
    proc: subprocess.CompletedProcess  # the `jupyter-book build` run: returncode, stdout, stderr
    html: Path  # its _build/html folder
    seconds: float  # how long the build took


@pytest.fixture(scope="session")
def book_build(tmp_path_factory) -> BookBuild:
    """One `jupyter-book build -W` of the whole book into a temporary folder, made once per test session: the build
    test checks it and the browser test renders its pages, so CI builds the book once."""
    if not (ROOT / "_mathjax" / "mathjax" / "es5" / "tex-mml-chtml.js").is_file():
        pytest.fail("MathJax is missing from _mathjax/: run `make mathjax` (`make test` does it first)")
    out = tmp_path_factory.mktemp("book")
    exe = Path(sys.executable).parent / "jupyter-book"
    start = time.perf_counter()
    proc = subprocess.run(
        [str(exe), "build", str(ROOT), "--path-output", str(out), "-W", "-n", "--keep-going"],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    return BookBuild(proc, out / "_build" / "html", time.perf_counter() - start)
