"""Helpers for chat tests: register and log in through the API, send, read history, read events."""

import itertools

PASSWORD = "correct horse"
_counter = itertools.count()


class Api:
    """Register and log users in through the HTTP API, as the React client does."""

    def __init__(self, app):
        self.app = app

    def register(self, client=None, **fields):
        client = client or self.app.test_client()
        n = next(_counter)
        body = {
            "fullName": f"User {n}",
            "username": f"user{n}",
            "password": PASSWORD,
            "confirmPassword": PASSWORD,
            "gender": "female",
        }
        body.update(fields)
        return client.post("/api/v1/user/register", json=body)

    def login(self, client, username, password=PASSWORD):
        return client.post("/api/v1/user/login", json={"username": username, "password": password})

    def user(self, **fields):
        """A new registered user, logged in on a client of its own: (client, user json)."""
        client = self.app.test_client()
        n = next(_counter)
        username = fields.pop("username", f"member{n}")
        response = self.register(client, username=username, **fields)
        assert response.status_code == 201, response.get_json()
        response = self.login(client, username, fields.get("password", PASSWORD))
        assert response.status_code == 200, response.get_json()
        return client, response.get_json()


def received(socket, event):
    """The payloads of `event` a test socket got since last asked."""
    return [packet["args"][0] for packet in socket.get_received() if packet["name"] == event]


def send(client, to, text, **extra):
    """POST a message as the React client does; returns the response."""
    return client.post(f"/api/v1/message/send/{to}", json={"message": text, **extra})


def sent(client, to, text, **extra):
    """Send a message that must be accepted; returns the stored message (`newMessage`)."""
    response = send(client, to, text, **extra)
    assert response.status_code in (200, 201), response.get_json()
    return response.get_json()["newMessage"]


def history(client, other, **params):
    """GET a page of the caller's conversation with `other`; returns the response."""
    return client.get(f"/api/v1/message/{other}", query_string=params)


def assert_json_error(response, status):
    assert response.status_code == status
    assert response.is_json, response.data[:200]
    body = response.get_json()
    assert body["success"] is False and isinstance(body["message"], str) and body["message"]
    assert b"Traceback" not in response.data
