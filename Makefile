# Two commands do all set-up on a fresh machine with Python 3.11:
#   make demo   - create .venv if needed, run cx-text on the bundled sample data
#   make test   - create .venv if needed, lint, type-check and run the test suite
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 120
export TOKENIZERS_PARALLELISM := false

.PHONY: demo test lint test-slow bench clean-state

$(STAMP): requirements.lock requirements-models.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# the CPU build of torch first: anything else pulls a multi-GB CUDA build
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -r requirements.lock
	# trained pipelines pinned by hash (theme labels); labels fall back to lookup tables without
	$(BIN)/pip install --quiet --no-deps --require-hashes -r requirements-models.txt
	# natasha only for the navec Russian word vectors it ships (never imported)
	$(BIN)/pip install --quiet --no-deps natasha==1.6.0
	$(BIN)/pip install --quiet --no-deps -e .
	# compile UMAP's numba kernels once, into numba's disk cache (cx_text/umap_setup.py)
	$(BIN)/python -m cx_text.umap_setup
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/cx-text run data/sample_feedback.csv --out out/demo --state-dir out/demo/.cx-text

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS)

clean-state:
	rm -rf .cx-text out
