# Sajag: `make run` starts the helpline, `make test` runs the suite. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.sajag-installed
DOMAINS := sms telegram alerts
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help venv native run test lint fmt locales compile-locales bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,lint]'
	touch $(STAMP)

venv: $(STAMP) ## Create .venv and install the project with its test and lint extras

# The triage hot path compiled with mypyc (lint extras). Best effort: without a C
# compiler triage runs the same code as plain Python; a stale build is never used.
NATIVE := triage/_native/SOURCES.json
$(NATIVE): $(STAMP) $(wildcard triage/*.py)
	@mkdir -p var
	@if $(BIN)/python -c 'from triage.native import build; build()' >var/native-build.log 2>&1; \
	then echo "triage: compiled with mypyc"; \
	else echo "triage: runs as plain Python (mypyc build failed, see var/native-build.log)"; fi

native: $(NATIVE) ## Compile the triage engine with mypyc (optional: plain Python otherwise)

compile-locales: $(STAMP)
	@for d in $(DOMAINS); do \
	  if ls locales/*/LC_MESSAGES/$$d.po >/dev/null 2>&1; then \
	    $(BIN)/pybabel -q compile -d locales -D $$d || exit 1; \
	  fi; \
	done

locales: $(STAMP) ## Extract, update and compile the gettext catalogs (Babel)
	@for d in $(DOMAINS); do \
	  $(BIN)/pybabel -q extract -F locales/babel-$$d.cfg -k _ -k gettext -k ngettext:1,2 -k lazy_gettext \
	    -k __ --no-location --sort-output -w 200 -o locales/$$d.pot . || exit 1; \
	  $(BIN)/pybabel -q update -D $$d -i locales/$$d.pot -d locales --no-fuzzy-matching -w 200 || exit 1; \
	done
	@$(MAKE) --no-print-directory compile-locales

run: venv compile-locales native ## Start Sajag (embedded Redis unless SAJAG_REDIS_URL is set)
	$(BIN)/sajag run

test: venv compile-locales native ## Run the test suite (starts its own Redis on a free port)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: venv ## ruff, format check, mypy --strict, import contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy bot handlers triage workers
	$(BIN)/lint-imports

fmt: venv ## Format the code
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: venv compile-locales native ## Benchmarks: triage, SMS webhook, routing (figures go in the README)
	$(BIN)/python -m pip install -q -e '.[bench]'
	$(BIN)/python -m bench.triage
	$(BIN)/python -m bench.sms
	$(BIN)/python -m bench.routing

clean: ## Remove the venv, caches and local data
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache var build *.egg-info triage/_native
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
