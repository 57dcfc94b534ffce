"""Every error a client can cause is JSON, at once, with the right status."""

import io
import json

import jwt
import pytest
from bson import ObjectId
from datetime import datetime, timedelta, timezone

from chatapp.models import User

SECRET = "test-secret-key-that-is-long-enough-for-hs256-0123456789"


def assert_json_error(response, status):
    assert response.status_code == status
    assert response.is_json, response.data[:200]
    body = response.get_json()
    assert body["success"] is False and isinstance(body["message"], str) and body["message"]
    assert b"Traceback" not in response.data


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("not json at all", "application/json"),
        ('{"username": "a",', "application/json"),
        ("[1, 2, 3]", "application/json"),
        ('"a string"', "application/json"),
        ("username=a&password=b", "application/x-www-form-urlencoded"),
        ("", None),
    ],
)
@pytest.mark.parametrize("path", ["/api/v1/user/register", "/api/v1/user/login"])
def test_bodies_that_are_not_a_json_object_are_a_400(client, path, data, content_type):
    assert_json_error(client.post(path, data=data, content_type=content_type), 400)


def test_body_over_max_content_length_is_a_413(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    response = client.post("/api/v1/user/register", json={"fullName": "x" * 2000})
    assert_json_error(response, 413)


def test_unknown_route_is_a_json_404(client):
    assert_json_error(client.get("/api/v1/nothing-here"), 404)


def test_wrong_method_is_a_json_405_with_allow(client):
    response = client.put("/api/v1/user/login", json={})
    assert_json_error(response, 405)
    assert "POST" in response.headers["Allow"]


def _token(**claims):
    return jwt.encode(claims, SECRET, algorithm="HS256")


def _expiry(seconds):
    return datetime.now(timezone.utc) + timedelta(seconds=seconds)


@pytest.fixture
def user_id(api, client):
    api.register(client, username="tokenuser")
    return str(User.objects.get(username="tokenuser").id)


@pytest.mark.parametrize(
    "make_token",
    [
        lambda uid: "garbage",
        lambda uid: _token(userId=uid, exp=_expiry(-10)),  # expired
        lambda uid: _token(userId=uid),  # no exp
        lambda uid: jwt.encode({"userId": uid, "exp": _expiry(60)}, "another-secret-of-sufficient-length-000000", algorithm="HS256"),
        lambda uid: jwt.encode({"userId": uid, "exp": _expiry(60)}, None, algorithm="none"),
        lambda uid: _token(userId=uid, exp=_expiry(60))[:-2] + "xx",  # tampered signature
        lambda uid: _token(userId={"$ne": None}, exp=_expiry(60)),
        lambda uid: _token(userId="not-an-id", exp=_expiry(60)),
        lambda uid: _token(sub=uid, exp=_expiry(60)),  # no userId claim
    ],
    ids=["garbage", "expired", "no-exp", "wrong-secret", "alg-none", "tampered", "operator", "bad-id", "no-userId"],
)
def test_bad_tokens_are_a_401(client, user_id, make_token):
    token = make_token(user_id)
    client.set_cookie("token", token)
    assert_json_error(client.get("/api/v1/user/"), 401)
    client.delete_cookie("token")
    response = client.get("/api/v1/user/", headers={"Authorization": f"Bearer {token}"})
    assert_json_error(response, 401)


def test_token_of_a_deleted_user_is_a_401(api):
    client, me = api.user()
    assert client.get("/api/v1/user/").status_code == 200
    User.objects(id=me["_id"]).delete()
    assert_json_error(client.get("/api/v1/user/"), 401)


def test_token_signed_by_the_node_backend_is_accepted(client, user_id):
    """jsonwebtoken's `jwt.sign({userId}, secret, {expiresIn: '1d'})` makes exactly this."""
    now = int(datetime.now(timezone.utc).timestamp())
    token = jwt.encode({"userId": user_id, "iat": now, "exp": now + 86400}, SECRET, algorithm="HS256")
    client.set_cookie("token", token)
    assert client.get("/api/v1/user/").status_code == 200


def test_bearer_header_works_for_non_browser_clients(api, client):
    api.register(client, username="cli")
    token = api.login(client, "cli").headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
    other = api.app.test_client()
    assert other.get("/api/v1/user/", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_unexpected_exception_is_a_logged_generic_500(app, api, monkeypatch, caplog):
    from chatapp.services import users

    client, _ = api.user()

    def explode(user_id):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(users, "list_other_users", explode)
    response = client.get("/api/v1/user/")
    assert_json_error(response, 500)
    assert b"database on fire" not in response.data
    assert "database on fire" in caplog.text and "Traceback" in caplog.text


# --- CORS ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "origin",
    ["http://localhost:5173", "http://localhost:3000", "http://127.0.0.1:5173", "http://127.0.0.1:3000"],
)
def test_cors_grants_credentials_to_the_configured_origins(client, origin):
    preflight = client.options(
        "/api/v1/user/login",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == origin
    assert preflight.headers["Access-Control-Allow-Credentials"] == "true"
    # The browser may cache the preflight instead of repeating it before every send.
    assert int(preflight.headers["Access-Control-Max-Age"]) >= 60
    response = client.post("/api/v1/user/login", json={}, headers={"Origin": origin})
    assert response.headers["Access-Control-Allow-Origin"] == origin


@pytest.mark.parametrize("origin", ["http://evil.example", "http://localhost:5174", "null"])
def test_cors_never_echoes_another_origin(client, origin):
    response = client.options(
        "/api/v1/user/login",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
    )
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Allow-Credentials" not in response.headers
    response = client.post("/api/v1/user/login", json={}, headers={"Origin": origin})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_cors_origins_come_from_configuration(api):
    from chatapp.app import create_app
    from config import TestConfig

    app = create_app(TestConfig, CORS_ORIGINS=["https://chat.example.com"])
    client = app.test_client()
    ok = client.get("/api/v1/user/", headers={"Origin": "https://chat.example.com"})
    assert ok.headers["Access-Control-Allow-Origin"] == "https://chat.example.com"
    denied = client.get("/api/v1/user/", headers={"Origin": "http://localhost:5173"})
    assert "Access-Control-Allow-Origin" not in denied.headers


def test_the_history_cursor_header_is_readable_cross_origin(api):
    alice, _ = api.user()
    _, bob = api.user()
    response = alice.get(f"/api/v1/message/{bob['_id']}", headers={"Origin": "http://localhost:5173"})
    assert "X-Next-Before" in response.headers["Access-Control-Expose-Headers"]


# --- probes -------------------------------------------------------------------------------

def test_healthz_and_readyz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz").get_json()
    assert ready.pop("latencyMs")["database"] >= 0
    assert ready == {"status": "ok", "database": "ok"}


def test_readyz_is_a_503_when_the_database_does_not_answer(client, monkeypatch):
    from chatapp import db

    def down():
        raise ConnectionError("no route to database")

    monkeypatch.setattr(db, "ping", down)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unreachable"


def _post_chunked(client, path, body):
    """POST `body` without Content-Length, as a chunked upload reaches the app under gunicorn."""
    return client.post(
        path,
        input_stream=io.BytesIO(body),
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )


@pytest.mark.parametrize("path", ["/api/v1/user/register", "/api/v1/user/login"])
def test_a_chunked_body_over_max_content_length_is_a_413_not_a_400(app, client, path):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    body = json.dumps({"username": "x" * 2000, "password": "y"}).encode()
    assert_json_error(_post_chunked(client, path, body), 413)


def test_a_chunked_body_within_max_content_length_is_read_whole(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    body = json.dumps({
        "fullName": "Chunky", "username": "chunky", "password": "secret1",
        "confirmPassword": "secret1", "gender": "male",
    }).encode()
    assert _post_chunked(client, "/api/v1/user/register", body).status_code == 201
