# Two entry points (see README): `make html` builds the book, `make test` runs every test.
# Each creates the virtual environment .venv from the pins in pyproject.toml on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# MathJax 3, served from the book itself so that its mathematics renders offline: the npm package
# mathjax@$(MATHJAX_VERSION) (its es5 build and LICENSE), unpacked into the git-ignored folder _mathjax/mathjax.
# _config.yml lists _mathjax in html_static_path, so every build copies it to _build/html/_static/mathjax.
MATHJAX_VERSION := 3.2.2
MATHJAX := _mathjax/mathjax/es5/tex-mml-chtml.js

.PHONY: html test test-fast venv mathjax bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -e ".[book,test]"
	touch $(STAMP)

mathjax: $(MATHJAX)

# npm checks the tarball against the registry's integrity hash; a published version never changes. The files are
# unpacked into a scratch folder first and moved into place last, so an interrupted download is retried next time.
$(MATHJAX):
	@command -v npm >/dev/null || { echo "npm not found: the book serves MathJax from the npm package" \
		"mathjax@$(MATHJAX_VERSION); install Node.js' npm (Debian: apt-get install npm) and run make again"; exit 1; }
	rm -rf _mathjax && mkdir -p _mathjax/unpack
	cd _mathjax/unpack && npm pack --silent mathjax@$(MATHJAX_VERSION) && tar -xzf mathjax-$(MATHJAX_VERSION).tgz
	mkdir _mathjax/mathjax && mv _mathjax/unpack/package/LICENSE _mathjax/unpack/package/es5 _mathjax/mathjax/
	rm -rf _mathjax/unpack

# The HTML book in _build/html; warnings are errors.
html: $(STAMP) $(MATHJAX)
	$(BIN)/jupyter-book build . -W -n --keep-going

# Unit and property tests, strict nbval over every notebook in book/, a -W book build (tests/test_book.py) and
# its pages in headless Chromium (tests/test_browser.py; skipped where Chromium is not installed).
test: $(STAMP) $(MATHJAX)
	$(BIN)/python -m pytest tests book --nbval --nbval-current-env \
		--nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider

# While developing: the unit, property and doctest tests without the slow ones, the notebooks and the book build
# (under 5 minutes on 2 cores).
test-fast: $(STAMP)
	$(BIN)/python -m pytest tests -m "not slow and not book" -p no:cacheprovider -q

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_volume.py
	$(BIN)/python benchmarks/bench_ricci.py
	$(BIN)/python benchmarks/bench_jacobian.py
	$(BIN)/python benchmarks/bench_gih.py

clean:
	rm -rf _build .pytest_cache _mathjax
