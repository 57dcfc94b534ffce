"""/metrics: who may read it, and each metric moving when the thing it counts happens.

Metrics are per process (several apps in one test run share them), so every test compares a
scrape before and after the action.
"""

import os
import threading
import time
from types import SimpleNamespace

import mongoengine
import pytest
from prometheus_client.parser import text_string_to_metric_families

from chatapp import metrics
from chatapp.app import create_app
from chatapp.realtime import cluster
from config import TestConfig
from tests.helpers import groups
from tests.helpers.chat import received, sent


def scrape(client, **kwargs):
    """{(sample name, sorted label pairs): value} from GET /metrics."""
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def grew(before, after, name, **labels):
    return value(after, name, **labels) - value(before, name, **labels)


# --- who may read it -------------------------------------------------------------------------


def test_metrics_answer_loopback_in_prometheus_format(client):
    text = client.get("/metrics").get_data(as_text=True)
    assert "# TYPE chatapp_http_requests_total counter" in text
    assert "# TYPE chatapp_sockets_open gauge" in text
    ipv6 = client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"})
    assert ipv6.status_code == 200


@pytest.mark.parametrize("remote", ["10.0.0.5", "192.168.1.20", "2001:db8::1", "not-an-ip"])
def test_metrics_are_a_404_for_anyone_else(client, remote):
    response = client.get("/metrics", environ_base={"REMOTE_ADDR": remote})
    assert response.status_code == 404
    assert response.get_json() == {"message": "Not found.", "success": False}
    assert b"chatapp_" not in response.data


def test_allowed_networks_are_a_setting(make_app):
    app = make_app(METRICS_ALLOWED_NETWORKS=["10.0.0.0/8"])
    client = app.test_client()
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.0.0.5"}).status_code == 200
    assert client.get("/metrics").status_code == 404  # loopback is no longer in the list


def test_a_bad_network_stops_the_start():
    with pytest.raises(RuntimeError, match="METRICS_ALLOWED_NETWORKS"):
        create_app(TestConfig, METRICS_ALLOWED_NETWORKS=["10.0.0.0/33"])


# --- HTTP ------------------------------------------------------------------------------------


def test_requests_are_counted_by_route_not_by_path(app, api, client):
    alice, _ = api.user()
    _, bob = api.user()
    before = scrape(client)
    sent(alice, bob["_id"], "hello")
    alice.get("/no/such/page")
    after = scrape(client)
    route = "/api/v1/message/send/<receiver_id>"
    assert grew(before, after, "chatapp_http_requests_total",
                route=route, method="POST", status="201") == 1
    assert grew(before, after, "chatapp_http_request_duration_seconds_count",
                route=route, method="POST") == 1
    assert grew(before, after, "chatapp_http_request_duration_seconds_sum",
                route=route, method="POST") > 0
    assert grew(before, after, "chatapp_http_requests_total",
                route="unmatched", method="GET", status="404") == 1
    # No label holds a raw path or a client's own method name: label values stay a bounded set.
    for n in range(3):
        client.open("/api/v1/user/", method=f"BREW{n}")
    after = scrape(client)
    assert grew(before, after, "chatapp_http_requests_total",
                route="unmatched", method="other", status="405") == 3
    assert not any("BREW" in str(labels) for _, labels in after)
    assert not any(bob["_id"] in str(labels) for _, labels in after)


# --- messages, events, delivery --------------------------------------------------------------


def test_a_sent_message_is_counted_stored_emitted_and_timed(app, api, client, connect):
    alice, _ = api.user()
    bob_client, bob = api.user()
    bob_socket = connect(bob_client)
    before = scrape(client)
    message = sent(alice, bob["_id"], "hello")
    after = scrape(client)
    assert received(bob_socket, "newMessage") == [message]
    assert grew(before, after, "chatapp_messages_stored_total") == 1
    assert grew(before, after, "chatapp_socketio_events_emitted_total", event="newMessage") == 1
    assert grew(before, after, "chatapp_socketio_events_emitted_total", event="messageSent") == 1
    assert grew(before, after, "chatapp_message_delivery_seconds_count") == 1
    assert grew(before, after, "chatapp_message_delivery_seconds_sum") > 0


