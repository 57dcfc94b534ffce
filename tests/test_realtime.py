"""Socket.IO: who may connect as whom, presence across tabs, and who receives which message."""

import pytest

from chatapp import security
from chatapp.realtime.presence import Presence, PresenceBroadcaster
from chatapp.services import messages
from tests.conftest import received, send


def online_lists(socket):
    return [sorted(ids) for ids in received_all(socket, "getOnlineUsers")]


def received_all(socket, event):
    return [p["args"][0] for p in socket.get_received() if p["name"] == event]


# --- authentication -------------------------------------------------------------------------

def test_the_login_cookie_authenticates_the_socket(api, connect):
    client, me = api.user()
    socket = connect(client)
    assert socket.is_connected()
    assert received(socket, "getOnlineUsers") == [[me["_id"]]]


def test_a_token_in_auth_authenticates_the_socket(app, api, connect):
    _, me = api.user()
    token = security.create_token(me["_id"], app.config["JWT_SECRET_KEY"], 60)
    socket = connect(auth={"token": token})
    assert socket.is_connected()
    assert received(socket, "getOnlineUsers") == [[me["_id"]]]


def test_a_bearer_header_authenticates_the_socket(app, api, connect):
    _, me = api.user()
    token = security.create_token(me["_id"], app.config["JWT_SECRET_KEY"], 60)
    socket = connect(headers={"Authorization": f"Bearer {token}"})
    assert socket.is_connected()


def test_a_socket_with_nothing_but_a_userid_query_gets_nothing(api, connect):
    alice, alice_user = api.user()
    victim_client, victim = api.user()
    # The seed's way: any ?userId= was believed. Here such a socket waits, unseen, for the
    # cookie of its WebSocket upgrade (tests/test_upgrade_login.py), and gets nothing meanwhile.
    socket = connect(query_string=f"userId={victim['_id']}")
    assert received(socket, "getOnlineUsers") == []
    assert send(alice, victim["_id"], "for the victim only").status_code == 201
    assert socket.get_received() == []
    ack = socket.emit("sendMessage", {"receiverId": alice_user["_id"], "message": "as the victim"},
                      callback=True)
    assert ack == {"ok": False, "message": "User not authenticated."}
    watcher = connect(victim_client)
    assert received(watcher, "getOnlineUsers") == [[victim["_id"]]]  # the pending one is not it
    # Nor does it hear presence changes (the watcher just came online).
    assert socket.get_received() == []


def test_a_socket_with_no_token_and_no_userid_is_refused(connect):
    assert not connect().is_connected()


@pytest.mark.parametrize("token", ["garbage", "", None, 42, {"$ne": None}])
def test_bad_tokens_in_auth_are_refused(connect, token):
    assert not connect(auth={"token": token}).is_connected()


def test_a_userid_query_that_is_not_the_tokens_user_is_refused(api, connect):
    attacker, _ = api.user()
    _, victim = api.user()
    socket = connect(attacker, query_string=f"userId={victim['_id']}")
    assert not socket.is_connected()


def test_a_userid_query_matching_the_token_is_fine(api, connect):
    client, me = api.user()
    assert connect(client, query_string=f"userId={me['_id']}").is_connected()


def test_impersonation_never_receives_the_victims_messages(api, connect):
    attacker, _ = api.user()
    victim, victim_user = api.user()
    friend, _ = api.user()
    victim_tab = connect(victim)
    victim_tab.get_received()
    spy = connect(attacker, query_string=f"userId={victim_user['_id']}")
    assert not spy.is_connected()
    send(friend, victim_user["_id"], "secret")
    assert [m["message"] for m in received(victim_tab, "newMessage")] == ["secret"]


def test_a_deleted_users_token_is_refused(api, connect):
    from chatapp.models import User

    client, me = api.user()
    User.objects(id=me["_id"]).delete()
    assert not connect(client).is_connected()


def test_the_trust_query_escape_hatch_is_off_by_default_and_works_when_on(app, api, connect):
    _, me = api.user()
    pending = connect(query_string=f"userId={me['_id']}")
    assert received(pending, "getOnlineUsers") == []  # off: waits for a cookie, sees nothing
    app.config["SOCKET_TRUST_QUERY_USER_ID"] = True
    trusted = connect(query_string=f"userId={me['_id']}")
    assert received(trusted, "getOnlineUsers") == [[me["_id"]]]
    # Even then, only ids of existing users.
    assert not connect(query_string="userId=" + "0" * 24).is_connected()
    assert not connect(query_string="userId=nonsense").is_connected()


# --- presence -------------------------------------------------------------------------------

def test_everyone_hears_when_a_user_comes_online_and_goes_offline(api, connect):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    alice_socket = connect(alice)
    assert online_lists(alice_socket) == [[alice_user["_id"]]]
    bob_socket = connect(bob)
    both = sorted([alice_user["_id"], bob_user["_id"]])
    assert online_lists(bob_socket)[-1] == both
    assert online_lists(alice_socket) == [both]
    bob_socket.disconnect()
    assert online_lists(alice_socket) == [[alice_user["_id"]]]


