# Two entry points that work on a fresh machine with only Python 3.10+:
#   make demo   set up .venv, fill the default store with an example RAG app (traces,
#               evaluations, a registered model) and open the dashboard on it
#   make test   set up .venv and run the whole test suite (SQLite, PostgreSQL, MariaDB)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m dashboard.demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check llmtrace evaluators dashboard tests bench
	$(BIN)/ruff format --check llmtrace evaluators dashboard tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
