"""Startup configuration, tokens, and hashing that never stalls the event loop."""

import subprocess
import sys
import textwrap

import pytest

from chatapp import security
from chatapp.app import create_app
from config import Config, ProductionConfig, TestConfig


class ProductionNoSecrets(ProductionConfig):
    JWT_SECRET_KEY = ""
    MONGO_URI = ""


class ProductionShortSecret(ProductionConfig):
    JWT_SECRET_KEY = "short"
    MONGO_URI = "mongodb://127.0.0.1:1/chat"


@pytest.mark.parametrize("config", [ProductionNoSecrets, ProductionShortSecret])
def test_production_refuses_to_start_without_a_real_secret_and_database(config):
    with pytest.raises(RuntimeError, match="JWT_SECRET_KEY"):
        create_app(config)


def test_production_names_every_missing_setting():
    with pytest.raises(RuntimeError) as error:
        create_app(ProductionNoSecrets)
    assert "JWT_SECRET_KEY" in str(error.value) and "MONGO_URI" in str(error.value)


class DevelopmentNoSecret(Config):
    JWT_SECRET_KEY = ""
    MONGO_URI = ""
    ASYNC_MODE = "threading"


def test_development_generates_a_secret_and_says_so(caplog):
    app = create_app(DevelopmentNoSecret)
    assert len(app.config["JWT_SECRET_KEY"]) >= 32
    assert "JWT_SECRET_KEY is not set" in caplog.text
    assert "embedded in-memory database" in caplog.text and "NOT kept across restarts" in caplog.text
    # Another process gets another secret: a generated secret is never a fixed default.
    assert create_app(DevelopmentNoSecret).config["JWT_SECRET_KEY"] != app.config["JWT_SECRET_KEY"]


def test_unknown_async_mode_is_refused():
    with pytest.raises(RuntimeError, match="ASYNC_MODE"):
        create_app(TestConfig, ASYNC_MODE="asyncio-please")


def test_tokens_round_trip_and_carry_the_seeds_claim():
    import jwt

    token = security.create_token("a" * 24, TestConfig.JWT_SECRET_KEY, 60)
    claims = jwt.decode(token, TestConfig.JWT_SECRET_KEY, algorithms=["HS256"])
    assert claims["userId"] == "a" * 24 and claims["exp"] - claims["iat"] == pytest.approx(60, abs=1)
    assert security.decode_token(token, TestConfig.JWT_SECRET_KEY) == "a" * 24


def test_a_token_that_verified_is_refused_once_it_expires(monkeypatch):
    """Verified tokens are remembered; the memory must not outlive the token."""
    import datetime as real_datetime

    import jwt.api_jwt

    token = security.create_token("b" * 24, TestConfig.JWT_SECRET_KEY, 60)
    assert security.decode_token(token, TestConfig.JWT_SECRET_KEY) == "b" * 24

    later = security.time.time() + 61

    class Later(real_datetime.datetime):
        @classmethod
        def now(cls, tz=None):
            return real_datetime.datetime.fromtimestamp(later, tz)

    monkeypatch.setattr(security.time, "time", lambda: later)
    monkeypatch.setattr(jwt.api_jwt, "datetime", Later)
    with pytest.raises(security.InvalidToken, match="expired"):
        security.decode_token(token, TestConfig.JWT_SECRET_KEY)


def test_a_token_that_verified_under_one_secret_is_refused_under_another():
    token = security.create_token("c" * 24, TestConfig.JWT_SECRET_KEY, 60)
    assert security.decode_token(token, TestConfig.JWT_SECRET_KEY) == "c" * 24
    with pytest.raises(security.InvalidToken):
        security.decode_token(token, "another secret that is long enough to be accepted")


def test_bcryptjs_hashes_from_the_node_backend_verify():
    # bcryptjs writes $2a$ hashes (bcrypt writes $2b$); users of the Node backend keep logging in.
    import bcrypt

    made = bcrypt.hashpw(b"password123", bcrypt.gensalt(4, prefix=b"2a")).decode()
    assert made.startswith("$2a$")
    assert security.check_password("password123", made)
    assert not security.check_password("password124", made)


def test_a_stored_value_that_is_not_a_hash_never_matches():
    assert security.check_password("anything", "plain-text-password") is False


HUB_PROBE = textwrap.dedent(
    """
    import sys
    mode = sys.argv[1]
    if mode == "eventlet":
        import eventlet; eventlet.monkey_patch()
        spawn, sleep = eventlet.spawn, eventlet.sleep
    else:
        from gevent import monkey; monkey.patch_all()
        import gevent
        spawn, sleep = gevent.spawn, gevent.sleep
    from chatapp import security

    ticks = []
    running = True
    def ticker():
        while running:
            ticks.append(1)
            sleep(0.005)
    spawn(ticker)
    sleep(0.02)
    before = len(ticks)
    security.hash_password("a password", 13)  # several hundred ms of CPU
    during = len(ticks) - before
    running = False
    print(during)
    """
)


@pytest.mark.parametrize("mode", ["eventlet", "gevent"])
def test_hashing_does_not_freeze_the_event_loop(mode):
    """Other greenlets (every request and socket) keep running while a password is hashed."""
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", HUB_PROBE, mode],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    ticks_during_hash = int(result.stdout.strip().splitlines()[-1])
    # Run on the hub itself, the hash would allow zero ticks until it finished.
    assert ticks_during_hash >= 5