def test_a_second_tab_keeps_the_user_online_when_the_first_closes(api, connect):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    watcher = connect(alice)
    bob_tab_1 = connect(bob)
    bob_tab_2 = connect(bob)
    watcher.get_received()
    # The second tab got the list at once...
    assert sorted(received(bob_tab_2, "getOnlineUsers")[-1]) == sorted([alice_user["_id"], bob_user["_id"]])
    bob_tab_1.disconnect()
    # ...and closing the first changes nothing for anyone: no new list, bob still online.
    assert online_lists(watcher) == []
    bob_tab_2.disconnect()
    assert online_lists(watcher) == [[alice_user["_id"]]]


def test_a_refused_socket_changes_nobodys_presence(api, connect):
    alice, alice_user = api.user()
    watcher = connect(alice)
    watcher.get_received()
    connect(auth={"token": "forged"})
    assert online_lists(watcher) == []


def test_presence_counts_sockets_per_user():
    presence = Presence()
    assert presence.add("u1", "s1") is True
    assert presence.add("u1", "s2") is False
    assert presence.add("u2", "s3") is True
    assert sorted(presence.online_user_ids()) == ["u1", "u2"]
    assert presence.remove("s1") == ("u1", False)
    assert presence.remove("s2") == ("u1", True)
    assert presence.remove("s2") == (None, False)  # a second disconnect is harmless
    assert presence.online_user_ids() == ["u2"]


def test_broadcasts_within_a_window_are_coalesced_into_one():
    presence = Presence()
    sent, tasks = [], []
    broadcaster = PresenceBroadcaster(
        presence,
        send=lambda ids, skip_sid=None: sent.append(ids),
        start_task=tasks.append,
        sleep=lambda seconds: None,
    )
    broadcaster.window = 0.05
    for n in range(100):
        presence.add(f"u{n}", f"s{n}")
        broadcaster.changed()
    assert len(tasks) == 1 and sent == []  # one send scheduled for the whole burst
    tasks.pop()()
    assert len(sent) == 1 and len(sent[0]) == 100  # and it carries the final set
    presence.remove("s0")
    broadcaster.changed()
    assert len(tasks) == 1  # the next change schedules the next send


# --- delivery -------------------------------------------------------------------------------

def test_a_message_reaches_every_tab_of_the_receiver_and_nobody_else(api, connect):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    carol, _ = api.user()
    alice_tab = connect(alice)
    bob_tabs = [connect(bob), connect(bob)]
    carol_tab = connect(carol)
    for socket in (alice_tab, *bob_tabs, carol_tab):
        socket.get_received()

    response = send(alice, bob_user["_id"], "hi bob")
    new_message = response.get_json()["newMessage"]
    for tab in bob_tabs:
        assert received(tab, "newMessage") == [new_message]  # exactly the send response's JSON
    assert received(alice_tab, "newMessage") == []
    assert received(carol_tab, "newMessage") == []


def test_a_failed_send_emits_nothing(api, connect):
    alice, _ = api.user()
    bob, bob_user = api.user()
    bob_tab = connect(bob)
    bob_tab.get_received()
    assert send(alice, bob_user["_id"], "   ").status_code == 400
    assert received(bob_tab, "newMessage") == []


def test_the_service_emits_after_storing(api, connect):
    """send_message called directly (no HTTP) still delivers: the event belongs to the write."""
    _, alice_user = api.user()
    bob, bob_user = api.user()
    bob_tab = connect(bob)
    bob_tab.get_received()
    wire, created = messages.send_message(alice_user["_id"], bob_user["_id"], "direct", max_length=100)
    assert created
    assert received(bob_tab, "newMessage") == [wire]
    page, _ = messages.list_messages(bob_user["_id"], alice_user["_id"], limit=10)
    assert page == [wire]


def test_an_offline_receiver_finds_the_message_in_history(api, connect):
    alice, _ = api.user()
    bob, bob_user = api.user()
    send(alice, bob_user["_id"], "while you were out")
    bob_tab = connect(bob)
    assert received(bob_tab, "newMessage") == []  # nothing is replayed over the socket...
    alice_id = next(u["_id"] for u in bob.get("/api/v1/user/").get_json())
    page = bob.get(f"/api/v1/message/{alice_id}").get_json()
    assert [m["message"] for m in page] == ["while you were out"]  # ...history has it


# --- origins --------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("origin", "host", "allowed"),
    [
        ("http://localhost:5173", "localhost:5000", True),
        ("http://127.0.0.1:3000", "localhost:5000", True),
        ("http://localhost:5000", "localhost:5000", True),  # a page the server serves itself
        ("http://evil.example", "localhost:5000", False),
        ("http://evil.example", "evil.example.localhost:5000", False),
        ("null", "localhost:5000", False),
    ],
)
def test_sockets_accept_only_configured_or_same_origins(origin, host, allowed):
    from chatapp.realtime.namespace import origin_checker
    from config import DEFAULT_CORS_ORIGINS

    check = origin_checker(DEFAULT_CORS_ORIGINS)
    assert check(origin, {"HTTP_HOST": host, "wsgi.url_scheme": "http"}) is allowed


def test_a_cross_site_handshake_is_refused_before_any_cookie_is_read(api, app):
    client, _ = api.user()
    response = client.get(
        "/socket.io/?EIO=4&transport=polling", headers={"Origin": "http://evil.example"}
    )
    assert response.status_code == 400
    allowed = client.get(
        "/socket.io/?EIO=4&transport=polling", headers={"Origin": "http://localhost:5173"}
    )
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
