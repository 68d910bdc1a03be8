"""The built book as a reader sees it: index.html (the intro) and every chapter page, opened from disk (file://)
in headless Chromium with no network at all, must show typeset mathematics, load every image and log no error.

One build serves this test and tests/test_book.py (the session fixture `book_build` in tests/conftest.py). Needs
Debian's chromium and chromium-driver; where they are missing the test skips (.ci/run installs them in CI). A
full-page screenshot of each page goes to $PAPERLIB_ARTEFACTS/browser, by default tests/artefacts/browser.
"""

import os
import re
import shutil
from pathlib import Path

import pytest

from test_book import ROOT, _toc_files

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")

# index.html redirects to the intro; then every chapter
PAGES = ["index.html"] + [f"{entry}.html" for entry in _toc_files()[1:]]

needs_chromium = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="headless Chromium not found: install Debian's packages with "
    "`apt-get install chromium chromium-driver` (.ci/run does this in CI)",
)

ARTEFACTS = Path(os.environ.get("PAPERLIB_ARTEFACTS", ROOT / "tests" / "artefacts")) / "browser"

# TeX that MathJax should have typeset and a reader should never see: display and inline delimiters ($$, \( \),
# \[ \], $x$ with no space inside the dollars, as MyST reads them), environments and control words such as \R.
RAW_TEX = re.compile(r"\$\$|\\[()\[\]]|\\begin\{|\\end\{|\$[^\s$](?:[^$\n]*[^\s$])?\$|\\[A-Za-z]+")


def raw_tex(text: str) -> list[str]:
    """The pieces of `text` that look like TeX source rather than typeset mathematics."""
    return RAW_TEX.findall(text)


def test_raw_tex_finds_untypeset_mathematics():
    """The check below can fail: TeX left in a page's text is found, typeset output and prose are not."""
    assert raw_tex("the metric $g = J^T J$ of") == ["$g = J^T J$"]
    assert raw_tex("inline $x$ here") == ["$x$"]
    assert raw_tex("$$\\sqrt{\\det g}$$") == ["$$", "\\sqrt", "\\det", "$$"]
    assert raw_tex("\\(x\\) and \\[y\\]") == ["\\(", "\\)", "\\[", "\\]"]
    assert raw_tex("\\begin{align} a \\end{align}") == ["\\begin{", "\\end{"]
    assert raw_tex("the input space \\R^2") == ["\\R"]  # an undefined macro MathJax printed as it was
    # what MathJax leaves (its MathML copy for screen readers) and ordinary prose pass
    assert raw_tex("g=J⊤J, √det g on ℝ² costs $5 and $6 (1.2)") == []


# True once a page has loaded that does not redirect to another
REDIRECTED = """return document.readyState === "complete" && !document.querySelector('meta[http-equiv="Refresh"]');"""

# Runs in the page once it has loaded: waits for MathJax's first typesetting (where the page loads MathJax) and the
# fonts, then returns what the checks need. `done` hands the result back to Selenium.
WAIT_AND_INSPECT = """
const done = arguments[arguments.length - 1];
const started = Date.now();
async function inspect() {
  const usesMathJax = !!document.querySelector('script[src*="mathjax"]');
  let mathjax = "not on this page";
  if (usesMathJax) {
    while (!(window.MathJax && MathJax.startup && MathJax.startup.promise) && Date.now() - started < 20000)
      await new Promise(r => setTimeout(r, 50));
    try {
      if (!(window.MathJax && MathJax.startup && MathJax.startup.promise)) throw "MathJax did not load";
      await MathJax.startup.promise;
      mathjax = "typeset";
    } catch (e) { mathjax = "failed: " + e; }
  }
  await document.fonts.ready;
  const math = [...document.querySelectorAll(".math")];  // what Sphinx and MyST-NB marked as mathematics
  return {
    url: location.href,
    mathjax: mathjax,
    math: math.length,
    containers: document.querySelectorAll("mjx-container").length,
    untypeset: math.filter(e => !e.querySelector("mjx-container")).map(e => e.textContent.slice(0, 80)),
    errors: [...document.querySelectorAll("mjx-merror")].map(e => e.getAttribute("data-mjx-error")),
    broken: [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src),
  };
}
inspect().then(done, e => done({failed: String(e)}));
"""

# The page's visible text without code blocks and the API reference's signatures (dt.sig: Python code, e.g. a
# default label string), whose TeX is there to be read: innerText leaves out what is hidden.
VISIBLE_TEXT = """
for (const e of document.querySelectorAll("pre, code, .highlight, dt.sig")) e.style.setProperty("display", "none", "important");
return document.body.innerText;
"""


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,1000",
        # no network at all: every host name fails to resolve, so a page that needs the internet fails here as it
        # would offline; and no background connections of Chromium's own
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # the console, read with get_log("browser")
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _screenshot(driver, path: Path) -> None:
    """The whole page, not just the window, as a PNG (through the DevTools protocol)."""
    import base64

    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        },
    )
    path.write_bytes(base64.b64decode(shot["data"]))


