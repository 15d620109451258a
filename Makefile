# signalhub — `make run` starts everything, `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
export SIGNALHUB_DATA_DIR ?= $(CURDIR)/.data

.PHONY: install run cluster test lint bench web clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "signalhub needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,redis,nats,documents,test,bench,lint]'
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP)

# npm ci only when package-lock.json changed since the last install (npm keeps a copy in node_modules).
NPM_CI = [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund --silent

web: $(STAMP)
	@if [ -f web/package.json ]; then \
	  if command -v npm >/dev/null 2>&1; then \
	    (cd web && $(NPM_CI) && npm run build --silent) || exit 1; \
	  else \
	    echo "note: Node.js/npm not found: the inbox page at / is not built (the API, WebSocket and CLI work without it)."; \
	  fi; \
	fi

run: $(STAMP) web
	$(BIN)/signalhub run

# Three API instances behind HAProxy (deploy/haproxy.cfg), a broker, PostgreSQL and Temporal
# on 127.0.0.1; Ctrl-C stops them all. CLUSTER_ARGS: --port N, --broker nats|URL, --no-temporal.
cluster: $(STAMP) web
	$(BIN)/python -m signalhub.dev.cluster $(CLUSTER_ARGS)

test: $(STAMP)
	@if command -v npm >/dev/null 2>&1; then \
	  (cd clients/typescript && $(NPM_CI) && npm test --silent) || exit 1; \
	else \
	  echo "note: Node.js/npm not found: the TypeScript client's tests are skipped (and the browser tests skip)."; \
	fi
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

# Linters and type checkers: ruff over src/, bench/ and tests/, mypy over src/ (configured in pyproject.toml), tsc --strict
# over the TypeScript client and the web page. Zero findings is the bar.
lint: $(STAMP)
	$(BIN)/ruff check src bench tests
	$(BIN)/mypy
	@if command -v npm >/dev/null 2>&1; then \
	  (cd clients/typescript && $(NPM_CI) && npx --no-install tsc --noEmit --strict -p tsconfig.json) || exit 1; \
	  (cd web && $(NPM_CI) && npx --no-install tsc --noEmit --strict -p tsconfig.json) || exit 1; \
	else \
	  echo "note: Node.js/npm not found: tsc --strict is skipped."; \
	fi

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .data .pytest_cache test-artifacts
