# Anomaly Guardian: the one interface (docs/architecture.md). `make demo` and `make test` work on a fresh machine.
# Each area keeps its targets in mk/<area>.mk; this file holds the shared install and the entry points.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV_VERSION := 0.13.8
UV := $(VENV)/bin/uv
INSTALLED := $(VENV)/.installed
ENV ?=
export PYTHONDONTWRITEBYTECODE := 1

# Checks that `make test` runs after pytest; area fragments append to it.
TEST_CHECKS :=

include $(sort $(wildcard mk/*.mk))

.PHONY: help install lint format test unit demo bench eval clean

help: ## list targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sort | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

install: $(INSTALLED) ## create .venv with every pinned dependency and the `guardian` command

$(INSTALLED): requirements/dev.txt layers/core/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(UV) pip install --quiet --python $(PY) -r requirements/dev.txt
	$(UV) pip install --quiet --python $(PY) --no-deps -e layers/core
	touch $@

lint: install ## ruff (lint + format check), import contracts (import-linter), mypy on the runtime package
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-logo
	$(VENV)/bin/mypy --config-file pyproject.toml $$($(PY) layers/core/layer_graph.py files)

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

unit: install ## fast tests only (no emulated AWS)
	$(PY) -m pytest tests/unit -q

test: install lint ## every check: lint, all test tiers, IaC checks
	$(PY) -m pytest tests -q
	@for check in $(TEST_CHECKS); do echo "== $$check"; $(MAKE) --no-print-directory $$check; done

clean:
	rm -rf $(VENV) .tools .pytest_cache .ruff_cache .aws-sam sam/.aws-sam build dist
