# The two commands: `make run` and `make test`. Each creates .venv and installs the project when
# it is missing or pyproject.toml is newer than the last install.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format clean bench mutate

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11+ is required (none found on PATH)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/hbo up

test: $(STAMP)
	$(MAKE) --no-print-directory lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Mutation testing of the promise-holding modules with their fast tests (docs/mutation.md); not
# part of `make test`. MUTATE_ARGS: module names, --keep, --report, --max-children N.
mutate: $(STAMP)
	$(BIN)/python tests/mutation/run.py $(MUTATE_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/jobs.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache mutants
