# Podium developer commands. `make test` is the test command; `make chat` starts the chat on the embedded model.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
UV     := $(BIN)/uv
EXTRAS ?= dev,all

# llama.cpp build options: CPU only, no multimodal (llava/mtmd), server, tools, examples or tests.
LLAMA_CMAKE_ARGS ?= -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_APP=OFF

.PHONY: help venv dev test test-slow test-as-user lint typecheck format clean chat local

help:
	@echo "make chat       set up .venv (with the embedded model) and start podium chat"
	@echo "make test       set up .venv and run lint, type checks and the test suite (heavy tests excluded)"
	@echo "make test-slow  run the heavy tests (local model, browser)"
	@echo "make test-as-user  (root) run the security tests again as an unprivileged user"
	@echo "make format     format the code"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(UV): $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv

venv: $(UV)

dev: venv
	$(UV) pip install --quiet --python $(BIN)/python -e ".[$(EXTRAS)]"

# Compile llama-cpp-python once (about 4-5 minutes on 2 cores), printing each compiled file.
local: venv
	@if $(BIN)/python -c "import llama_cpp" 2>/dev/null; then echo "llama-cpp-python is installed"; else \
	  echo "Compiling llama.cpp for the embedded model (a few minutes; progress below)..."; \
	  CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(BIN)/python -m pip install -v \
	    --disable-pip-version-check "llama-cpp-python>=0.3.7" 2>&1 \
	    | sed -un 's/^ *\(\[[0-9]*\/[0-9]*\]\).* -c \(.*\)$$/\1 \2/p; s/^\(Successfully installed.*\)/\1/p'; \
	  $(BIN)/python -c "import llama_cpp" || { echo "llama-cpp-python failed to build"; exit 1; }; fi

chat: local
	$(UV) pip install --quiet --python $(BIN)/python -e ".[local]"
	$(BIN)/podium chat

lint: dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: dev
	$(BIN)/mypy
	$(BIN)/mypy --strict tests/typing

test: lint typecheck
	$(BIN)/pytest -m "not slow" -q

test-slow: dev local
	$(UV) pip install --quiet --python $(BIN)/python -e ".[$(EXTRAS),local]"
	$(BIN)/pytest -m slow -q; status=$$?; [ $$status -eq 0 ] || [ $$status -eq 5 ]

# The sandbox and file-tool security tests as an unprivileged user (run as root: it creates the user).
test-as-user: dev
	./scripts/test-as-user.sh

format: dev
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