def test_a_group_message_is_counted_stored(app, api, client):
    alice, _ = api.user()
    _, bob = api.user()
    _, carol = api.user()
    group = groups.created(alice, "Team", [bob, carol])
    before = scrape(client)
    groups.sent(alice, group, "hello all")
    after = scrape(client)
    assert grew(before, after, "chatapp_messages_stored_total") == 1
    assert grew(before, after, "chatapp_socketio_events_emitted_total", event="groupMessage") == 1


def test_a_retried_send_stores_nothing_more(app, api, client):
    alice, _ = api.user()
    _, bob = api.user()
    sent(alice, bob["_id"], "once", clientMessageId="retry-1")
    before = scrape(client)
    sent(alice, bob["_id"], "once", clientMessageId="retry-1")
    after = scrape(client)
    assert grew(before, after, "chatapp_messages_stored_total") == 0
    assert grew(before, after, "chatapp_socketio_events_emitted_total", event="newMessage") == 0


def test_a_socket_send_is_timed_from_its_event(app, api, client, connect):
    alice_client, _ = api.user()
    _, bob = api.user()
    alice_socket = connect(alice_client)
    before = scrape(client)
    ack = alice_socket.emit("sendMessage", {"receiverId": bob["_id"], "message": "hi"},
                            callback=True)
    assert ack["ok"] is True
    after = scrape(client)
    assert grew(before, after, "chatapp_message_delivery_seconds_count") == 1
    assert grew(before, after, "chatapp_messages_stored_total") == 1


# --- refusals --------------------------------------------------------------------------------


def test_a_refused_login_shows_in_the_refusals(app, api, client):
    username = "victim"
    api.register(username=username)
    before = scrape(client)
    statuses = [api.login(client, username, "wrong password").status_code for _ in range(6)]
    after = scrape(client)
    assert statuses == [400] * 5 + [429]  # TestConfig: 5 free failures, then waits
    assert grew(before, after, "chatapp_rate_limit_refusals_total",
                limit="login_throttle") == 1


def test_refused_sends_are_counted_by_their_limit(make_app):
    app = make_app(SEND_RATE_LIMIT="2 per minute")
    from tests.helpers.chat import Api, send

    api = Api(app)
    alice, _ = api.user()
    _, bob = api.user()
    before = scrape(alice)
    statuses = [send(alice, bob["_id"], f"m{n}").status_code for n in range(3)]
    after = scrape(alice)
    assert statuses == [201, 201, 429]
    assert grew(before, after, "chatapp_rate_limit_refusals_total", limit="send_rate_limit") == 1


# --- sockets ---------------------------------------------------------------------------------


def test_socket_gauges_follow_connects_and_disconnects(app, api, client, connect):
    alice_client, alice = api.user()
    before = scrape(client)
    tab1 = connect(alice_client)
    tab2 = connect(alice_client)
    # No token, only a userId query: pending until its WebSocket upgrade proves the user.
    pending = connect(query_string=f"userId={alice['_id']}")
    assert pending.is_connected()
    during = scrape(client)
    assert grew(before, during, "chatapp_sockets_open") == 3
    assert grew(before, during, "chatapp_sockets_pending") == 1
    assert grew(before, during, "chatapp_users_online") == 1
    for socket in (tab1, tab2, pending):
        socket.disconnect()
    after = scrape(client)
    assert value(after, "chatapp_sockets_open") == value(before, "chatapp_sockets_open")
    assert value(after, "chatapp_sockets_pending") == value(before, "chatapp_sockets_pending")
    assert value(after, "chatapp_users_online") == value(before, "chatapp_users_online")


# --- bcrypt queue ----------------------------------------------------------------------------


