"""Helpers for group conversation tests: make a group, send to it, read its history."""


def create(client, name, members, **extra):
    """POST /api/v1/groups; returns the response."""
    return client.post(
        "/api/v1/groups", json={"name": name, "memberIds": [m["_id"] for m in members], **extra}
    )


def created(client, name, members):
    """A group that must be created; returns its JSON."""
    response = create(client, name, members)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def send(client, group, text, **extra):
    return client.post(f"/api/v1/groups/{group['_id']}/messages", json={"message": text, **extra})


def sent(client, group, text, **extra):
    response = send(client, group, text, **extra)
    assert response.status_code in (200, 201), response.get_json()
    return response.get_json()["newMessage"]


def history(client, group, **params):
    return client.get(f"/api/v1/groups/{group['_id']}/messages", query_string=params)


def texts(client, group, **params):
    response = history(client, group, **params)
    assert response.status_code == 200, response.get_json()
    return [m["message"] for m in response.get_json() if "system" not in m]


def add(client, group, *users):
    return client.post(
        f"/api/v1/groups/{group['_id']}/members", json={"userIds": [u["_id"] for u in users]}
    )


def remove(client, group, user):
    return client.delete(f"/api/v1/groups/{group['_id']}/members/{user['_id']}")


def listed(client):
    """The caller's conversation list as `{conversation id: entry}`."""
    response = client.get("/api/v1/conversations")
    assert response.status_code == 200
    return {entry["_id"]: entry for entry in response.get_json()}
