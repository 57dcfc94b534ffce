"""Socket.IO connections: who may connect as whom, and which origins may open one."""

import pytest

from chatapp import security
from tests.helpers.chat import received, send

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
