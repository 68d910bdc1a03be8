# Two entry points (see README): `make html` builds the book, `make test` runs every test.
# Each creates the virtual environment .venv from the pins in pyproject.toml on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: html test venv bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -e ".[book,test]"
	touch $(STAMP)

# The HTML book in _build/html; warnings are errors.
html: $(STAMP)
	$(BIN)/jupyter-book build . -W -n --keep-going

# Unit and property tests, strict nbval over every notebook in book/, and a -W book build (tests/test_book.py).
test: $(STAMP)
	$(BIN)/python -m pytest tests book --nbval --nbval-current-env \
		--nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_volume.py
	$(BIN)/python benchmarks/bench_ricci.py
	$(BIN)/python benchmarks/bench_jacobian.py

clean:
	rm -rf _build .pytest_cache
