# Thin wrappers over the commands the README shows.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
PORT ?= 5000

.PHONY: ferretdb run serve serve-gevent test fuzz test-browser test-integration bench bench-phases bench-quick bench-profile install clean vendor-js

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

## Development server: embedded database, HTTP + WebSocket on 127.0.0.1:$(PORT).
run: install
	PORT=$(PORT) $(PY) wsgi.py

## Production server (gunicorn, one eventlet worker, APP_ENV=production): needs MONGO_URI and
## JWT_SECRET_KEY in the environment or .env (it refuses to start without), and CORS_ORIGINS
## (exact https origins) when the client is served from another origin.
serve: install
	APP_ENV=production $(VENV)/bin/gunicorn -k eventlet -w 1 -b 0.0.0.0:$(PORT) wsgi:app

serve-gevent: install
	APP_ENV=production ASYNC_MODE=gevent $(VENV)/bin/gunicorn -k gevent -w 1 -b 0.0.0.0:$(PORT) wsgi:app

test: install
	$(PY) -m pytest

## The fuzzers alone, longer: Schemathesis on the live server, Hypothesis on the socket events
## (`make test` runs them too, with FUZZ_EXAMPLES=25 per operation).
FUZZ_EXAMPLES ?= 200
fuzz: install
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -m fuzz

## The real-browser test alone (needs /usr/bin/chromium and `npm ci`; skipped without them).
test-browser: install
	$(PY) -m pytest -m browser

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

## Refresh the web client's copy of socket.io-client from node_modules (the version package.json pins).
vendor-js: node_modules/.package-lock.json
	mkdir -p chatapp/web/vendor
	cp node_modules/socket.io-client/dist/socket.io.min.js chatapp/web/vendor/socket.io.min.js
	cp node_modules/socket.io-client/LICENSE chatapp/web/vendor/socket.io-client.LICENSE

## Benchmarks (docs/benchmarks.md): on a real database, FerretDB on PostgreSQL started here (needs
## `make ferretdb`), or MONGO_URI=mongodb://... when set; BENCH_ARGS passes options (-h).
## make bench: one server alone, one then two behind nginx with Redis (python -m bench.scale, ~4 min).
bench: install
	$(PY) -m bench.scale $(BENCH_ARGS)

## The six-phase harness on one server per worker class, eventlet then gevent (python -m bench).
bench-phases: install
	$(PY) -m bench $(BENCH_ARGS)

bench-quick: install
	$(PY) -m bench --quick $(BENCH_ARGS)

bench-profile: install
	$(PY) -m bench --profile $(BENCH_ARGS)

## FerretDB v1.24.2 (deploy/ferretdb/go.mod), built once per machine into ~/.cache/chatapp; needs Go.
ferretdb:
	bash scripts/ferretdb-build.sh

clean:
	rm -rf $(VENV) .pytest_cache
