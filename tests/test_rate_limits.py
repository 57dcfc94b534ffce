"""Per-user send rate limit: HTTP 429 with Retry-After, socket negative ack; never a silent drop."""

import pytest

from chatapp.models import Message
from tests.helpers.chat import received, send


def test_http_sends_beyond_the_limit_are_a_429_with_retry_after(app, api):
    app.config["SEND_RATE_LIMIT"] = "3 per minute"
    alice, _ = api.user()
    _, bob_user = api.user()
    assert [send(alice, bob_user["_id"], f"m{i}").status_code for i in range(3)] == [201] * 3
    refused = send(alice, bob_user["_id"], "one too many")
    assert refused.status_code == 429
    assert refused.get_json()["success"] is False
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert Message.objects.count() == 3


def test_socket_sends_share_the_budget_and_get_a_negative_ack(app, api, connect):
    app.config["SEND_RATE_LIMIT"] = "2 per minute"
    alice, _ = api.user()
    bob, bob_user = api.user()
    alice_tab, bob_tab = connect(alice), connect(bob)
    bob_tab.get_received()
    assert send(alice, bob_user["_id"], "http").status_code == 201
    assert alice_tab.emit("sendMessage", {"receiverId": bob_user["_id"], "message": "socket"}, callback=True)["ok"]
    ack = alice_tab.emit("sendMessage", {"receiverId": bob_user["_id"], "message": "over"}, callback=True)
    assert ack["ok"] is False and "Too many" in ack["message"]
    assert 1 <= ack["retryAfter"] <= 60
    assert [m["message"] for m in received(bob_tab, "newMessage")] == ["http", "socket"]
    assert send(alice, bob_user["_id"], "http again").status_code == 429


def test_the_limit_is_per_user(app, api):
    app.config["SEND_RATE_LIMIT"] = "1 per minute"
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    assert send(alice, bob_user["_id"], "a").status_code == 201
    assert send(bob, alice_user["_id"], "b").status_code == 201
    assert send(alice, bob_user["_id"], "a2").status_code == 429


def test_an_empty_limit_disables_it(app, api):
    app.config["SEND_RATE_LIMIT"] = ""
    alice, _ = api.user()
    _, bob_user = api.user()
    assert all(send(alice, bob_user["_id"], f"m{i}").status_code == 201 for i in range(30))


def test_the_default_is_twenty_per_second(app):
    assert app.config["SEND_RATE_LIMIT"] == "20 per second"


def test_the_429_is_readable_by_browsers(app, api):
    app.config["SEND_RATE_LIMIT"] = "1 per minute"
    alice, _ = api.user()
    _, bob_user = api.user()
    send(alice, bob_user["_id"], "a")
    refused = alice.post(
        f"/api/v1/message/send/{bob_user['_id']}", json={"message": "b"}, headers={"Origin": "http://localhost:5173"}
    )
    assert refused.status_code == 429
    assert "Retry-After" in refused.headers["Access-Control-Expose-Headers"]


@pytest.mark.parametrize(
    "setting", ["SEND_RATE_LIMIT", "TYPING_RATE_LIMIT", "REGISTER_LIMIT", "SOCKET_CONNECT_LIMIT"]
)
def test_a_limit_that_does_not_parse_stops_the_start(setting):
    from chatapp.app import create_app
    from config import TestConfig

    with pytest.raises(RuntimeError, match=setting):
        create_app(TestConfig, **{setting: "twenty a second"})


def test_counting_sends_starts_no_thread_per_hit(monkeypatch):
    """limits' stock memory storage started a timer thread on every hit 10 ms after the last
    one (at a few hundred sends a second, 5% of the server's CPU)."""
    import threading
    import time

    from limits import parse

    from chatapp.ratelimit import SweepingMemoryStorage

    storage = SweepingMemoryStorage("memory://")
    started = []
    monkeypatch.setattr(threading.Thread, "start", lambda thread: started.append(thread))
    limit = parse("1000 per second")
    for n in range(5):
        time.sleep(0.02)  # longer than the stock storage's 10 ms timer
        storage.incr(limit.key_for("send", str(n)), 1)
    assert started == []
    assert len(storage.storage) == 5


def test_expired_counters_are_freed_by_a_hit_after_a_sweep_interval(monkeypatch):
    from limits import parse
    from limits.strategies import FixedWindowRateLimiter

    from chatapp import ratelimit

    storage = ratelimit.SweepingMemoryStorage("memory://")
    limiter = FixedWindowRateLimiter(storage)
    limit = parse("1 per second")
    assert limiter.hit(limit, "send", "alice")
    assert not limiter.hit(limit, "send", "alice")  # within the window: refused
    wall, mono = ratelimit.time.time(), ratelimit.time.monotonic()
    monkeypatch.setattr("limits.storage.memory.time.time", lambda: wall + 5)
    monkeypatch.setattr(ratelimit.time, "monotonic", lambda: mono + 5)
    assert limiter.hit(limit, "send", "bob")  # this hit sweeps alice's expired counter
    assert [key for key in storage.storage if "alice" in key] == []
    assert limiter.hit(limit, "send", "alice")  # and alice may send again
