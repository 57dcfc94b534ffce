"""Redis round trips and errors in /metrics: each client chatapp makes (message queue, shared
presence, rate-limit counters) is timed under its own name, and a Redis that does not answer
shows as errors."""

import pytest
import redis

from chatapp import metrics, redis_metrics
from chatapp.extensions import socketio
from tests.helpers.chat import Api, received, sent
from tests.helpers.live_server import free_port
from tests.helpers.redis_server import queue_allowed_in_test_client

CLIENTS = ("message_queue", "presence", "rate_limits")


def round_trips():
    return {
        client: metrics.REGISTRY.get_sample_value(
            "chatapp_redis_round_trip_seconds_count", {"client": client}
        ) or 0.0
        for client in CLIENTS
    }


def errors(client, stage):
    return metrics.REGISTRY.get_sample_value(
        "chatapp_redis_errors_total", {"client": client, "stage": stage}
    ) or 0.0


def test_each_redis_client_is_timed(make_app, redis_url):
    app = make_app(REDIS_URL=redis_url)
    api = Api(app)
    alice, _ = api.user()
    bob, bob_user = api.user()
    before = round_trips()
    with queue_allowed_in_test_client():
        bob_socket = socketio.test_client(app, flask_test_client=bob)
    try:
        message = sent(alice, bob_user["_id"], "through redis")
        assert received(bob_socket, "newMessage") == [message]
    finally:
        bob_socket.disconnect()
    after = round_trips()
    # Bob's connect wrote presence; the send counted its limit and published newMessage.
    assert {client: after[client] > before[client] for client in CLIENTS} == dict.fromkeys(
        CLIENTS, True)


def test_a_redis_nobody_answers_counts_errors(make_app):
    dead = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    app = make_app(RATELIMIT_STORAGE_URI=dead, SEND_RATE_LIMIT="100 per second")
    api = Api(app)
    alice, _ = api.user()
    _, bob_user = api.user()
    before = errors("rate_limits", "connect")
    sent(alice, bob_user["_id"], "the limit cannot be counted: allowed")
    assert errors("rate_limits", "connect") > before


@pytest.mark.parametrize("url, base", [
    ("redis://127.0.0.1:6379/0", redis.Connection),
    ("rediss://cache.example:6380/0", redis.SSLConnection),
    ("unix:///run/redis.sock", redis.UnixDomainSocketConnection),
])
def test_each_kind_of_url_keeps_its_kind_of_connection(url, base):
    """The timed class replaces the one redis-py picks by scheme: TLS must stay TLS."""
    pool = redis.ConnectionPool.from_url(url, **redis_metrics.options(url, "presence"))
    assert issubclass(pool.connection_class, base)
    assert pool.connection_class.client == "presence"
