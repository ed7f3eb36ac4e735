# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TACK_HOST ?= 127.0.0.1
TACK_PORT ?= 8700
export TACK_HOST TACK_PORT
PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/postgres
REDIS_TEST_URL ?= redis://127.0.0.1:6379/15
WEB_SOURCES := $(shell find web/src web/public -type f 2>/dev/null) web/index.html web/vite.config.ts web/tsconfig.json

.PHONY: run test install web chromium media-server migrate demo serve test-sqlite test-postgres test-web lint clean

run: install web ## install, build, migrate, seed the demo and serve
	$(BIN)/tack migrate
	$(BIN)/tack demo
	$(BIN)/tack serve --no-migrate --demo-hint

test: install web chromium media-server ## the whole suite: web unit tests, Python on SQLite and on PostgreSQL + Redis, contract and browser tests
	$(MAKE) --no-print-directory test-web
	$(MAKE) --no-print-directory test-sqlite
	$(MAKE) --no-print-directory test-postgres

test-sqlite: install
	@echo "== API, integration, contract and browser tests on SQLite =="
	TACK_TEST_DB=sqlite $(BIN)/pytest -q -p no:cacheprovider

test-postgres: install
	@echo "== API and integration tests on PostgreSQL + Redis =="
	TACK_TEST_DB=postgres TACK_TEST_PG_URL=$(PG_TEST_URL) TACK_REDIS_URL=$(REDIS_TEST_URL) \
		$(BIN)/pytest -q -p no:cacheprovider -m "not e2e"

test-web: web/node_modules/.installed
	@echo "== Web client unit tests =="
	cd web && npm test --silent

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]' -c constraints.txt
	@touch $@

web: web/dist/index.html

web/node_modules/.installed: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

web/dist/index.html: web/node_modules/.installed $(WEB_SOURCES)
	cd web && npm run build --silent

chromium: ## browser tests drive Debian's Chromium; install it when missing
	@test -x /usr/bin/chromium || (echo "Installing Chromium for the browser tests..." && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null)

media-server: ## the media tests drive a real Janus (and ffmpeg for broadcasts); install them when missing
	@(test -x /usr/bin/janus && test -x /usr/bin/ffmpeg) || (echo "Installing Janus and ffmpeg for the media tests..." && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq janus ffmpeg >/dev/null)

migrate: install
	$(BIN)/tack migrate

demo: install
	$(BIN)/tack demo

serve: install
	$(BIN)/tack serve

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) web/node_modules web/dist
