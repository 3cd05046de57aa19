# Threadline: `make run` serves console + API on $(PORT) (SQLite by default); `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
PORT ?= 3000
export PORT
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
TOOLS := $(CURDIR)/.tools
BUN_VERSION := 1.4.4

# Reflex builds its frontend with bun; its own installer downloads from the internet, so bun comes
# from the npm registry instead, and Reflex is told to use it and to make no outbound checks.
export PATH := $(TOOLS)/node_modules/.bin:$(BIN):$(PATH)
export REFLEX_USE_SYSTEM_BUN := 1
export REFLEX_CHECK_LATEST_VERSION := false
export REFLEX_TELEMETRY_ENABLED := false
export NPM_CONFIG_REGISTRY ?= $(shell npm config get registry 2>/dev/null || echo https://registry.npmjs.org/)

# With REDIS_URL set (and DATABASE_URL on PostgreSQL), Reflex keeps console state in Redis and
# serves with several workers; Threadline relays its events between them through Redis too.
ifdef REDIS_URL
export REFLEX_REDIS_URL := $(REDIS_URL)
endif

.PHONY: install run test lint e2e-deps clean

CONVEX_JS := tests/convex_js
CHAT_FRONTEND := examples/chat-frontend

install: $(VENV)/.installed $(TOOLS)/.installed $(CONVEX_JS)/node_modules/.installed \
	$(CHAT_FRONTEND)/node_modules/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

$(TOOLS)/.installed:
	mkdir -p $(TOOLS)
	npm install --prefix $(TOOLS) --no-fund --no-audit --loglevel=error bun@$(BUN_VERSION)
	touch $@

# The official Convex client (npm convex, pinned by the lockfile) that the sync tests drive.
$(CONVEX_JS)/node_modules/.installed: $(CONVEX_JS)/package-lock.json
	npm ci --prefix $(CONVEX_JS) --no-fund --no-audit --loglevel=error
	touch $@

# The example React frontend (Vite, convex, @convex-dev/auth), built by its browser test.
$(CHAT_FRONTEND)/node_modules/.installed: $(CHAT_FRONTEND)/package-lock.json
	npm ci --prefix $(CHAT_FRONTEND) --no-fund --no-audit --loglevel=error
	touch $@

run: install
	$(BIN)/threadline migrate
	$(BIN)/threadline first-run
	$(BIN)/reflex run --env prod --single-port --frontend-port $(PORT) --backend-port $(PORT)

# Browser tests drive Debian's chromium (Playwright cannot download browsers here).
e2e-deps:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test: install e2e-deps
	$(BIN)/ruff check .
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check api models app tests

clean:
	rm -rf .web .states
