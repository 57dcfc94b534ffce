"""Logs: JSON lines carrying the request id, one line per socket connect/refusal/disconnect, and
no token, password or message text in any line."""

import json
import logging
import os
import subprocess
import sys
import time

import pytest

from chatapp import logs
from chatapp.app import create_app
from config import TestConfig
from tests.helpers.chat import PASSWORD, Api, sent

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def lines(caplog, formatter=None):
    formatter = formatter or logs.JsonFormatter()
    return [json.loads(formatter.format(record)) for record in caplog.records]


# --- request ids -----------------------------------------------------------------------------


def test_every_line_of_a_request_carries_its_id(client, monkeypatch, caplog):
    from chatapp import db

    def down():
        raise ConnectionError("no route to database")

    monkeypatch.setattr(db, "ping", down)
    caplog.set_level(logging.DEBUG)
    response = client.get("/readyz")
    request_id = response.headers["X-Request-ID"]
    entries = [entry for entry in lines(caplog) if entry.get("request_id") == request_id]
    warning, access = entries  # the failed check, then the access line
    assert warning["level"] == "WARNING" and "Readiness check failed" in warning["message"]
    assert access["logger"] == "chatapp.access"
    assert access["route"] == "/readyz"
    assert access["status"] == 503
    assert access["method"] == "GET"
    assert access["duration_ms"] >= 0
    # A second request gets an id of its own.
    assert client.get("/healthz").headers["X-Request-ID"] != request_id


def test_the_access_line_names_the_authenticated_user(app, api, caplog):
    alice, user = api.user()
    caplog.set_level(logging.INFO)
    alice.get("/api/v1/user")
    access = [entry for entry in lines(caplog) if entry["logger"] == "chatapp.access"][-1]
    assert access["user_id"] == user["_id"]
    assert access["route"] == "/api/v1/user/"


def test_a_clients_request_id_is_ignored_without_a_trusted_proxy(client):
    response = client.get("/healthz", headers={"X-Request-ID": "chosen-by-client"})
    assert response.headers["X-Request-ID"] != "chosen-by-client"
    assert len(response.headers["X-Request-ID"]) == 32


@pytest.mark.parametrize(
    "offered, kept",
    [
        ("0123456789abcdef0123456789abcdef", True),  # nginx's $request_id
        ("5f1c1c2e-8a8b-4c4f-9f7e-0a1b2c3d4e5f", True),
        ("a" * 129, False),
        ("id with spaces", False),
        ('{"level": "ERROR"}', False),
        ("", False),
    ],
)
def test_a_trusted_proxys_request_id_is_kept_when_it_looks_like_one(make_app, offered, kept):
    client = make_app(TRUSTED_PROXY_HOPS=1).test_client()
    returned = client.get("/healthz", headers={"X-Request-ID": offered}).headers["X-Request-ID"]
    assert (returned == offered) is kept
    assert logs.REQUEST_ID_PATTERN.match(returned)


# --- formats ---------------------------------------------------------------------------------


def test_log_format_json_writes_one_json_object_per_line():
    """In a fresh process, as an operator runs it: LOG_FORMAT=json on stderr."""
    script = (
        "from chatapp.app import create_app\n"
        "from config import TestConfig\n"
        "from tests.helpers.chat import Api\n"
        "app = create_app(TestConfig, LOG_FORMAT='json')\n"
        "client, user = Api(app).user()\n"
        "print(user['_id'])\n"
        "client.get('/api/v1/user', headers={'X-Request-ID': 'ignored'})\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**os.environ, "APP_ENV": "testing", "TEST_REDIS_URL": ""},  # one process, no queue
    )
    assert result.returncode == 0, result.stderr
    user_id = result.stdout.strip()
    entries = [json.loads(line) for line in result.stderr.splitlines()]  # every line parses
    access = [entry for entry in entries if entry["logger"] == "chatapp.access"]
    assert [entry["route"] for entry in access] == [
        "/api/v1/user/register", "/api/v1/user/login", "/api/v1/user/",
    ]
    assert [entry["status"] for entry in access] == [201, 200, 200]
    assert all(len(entry["request_id"]) == 32 for entry in access)
    assert len({entry["request_id"] for entry in access}) == 3
    assert access[-1]["user_id"] == user_id


def test_the_human_format_appends_the_request_context(client, caplog):
    caplog.set_level(logging.INFO)
    request_id = client.get("/healthz").headers["X-Request-ID"]
    line = logs.HumanFormatter().format(caplog.records[-1])
    assert "chatapp.access: GET /healthz 200" in line
    assert f"request_id={request_id}" in line and "route=/healthz" in line


def test_an_unknown_log_format_stops_the_start():
    with pytest.raises(RuntimeError, match="LOG_FORMAT"):
        create_app(TestConfig, LOG_FORMAT="xml")


def test_pymongo_never_logs_commands_even_at_debug(make_app):
    make_app(LOG_LEVEL="DEBUG")
    # pymongo.command logs whole command documents (message texts, password hashes) at DEBUG.
    assert not logging.getLogger("pymongo.command").isEnabledFor(logging.DEBUG)
    assert logging.getLogger("chatapp").isEnabledFor(logging.DEBUG)


# --- sockets ---------------------------------------------------------------------------------


def socket_lines(caplog):
    return [entry for entry in lines(caplog) if entry["logger"] == "chatapp.sockets"]


