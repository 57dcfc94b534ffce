"""The real server process, driven by a real Socket.IO client over loopback.

gunicorn with each worker we support (eventlet, gevent), and `python wsgi.py` as `make run`
starts it, checked for what a user of the React client would notice: who shows as online, which
tabs a message reaches live, which sockets are refused. Both Socket.IO transports are exercised:
a browser starts on long-polling and upgrades, and some proxies allow only one of them.

Waits are bounded polls for an outcome, never fixed sleeps; a negative ("B's message did not
reach C") is checked behind a later event on the same socket, which would have arrived after it.
"""

import sys
import time

import pytest
import requests

from tests.helpers.live import (  # noqa: F401 (fixtures: server, transport, new_user, open_tab)
    ALLOWED_ORIGIN,
    WAIT_SECONDS,
    Tab,
    new_user,
    open_tab,
    refused,
    register_and_log_in,
    server,
    start_server,
    transport,
)
from tests.helpers.live_server import LiveServer

pytestmark = pytest.mark.integration


# --- logging in -----------------------------------------------------------------------------

def test_the_login_cookie_connects_and_the_user_sees_themselves_online(new_user, open_tab):
    me = new_user()
    tab = open_tab(me)
    tab.wait_until(lambda tab: tab.received("getOnlineUsers"), "a getOnlineUsers list")
    # The list a socket gets right after connecting already shows its own user.
    assert me.id in tab.received("getOnlineUsers")[0]


def test_a_token_in_auth_connects_without_a_cookie(new_user, open_tab):
    me = new_user()
    tab = open_tab(auth={"token": me.token})
    tab.wait_online(includes=[me])


# --- refusals -------------------------------------------------------------------------------

def test_a_socket_without_a_token_is_refused_or_sees_nothing(new_user, open_tab):
    victim, friend = new_user(), new_user()
    assert refused(open_tab)
    # The seed's way: it believed any ?userId=. Such a socket now waits, unseen, for the cookie
    # of a WebSocket upgrade (what a browser sends: tests/test_browser.py) and gets nothing.
    stranger = open_tab(query=f"?userId={victim.id}")
    victim_tab = open_tab(victim)
    victim_tab.wait_online(includes=[victim])
    friend.send(victim, "for the victim only")
    victim_tab.wait_messages(1)
    time.sleep(0.3)  # the stranger's copy would have arrived by now
    assert stranger.received("newMessage") == []
    assert stranger.received("getOnlineUsers") == []


def test_a_userid_of_another_user_is_refused_even_with_a_valid_cookie(new_user, open_tab):
    attacker, victim, friend = new_user(), new_user(), new_user()
    friend_tab = open_tab(friend)
    assert refused(open_tab, attacker, query=f"?userId={victim.id}")
    # The refusal is about the mismatch: naming oneself is fine (the React client does). Once
    # the friend sees the attacker's own socket, any list showing the victim would have arrived.
    assert not refused(open_tab, attacker, query=f"?userId={attacker.id}")
    friend_tab.wait_online(includes=[friend, attacker])
    assert not any(victim.id in ids for ids in friend_tab.received("getOnlineUsers"))


def test_a_cross_site_handshake_is_refused_even_with_a_valid_cookie(new_user, open_tab):
    me = new_user()
    assert refused(open_tab, me, origin="http://evil.example")
    # The refusal is about the origin: the same cookie from the configured frontend connects.
    assert not refused(open_tab, me, origin=ALLOWED_ORIGIN)


# --- presence -------------------------------------------------------------------------------

def test_others_see_a_user_come_online_and_go_offline(new_user, open_tab):
    alice, bob = new_user(), new_user()
    alice_tab = open_tab(alice)
    alice_tab.wait_online(includes=[alice])

    bob_tab = open_tab(bob)
    alice_tab.wait_online(includes=[alice, bob])
    bob_tab.wait_online(includes=[alice, bob])

    bob_tab.close()
    alice_tab.wait_online(includes=[alice], excludes=[bob])