def _open(browser, path: Path, screenshot: Path) -> dict:
    """Open the page at `path`, save a screenshot of it and return what the checks need."""
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get_log("browser")  # drop what an earlier page logged
    browser.get(path.as_uri())
    # index.html is a redirect (<meta http-equiv="Refresh">): wait for the page it leads to
    WebDriverWait(browser, 30).until(lambda b: b.execute_script(REDIRECTED))
    seen = browser.execute_async_script(WAIT_AND_INSPECT)
    assert "failed" not in seen, seen
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    _screenshot(browser, screenshot)
    seen["source"] = Path(browser.current_url.removeprefix("file://")).read_text()  # as Sphinx wrote it
    seen["text"] = browser.execute_script(VISIBLE_TEXT)  # last: it hides the code blocks
    seen["console"] = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    return seen


@pytest.fixture(scope="module")
def visit(browser, book_build):
    """visit(page) opens a page of the shared build once, for both tests below, and returns what _open saw."""
    seen_pages = {}

    def visit(page: str) -> dict:
        if page not in seen_pages:
            assert (book_build.html / page).is_file(), f"no {page} in the build: see test_book_builds_without_warnings"
            shot = ARTEFACTS / (page.replace("/", "__").removesuffix(".html") + ".png")
            seen_pages[page] = _open(browser, book_build.html / page, shot)
            if page == "index.html":
                assert seen_pages[page]["url"].endswith(f"/{_toc_files()[0]}.html"), seen_pages[page]["url"]
        return seen_pages[page]

    return visit


def _math_problems(seen: dict) -> list[str]:
    """What is wrong with the mathematics of a page that _open saw; empty if nothing is."""
    problems = []
    # as many pieces of mathematics in the browser as Sphinx and MyST-NB marked in the HTML
    marked = len(re.findall(r'class="[^"]*\bmath\b', seen["source"]))
    if seen["math"] != marked:
        problems.append(f"{seen['math']} pieces of mathematics in the browser, {marked} in the HTML")
    # MathJax ran, and typeset each of them without errors
    if seen["math"] and seen["mathjax"] != "typeset":
        problems.append(f"MathJax: {seen['mathjax']}")
    if seen["containers"] < seen["math"]:
        problems.append(f"{seen['containers']} typeset of {seen['math']}")
    problems += [f"not typeset: {t}" for t in seen["untypeset"]]
    problems += [f"MathJax error: {e}" for e in seen["errors"]]
    # and no TeX is left for a reader to see
    if raw_tex(seen["text"]):
        problems.append(f"TeX left in the page's text: {raw_tex(seen['text'])[:10]}")
    return problems


@needs_chromium
def test_the_checks_catch_a_broken_page(browser, tmp_path):
    """Each check below fails on a page with raw TeX, mathematics MathJax never saw, a missing image and an error."""
    page = tmp_path / "broken.html"
    page.write_text(
        '<html><body><p>the metric $g$ and <span class="math">\\(x\\)</span></p>'
        '<img src="missing.png"><script>console.error("boom")</script></body></html>'
    )
    seen = _open(browser, page, tmp_path / "broken.png")
    left = ["$g$", "\\(", "\\)"]
    assert _math_problems(seen) == [
        "MathJax: not on this page",
        "0 typeset of 1",
        "not typeset: \\(x\\)",
        f"TeX left in the page's text: {left}",
    ]
    assert seen["broken"] == [(tmp_path / "missing.png").as_uri()]
    assert len(seen["console"]) == 2, seen["console"]  # the missing image and the script's error
    assert any("missing.png" in m for m in seen["console"]) and any("boom" in m for m in seen["console"])
    assert (tmp_path / "broken.png").stat().st_size > 0


@pytest.mark.book
@needs_chromium
@pytest.mark.parametrize("page", PAGES)
def test_page_shows_mathematics_and_images(visit, page):
    seen = visit(page)
    assert not _math_problems(seen), _math_problems(seen)
    assert not seen["broken"], seen["broken"]  # every image loaded


@pytest.mark.book
@needs_chromium
@pytest.mark.parametrize("page", PAGES)
def test_page_logs_no_error(visit, page):
    """Nothing went wrong on the console: a file that failed to load, a script error, a request to the internet.
    (Pages with widgets load no widget scripts -- `nb_ipywidgets_js: {}` in _config.yml -- and show the static
    figures beside them.)"""
    seen = visit(page)
    assert not seen["console"], seen["console"]
    assert "html-manager" not in seen["source"] and "require.min.js" not in seen["source"]
