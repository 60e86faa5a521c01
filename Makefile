# The few commands people type. Set-up steps run only when their inputs changed,
# so a second `make test` goes straight to the tests.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: setup test lint demo bench clean

setup: $(VENV)/.installed node_modules/.installed

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest $(PYTEST_ARGS)

demo: setup
	$(BIN)/chargeatlarge demo

bench: setup
	$(BIN)/python bench/import_observations.py

clean:
	rm -rf $(VENV) node_modules var .pytest_cache .ruff_cache
