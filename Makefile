# Thin wrappers over the commands the README shows.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
PORT ?= 5000

.PHONY: run serve serve-gevent test test-integration bench install clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

## Development server: embedded database, HTTP + WebSocket on 127.0.0.1:$(PORT).
run: install
	PORT=$(PORT) $(PY) wsgi.py

## Production-style server (gunicorn, one eventlet worker); set MONGO_URI and JWT_SECRET_KEY.
serve: install
	$(VENV)/bin/gunicorn -k eventlet -w 1 -b 0.0.0.0:$(PORT) wsgi:app

serve-gevent: install
	ASYNC_MODE=gevent $(VENV)/bin/gunicorn -k gevent -w 1 -b 0.0.0.0:$(PORT) wsgi:app

test: install
	$(PY) -m pytest

clean:
	rm -rf $(VENV) .pytest_cache
