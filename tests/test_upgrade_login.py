"""The unmodified React client's socket: no cookie on its polling connect, the cookie on its
WebSocket upgrade. The socket waits unseen until that upgrade proves the user it claimed.

Here the admission logic, called as Engine.IO calls it once it accepted an upgrade; the real
upgrade path (Origin, probe, attacker pages) is driven on a live server in
tests/test_upgrade_attacks.py."""

import time

import pytest
from werkzeug.test import EnvironBuilder

from chatapp import auth
from chatapp.extensions import socketio
from chatapp.realtime import upgrade_login
from chatapp.realtime.upgrade_login import UpgradeAuthenticator, UpgradeLogin
from tests.helpers.chat import received, send


def upgrade_environ(eio_sid, token, origin=None):
    """What a browser's WebSocket upgrade of session `eio_sid` sends the server."""
    headers = {"Upgrade": "websocket", "Connection": "Upgrade", "Cookie": f"token={token}"}
    if origin:
        headers["Origin"] = origin
    return EnvironBuilder(
        path="/socket.io/",
        query_string={"EIO": "4", "transport": "websocket", "sid": eio_sid},
        headers=headers,
    ).get_environ()


def upgrade(app, socket, token, origin=None):
    """Engine.IO accepted the WebSocket upgrade of `socket`'s session, which carried `token`
    (the test client's sessions are not real Engine.IO sessions: its acceptance is simulated)."""
    handler = socketio.server.namespace_handlers["/"]
    handler.upgrades.accepted(socket.eio_sid, upgrade_environ(socket.eio_sid, token, origin))


def react_socket(connect, user):
    """io(url, {query: {userId}}) whose polling handshake carried no cookie."""
    return connect(query_string=f"userId={user['_id']}")


def test_the_upgrade_cookie_of_the_claimed_user_admits_the_socket(app, api, connect):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    socket = react_socket(connect, bob_user)
    assert socket.get_received() == []
    upgrade(app, socket, bob.get_cookie("token").value)
    assert received(socket, "getOnlineUsers") == [[bob_user["_id"]]]
    assert send(alice, bob_user["_id"], "live at last").status_code == 201
    assert [m["message"] for m in received(socket, "newMessage")] == ["live at last"]
    ack = socket.emit("sendMessage", {"receiverId": alice_user["_id"], "message": "hi"}, callback=True)
    assert ack["ok"] is True and ack["newMessage"]["senderId"] == bob_user["_id"]


def test_an_upgrade_with_another_users_cookie_disconnects_the_socket(app, api, connect):
    attacker, _ = api.user()
    _, victim = api.user()
    socket = react_socket(connect, victim)
    upgrade(app, socket, attacker.get_cookie("token").value)
    assert not socket.is_connected()


@pytest.mark.parametrize("token", ["garbage", "a.b.c", ""])
def test_an_upgrade_with_a_bad_cookie_proves_nothing(app, api, connect, token):
    alice, _ = api.user()
    _, bob_user = api.user()
    socket = react_socket(connect, bob_user)
    upgrade(app, socket, token)
    assert socket.is_connected()  # still waiting for a good one, until PENDING_SECONDS
    assert send(alice, bob_user["_id"], "not for a stranger").status_code == 201
    assert socket.get_received() == []


def test_a_socket_that_never_upgrades_is_disconnected(api, connect, monkeypatch):
    monkeypatch.setattr(upgrade_login, "PENDING_SECONDS", 0.05)
    _, bob_user = api.user()
    socket = react_socket(connect, bob_user)
    deadline = time.monotonic() + 5
    while socket.is_connected() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not socket.is_connected()


def test_an_upgrade_that_arrives_before_the_connect_is_kept_for_it():
    upgrades = UpgradeAuthenticator()
    assert upgrades.upgraded("eio1", "bob", connected=lambda: None) is None
    assert upgrades.wait_for_upgrade("eio1", "sid1", claimed="bob") == "bob"
    # Used once: a second connect of that session would wait like any other.
    assert upgrades.wait_for_upgrade("eio1", "sid2", claimed="bob") is None


def test_the_upgrade_of_a_socket_that_connected_with_a_token_is_not_kept():
    upgrades = UpgradeAuthenticator()
    assert upgrades.upgraded("eio1", "bob", connected=lambda: "sid1") is None
    assert upgrades.wait_for_upgrade("eio1", "sid2", claimed="bob") is None


def test_an_upgrade_to_a_made_up_session_leaves_no_entry(app, api):
    """Engine.IO refuses it (unknown session) before anything of it is remembered."""
    alice, _ = api.user()
    statuses = []
    for n in range(50):
        environ = upgrade_environ(f"made-up-{n}", alice.get_cookie("token").value)
        app.wsgi_app(environ, lambda status, headers, exc_info=None: statuses.append(status))
    assert all(status.startswith("400") for status in statuses)
    assert socketio.server.namespace_handlers["/"].upgrades.sessions.waiting_identities() == 0


def test_the_identities_waiting_for_their_connect_are_bounded(monkeypatch):
    monkeypatch.setattr(upgrade_login, "UPGRADE_MEMORY_MAX", 100)
    upgrades = UpgradeAuthenticator()
    for n in range(1000):
        upgrades.upgraded(f"eio{n}", "bob", connected=lambda: None)
    assert upgrades.waiting_identities() <= 100
    assert upgrades.wait_for_upgrade("eio999", "sid", claimed="bob") == "bob"  # the newest kept


def test_an_upgrade_from_a_page_outside_the_allowed_origins_admits_nothing(app, api, connect):
    """Defence in depth: even told that Engine.IO accepted it, a bad Origin proves nothing."""
    bob, bob_user = api.user()
    socket = react_socket(connect, bob_user)
    upgrade(app, socket, bob.get_cookie("token").value, origin="http://localhost:6666")
    assert socket.get_received() == []
    upgrade(app, socket, bob.get_cookie("token").value, origin="http://localhost:5173")
    assert received(socket, "getOnlineUsers") == [[bob_user["_id"]]]


def test_the_server_uses_it(app):
    handler = socketio.server.namespace_handlers["/"]
    assert isinstance(handler.upgrades, UpgradeLogin)


def test_an_upgrade_whose_check_fails_leaves_the_socket_waiting(app, api, connect, monkeypatch):
    """A database error while checking the cookie must not break the upgrade request."""
    bob, bob_user = api.user()
    socket = react_socket(connect, bob_user)

    def database_down(*args, **kwargs):
        raise RuntimeError("database unreachable")

    monkeypatch.setattr(auth, "authenticate_claims", database_down)
    upgrade(app, socket, bob.get_cookie("token").value)  # no exception escapes
    assert socket.is_connected() and socket.get_received() == []
