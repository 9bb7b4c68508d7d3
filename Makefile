# ragqa: the two quick-start commands are `make serve` and `make test`.
# Everything they need is installed by the targets below, on a machine with only Python 3.11.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: serve test setup lint bench eval clean

# Virtual environment: torch first, pinned (the CPU build lies on the machine; an unpinned
# torch would pull gigabytes of CUDA packages), then the package with its dev extras.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## setup: environment + default models (fetched once into ~/.cache/ragqa, reused after)
setup: $(STAMP)
	$(BIN)/ragqa models fetch

## serve: set everything up and serve the bundled collection on http://127.0.0.1:8000
serve: setup
	$(BIN)/ragqa serve

## test: set everything up (incl. the small test model and Debian's Chromium) and run all tests
test: setup
	$(BIN)/ragqa models fetch --all
	bash scripts/install-browser.sh
	$(BIN)/python -m pytest; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$rc

## lint: ruff (lint + format check) and mypy
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## eval: the evaluation set in-process with the default models; report in eval/reports/latest
eval: setup
	$(BIN)/ragqa eval

## bench: the performance suite; writes BENCHMARKS.md
bench: setup
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench all

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache test-artifacts
