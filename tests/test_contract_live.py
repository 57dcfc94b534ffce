"""The Node backend's contract, checked from outside on the real server (gunicorn, eventlet).

Each test is what the React client or a client written against the Node backend relies on: paths,
status codes, body keys (in the seed's order where JSON keeps one), the seed's texts, the `token`
cookie's attributes, CORS for the client's origins, and the Socket.IO events' payloads. What we
answer differently on purpose is listed in docs/contract.md; those answers are pinned here too.
"""

import re
import uuid

import jwt
import pytest
import requests

from tests.helpers.live import (
    ALLOWED_ORIGIN,
    WAIT_SECONDS,
    Tab,
    register_and_log_in,
    start_server,
)
from tests.helpers.live_server import LiveServer

pytestmark = pytest.mark.integration

ISO_MILLIS_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
USER_KEYS = ["_id", "fullName", "username", "profilePhoto", "gender", "createdAt", "updatedAt"]
MESSAGE_KEYS = ["_id", "senderId", "receiverId", "message", "createdAt", "updatedAt"]
ONE_DAY = 24 * 60 * 60


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    live = LiveServer("eventlet")
    start_server(live, tmp_path_factory.mktemp("contract") / "gunicorn.log")
    yield live.url
    live.stop()


def post(base, path, body, session=requests):
    return session.post(base + path, json=body, timeout=WAIT_SECONDS)


def signup_body(username, gender="male", password="secret-pass"):
    return {
        "fullName": "Contract Person", "username": username, "password": password,
        "confirmPassword": password, "gender": gender,
    }


def unique_name():
    return f"c_{uuid.uuid4().hex[:12]}"


def assert_error(response, status, message):
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    # The seed's key first; "success": false rides along (the seed's login errors had it too).
    assert response.json() == {"message": message, "success": False}


# --- register ------------------------------------------------------------------------------

def test_register_answers_201_with_the_seeds_body(base):
    response = post(base, "/api/v1/user/register", signup_body(unique_name()))
    assert response.status_code == 201
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"  # as Express
    assert list(response.json().items()) == [
        ("message", "Account created successfully."), ("success", True),
    ]
    assert "Set-Cookie" not in response.headers  # registering does not log in


@pytest.mark.parametrize(
    "missing", ["fullName", "username", "password", "confirmPassword", "gender"]
)
def test_register_with_a_field_missing_or_empty_is_the_seeds_400(base, missing):
    body = signup_body(unique_name())
    assert_error(
        post(base, "/api/v1/user/register", {**body, missing: ""}), 400, "All fields are required"
    )
    del body[missing]
    assert_error(post(base, "/api/v1/user/register", body), 400, "All fields are required")


def test_register_texts_for_a_mismatch_and_a_taken_username_are_the_seeds(base):
    name = unique_name()
    mismatch = {**signup_body(name), "confirmPassword": "another-pass"}
    assert_error(post(base, "/api/v1/user/register", mismatch), 400, "Password do not match")
    assert post(base, "/api/v1/user/register", signup_body(name)).status_code == 201
    assert_error(
        post(base, "/api/v1/user/register", signup_body(name, gender="female")),
        400, "Username already exit try different",
    )


# --- login and logout ----------------------------------------------------------------------

@pytest.mark.parametrize(("gender", "avatar"), [("male", "boy"), ("female", "girl")])
def test_login_answers_the_seeds_four_keys_and_a_one_day_httponly_strict_cookie(
    base, gender, avatar
):
    name = unique_name()
    post(base, "/api/v1/user/register", signup_body(name, gender))
    response = post(base, "/api/v1/user/login", {"username": name, "password": "secret-pass"})
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["_id", "username", "fullName", "profilePhoto"]
    assert re.fullmatch(r"[0-9a-f]{24}", body["_id"])
    assert body["username"] == name and body["fullName"] == "Contract Person"
    assert body["profilePhoto"] == (
        f"https://avatar.iran.liara.run/public/{avatar}?username={name}"
    )

    cookie = response.headers["Set-Cookie"]
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "path", "max-age", "samesite"} <= attributes
    assert "Max-Age=86400" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    token = response.cookies["token"]
    # The seed's claims, so the Node backend accepts our tokens (and we its) with one secret.
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["userId"] == body["_id"]
    assert claims["exp"] - claims["iat"] == ONE_DAY


