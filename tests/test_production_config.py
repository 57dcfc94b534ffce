"""Production cannot be configured into danger, and development cannot be exposed to a network."""

import os
import subprocess
import sys

import pytest

from chatapp import db
from chatapp.app import create_app
from config import ProductionConfig, config_from_env
from tests.helpers.live_server import ROOT, free_port

SECRET = "production-secret-key-that-is-long-enough-0123456789"


class Production(ProductionConfig):
    JWT_SECRET_KEY = SECRET
    MONGO_URI = "mongodb://127.0.0.1:1/chatapp"
    ASYNC_MODE = "threading"
    COOKIE_SECURE = True
    CORS_ORIGINS = ["https://chat.example.com"]


@pytest.fixture(autouse=True)
def no_database(monkeypatch):
    # These apps are built and never asked anything: skip connecting to their database.
    monkeypatch.setattr(db, "init_app", lambda app: None)


@pytest.mark.parametrize(
    "origin",
    [
        "*",
        "https://*.example.com",
        "https://chat\\.example\\.com",
        "http://chat.example.com",
        "http://localhost:5173",
        "https://chat.example.com/app",
        "null",
    ],
)
def test_production_refuses_origins_that_let_other_pages_in(origin):
    with pytest.raises(RuntimeError, match="CORS_ORIGINS") as error:
        create_app(Production, CORS_ORIGINS=["https://chat.example.com", origin])
    assert repr(origin) in str(error.value)


def test_production_accepts_exact_https_origins_and_defaults_to_none():
    app = create_app(Production, CORS_ORIGINS=["https://chat.example.com", "https://a.b:8443"])
    assert app.config["CORS_ORIGINS"] == ["https://chat.example.com", "https://a.b:8443"]
    # Unset, production allows no other origin at all (not development's localhost list).
    class ProductionDefaults(ProductionConfig):
        JWT_SECRET_KEY = SECRET
        MONGO_URI = "mongodb://127.0.0.1:1/chatapp"
        ASYNC_MODE = "threading"

    if not os.environ.get("CORS_ORIGINS"):
        assert create_app(ProductionDefaults).config["CORS_ORIGINS"] == []


def test_production_refuses_a_cookie_that_travels_over_plain_http():
    with pytest.raises(RuntimeError, match="COOKIE_SECURE=false is refused"):
        create_app(Production, COOKIE_SECURE=False)


def test_the_testing_configuration_cannot_be_chosen_from_the_environment(monkeypatch):
    # Its secret is published in config.py: a server running it accepts forged tokens.
    monkeypatch.setenv("APP_ENV", "testing")
    with pytest.raises(RuntimeError, match="APP_ENV=testing is refused"):
        config_from_env()
    monkeypatch.setenv("APP_ENV", "production")
    assert config_from_env() is ProductionConfig


def _env(**overrides):
    env = {
        **os.environ,
        "JWT_SECRET_KEY": "",
        "MONGO_URI": "",
        "CORS_ORIGINS": "",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("APP_ENV", None)
    env.update(overrides)
    return env


def _run(argv, env):
    try:
        return subprocess.run(
            argv, cwd=ROOT, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL,
            timeout=30,  # a server that does start is killed then (and the test fails)
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{argv} started serving instead of refusing")


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::"])
def test_the_development_server_refuses_a_non_loopback_address(host):
    result = _run(
        [sys.executable, "wsgi.py"],
        _env(APP_ENV="development", HOST=host, PORT=str(free_port()), ASYNC_MODE="threading"),
    )
    assert result.returncode != 0
    assert f"Refusing to serve the development configuration on {host}" in result.stderr


def test_gunicorn_refuses_the_development_configuration_on_a_public_address():
    result = _run(
        [sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", "1",
         "-b", f"0.0.0.0:{free_port()}", "wsgi:app"],
        _env(APP_ENV="development"),
    )
    assert result.returncode != 0
    assert "Refusing to serve the development configuration on 0.0.0.0" in result.stderr
    assert "Traceback" not in result.stderr


def test_make_serve_runs_production_and_says_what_is_missing():
    # `-o install`: this venv is already installed; VENV: the interpreter running the tests.
    for target in ("serve", "serve-gevent"):
        result = _run(
            ["make", "--no-print-directory", "-o", "install", target,
             f"VENV={sys.prefix}", f"PORT={free_port()}"],
            _env(APP_ENV="development"),  # make serve means production, whatever the shell says
        )
        assert result.returncode != 0
        assert "Refusing to start in production" in result.stderr, result.stderr[-2000:]
        assert "JWT_SECRET_KEY and MONGO_URI" in result.stderr
        assert "Traceback" not in result.stderr
