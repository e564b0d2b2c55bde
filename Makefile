# airflow-provider-dash: everything installs itself from nothing (uv from PyPI if missing).
SHELL := /bin/bash
PYTHON ?= python3
# uv from PATH, else the one pip installs as a module (works with any Python, user or system site).
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-test
# Debian's Chromium, which the browser test drives through Playwright (Playwright never downloads one here).
CHROMIUM := /usr/lib/chromium/chromium

.PHONY: all install install-bench lint typecheck test test-fast demo bench clean uv chromium

all: test

uv:
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv

# The venv is rebuilt whenever the lock or the project metadata change.
$(STAMP): pyproject.toml uv.lock | uv
	$(UV) sync --locked --extra test
	touch $(STAMP)

install: $(STAMP)

# Installed only when missing. Without root or apt it warns and goes on: the browser test then fails
# under CI=true, and is skipped (with the reason) elsewhere.
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		{ apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; } \
			|| echo "warning: could not install Debian's chromium: the browser test cannot run" >&2; \
	else \
		echo "warning: $(CHROMIUM) is missing and installing it needs root and apt-get: the browser test cannot run" >&2; \
	fi

chromium: $(CHROMIUM)

install-bench: $(STAMP) | uv
	$(UV) sync --locked --extra test --extra bench

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

test: lint typecheck chromium
	DASH_CHROMIUM=$(CHROMIUM) $(BIN)/pytest

# The unit and integration tests without the real-Airflow end-to-end run and the browser test.
test-fast: install
	$(BIN)/pytest -m "not e2e and not browser"

demo: install
	$(BIN)/python scripts/demo.py

bench: install-bench
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