def test_login_failures_are_the_seeds_texts(base):
    name = unique_name()
    post(base, "/api/v1/user/register", signup_body(name))
    wrong = post(base, "/api/v1/user/login", {"username": name, "password": "not-the-pass"})
    assert_error(wrong, 400, "Incorrect username or password")
    assert "Set-Cookie" not in wrong.headers
    unknown = post(base, "/api/v1/user/login", {"username": unique_name(), "password": "x" * 9})
    assert_error(unknown, 400, "Incorrect username or password")
    assert_error(
        post(base, "/api/v1/user/login", {"username": name}), 400, "All fields are required"
    )


def test_logout_is_a_get_without_auth_that_clears_the_cookie(base):
    me = register_and_log_in(base)
    response = me.session.get(base + "/api/v1/user/logout", timeout=WAIT_SECONDS)
    assert response.status_code == 200
    assert response.json() == {"message": "logged out successfully."}
    cleared = response.headers["Set-Cookie"]
    assert cleared.startswith("token=;") and "Max-Age=0" in cleared and "Path=/" in cleared
    # The browser drops the cookie: the next call is the seed's 401.
    assert "token" not in me.session.cookies
    assert_error(
        me.session.get(base + "/api/v1/user/", timeout=WAIT_SECONDS),
        401, "User not authenticated.",
    )
    # Nobody needs to be logged in to log out.
    assert requests.get(base + "/api/v1/user/logout", timeout=WAIT_SECONDS).status_code == 200


# --- the user list -------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/api/v1/user/", "/api/v1/user"])
def test_the_user_list_is_everyone_else_with_the_seeds_keys_and_no_password(base, path):
    me, other = register_and_log_in(base), register_and_log_in(base)
    response = me.session.get(base + path, timeout=WAIT_SECONDS)
    assert response.status_code == 200
    users = response.json()
    assert isinstance(users, list)
    ids = [user["_id"] for user in users]
    assert other.id in ids and me.id not in ids
    for user in users:
        assert list(user) == USER_KEYS
        assert user["gender"] in ("male", "female")
        assert ISO_MILLIS_Z.match(user["createdAt"]) and ISO_MILLIS_Z.match(user["updatedAt"])


def test_calls_that_need_auth_answer_the_seeds_401s(base):
    other = register_and_log_in(base)
    calls = [
        ("get", "/api/v1/user/", None),
        ("get", f"/api/v1/message/{other.id}", None),
        ("post", f"/api/v1/message/send/{other.id}", {"message": "hi"}),
    ]
    for method, path, body in calls:
        bare = requests.request(method, base + path, json=body, timeout=WAIT_SECONDS)
        assert_error(bare, 401, "User not authenticated.")
        forged = requests.request(
            method, base + path, json=body, cookies={"token": "not.a.jwt"}, timeout=WAIT_SECONDS
        )
        assert_error(forged, 401, "Invalid token")


# --- messages ------------------------------------------------------------------------------

def test_send_is_a_201_newmessage_and_history_is_the_array_of_them_oldest_first(base):
    alice, bob = register_and_log_in(base), register_and_log_in(base)
    empty = alice.session.get(f"{base}/api/v1/message/{bob.id}", timeout=WAIT_SECONDS)
    # The seed answered an empty body here (res.json(undefined)); an empty array reads the same
    # to the React client (`messages?.map`) and is valid JSON for everyone else.
    assert empty.status_code == 200 and empty.json() == []

    response = post(base, f"/api/v1/message/send/{bob.id}", {"message": "hi bob"}, alice.session)
    assert response.status_code == 201
    assert list(response.json()) == ["newMessage"]
    first = response.json()["newMessage"]
    assert list(first) == MESSAGE_KEYS
    assert (first["senderId"], first["receiverId"], first["message"]) == (
        alice.id, bob.id, "hi bob",
    )
    assert ISO_MILLIS_Z.match(first["createdAt"]) and first["createdAt"] == first["updatedAt"]
    second = bob.send(alice, "hi alice")

    for reader, other in ((alice, bob), (bob, alice)):
        history = reader.session.get(f"{base}/api/v1/message/{other.id}", timeout=WAIT_SECONDS)
        assert history.status_code == 200
        assert history.json() == [first, second]


