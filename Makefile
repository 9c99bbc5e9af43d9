# The README's two set-up commands: `make demo` and `make test`. Each makes the venv
# and installs hashmon (with its dev extras) first if that has not been done.
# `make test` runs the whole suite (CI calls it) with pytest-xdist;
# `make quick` is the inner loop: no crash trials, bench, browser, long rounds or tests
# that take over a second of CPU (markers `slow` and `browser`), SQLite only, property
# tests at a fifth of their examples;
# `make test` (CI) runs everything on both databases.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.hashmon-installed

.PHONY: demo test quick lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/hashmon demo

# The suite starts some hundreds of hashmon processes: each reuses the compiled modules
# the first one wrote (in the venv, not the checkout), even where the environment says
# never to write them (PYTHONDONTWRITEBYTECODE), instead of compiling hashmon anew.
test quick: export PYTHONDONTWRITEBYTECODE :=
test quick: export PYTHONPYCACHEPREFIX := $(abspath $(VENV))/pycache

# Three workers on two cores: a third of a worker's time is spent waiting (PostgreSQL, the
# fake APIs' delays, SMTP timeouts), which another worker fills. loadgroup hands tests out
# one at a time, slow ones first (tests/conftest.py), a group's (the demo week) to one
# worker. Measured here: -n 3 222-276 s (2026-12-03); on an earlier commit, -n 3 269 s and
# -n 2 303 s.
test: $(STAMP)
	$(BIN)/pytest -q -n 3 --dist loadgroup

quick: $(STAMP)
	HASHMON_HYPOTHESIS=quick $(BIN)/pytest -q -n 2 -m "not slow and not browser" -k "not postgresql"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) hashmon-demo test-artifacts .pytest_cache
