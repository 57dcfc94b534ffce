"""Every error a client can cause is JSON, at once, with the right status, and sounds the same in
a socket ack."""

import io
import json

import pytest
from mongoengine.errors import NotUniqueError
from mongoengine.errors import ValidationError as DocumentInvalid

from chatapp import auth
from chatapp.services import messages
from tests.helpers.chat import assert_json_error


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("not json at all", "application/json"),
        ('{"username": "a",', "application/json"),
        ("[1, 2, 3]", "application/json"),
        ('"a string"', "application/json"),
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


# --- probes -------------------------------------------------------------------------------


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
        "fullName": "Chunky", "username": "chunky", "password": "secret12",
        "confirmPassword": "secret12", "gender": "male",
    }).encode()
    assert _post_chunked(client, "/api/v1/user/register", body).status_code == 201


@pytest.mark.parametrize(
    "error, status, message",
    [
        (NotUniqueError("duplicate key"), 409, "That already exists."),
        (DocumentInvalid("bad field"), 400, "Invalid data."),
        (RuntimeError("boom"), 500, "Internal server error."),
    ],
)
def test_an_error_sounds_the_same_over_http_and_in_a_socket_ack(
    api, connect, monkeypatch, error, status, message
):
    """The same failure of a send gives the same message whichever door the send came through."""
    alice, _ = api.user()
    _, bob_user = api.user()

    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(messages, "send_message", fail)
    response = alice.post(f"/api/v1/message/send/{bob_user['_id']}", json={"message": "hi"})
    assert response.status_code == status
    assert response.get_json() == {"message": message, "success": False}
    socket = connect(alice)
    ack = socket.emit("sendMessage", {"receiverId": bob_user["_id"], "message": "hi"}, callback=True)
    assert ack == {"ok": False, "message": message}


def test_a_connect_that_fails_unexpectedly_is_refused(api, connect, monkeypatch, caplog):
    """A database error while checking a socket's token refuses it: never an unchecked socket."""
    alice, _ = api.user()

    def database_down(*args, **kwargs):
        raise RuntimeError("database unreachable")

    monkeypatch.setattr(auth, "user_exists", database_down)
    socket = connect(alice)
    assert not socket.is_connected()
    assert "Unhandled error" in caplog.text
