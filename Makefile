# The front door for every routine task. `make run` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: run test lint format migrate demo bench assets translations clean help

help:
	@echo "make run      start the service on http://127.0.0.1:8080 (SQLite, mail to files, Jitsi)"
	@echo "make test     run the whole test suite"
	@echo "make lint     ruff check, ruff format --check, mypy (strict; tests, bench too), lint-imports"
	@echo "make format   ruff format and fix"
	@echo "make migrate  bring the database schema up to date"
	@echo "make demo     load a realistic sample caseload"
	@echo "make bench    run the benchmarks and print their ratios"
	@echo "make assets   rebuild the GOV.UK Frontend styles (needs Node)"
	@echo "make translations  extract the words people read and update the Polish and Urdu catalogues"
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

# The words people read: extract them from code and templates, then merge into each language's
# catalogue (.po, committed; compiled in memory at start-up, so nothing else to build).
LOCALES := orchestrator/locale
translations: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k N_ --no-wrap --sort-by-file \
		--project="Mediation Orchestrator" -o $(LOCALES)/messages.pot .
	$(BIN)/pybabel update -i $(LOCALES)/messages.pot -d $(LOCALES) -D messages --no-wrap \
		--ignore-obsolete --no-fuzzy-matching

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache .import_linter_cache .hypothesis
