"""On the deployed server (gunicorn, eventlet and gevent): /metrics over loopback moves with what
users do, including the bcrypt queue that only a green event loop has, and LOG_FORMAT=json lines
carry the request ids the responses name."""

import json
import os
import uuid

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers.live_server import LiveServer

pytestmark = pytest.mark.integration
PASSWORD = "correct horse"


def scrape(url):
    response = requests.get(url + "/metrics", timeout=10)
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def user(url, name):
    session = requests.Session()
    body = {"fullName": name, "username": name, "password": PASSWORD,
            "confirmPassword": PASSWORD, "gender": "male"}
    assert session.post(url + "/api/v1/user/register", json=body, timeout=10).status_code == 201
    login = session.post(url + "/api/v1/user/login", json={"username": name, "password": PASSWORD},
                         timeout=10)
    assert login.status_code == 200
    return session, login.json()["_id"], login.headers["X-Request-ID"]


@pytest.mark.parametrize("worker", ["eventlet", "gevent"])
def test_the_real_server_counts_and_logs(tmp_path, worker):
    log_path = tmp_path / "server.log"
    with LiveServer(worker, env={"LOG_FORMAT": "json"}, log_path=log_path) as server:
        before = scrape(server.url)
        # Unique names: a TEST_MONGO_URI database outlives the server.
        alice, _, login_id = user(server.url, f"alice{uuid.uuid4().hex[:8]}")
        _, bob_id, _ = user(server.url, f"bob{uuid.uuid4().hex[:8]}")
        send = alice.post(f"{server.url}/api/v1/message/send/{bob_id}", json={"message": "hi"},
                          timeout=10)
        assert send.status_code == 201
        after = scrape(server.url)

    def grew(name, **labels):
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    # Two registrations and two logins: four hashes, each through the hashing-thread queue.
    assert grew("chatapp_bcrypt_wait_seconds_count") == 4
    assert after[("chatapp_bcrypt_queue_length", ())] == 0
    assert grew("chatapp_messages_stored_total") == 1
    assert grew("chatapp_message_delivery_seconds_count") == 1
    assert grew("chatapp_http_requests_total",
                route="/api/v1/user/login", method="POST", status="200") == 2
    assert after[("process_open_fds", ())] > 0
    if os.environ.get("TEST_MONGO_URI"):  # a real database: its commands are timed (CI's 2nd run)
        # Two users and a message, at least; and each lookup a find.
        assert grew("chatapp_db_command_duration_seconds_count", command="insert") >= 3
        assert grew("chatapp_db_command_duration_seconds_count", command="find") >= 1

    # Every log line is JSON, gunicorn's own too (gunicorn.conf.py); only Python's warnings
    # printed at import (eventlet's deprecation notice) are not log lines.
    text = log_path.read_text()
    entries = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert not [line for line in text.splitlines() if line.startswith("[")]  # gunicorn's format
    assert "gunicorn.error" in {entry["logger"] for entry in entries}
    access = {entry["request_id"]: entry for entry in entries
              if entry["logger"] == "chatapp.access"}
    assert access[login_id]["route"] == "/api/v1/user/login"
    assert access[login_id]["status"] == 200
    assert access[send.headers["X-Request-ID"]]["user_id"]
    assert PASSWORD not in text
    assert "hi" not in {entry.get("message") for entry in entries}
