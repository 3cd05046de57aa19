# Threadline: `make run` serves console + API on $(PORT) (SQLite by default); `make test` runs every test;
# `make desktop` opens the console in a native window.
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

.PHONY: install run desktop test lint e2e-deps desktop-libs desktop-deps clean

CONVEX_JS := tests/convex_js
CHAT_FRONTEND := examples/chat-frontend
TS_CODEGEN := tests/ts_codegen

install: $(VENV)/.installed $(TOOLS)/.installed $(CONVEX_JS)/node_modules/.installed \
	$(CHAT_FRONTEND)/node_modules/.installed $(TS_CODEGEN)/node_modules/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,desktop]'
	touch $@

$(TOOLS)/.installed:
	mkdir -p $(TOOLS)
	npm install --prefix $(TOOLS) --no-fund --no-audit --loglevel=error bun@$(BUN_VERSION)
	touch $@

# The official Convex client (npm convex, pinned by the lockfile) that the sync tests drive.
$(CONVEX_JS)/node_modules/.installed: $(CONVEX_JS)/package-lock.json
	npm ci --prefix $(CONVEX_JS) --no-fund --no-audit --loglevel=error
	touch $@

# TypeScript, convex and React's types, for tsc on code using `threadline codegen typescript`.
$(TS_CODEGEN)/node_modules/.installed: $(TS_CODEGEN)/package-lock.json
	npm ci --prefix $(TS_CODEGEN) --no-fund --no-audit --loglevel=error
	touch $@

# The example React frontend (Vite, convex, @convex-dev/auth), built by its browser test.
$(CHAT_FRONTEND)/node_modules/.installed: $(CHAT_FRONTEND)/package-lock.json
	npm ci --prefix $(CHAT_FRONTEND) --no-fund --no-audit --loglevel=error
	touch $@

run: install
	$(BIN)/threadline migrate
	$(BIN)/threadline first-run
	$(BIN)/reflex run --env prod --single-port --frontend-port $(PORT) --backend-port $(PORT)

# The desktop window is Qt WebEngine from PyPI; these Debian libraries are what it loads.
DESKTOP_LIBS := libnss3 libxkbcommon0 libxkbcommon-x11-0 libgl1 libegl1 libxcomposite1 \
	libxdamage1 libxrandr2 libxtst6 libasound2 libxshmfence1 libxcb-cursor0 libxcb-icccm4 \
	libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-xinerama0 libxcb-xkb1 \
	libfontconfig1 libdbus-1-3 fonts-dejavu-core
# ... and the desktop tests run it on a virtual screen with a private D-Bus session bus.
DESKTOP_TEST_DEBS := $(DESKTOP_LIBS) xvfb xdotool imagemagick dbus
APT_INSTALL := apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends

desktop-libs:
	@dpkg -s $(DESKTOP_LIBS) >/dev/null 2>&1 || { $(APT_INSTALL) $(DESKTOP_LIBS) >/dev/null; }

desktop: install desktop-libs
	$(BIN)/threadline desktop $(if $(URL),--url $(URL))

# Without root (no apt-get) the desktop tests are skipped, saying what is missing.
desktop-deps:
	@dpkg -s $(DESKTOP_TEST_DEBS) >/dev/null 2>&1 || { $(APT_INSTALL) $(DESKTOP_TEST_DEBS) >/dev/null; } \
		|| echo "warning: could not install $(DESKTOP_TEST_DEBS); the desktop tests will be skipped"

# Browser tests drive Debian's chromium (Playwright cannot download browsers here).
e2e-deps:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# Two pytest runs: the browser tests keep one console server (its deadline watcher, webhook
# sender and live registries) running in-process for their whole session; the other tests swap
# the database under such background work, so they run in a process of their own.
test: install e2e-deps desktop-deps
	$(BIN)/ruff check .
	status=0; \
	$(BIN)/pytest $(PYTEST_ARGS) tests/e2e || status=$$?; \
	$(BIN)/pytest $(PYTEST_ARGS) --ignore=tests/e2e || status=$$?; \
	exit $$status

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check api models app tests

clean:
	rm -rf .web .states