def test_a_hash_waiting_for_a_slot_is_queued_and_its_wait_timed():
    slots = threading.Semaphore(1)
    slots.acquire()  # every hashing thread busy
    waits_before = metrics.REGISTRY.get_sample_value("chatapp_bcrypt_wait_seconds_count")
    sum_before = metrics.REGISTRY.get_sample_value("chatapp_bcrypt_wait_seconds_sum")
    queue_before = metrics.BCRYPT_QUEUE._value.get()
    done = threading.Event()

    def hash_call():
        with metrics.waiting_for(slots):
            done.set()

    worker = threading.Thread(target=hash_call)
    worker.start()
    deadline = time.monotonic() + 5
    while metrics.BCRYPT_QUEUE._value.get() == queue_before and time.monotonic() < deadline:
        time.sleep(0.005)
    assert metrics.BCRYPT_QUEUE._value.get() == queue_before + 1
    time.sleep(0.05)
    slots.release()
    worker.join(5)
    assert done.is_set()
    assert metrics.BCRYPT_QUEUE._value.get() == queue_before
    waits = metrics.REGISTRY.get_sample_value("chatapp_bcrypt_wait_seconds_count")
    assert waits == waits_before + 1
    assert metrics.REGISTRY.get_sample_value("chatapp_bcrypt_wait_seconds_sum") - sum_before >= 0.05
    assert slots.acquire(blocking=False)  # the slot was given back


# --- database --------------------------------------------------------------------------------


def test_database_commands_are_timed_and_failures_counted(client):
    listener = metrics.DatabaseListener()
    before = scrape(client)
    listener.succeeded(SimpleNamespace(command_name="find", duration_micros=2500))
    listener.failed(SimpleNamespace(command_name="insert", duration_micros=1000, failure={}))
    after = scrape(client)
    assert grew(before, after, "chatapp_db_command_duration_seconds_count", command="find") == 1
    assert grew(before, after, "chatapp_db_command_duration_seconds_sum", command="find") == \
        pytest.approx(0.0025)
    assert grew(before, after, "chatapp_db_command_errors_total", command="insert") == 1
    assert grew(before, after, "chatapp_db_command_errors_total", command="find") == 0


def test_an_unreachable_database_shows_in_failed_heartbeats():
    """Nothing listens on port 1: PyMongo's server checks fail, and the app's client reports it."""
    registry = metrics.REGISTRY
    before = registry.get_sample_value("chatapp_db_heartbeat_failures_total")
    # The app starts not ready (its indexes wait for the database), and says so.
    app = create_app(TestConfig, MONGO_URI="mongodb://127.0.0.1:1/chat", MONGO_TIMEOUT_MS=300)
    try:
        assert app.test_client().get("/readyz").status_code == 503
    finally:
        mongoengine.disconnect()  # stop the client's monitor threads
        cluster.close(app)
    assert registry.get_sample_value("chatapp_db_heartbeat_failures_total") > before


@pytest.mark.skipif(
    not os.environ.get("TEST_MONGO_URI"), reason="needs a real MongoDB in TEST_MONGO_URI"
)
def test_a_real_databases_commands_are_timed(client):  # TestConfig uses TEST_MONGO_URI
    before = scrape(client)
    assert client.get("/readyz").status_code == 200
    after = scrape(client)
    assert grew(before, after, "chatapp_db_command_duration_seconds_count", command="ping") == 1


def test_readyz_reports_how_long_the_database_took(client, monkeypatch):
    from chatapp import db

    monkeypatch.setattr(db, "ping", lambda: time.sleep(0.03))
    ready = client.get("/readyz").get_json()
    assert ready["status"] == "ok"
    assert 30 <= ready["latencyMs"]["database"] < 5000


def test_a_request_refused_before_its_view_is_timed_too(client, monkeypatch):
    """The database's readiness check runs before every view and may answer 503 itself."""
    from chatapp import db
    from chatapp.errors import Unavailable

    def not_ready():
        raise Unavailable("The database is not ready yet, please retry")

    monkeypatch.setattr(db, "ensure_ready", not_ready)
    before = scrape(client)
    assert client.get("/api/v1/user/").status_code == 503
    after = scrape(client)
    assert grew(before, after, "chatapp_http_request_duration_seconds_count",
                route="/api/v1/user/", method="GET") == 1
    # /metrics itself answered all along: it needs no database.


def test_a_login_refused_for_a_full_hashing_queue_is_counted(app, api, client, monkeypatch):
    from chatapp import concurrency

    api.register(username="queued")
    monkeypatch.setattr(concurrency, "SLOTS", 0)  # no hashing thread free, no place to wait
    monkeypatch.setattr(concurrency, "QUEUE_MAX", 0)
    before = scrape(client)
    assert api.login(client, "queued").status_code == 503
    after = scrape(client)
    assert grew(before, after, "chatapp_rate_limit_refusals_total", limit="bcrypt_queue_max") == 1
