# Entry points. `make demo` and `make test` run `make setup` themselves.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
ENV := . scripts/env.sh &&
PYTEST_ARGS ?=

.PHONY: setup setup-tools demo test lint sanity unit integration molecule bench lab-up lab-down lab-status build

setup:
	scripts/setup.sh

setup-tools:
	scripts/setup.sh tools

demo: setup
	scripts/demo.sh

lab-up: setup
	tests/lab/lab up

lab-down:
	tests/lab/lab down

lab-status:
	tests/lab/lab status

test: setup
	$(MAKE) --no-print-directory lint sanity
	$(ENV) tests/lab/lab up
	$(ENV) molecule test --all
	$(ENV) pytest -p no:cacheprovider tests/unit $(PYTEST_ARGS)
	$(MAKE) --no-print-directory integration

lint:
	$(ENV) scripts/lint.sh

sanity:
	$(ENV) scripts/sanity.sh

unit:
	$(ENV) pytest -p no:cacheprovider tests/unit $(PYTEST_ARGS)

molecule:
	$(ENV) molecule test --all

# Lab tests run PYTEST_WORKERS at a time, a test file per worker (each file owns its namespaces, containers and
# databases); those marked serial change what the others use and run alone afterwards.
PYTEST_WORKERS ?= 3
integration:
	$(ENV) pytest -p no:cacheprovider -n $(PYTEST_WORKERS) --dist loadfile -m "not serial" --durations=20 tests/integration $(PYTEST_ARGS)
	$(ENV) pytest -p no:cacheprovider -m serial --durations=10 tests/integration $(PYTEST_ARGS)

bench: setup
	$(ENV) bash scripts/demo.sh
	$(ENV) bench/run.sh

build:
	$(ENV) ansible-galaxy collection build --force --output-path tests/output