def test_socket_connect_and_disconnect_are_logged_once_each(app, api, connect, caplog):
    alice_client, alice = api.user()
    caplog.set_level(logging.INFO)
    socket = connect(alice_client)
    socket.disconnect()
    connected, disconnected = socket_lines(caplog)
    assert connected["event"] == "socket_connect" and connected["user_id"] == alice["_id"]
    assert connected["sid"]
    assert disconnected["event"] == "socket_disconnect"
    assert disconnected["user_id"] == alice["_id"] and disconnected["sid"] == connected["sid"]
    assert disconnected["reason"]


def test_socket_refusals_are_logged_with_their_reason(app, connect, caplog):
    caplog.set_level(logging.INFO)
    connect(auth={"token": "not-a-jwt"})
    connect()
    refusals = socket_lines(caplog)
    assert [entry["event"] for entry in refusals] == ["socket_refused", "socket_refused"]
    assert refusals[0]["reason"] == "authentication failed: Invalid token"
    assert refusals[1]["reason"] == "authentication failed: User not authenticated."


def test_a_pending_socket_is_logged_as_pending(app, api, connect, caplog):
    _, alice = api.user()
    caplog.set_level(logging.INFO)
    connect(query_string=f"userId={alice['_id']}")
    (pending,) = socket_lines(caplog)
    assert pending["event"] == "socket_pending"
    assert "user_id" not in pending  # a claim is not a user


# --- secrets ---------------------------------------------------------------------------------


def test_no_token_password_or_message_text_in_any_log_line(app, api, connect, caplog):
    """Drive logins (good, bad, refused), sends over HTTP and sockets, socket connects with a
    token, with a bad token and with a cookie, at DEBUG; then look for every secret in every
    line, as both formats write it."""
    caplog.set_level(logging.DEBUG)
    password = "s3cret-Password-42"
    alice, alice_user = api.user(password=password, confirmPassword=password)
    bob, bob_user = api.user()
    token = alice.get_cookie("token").value
    wrong = "wrong-Password-99"
    for _ in range(6):  # failures, then a refusal (TestConfig: 5 failures a minute)
        api.login(app.test_client(), alice_user["username"], wrong)
    texts = ["http text 7f3a9c", "socket text 91be44"]
    sent(alice, bob_user["_id"], texts[0])
    alice.get(f"/api/v1/message/{bob_user['_id']}", headers={"Authorization": f"Bearer {token}"})
    by_token = connect(auth={"token": token})
    by_cookie = connect(bob)
    connect(auth={"token": token + "x"})  # refused
    by_token.emit("sendMessage", {"receiverId": bob_user["_id"], "message": texts[1]},
                  callback=True)
    assert by_cookie.get_received()  # bob got it: the paths under test really ran
    by_token.disconnect()
    by_cookie.disconnect()

    # The lines most likely to leak were all written: logins, refusals, sends, socket lines.
    seen = {(entry["logger"], entry.get("status", entry.get("event"))) for entry in lines(caplog)}
    assert {("chatapp.access", 200), ("chatapp.access", 400), ("chatapp.access", 429),
            ("chatapp.sockets", "socket_connect"), ("chatapp.sockets", "socket_refused"),
            ("chatapp.sockets", "socket_disconnect")} <= seen
    secrets = [password, wrong, token, token.split(".")[2], *texts, app.config["JWT_SECRET_KEY"]]
    for formatter in (logs.JsonFormatter(), logs.HumanFormatter()):
        for record in caplog.records:
            line = formatter.format(record)
            for secret in secrets:
                assert secret not in line, (secret, line)
    assert PASSWORD not in caplog.text


def test_a_browser_on_an_allowed_origin_can_read_the_request_id(client):
    """So a client can quote it in a bug report, and the operator find every line of it."""
    response = client.get("/api/v1/user", headers={"Origin": "http://localhost:5173"})
    assert "X-Request-ID" in response.headers["Access-Control-Expose-Headers"]
    assert response.headers["X-Request-ID"]


def test_a_connect_that_fails_is_logged_as_refused(app, api, connect, caplog, monkeypatch):
    from chatapp.realtime import namespace

    alice_client, _ = api.user()

    def database_down(*args):
        raise ConnectionError("database unreachable")

    monkeypatch.setattr(namespace, "identify", database_down)
    caplog.set_level(logging.INFO)
    try:
        connected = connect(alice_client).is_connected()
    except ConnectionError:  # without an on_error_default the test client re-raises it
        connected = False
    assert not connected
    (refused,) = socket_lines(caplog)
    assert refused["event"] == "socket_refused"
    assert refused["reason"] == "error: ConnectionError"


def test_a_pending_socket_never_upgraded_is_logged_as_refused(app, api, connect, caplog,
                                                               monkeypatch):
    from chatapp.realtime import upgrade_login

    monkeypatch.setattr(upgrade_login, "PENDING_SECONDS", 0.05)
    _, alice = api.user()
    caplog.set_level(logging.INFO)
    socket = connect(query_string=f"userId={alice['_id']}")
    deadline = time.monotonic() + 5
    while socket.is_connected() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not socket.is_connected()
    events = [(entry["event"], entry.get("reason")) for entry in socket_lines(caplog)]
    assert events[:2] == [("socket_pending", None),
                          ("socket_refused", "no WebSocket upgrade within 0.05 s")]


def test_a_path_cannot_forge_a_log_line(client, caplog):
    caplog.set_level(logging.INFO)
    client.get("/nothing%0A2026-01-01 00:00:00,000 ERROR chatapp: forged%0D")
    line = logs.HumanFormatter().format(caplog.records[-1])
    assert "\n" not in line and "\r" not in line
    assert "/nothing\\x0a2026-01-01" in line
