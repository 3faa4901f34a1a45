# Wasl's everyday commands. A newcomer needs two: `make run` and `make test`.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Inside the venv, so deleting .venv also forgets that it was installed.
STAMP := $(VENV)/.installed
PO_FILES := $(wildcard locales/*/LC_MESSAGES/messages.po)
MO_FILES := $(PO_FILES:.po=.mo)
BABEL_KEYWORDS := -k N_ -k _ -k plural:1,2
PYTEST_ARGS ?=
# `make test` runs the tests on every core (pytest-xdist, at most 8 workers); TEST_WORKERS=0 runs
# them in this one process. `worksteal`: a worker that runs out takes tests queued for another,
# so the longest tests (started first, tests/conftest.py) do not leave one worker busy alone.
TEST_WORKERS ?= auto
# Python keeps compiled modules in __pycache__ (ignored by git) even where the environment says
# not to write them: otherwise every test worker and every bot a test starts compiles every
# module again, and pytest rewrites every test module's asserts again (about 6 CPU-seconds per
# worker, and a third of a second per bot started).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: help install lock run chat serve migrate test lint format bench messages compile-messages clean deploy-check

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-17s %s\n", $$1, $$2}'

install: $(STAMP) $(MO_FILES) ## create .venv if needed, install Wasl and its dev tools, compile catalogs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Exact versions (with hashes) from the lock, then Wasl itself without resolving anything.
$(STAMP): requirements-dev.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@

# The lock is resolved against PyPI alone: the machine's pip configuration (extra indexes,
# local wheels, constraints) is left out so every machine resolves the same versions.
LOCK_ENV := PIP_CONFIG_FILE=/dev/null CUSTOM_COMPILE_COMMAND="make lock"
LOCK_ARGS := --quiet --generate-hashes --strip-extras --allow-unsafe --no-emit-index-url \
	--no-emit-find-links --index-url https://pypi.org/simple

lock: | $(BIN)/python ## re-resolve requirements.lock and requirements-dev.lock from pyproject.toml
	$(LOCK_ENV) $(BIN)/python -m pip install --quiet "pip-tools>=7.4,<8"
	$(LOCK_ENV) $(BIN)/pip-compile $(LOCK_ARGS) --upgrade -o requirements.lock pyproject.toml
	$(LOCK_ENV) $(BIN)/pip-compile $(LOCK_ARGS) --upgrade --extra dev \
		-o requirements-dev.lock pyproject.toml

# Compiled catalogs are built here, never committed.
locales/%/LC_MESSAGES/messages.mo: locales/%/LC_MESSAGES/messages.po | $(STAMP)
	$(BIN)/pybabel compile -d locales -D messages -l $* --statistics

run: install ## migrate, then run on Telegram if TELEGRAM_BOT_TOKEN is set, else in the terminal
	$(BIN)/wasl run

chat: install ## the bot in the terminal (no network)
	$(BIN)/wasl chat

serve: install ## webhooks and /healthz on WASL_HOST:WASL_PORT
	$(BIN)/wasl serve

migrate: install ## bring the database schema up to date
	$(BIN)/wasl migrate

test: lint ## lint and type-check, then every test (PYTEST_ARGS="-k …" to narrow)
	$(BIN)/pytest -q -n $(TEST_WORKERS) --maxprocesses 8 --dist worksteal $(PYTEST_ARGS)

# Where no Docker daemon answers it says so and exits 0; docs/deployment.md has the details.
deploy-check: install ## build the image, bring up deploy/compose.yaml, send a webhook end to end
	$(BIN)/python -m tests.deploy.compose_check

lint: install ## ruff check, ruff format --check, mypy, the layers' import contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy bot handlers storage
	$(BIN)/lint-imports

format: install ## fix what ruff can fix, then format
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install ## run every benchmark in bench/
	@set -e; for script in bench/*.py; do echo "== $$script"; $(BIN)/python "$$script"; done

messages: install ## extract strings to locales/messages.pot and merge them into every catalog
	$(BIN)/pybabel extract -F babel.cfg $(BABEL_KEYWORDS) --add-comments=Translators: \
		--sort-output -o locales/messages.pot .
	@if compgen -G 'locales/*/LC_MESSAGES/messages.po' >/dev/null; then \
		$(BIN)/pybabel update -i locales/messages.pot -d locales -D messages --ignore-obsolete \
			--no-fuzzy-matching; \
	else echo "no catalogs yet: pybabel init -i locales/messages.pot -d locales -D messages -l LANG"; fi

compile-messages: install ## compile every catalog (.po → .mo), even unchanged ones
	@if compgen -G 'locales/*/LC_MESSAGES/messages.po' >/dev/null; then \
		$(BIN)/pybabel compile -d locales -D messages --statistics; \
	else echo "no catalogs to compile"; fi

clean: ## remove caches, build output and compiled catalogs (keeps .venv)
	rm -rf .pytest_cache .mypy_cache .ruff_cache .import_linter_cache build dist *.egg-info
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +
	rm -f locales/*/LC_MESSAGES/messages.mo
