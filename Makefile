# Two commands set everything up: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

CHROMIUM ?= /usr/bin/chromium

.PHONY: run test lint typecheck unit chromium screenshot clean

run: $(VENV)/.run
	$(BIN)/orderpass db upgrade
	$(BIN)/orderpass serve --dev --host $(HOST) --port $(PORT)

test: $(VENV)/.test chromium lint typecheck unit

lint: $(VENV)/.test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.test
	$(BIN)/mypy

# Four workers on two cores: most of the suite waits on servers, sockets and Chromium. With two,
# the run used 0.97 of one core and took 18:44 (2026-12-02, the 2-core AMD host); with four,
# 1.2 cores and 14:29-16:18, every test passing. `pytest tests/test_x.py` alone runs in one process.
unit: $(VENV)/.test
	$(BIN)/pytest -n 4

# The kitchen display tests drive Debian's Chromium; install it where we can (root on Debian).
chromium:
	@if [ -x "$(CHROMIUM)" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian's chromium for the kitchen display tests"; \
	  apt-get install -y -q chromium >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; \
	else echo "no $(CHROMIUM), and no root apt-get to install it: the browser tests will skip"; fi

# The README's pictures of the kitchen display (a busy board, a station, the ready board, the insights), from the real pages.
screenshot: $(VENV)/.test chromium
	$(BIN)/python -m tests.screenshot static

$(VENV)/.venv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	touch $@

$(VENV)/.run: pyproject.toml $(VENV)/.venv | node_modules/.installed
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.test: pyproject.toml $(VENV)/.venv | node_modules/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.run

# GraphiQL's files (served at /graphiql) come from npm, exactly as package-lock.json pins them;
# reinstalled only when it changes. A box without npm still runs, and /graphiql says what is missing.
node_modules/.installed: package-lock.json
	@if command -v npm >/dev/null; then npm ci --no-audit --no-fund && touch $@; \
	else echo "no npm: GraphiQL at /graphiql answers 503 until \`npm ci\` runs here"; fi

clean:
	rm -rf $(VENV) node_modules .mypy_cache .pytest_cache .ruff_cache
