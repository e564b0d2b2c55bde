# airflow-provider-dash: everything installs itself from nothing (uv from PyPI if missing).
SHELL := /bin/bash
PYTHON ?= python3
# uv from PATH, else the one pip installs as a module (works with any Python, user or system site).
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-test

.PHONY: all install install-bench lint typecheck test test-fast demo bench clean uv

all: test

uv:
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv

# The venv is rebuilt whenever the lock or the project metadata change.
$(STAMP): pyproject.toml uv.lock | uv
	$(UV) sync --locked --extra test
	touch $(STAMP)

install: $(STAMP)

install-bench: $(STAMP) | uv
	$(UV) sync --locked --extra test --extra bench

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest

# The unit and integration tests without the real-Airflow end-to-end run.
test-fast: install
	$(BIN)/pytest -m "not e2e"

demo: install
	$(BIN)/python scripts/demo.py

bench: install-bench
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
