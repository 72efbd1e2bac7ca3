# Two commands on a fresh clone: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run bytecode test lint format bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# Where the environment forbids writing bytecode (many container images set
# PYTHONDONTWRITEBYTECODE), every launch compiled the app's ~120 modules again (~0.2 s);
# Python still reads .pyc files it did not write, so `make run` writes them first (and so
# does bench/bench_start.py, through `make bytecode`).
APP_SOURCES := gui core main.py

bytecode:
	$(BIN)/python -m compileall -q $(APP_SOURCES)

run: $(STAMP)
	$(if $(PYTHONDONTWRITEBYTECODE),@$(MAKE) -s bytecode)
	$(BIN)/python main.py $(ARGS)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache
