# The front door for every routine task. `make run` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: run test lint format migrate demo bench assets clean help

help:
	@echo "make run      start the service on http://127.0.0.1:8080 (SQLite, mail to files, Jitsi)"
	@echo "make test     run the whole test suite"
	@echo "make lint     ruff check, ruff format --check, mypy (strict; tests, bench too), lint-imports"
	@echo "make format   ruff format and fix"
	@echo "make migrate  bring the database schema up to date"
	@echo "make demo     load a realistic sample caseload"
	@echo "make bench    run the benchmarks and print their ratios"
	@echo "make assets   rebuild the GOV.UK Frontend styles (needs Node)"
	@echo "make clean    remove the virtualenv and local data"

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,dev]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/orchestrator serve

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrate: $(STAMP)
	$(BIN)/orchestrator migrate

demo: $(STAMP)
	$(BIN)/orchestrator demo

bench: $(STAMP)
	$(BIN)/python -m bench

# Rebuild orchestrator/web/static/app.css from GOV.UK Frontend (needs Node; the output is committed).
assets:
	sh scripts/build-assets.sh

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache .import_linter_cache .hypothesis
