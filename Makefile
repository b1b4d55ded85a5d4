# Burnrate — `make help` lists the targets. PYTEST_ARGS passes arguments to pytest in the
# test targets: `make test-unit PYTEST_ARGS="-k figures -x"`; PYTEST_WORKERS the number of
# workers of the integration tier (2; 0 runs it in one process).
SHELL := /bin/bash
UV_VERSION := 0.13.8
UV := python3 -m uv

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this help
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-17s %s\n", $$1, $$2}'

.PHONY: install
install: ## Install uv and every package of the workspace (from uv.lock) into .venv
	@python3 -m uv --version 2>/dev/null | grep -q "$(UV_VERSION)" || python3 -m pip install --quiet "uv==$(UV_VERSION)"
	$(UV) sync --frozen --all-packages
	@# The reporting pages' chart and CSS packages (served by the service itself, no CDN).
	@web=services/reporting/web; \
	if [ "$$web/node_modules/.package-lock.json" -nt "$$web/package-lock.json" ]; then :; \
	elif command -v npm >/dev/null; then npm ci --prefix "$$web" --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: the reporting pages will be served without their charts" >&2; fi

.PHONY: services
services: ## Start the local PostgreSQL and RabbitMQ if they are not running
	@bash scripts/ensure-services.sh

.PHONY: browser
browser: ## Install Debian's chromium and poppler-utils (page and PDF tests) if missing
	@bash scripts/ensure-chromium.sh

.PHONY: run
run: install services ## Start Burnrate: the seven services and a local SMTP sink (Ctrl-C stops)
	$(UV) run --frozen burnrate-dev up

.PHONY: demo
demo: ## Play the 40-hour month against the running stack (start `make run` first)
	$(UV) run --frozen burnrate-dev demo

.PHONY: test
test: install services browser ## Run every test once: the unit tier first, then integration and end-to-end
	bash scripts/test-tiers.sh all $(PYTEST_ARGS)

.PHONY: test-unit
test-unit: install ## Unit tests only: pure domain, no servers, seconds (pytest -m unit)
	bash scripts/test-tiers.sh unit $(PYTEST_ARGS)

.PHONY: test-integration
test-integration: install services browser ## The other tests: PostgreSQL, RabbitMQ, the services as processes
	bash scripts/test-tiers.sh integration $(PYTEST_ARGS)

.PHONY: test-scale
test-scale: install services ## Scale-out tests: every service as replicas, a 3-node RabbitMQ cluster (~8 min)
	bash scripts/test-tiers.sh scale $(PYTEST_ARGS)

.PHONY: lint
lint: install ## Lint (.pre-commit-config.yaml): ruff, ruff format, mypy strict, docs/asyncapi.yaml fresh
	$(UV) run --frozen pre-commit run --all-files

.PHONY: format
format: install ## Apply ruff's fixes and format (make lint only checks)
	$(UV) run --frozen ruff check --fix .
	$(UV) run --frozen ruff format .

.PHONY: asyncapi
asyncapi: install ## Write docs/asyncapi.yaml (every event, its payload, who sends and receives it)
	$(UV) run --frozen burnrate-dev asyncapi

.PHONY: chaos
chaos: install ## The fault run: kills, broker and database restarts, SMTP down; then the exact truth (~8 min)
	$(UV) run --frozen burnrate-dev chaos

.PHONY: chaos-short
chaos-short: install ## The fault run's few-minute variant (CI runs it)
	$(UV) run --frozen burnrate-dev chaos --short

.PHONY: bench
bench: install services ## Benchmarks (see docs/performance.md): figures against a baseline
	$(UV) run --frozen python bench/outbox.py
	$(UV) run --frozen python bench/ingest.py --worklogs 200000
	$(UV) run --frozen python bench/reporting.py --contracts 2000 --worklogs 1000000

.PHONY: clean
clean: ## Remove the virtualenv, caches and var/ (logs and received mail)
	rm -rf .venv var .pytest_cache .ruff_cache .mypy_cache
