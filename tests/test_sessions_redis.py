"""The session store in Redis: a logout in one worker is refused by every other at once, and
entries expire with their tokens. Needs redis-server (skipped without it)."""

import time

import pytest

from chatapp.security import Claims
from chatapp.sessions import RedisRevocationStore, Sessions, redis_client
from tests.helpers.live_server import free_port


@pytest.fixture
def redis_server_client(redis_url):
    """A client of an empty database on the suite's redis-server."""
    client = redis_client(redis_url, timeout=1.0)
    yield client
    client.close()


def claims(user="u1", session="s1", issued_at=None, expires_in=60):
    now = time.time()
    issued_at = now if issued_at is None else issued_at
    return Claims(user, session, issued_at, int(now) + expires_in, False)


def test_a_logout_in_one_worker_is_refused_by_another(redis_server_client):
    worker_a = Sessions(RedisRevocationStore(redis_server_client))
    worker_b = Sessions(RedisRevocationStore(redis_server_client))
    token = claims()
    assert worker_b.is_live(token)  # worker b remembers this answer for CACHE_SECONDS
    worker_a.end(token)
    assert not worker_a.is_live(token)  # at once where it ended
    deadline = time.monotonic() + RedisRevocationStore.CACHE_SECONDS + 2
    while worker_b.is_live(token) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not worker_b.is_live(token)
    third = Sessions(RedisRevocationStore(redis_server_client))
    assert not third.is_live(token)  # a worker that had not asked before: at once


def test_ending_other_sessions_reaches_every_worker(redis_server_client):
    worker_a = Sessions(RedisRevocationStore(redis_server_client))
    worker_b = Sessions(RedisRevocationStore(redis_server_client))
    kept = claims(session="kept", issued_at=time.time() - 5)
    other = claims(session="other", issued_at=time.time() - 5)
    worker_a.end_others("u1", keep="kept", until=time.time() + 60)
    assert worker_b.is_live(kept) and not worker_b.is_live(other)
    assert worker_b.is_live(claims(session="new"))  # issued after: fine


def test_entries_expire_with_their_tokens(redis_server_client):
    store = RedisRevocationStore(redis_server_client)
    store.revoke("s1", until=time.time() + 60)
    ttl = redis_server_client.ttl("chatapp:sessions:revoked:s1")
    assert 55 <= ttl <= 61


def test_without_redis_a_worker_still_refuses_its_own_logouts(caplog):
    dead = redis_client(f"redis://127.0.0.1:{free_port()}/0", timeout=0.2)
    sessions = Sessions(RedisRevocationStore(dead))
    token = claims()
    assert sessions.is_live(token)  # requests keep working
    sessions.end(token)
    assert not sessions.is_live(token)
    # One line, not one per call.
    assert sum("unavailable" in r.getMessage() for r in caplog.records) == 1
