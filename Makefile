# Every target bootstraps .venv itself; a fresh clone needs only python3 (3.11+) and make.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
RUNTIME_STAMP := $(VENV)/.runtime-stamp

.PHONY: demo test test-slow check bench lint browser clean

# The demo needs only what a user installs (`pip install .`); tests and lint add the dev tools.
$(RUNTIME_STAMP): pyproject.toml setup.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	@touch $(RUNTIME_STAMP)

$(STAMP): $(RUNTIME_STAMP)
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

## demo: run the real-time scaling walkthrough on the embedded emulator (about a minute)
demo: $(RUNTIME_STAMP)
	$(VENV)/bin/scalecheck demo

## test: unit + integration tests, including the report in headless Chromium (the slow probes: test-slow)
test: $(STAMP) browser
	$(PY) -m pytest -q --durations=10 -m "not slow"

## test-slow: the probes that take minutes each (interrupt matrix, restore runs, installed wheel, concurrent runs)
test-slow: $(STAMP)
	$(PY) -m pytest -q --durations=5 -m slow

## check: lint, then all the tests
check: lint test test-slow

lint: $(STAMP)
	$(VENV)/bin/ruff check harness tests locustfile.py

## bench: slow measurements, printed as `bench <name> <value> <unit>` lines
bench: $(STAMP)
	$(PY) -m harness.bench

# Report tests open real HTML in Debian's chromium; install it when it is missing.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the report tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || { echo "could not install chromium (needed by tests/integration/test_report_browser.py)"; exit 1; }; }

clean:
	rm -rf $(VENV) .pytest_cache
