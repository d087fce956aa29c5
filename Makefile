# newsstream — every target a README command relies on.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
DATA ?= ../shared/data
STACK := deploy/local/stack.sh
# The local Elasticsearch is a single node: replicas could never be assigned there.
export NEWSSTREAM_INDEX_REPLICAS ?= 0

.PHONY: install up down status setup demo test test-faults unit integration lint typecheck eval bench clean schemas lock chart-tools

# The venv is rebuilt when pyproject.toml changes.
install: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

up: install
	bash $(STACK) up
	$(BIN)/newsstream setup

down:
	bash $(STACK) down

status:
	bash $(STACK) status

demo: up
	$(PY) -m streams.devtools.demo

lint: install
	$(BIN)/ruff check streams tests bench training
	$(BIN)/ruff format --check streams tests bench training
	$(BIN)/hadolint deploy/docker/Dockerfile

# The image's dependencies, exact versions with hashes, for the platform of its base image.
lock: install
	$(BIN)/uv pip compile pyproject.toml deploy/docker/build-requirements.in --generate-hashes \
		--python-version 3.11 --python-platform x86_64-manylinux_2_28 \
		--custom-compile-command "make lock" -o deploy/docker/requirements.lock

# Helm and the operators' CRD schemas for the chart tests (deploy/helm/tools.sh).
chart-tools: $(VENV)/share/crds/.complete
$(VENV)/share/crds/.complete: deploy/helm/tools.sh | install
	bash deploy/helm/tools.sh $(VENV)
	touch $@

typecheck: install
	$(BIN)/mypy

# schemas/*.schema.json from the models in streams/messages/models.py (never edit by hand).
schemas: install
	$(PY) -m streams.messages.schema --out schemas

unit: install chart-tools
	VENV=$(VENV) bash .ci/pytest.sh tests/unit

integration: up
	VENV=$(VENV) bash .ci/pytest.sh tests/integration -m "not faults"

test: lint typecheck chart-tools up
	VENV=$(VENV) bash .ci/pytest.sh tests -m "not faults"

# The fault suite (tests/faults): kills, freezes and restarts real servers and workers, so
# it runs on its own, after `make test` in CI.
test-faults: up
	VENV=$(VENV) bash .ci/pytest.sh tests/faults -m faults

eval: install
	$(PY) bench/eval.py --data $(DATA) --out bench/results/eval.json

# BENCH_ARGS: more bench/run.py flags, e.g. "--only e2e --sustain-seconds 60" (a short trial).
bench: up
	$(PY) bench/run.py --data $(DATA) --out bench/results $(BENCH_ARGS)

clean: down
	rm -rf .stack $(VENV)