# --- Socket.IO -----------------------------------------------------------------------------

@pytest.mark.parametrize("transport", ["polling", "websocket"])
def test_the_react_clients_socket_sees_presence_and_new_messages_as_the_seed_sent_them(
    base, transport
):
    alice, bob = register_and_log_in(base), register_and_log_in(base)
    tabs = []
    try:
        # The React client's io(url, {query: {userId}}); its cookie goes along as a browser's
        # WebSocket handshake carries it (tests/test_browser.py: the real browser).
        for user in (alice, bob):
            tab = Tab()
            tabs.append(tab)
            tab.connect(f"{base}?userId={user.id}", transport, headers=user.cookie_header)
        alice_tab, bob_tab = tabs
        bob_tab.wait_online(includes=[alice, bob])
        lists = bob_tab.received("getOnlineUsers")
        assert all(isinstance(ids, list) and all(isinstance(i, str) for i in ids) for ids in lists)

        sent = alice.send(bob, "live hello")
        assert bob_tab.wait_messages(1) == [sent]  # the 201's newMessage, key for key
        # The seed emitted newMessage to the receiver only: the React client appends the send
        # response itself, so a copy to the sender would show the message twice. Bob's reply
        # reaches alice after her own message's copy would have.
        reply = bob.send(alice, "live reply")
        assert alice_tab.wait_messages(1) == [reply]

        bob_tab.close()
        alice_tab.wait_online(includes=[alice], excludes=[bob])
    finally:
        for tab in tabs:
            tab.close()


# --- CORS for the React client's origins ---------------------------------------------------

SEED_CALLS = [
    ("POST", "/api/v1/user/register"),
    ("POST", "/api/v1/user/login"),
    ("GET", "/api/v1/user/logout"),
    ("GET", "/api/v1/user/"),
    ("POST", "/api/v1/message/send/0123456789abcdef01234567"),
    ("GET", "/api/v1/message/0123456789abcdef01234567"),
]


@pytest.mark.parametrize("origin", ["http://localhost:5173", "http://localhost:3000"])
@pytest.mark.parametrize(("method", "path"), SEED_CALLS)
def test_every_seed_call_passes_a_credentialed_preflight_from_the_clients_origins(
    base, origin, method, path
):
    preflight = requests.options(
        base + path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "content-type",
        },
        timeout=WAIT_SECONDS,
    )
    assert 200 <= preflight.status_code < 300
    assert preflight.headers["Access-Control-Allow-Origin"] == origin
    assert preflight.headers["Access-Control-Allow-Credentials"] == "true"
    assert method in preflight.headers["Access-Control-Allow-Methods"]
    assert "content-type" in preflight.headers["Access-Control-Allow-Headers"].lower()


def test_another_origin_gets_no_cors_grant_and_the_clients_socket_handshake_does(base):
    denied = requests.options(
        base + "/api/v1/user/login",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
        timeout=WAIT_SECONDS,
    )
    assert "Access-Control-Allow-Origin" not in denied.headers
    handshake = requests.get(
        base + "/socket.io/?EIO=4&transport=polling",
        headers={"Origin": ALLOWED_ORIGIN}, timeout=WAIT_SECONDS,
    )
    assert handshake.status_code == 200
    assert handshake.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN


# --- where Express answered HTML or nothing: JSON now (docs/contract.md) -------------------

@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("GET", "/api/v1/nothing-here", {}, 404),  # Express: 404 "Cannot GET ..." as HTML
        ("GET", "/api/v1/user/login", {}, 405),  # Express: 404 HTML
        ("POST", "/api/v1/user/login", {"data": "{bad", "headers": {
            "Content-Type": "application/json"}}, 400),  # Express: 400 HTML with a stack
        ("POST", "/api/v1/user/login", {"data": "username=a&password=b", "headers": {
            "Content-Type": "application/x-www-form-urlencoded"}}, 415),  # Express parsed it
    ],
)
def test_what_express_answered_as_html_is_a_json_error(base, method, path, kwargs, status):
    response = requests.request(method, base + path, timeout=WAIT_SECONDS, **kwargs)
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["success"] is False and body["message"]
