# The two commands: `make run` and `make test`. Each creates .venv and installs the project when
# it is missing or pyproject.toml is newer than the last install.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format clean bench bubblewrap mutate

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11+ is required (none found on PATH)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP) bubblewrap
	$(BIN)/hbo up

# Commands run under bubblewrap wherever it can start (EXECUTION_SANDBOX=auto). Installed here
# when apt-get is there and we are root; otherwise one clear line says how, and `hbo up` then
# runs commands without the sandbox, saying so at start-up and once in each chat.
bubblewrap:
	@if command -v bwrap >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing bubblewrap (the command sandbox): apt-get install bubblewrap"; \
		{ apt-get install -y -qq bubblewrap >/dev/null 2>&1 \
			|| { apt-get update -qq >/dev/null && apt-get install -y -qq bubblewrap >/dev/null; }; } \
			|| echo "!!! could not install bubblewrap: commands will run WITHOUT the sandbox"; \
	else \
		echo "!!! bubblewrap (bwrap) is not installed: commands will run WITHOUT the sandbox."; \
		echo "!!! Install it: sudo apt-get install bubblewrap (Debian/Ubuntu), sudo dnf install bubblewrap (Fedora)"; \
	fi

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
