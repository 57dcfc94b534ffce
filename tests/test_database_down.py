"""The database goes away and comes back: 503 JSON within MONGO_TIMEOUT_MS, never a 500 or a
hang; /readyz names it; workers recover by themselves, including one started during the outage.

Runs against a FerretDB of its own (PostgreSQL backend), whose process these tests stop and
start. Skipped where FerretDB is not built (a fresh machine without Go); CI builds it and never
skips.
"""

import itertools
import os
import time

import pytest

from chatapp.app import create_app
from chatapp.errors import DATABASE_UNAVAILABLE
from chatapp.extensions import socketio
from chatapp.realtime import cluster
from config import TestConfig
from tests.helpers.chat import PASSWORD
from tests.helpers import ferretdb
from tests.helpers.live_server import LiveServer
from tests.helpers.redis_server import queue_allowed_in_test_client
from tests.helpers.missing import skip_unless_ci

TIMEOUT_MS = 500
# What "within MONGO_TIMEOUT_MS" allows on a loaded 2-core machine: the timeout plus handling.
ANSWER_BOUND = TIMEOUT_MS / 1000 + 3.0
RECOVERY_BOUND = 15  # seconds for a worker to be ready again once the database answers
_databases = itertools.count()


@pytest.fixture(scope="module")
def servers():
    try:
        started = ferretdb.start()
    except ferretdb.Unavailable as reason:
        skip_unless_ci(str(reason))
    yield started
    started.stop()


@pytest.fixture
def database(servers):
    """The running FerretDB, started again after the test whatever the test did to it."""
    yield servers.ferretdb
    if servers.ferretdb.process.poll() is not None:
        servers.ferretdb.start()


_apps = []


@pytest.fixture(autouse=True)
def _close_apps():
    """With TEST_REDIS_URL, an app left open keeps its presence heartbeat writing to Redis."""
    yield
    while _apps:
        cluster.close(_apps.pop())


def make_app(servers):
    app = create_app(
        TestConfig,
        MONGO_URI=servers.uri,
        MONGO_DB_NAME=f"chatapp_down_{os.getpid()}_{next(_databases)}",
        MONGO_TIMEOUT_MS=TIMEOUT_MS,
    )
    _apps.append(app)
    return app


def timed(call):
    start = time.monotonic()
    result = call()
    return result, time.monotonic() - start


def register(client, username):
    return client.post("/api/v1/user/register", json={
        "fullName": username, "username": username, "password": PASSWORD,
        "confirmPassword": PASSWORD, "gender": "male",
    })


def login(client, username):
    return client.post("/api/v1/user/login", json={"username": username, "password": PASSWORD})


def wait_ready(client):
    deadline = time.monotonic() + RECOVERY_BOUND
    while time.monotonic() < deadline:
        response = client.get("/readyz")
        if response.status_code == 200:
            return response
        time.sleep(0.2)
    raise AssertionError(f"not ready {RECOVERY_BOUND}s after the database came back")


def test_requests_answer_503_while_the_database_is_down_and_work_again_after(servers, database):
    app = make_app(servers)
    alice = app.test_client()
    assert register(alice, "alice").status_code == 201
    assert login(alice, "alice").status_code == 200
    bob = app.test_client()
    assert register(bob, "bob").status_code == 201
    bob_user = login(bob, "bob").get_json()
    with queue_allowed_in_test_client():  # the app has a message queue with TEST_REDIS_URL
        socket = socketio.test_client(app, flask_test_client=alice)
    assert socket.is_connected()

    database.stop()
    for call in (
        lambda: alice.post(f"/api/v1/message/send/{bob_user['_id']}", json={"message": "hi"}),
        lambda: alice.get(f"/api/v1/message/{bob_user['_id']}"),
        lambda: login(bob, "bob"),
    ):
        response, elapsed = timed(call)
        assert response.status_code == 503
        assert response.get_json() == {"message": DATABASE_UNAVAILABLE, "success": False}
        assert elapsed < ANSWER_BOUND
    ack, elapsed = timed(lambda: socket.emit(
        "sendMessage", {"receiverId": bob_user["_id"], "message": "hi"}, callback=True
    ))
    assert ack == {"ok": False, "message": DATABASE_UNAVAILABLE} and elapsed < ANSWER_BOUND
    ready, elapsed = timed(lambda: alice.get("/readyz"))
    assert ready.status_code == 503 and elapsed < ANSWER_BOUND
    body = ready.get_json()
    assert body.pop("latencyMs")["database"] >= 0  # how long it waited: the timeout
    assert body == {"status": "unavailable", "database": "unreachable"}
    assert alice.get("/healthz").status_code == 200  # alive, so not restarted

    database.start()
    wait_ready(alice)
    sent = alice.post(f"/api/v1/message/send/{bob_user['_id']}", json={"message": "back"})
    assert sent.status_code == 201
    history = alice.get(f"/api/v1/message/{bob_user['_id']}").get_json()
    assert [m["message"] for m in history] == ["back"]
    socket.disconnect()


def test_a_worker_started_while_the_database_is_down_becomes_ready_when_it_returns(
    servers, database
):
    database.stop()
    app, elapsed = timed(lambda: make_app(servers))  # no exception: the process starts
    assert elapsed < ANSWER_BOUND
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 503
    response = register(client, "early")
    assert response.status_code == 503 and response.get_json()["success"] is False

    database.start()
    body = wait_ready(client).get_json()
    assert body.pop("latencyMs")["database"] >= 0
    body.pop("redis", None)  # reported with TEST_REDIS_URL; never part of readiness
    assert body == {"status": "ok", "database": "ok"}
    from chatapp.models import Message, User

    # Its indexes were created when the database came back: the guarantees hold.
    indexes = Message._get_collection().index_information().values()
    message_indexes = [list(dict(spec["key"])) for spec in indexes]
    assert ["conversationId", "seq"] in message_indexes
    assert register(client, "late").status_code == 201
    assert register(client, "late").status_code == 400  # the unique username, enforced
    assert User.objects(username="late").count() == 1


def test_a_server_process_started_while_the_database_is_down_stays_up_and_becomes_ready(
    servers, database, tmp_path
):
    import requests

    database.stop()
    env = {"MONGO_URI": servers.uri, "MONGO_TIMEOUT_MS": str(TIMEOUT_MS),
           "MONGO_DB_NAME": f"chatapp_down_live_{os.getpid()}"}
    with LiveServer(env=env, log_path=tmp_path / "server.log") as server:
        time.sleep(3 * TIMEOUT_MS / 1000)  # several timeouts: a process that gives up has exited
        assert server.process.poll() is None
        assert requests.get(server.url + "/readyz", timeout=10).status_code == 503
        database.start()
        deadline = time.monotonic() + RECOVERY_BOUND
        while requests.get(server.url + "/readyz", timeout=10).status_code != 200:
            assert time.monotonic() < deadline, "the server did not become ready"
            time.sleep(0.2)
    assert "Traceback" not in (tmp_path / "server.log").read_text()
