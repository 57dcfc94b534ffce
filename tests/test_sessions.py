"""Sessions end when their user ends them: logout revokes the token on the server and closes its
sockets; expired tokens lose their sockets; a user can end all their other sessions."""

import time

import jwt

from chatapp import security
from chatapp.models import User
from chatapp.services import sessions as session_service
from chatapp.services.sessions import SESSIONS
from chatapp.sessions import MemoryRevocationStore
from tests.test_upgrade_login import react_socket, upgrade


def token_of(client):
    return client.get_cookie("token").value


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def node_token(app, user_id, max_age=3600):
    """A token as the Node backend signs it: userId, iat, exp; no jti."""
    now = int(time.time())
    return jwt.encode({"userId": user_id, "iat": now, "exp": now + max_age},
                      app.config["JWT_SECRET_KEY"], algorithm="HS256")


def test_a_stolen_token_is_refused_after_its_owner_logs_out(app, api):
    alice, _ = api.user()
    stolen = token_of(alice)
    assert app.test_client().get("/api/v1/user/", headers=bearer(stolen)).status_code == 200
    assert alice.post("/api/v1/user/logout").status_code == 200
    response = app.test_client().get("/api/v1/user/", headers=bearer(stolen))
    assert response.status_code == 401
    assert response.get_json()["success"] is False


def test_new_tokens_name_their_session(app, api):
    alice, _ = api.user()
    claims = jwt.decode(token_of(alice), app.config["JWT_SECRET_KEY"], algorithms=["HS256"])
    assert set(claims) == {"userId", "iat", "exp", "jti", "iatMs"}
    assert claims["iatMs"] // 1000 == claims["iat"]


def test_logout_closes_the_sockets_of_that_session_only(app, api, connect):
    alice, alice_user = api.user()
    other_device = app.test_client()
    assert api.login(other_device, alice_user["username"]).status_code == 200
    tab = connect(alice)
    phone = connect(other_device)
    assert alice.get("/api/v1/user/logout").status_code == 200  # the seed's GET logout
    assert not tab.is_connected()
    assert phone.is_connected()


def test_a_socket_cannot_act_on_a_session_that_ended(app, api, connect):
    alice, _ = api.user()
    _, bob_user = api.user()
    socket = connect(auth={"token": token_of(alice)})
    claims = security.decode_claims(token_of(alice), app.config["JWT_SECRET_KEY"])
    app.extensions[SESSIONS].store.revoke(claims.session_id, claims.expires_at)  # another worker
    ack = socket.emit("sendMessage", {"receiverId": bob_user["_id"], "message": "x"}, callback=True)
    assert ack == {"ok": False, "message": "Session ended. Please log in again."}


def test_a_revoked_token_cannot_open_a_socket(app, api, connect):
    alice, _ = api.user()
    token = token_of(alice)
    alice.post("/api/v1/user/logout")
    assert not connect(auth={"token": token}).is_connected()


def test_a_socket_is_disconnected_when_its_token_expires(app, api, connect):
    app.config["SESSION_SWEEP_SECONDS"] = 0.05
    _, alice_user = api.user()
    token = security.create_token(alice_user["_id"], app.config["JWT_SECRET_KEY"], 1)
    socket = connect(auth={"token": token})
    assert socket.is_connected()
    deadline = time.monotonic() + 5
    while socket.is_connected() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not socket.is_connected()


def test_ending_other_sessions_keeps_this_one(app, api, connect):
    here, user = api.user()
    elsewhere = app.test_client()
    assert api.login(elsewhere, user["username"]).status_code == 200
    stolen = node_token(app, user["_id"])  # even a Node-issued token of theirs
    here_socket, elsewhere_socket = connect(here), connect(elsewhere)
    time.sleep(0.01)  # sessions issued before the call end (iatMs: to the millisecond)
    response = here.post("/api/v1/user/logout-others")
    assert response.status_code == 200 and response.get_json()["success"] is True
    assert here.get("/api/v1/user/").status_code == 200
    assert here_socket.is_connected()
    assert elsewhere.get("/api/v1/user/").status_code == 401
    assert not elsewhere_socket.is_connected()
    assert app.test_client().get("/api/v1/user/", headers=bearer(stolen)).status_code == 401
    # Logging in again afterwards works.
    again = app.test_client()
    assert api.login(again, user["username"]).status_code == 200
    assert again.get("/api/v1/user/").status_code == 200


def test_end_other_sessions_is_a_service_call(app, api):
    here, user = api.user()
    elsewhere = app.test_client()
    api.login(elsewhere, user["username"])
    time.sleep(0.01)
    with app.app_context():
        session_service.end_other_sessions(user["_id"], token_of(here))
    assert here.get("/api/v1/user/").status_code == 200
    assert elsewhere.get("/api/v1/user/").status_code == 401


def test_ended_sessions_stay_ended_after_a_restart(app, api):
    here, user = api.user()
    elsewhere = app.test_client()
    api.login(elsewhere, user["username"])
    time.sleep(0.01)
    here.post("/api/v1/user/logout-others")
    # A new process: empty revocation store, the floor read from the user's document.
    app.extensions[SESSIONS].store = MemoryRevocationStore()
    app.extensions[SESSIONS]._loaded_floors.clear()
    assert User.objects(id=user["_id"]).first().sessions_ended_at is not None
    assert elsewhere.get("/api/v1/user/").status_code == 401
    assert here.get("/api/v1/user/").status_code == 200


def test_node_tokens_work_until_they_expire_and_logout_revokes_them(app, api):
    _, user = api.user()
    token = node_token(app, user["_id"])
    client = app.test_client()
    assert client.get("/api/v1/user/", headers=bearer(token)).status_code == 200
    assert client.post("/api/v1/user/logout", headers=bearer(token)).status_code == 200
    assert client.get("/api/v1/user/", headers=bearer(token)).status_code == 401
    # Revoked by digest: the store holds no token.
    assert app.extensions[SESSIONS].store.is_revoked(security.legacy_session_id(token))


def test_node_tokens_can_be_refused_by_setting(api, app):
    app.extensions[SESSIONS].accept_legacy_tokens = False
    _, user = api.user()
    token = node_token(app, user["_id"])
    assert app.test_client().get("/api/v1/user/", headers=bearer(token)).status_code == 401


def test_the_revocation_store_is_bounded_and_forgets_expired_entries():
    now = [1000.0]
    store = MemoryRevocationStore(max_entries=100, clock=lambda: now[0])
    for n in range(1000):
        store.revoke(f"s{n}", until=now[0] + 10 + n)
    assert len(store) <= 100
    assert store.is_revoked("s999")  # the latest-expiring kept
    now[0] += 10_000
    assert not store.is_revoked("s999")


def test_an_upgrade_with_a_logged_out_cookie_does_not_admit(app, api, connect):
    bob, bob_user = api.user()
    token = token_of(bob)
    bob.post("/api/v1/user/logout")
    socket = react_socket(connect, bob_user)
    upgrade(app, socket, token)
    assert socket.get_received() == []
