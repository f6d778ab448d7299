# Podium developer commands. `make test` is the test command; `make chat` starts the chat on the embedded model.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
UV     := $(BIN)/uv
EXTRAS ?= dev,cli

.PHONY: help venv dev test test-slow lint typecheck format clean

help:
	@echo "make test       set up .venv and run lint, type checks and the test suite (heavy tests excluded)"
	@echo "make test-slow  run the heavy tests (local model, browser)"
	@echo "make format     format the code"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(UV): $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv

venv: $(UV)

dev: venv
	$(UV) pip install --quiet --python $(BIN)/python -e ".[$(EXTRAS)]"

lint: dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: dev
	$(BIN)/mypy
	$(BIN)/mypy --strict tests/typing

test: lint typecheck
	$(BIN)/pytest -m "not slow" -q

test-slow: dev
	$(BIN)/pytest -m slow -q; status=$$?; [ $$status -eq 0 ] || [ $$status -eq 5 ]

format: dev
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
