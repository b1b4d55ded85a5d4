# Burnrate — `make help` lists the targets.
SHELL := /bin/bash
UV_VERSION := 0.13.8
UV := python3 -m uv

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this help
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

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
browser: ## Install Debian's chromium for the page tests if it is missing
	@bash scripts/ensure-chromium.sh

.PHONY: run
run: install services ## Start Burnrate: the five services and a local SMTP sink (Ctrl-C stops)
	$(UV) run --frozen burnrate-dev up

.PHONY: demo
demo: ## Play the 40-hour month against the running stack (start `make run` first)
	$(UV) run --frozen burnrate-dev demo

.PHONY: test
test: install services browser ## Run every test: unit, integration (PostgreSQL, RabbitMQ) and end-to-end
	$(UV) run --frozen pytest

.PHONY: lint
lint: install ## Lint and type-check (ruff; mypy on libs/common, strict, and on the services)
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy libs/common/src
	$(UV) run --frozen mypy services/*/src

.PHONY: bench
bench: install services ## Benchmarks (see bench/ and the README): figures against a baseline
	$(UV) run --frozen python bench/outbox.py
	$(UV) run --frozen python bench/ingest.py --worklogs 200000
	$(UV) run --frozen python bench/reporting.py --contracts 2000 --worklogs 1000000

.PHONY: clean
clean: ## Remove the virtualenv, caches and var/ (logs and received mail)
	rm -rf .venv var .pytest_cache .ruff_cache .mypy_cache
