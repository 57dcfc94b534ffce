"""While Redis is down: rate limits fail open (logged), sockets connect and see their own worker's
users, sends are stored and delivered to this worker's sockets; nothing answers 500 or hangs."""

import logging
import time

import pytest

from chatapp.extensions import socketio
from tests.helpers.chat import Api, received, sent
from tests.helpers.live_server import free_port
from tests.helpers.redis_server import queue_allowed_in_test_client


@pytest.fixture
def dead_redis_url():
    return f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there


def register(client, n):
    body = {"fullName": f"Down {n}", "username": f"down{n}_{time.monotonic_ns()}",
            "password": "correct horse", "confirmPassword": "correct horse", "gender": "female"}
    return client.post("/api/v1/user/register", json=body)


def test_rate_limits_fail_open_with_one_log_line(make_app, dead_redis_url, caplog):
    app = make_app(RATELIMIT_STORAGE_URI=dead_redis_url, REGISTER_LIMIT="1 per minute")
    client = app.test_client()
    with caplog.at_level(logging.WARNING, logger="chatapp.ratelimit"):
        started = time.monotonic()
        statuses = [register(client, n).status_code for n in range(3)]
        took = time.monotonic() - started
    assert statuses == [201, 201, 201]  # over the limit, but the limit cannot be counted
    assert took < 3 * 2 * app.config["REDIS_TIMEOUT_MS"] / 1000.0  # bounded, not hung
    failures = [r for r in caplog.records if "not enforced" in r.getMessage()]
    assert len(failures) == 1


def test_sockets_connect_and_sends_are_delivered_on_this_worker(make_app, dead_redis_url, caplog):
    app = make_app(REDIS_URL=dead_redis_url)
    api = Api(app)
    alice, _ = api.user()
    bob, bob_user = api.user()
    with queue_allowed_in_test_client():
        bob_socket = socketio.test_client(app, flask_test_client=bob)
    try:
        assert bob_socket.is_connected()
        # Presence cannot reach Redis: the worker's own users are shown.
        assert received(bob_socket, "getOnlineUsers") == [[bob_user["_id"]]]
        message = sent(alice, bob_user["_id"], "while redis is down")
        assert received(bob_socket, "newMessage") == [message]
    finally:
        bob_socket.disconnect()
    assert any("Presence: could not" in r.getMessage() for r in caplog.records)