def test_a_second_tab_keeps_a_user_online_when_the_first_closes(new_user, open_tab):
    alice, bob, carol = new_user(), new_user(), new_user()
    alice_tab = open_tab(alice)
    bob_tab_1 = open_tab(bob)
    bob_tab_2 = open_tab(bob)
    alice_tab.wait_online(includes=[alice, bob])

    bob_tab_1.close()
    # Carol's coming and going is announced after bob's first tab closed: had that taken bob
    # offline, these later lists would say so.
    carol_tab = open_tab(carol)
    alice_tab.wait_online(includes=[alice, bob, carol])
    carol_tab.close()
    alice_tab.wait_online(includes=[alice, bob], excludes=[carol])

    bob_tab_2.close()
    alice_tab.wait_online(includes=[alice], excludes=[bob])


# --- delivery -------------------------------------------------------------------------------

def test_a_message_reaches_every_tab_of_the_receiver_and_nobody_else(new_user, open_tab):
    alice, bob, carol = new_user(), new_user(), new_user()
    alice_tab = open_tab(alice)
    bob_tabs = [open_tab(bob), open_tab(bob)]
    carol_tab = open_tab(carol)

    sent = alice.send(bob, "hi bob")
    for tab in bob_tabs:
        assert tab.wait_messages(1) == [sent]  # exactly the send response's JSON

    # Each socket's events arrive in order: a message sent later to alice and to carol arrives
    # after "hi bob" would have, so seeing only it proves "hi bob" never came.
    reply = bob.send(alice, "hi alice")
    aside = bob.send(carol, "hi carol")
    assert alice_tab.wait_messages(1) == [reply]
    assert carol_tab.wait_messages(1) == [aside]


# --- the development entry point ------------------------------------------------------------

class DevServer(LiveServer):
    """`python wsgi.py`, what `make run` runs, with the same environment as the live server."""

    def __init__(self, async_mode):
        super().__init__(async_mode)
        self.env.update(HOST="127.0.0.1", PORT=str(self.port))

    def command(self):
        return [sys.executable, "wsgi.py"]


@pytest.mark.parametrize("async_mode", ["eventlet", "gevent"])
def test_make_run_serves_websockets_without_a_terminal(tmp_path, async_mode):
    # LiveServer starts it with stdin from /dev/null, in a new session: no terminal at all.
    dev = DevServer(async_mode)
    start_server(dev, tmp_path / "wsgi.log")  # waits for /healthz to answer 200
    try:
        me = register_and_log_in(dev.url)
        tab = Tab()
        try:
            tab.connect(dev.url, "websocket", headers=me.cookie_header)
            assert tab.client.transport() == "websocket"
            tab.wait_online(includes=[me])
        finally:
            tab.close()
            me.session.close()
    finally:
        dev.stop()


# --- HTTP bodies as gunicorn hands them over ------------------------------------------------

def test_a_chunked_body_over_the_limit_is_a_413_on_the_real_server(server):
    # Without Content-Length, the limit (MAX_CONTENT_LENGTH, 64 KiB) is found only by reading.
    def chunks():
        yield b'{"username": "'
        yield b"x" * 100_000
        yield b'", "password": "whatever"}'

    response = requests.post(
        f"{server.url}/api/v1/user/login", data=chunks(),
        headers={"Content-Type": "application/json"}, timeout=WAIT_SECONDS,
    )
    assert response.status_code == 413, response.text
    assert response.json()["success"] is False


def test_an_idle_keep_alive_connection_is_still_open_a_few_seconds_later(server):
    """Clients pool keep-alive connections and reuse them after a pause; gunicorn's default of
    2 s closed them first, and a POST sent on a connection as it closes fails (clients do not
    retry POSTs): the benchmark's senders saw such failures at low rates."""
    import http.client
    from urllib.parse import urlsplit

    address = urlsplit(server.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=5)
    try:
        connection.request("GET", "/healthz")
        first = connection.getresponse()
        assert first.status == 200 and first.read()
        time.sleep(3)  # longer than gunicorn's default keep-alive
        # http.client does not reconnect a connection the server closed: this raises then.
        connection.request("GET", "/healthz")
        again = connection.getresponse()
        assert again.status == 200 and again.read()
    finally:
        connection.close()
