"""A client trying to reach what it should not through its socket: internal handlers, binary
attachments, floods of connects; each refused quietly (no traceback per event in the log)."""

import logging

import pytest
from socketio import packet

from chatapp.realtime import cluster
from tests.helpers.chat import received, send


@pytest.fixture
def errors_logged(caplog):
    """The tracebacks logged during the test (an attacker's events must not write any)."""
    caplog.set_level(logging.INFO)
    return lambda: [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def test_a_client_emitting_disconnect_stays_signed_in_and_online(app, api, connect):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    bob_socket = connect(bob)
    alice_socket = connect(alice)
    received(bob_socket, "getOnlineUsers")
    alice_socket.emit("disconnect", "client namespace disconnect")
    alice_socket.emit("connect", {"token": "x"})
    assert received(bob_socket, "getOnlineUsers") == []  # nobody saw alice go offline
    assert alice_user["_id"] in app.extensions[cluster.PRESENCE].online_user_ids()
    assert send(bob, alice_user["_id"], "still there?").status_code == 201
    assert [m["message"] for m in received(alice_socket, "newMessage")] == ["still there?"]


@pytest.mark.parametrize("event", ["upgrade", "admit_upgrade", "admit", "_expire", "trigger_event",
                                   "error", "message", "json", "unknownThing"])
def test_internal_and_unknown_event_names_reach_no_handler(app, api, connect, event, errors_logged):
    alice, alice_user = api.user()
    _, bob_user = api.user()
    socket = connect(query_string=f"userId={bob_user['_id']}")  # pending, as the React client is
    ack = socket.emit(event, "eio-sid-of-someone", alice.get_cookie("token").value, callback=True)
    assert ack is None  # no handler answered
    assert socket.get_received() == []  # and nothing admitted it
    assert alice_user["_id"] not in app.extensions[cluster.PRESENCE].online_user_ids()
    assert errors_logged() == []


@pytest.mark.parametrize("name", [1.5, None, {"a": 1}, ["sendMessage"]])
def test_non_string_event_names_are_ignored_quietly(app, api, connect, name, errors_logged):
    client, _ = api.user()
    socket = connect(client)
    socket.get_received()
    pkt = packet.Packet(packet.EVENT, data=[name, {"x": 1}], id=7)
    app.extensions["socketio"].server._handle_eio_message(socket.eio_sid, pkt.encode())
    assert socket.is_connected()
    assert errors_logged() == []


def test_binary_attachments_are_refused(app, api, connect, errors_logged):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    socket = connect(alice)
    socket.emit("sendMessage", {"receiverId": bob_user["_id"], "message": b"\x00" * 10})
    assert not socket.is_connected()
    assert errors_logged() == []


def test_events_of_a_pending_socket_are_refused_quietly(app, api, connect, errors_logged):
    alice, alice_user = api.user()
    _, bob_user = api.user()
    socket = connect(query_string=f"userId={bob_user['_id']}")
    for _ in range(3):
        socket.emit("typing", {"to": alice_user["_id"], "isTyping": True})
        ack = socket.emit(
            "sendMessage", {"receiverId": alice_user["_id"], "message": "x"}, callback=True
        )
        assert ack == {"ok": False, "message": "User not authenticated."}
    assert errors_logged() == []


def test_open_sockets_per_user_are_capped(app, api, connect):
    app.config["SOCKETS_PER_USER_MAX"] = 3
    client, _ = api.user()
    sockets = [connect(client) for _ in range(4)]
    assert [s.is_connected() for s in sockets] == [True, True, True, False]
    sockets[0].disconnect()
    assert connect(client).is_connected()  # a closed one frees its place


def test_connects_per_user_per_minute_are_capped(app, api, connect):
    app.config["SOCKET_CONNECT_LIMIT"] = "5 per minute"
    client, user = api.user()
    watcher_client, _ = api.user()
    watcher = connect(watcher_client)
    received(watcher, "getOnlineUsers")
    opened = []
    for _ in range(10):  # one account toggling its socket
        socket = connect(client)
        opened.append(socket.is_connected())
        if socket.is_connected():
            socket.disconnect()
    assert opened == [True] * 5 + [False] * 5
    # Everyone heard that user come and go 5 times at most, not 10.
    assert len(received(watcher, "getOnlineUsers")) == 10


def test_a_pending_socket_claiming_a_victim_does_not_use_up_the_victims_limits(app, api, connect):
    app.config["SOCKETS_PER_USER_MAX"] = 2
    app.config["SOCKET_CONNECT_LIMIT"] = "2 per minute"
    victim_client, victim = api.user()
    for _ in range(5):  # anyone may open sockets that claim to be the victim
        connect(query_string=f"userId={victim['_id']}")
    assert connect(victim_client).is_connected()


def test_the_cap_on_sessions_not_signed_in_counts_each_client_behind_the_proxy(make_app):
    app = make_app(TRUSTED_PROXY_HOPS=1, SOCKET_PENDING_PER_ADDRESS=1)
    client = app.test_client()

    def handshake(address):
        return client.get("/socket.io/?EIO=4&transport=polling",
                          headers={"X-Forwarded-For": address}).status_code

    assert handshake("203.0.113.1") == 200
    assert handshake("203.0.113.2") == 200  # another client behind the same proxy
    assert handshake("203.0.113.1") == 401  # the first one's second session
