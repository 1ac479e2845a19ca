# Two commands set everything up: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test lint typecheck unit clean

run: $(VENV)/.run
	$(BIN)/orderpass db upgrade
	$(BIN)/orderpass serve --dev --host $(HOST) --port $(PORT)

test: $(VENV)/.test lint typecheck unit

lint: $(VENV)/.test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.test
	$(BIN)/mypy

unit: $(VENV)/.test
	$(BIN)/pytest

$(VENV)/.venv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	touch $@

$(VENV)/.run: pyproject.toml $(VENV)/.venv
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.test: pyproject.toml $(VENV)/.venv
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.run

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
