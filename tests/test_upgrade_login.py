"""The unmodified React client's socket: no cookie on its polling connect, the cookie on its
WebSocket upgrade. The socket waits unseen until that upgrade proves the user it claimed."""

import time

import pytest
from werkzeug.test import EnvironBuilder

from chatapp import auth
from chatapp.extensions import socketio
from chatapp.realtime import upgrade_login
from chatapp.realtime.upgrade_login import UpgradeAuthenticator, UpgradeLogin, websocket_upgrade
from tests.helpers.chat import received, send


def upgrade(app, socket, token):
    """What a browser's WebSocket upgrade of `socket`'s Engine.IO session sends the server."""
    environ = EnvironBuilder(
        path="/socket.io/",
        query_string={"EIO": "4", "transport": "websocket", "sid": socket.eio_sid},
        headers={"Upgrade": "websocket", "Connection": "Upgrade", "Cookie": f"token={token}"},
    ).get_environ()
    # Engine.IO then answers the test client's (unreal) session with an error: not the point.
    app.wsgi_app(environ, lambda status, headers, exc_info=None: None)


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


def test_only_websocket_upgrades_of_a_session_are_looked_at():
    def environ(**kw):
        return EnvironBuilder(**kw).get_environ()

    upgrade_headers = {"Upgrade": "websocket", "Connection": "Upgrade"}
    assert websocket_upgrade(environ(
        path="/socket.io/", query_string="EIO=4&transport=websocket&sid=abc", headers=upgrade_headers,
    )) == "abc"
    assert websocket_upgrade(environ(  # a polling request
        path="/socket.io/", query_string="EIO=4&transport=polling&sid=abc")) is None
    assert websocket_upgrade(environ(  # a websocket without a session: its connect has the cookie
        path="/socket.io/", query_string="EIO=4&transport=websocket", headers=upgrade_headers)) is None
    assert websocket_upgrade(environ(
        path="/api/v1/user/", query_string="transport=websocket&sid=abc", headers=upgrade_headers,
    )) is None


def test_the_server_uses_it(app):
    handler = socketio.server.namespace_handlers["/"]
    assert isinstance(handler.upgrades, UpgradeLogin)


def test_an_upgrade_whose_check_fails_leaves_the_socket_waiting(app, api, connect, monkeypatch):
    """A database error while checking the cookie must not break the upgrade request."""
    bob, bob_user = api.user()
    socket = react_socket(connect, bob_user)

    def database_down(*args, **kwargs):
        raise RuntimeError("database unreachable")

    monkeypatch.setattr(auth, "authenticate", database_down)
    upgrade(app, socket, bob.get_cookie("token").value)  # no exception escapes
    assert socket.is_connected() and socket.get_received() == []
