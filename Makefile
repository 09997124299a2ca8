# Two entry points matter: `make up` (the whole local stack) and `make test` (every check).
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3

.PHONY: up down status test lint unit integration e2e bench bench-sync bench-memory bench-workers bench-leaderboards bench-webhooks bench-analytics

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

up: $(BIN)/.installed  ## start Kafka, PostgreSQL, the api and the processor; prints the API's address
	$(BIN)/laurel up $(UP_FLAGS)

down: $(BIN)/.installed
	$(BIN)/laurel down

status: $(BIN)/.installed
	$(BIN)/laurel status

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/mypy

node_modules/.package-lock.json: package.json package-lock.json  ## the Node SDK and kafkajs, as locked
	npm ci --no-audit --no-fund

KUSTOMIZE_VERSION := v5.7.1
TOOLS := $(CURDIR)/.tools

$(TOOLS)/kustomize:  ## kustomize from the Go module proxy, to render deploy/k8s in the tests
	GOBIN=$(TOOLS) go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)

test: lint node_modules/.package-lock.json $(TOOLS)/kustomize  ## lint, type-check, then unit, integration and end-to-end tests (Python and Node SDKs) against real Kafka and Postgres
	$(BIN)/pytest

unit: $(BIN)/.installed
	$(BIN)/pytest tests/unit

bench: $(BIN)/.installed  ## every figure of the README's performance section, with its baselines, in one run
	$(BIN)/python -m bench.pipeline

bench-sync: $(BIN)/.installed  ## where a lone synchronous event's time goes: Kafka's ack, a plain consumer, the processor's batch and NOTIFY
	$(BIN)/python -m bench.sync_path

bench-memory: $(BIN)/.installed  ## the processor's RSS while it sees 1,000,000 distinct users
	$(BIN)/python -m bench.memory

bench-workers: $(BIN)/.installed  ## the processor with 1, 2 and 3 workers in one group on a 6-partition topic
	$(BIN)/python -m bench.workers

bench-webhooks: $(BIN)/.installed  ## deliveries/s from a backlog of 20,000 messages vs a plain httpx POST loop
	$(BIN)/python -m bench.webhooks

bench-analytics: $(BIN)/.installed  ## the analytics overview and retention at 100,000 users x 400 days vs SQL over the daily rows
	$(BIN)/python -m bench.analytics

bench-leaderboards: $(BIN)/.installed  ## rankings at 1,000 and 1,000,000 participants vs naive SQL
	$(BIN)/python -m bench.leaderboards
