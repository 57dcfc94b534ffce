"""The caller's profile (name and photo, live to everyone signed in) and password change."""

import pytest

from tests.helpers.chat import PASSWORD, received


def update(client, **body):
    return client.patch("/api/v1/user/me", json=body)


def change_password(client, old, new, confirm=None):
    return client.post(
        "/api/v1/user/me/password",
        json={"oldPassword": old, "newPassword": new, "confirmPassword": confirm or new},
    )


def test_name_and_photo_change_everywhere_and_live(api, connect):
    me, me_user = api.user()
    other, _ = api.user()
    other_tab = connect(other)
    other_tab.get_received()
    photo = "https://example.com/avatars/me.png?size=64"
    response = update(me, fullName="  Ada   Lovelace ", profilePhoto=photo)
    assert response.status_code == 200
    assert response.get_json() == {
        "_id": me_user["_id"],
        "username": me_user["username"],
        "fullName": "Ada Lovelace",
        "profilePhoto": photo,
    }
    [event] = received(other_tab, "userUpdated")
    assert event["_id"] == me_user["_id"] and event["fullName"] == "Ada Lovelace"
    assert event["profilePhoto"] == photo and "password" not in event
    listed = {u["_id"]: u for u in other.get("/api/v1/user/").get_json()}
    assert listed[me_user["_id"]]["fullName"] == "Ada Lovelace"
    assert me.get("/api/v1/user/me").get_json()["profilePhoto"] == photo


def test_one_field_at_a_time(api):
    me, me_user = api.user()
    before = me.get("/api/v1/user/me").get_json()
    assert update(me, fullName="Only Name").get_json()["profilePhoto"] == before["profilePhoto"]
    assert update(me, profilePhoto="https://cdn.example.org/x.jpg").get_json()["fullName"] == "Only Name"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"unrelated": 1},
        {"fullName": ""},
        {"fullName": "   "},
        {"fullName": 5},
        {"fullName": "x" * 101},
        {"fullName": "bad\x00name"},
        {"profilePhoto": "http://example.com/a.png"},
        {"profilePhoto": "javascript:alert(1)"},
        {"profilePhoto": "https://"},
        {"profilePhoto": "https:///path"},
        {"profilePhoto": "https://user:pw@example.com/a.png"},
        {"profilePhoto": "https://exa mple.com/a.png"},
        {"profilePhoto": "https://[::1/a.png"},
        {"profilePhoto": "https://example.com/" + "a" * 2048},
        {"profilePhoto": ["https://example.com"]},
        {"profilePhoto": None},
    ],
)
def test_bad_profile_changes_are_json_400s(api, connect, body):
    me, _ = api.user()
    other, _ = api.user()
    tab = connect(other)
    tab.get_received()
    response = update(me, **body)
    assert response.status_code == 400 and response.get_json()["success"] is False
    assert received(tab, "userUpdated") == []


def test_password_change_needs_the_current_password(api):
    me, me_user = api.user()
    response = change_password(me, "wrong password", "new password 1")
    assert response.status_code == 400
    assert response.get_json()["message"] == "Current password is incorrect"
    response = change_password(me, PASSWORD, "new password 1")
    assert response.status_code == 200 and response.get_json()["success"] is True
    # The old password no longer logs in; the new one does.
    fresh = api.app.test_client()
    assert api.login(fresh, me_user["username"], PASSWORD).status_code == 400
    assert api.login(fresh, me_user["username"], "new password 1").status_code == 200
    # This session carries on.
    assert me.get("/api/v1/user/me").status_code == 200


@pytest.mark.parametrize(
    "body, message",
    [
        ({}, "All fields are required"),
        ({"oldPassword": PASSWORD, "newPassword": "abc", "confirmPassword": "abc"}, "Password must be at least 8 characters"),
        ({"oldPassword": PASSWORD, "newPassword": "abcdefgh1", "confirmPassword": "abcdefgh2"}, "Password do not match"),
        ({"oldPassword": {"$ne": 1}, "newPassword": "abcdefg", "confirmPassword": "abcdefg"}, "oldPassword must be a string"),
        ({"oldPassword": PASSWORD, "newPassword": "x" * 73, "confirmPassword": "x" * 73}, None),
    ],
)
def test_bad_password_changes(api, body, message):
    me, me_user = api.user()
    response = me.post("/api/v1/user/me/password", json=body)
    assert response.status_code == 400 and response.get_json()["success"] is False
    if message:
        assert response.get_json()["message"] == message
    assert api.login(api.app.test_client(), me_user["username"], PASSWORD).status_code == 200


def test_guessing_the_current_password_is_limited(api):
    me, _ = api.user()
    for _ in range(5):  # PASSWORD_FAILURE_LIMIT is 5 per 15 minutes
        assert change_password(me, "guess", "new password 1").status_code == 400
    response = change_password(me, PASSWORD, "new password 1")
    assert response.status_code == 429 and response.headers["Retry-After"]


def test_a_password_change_ends_the_other_sessions(api):
    me, me_user = api.user()
    other_session = api.app.test_client()
    assert api.login(other_session, me_user["username"]).status_code == 200
    assert other_session.get("/api/v1/user/me").status_code == 200
    response = change_password(me, PASSWORD, "new password 1")
    assert response.get_json()["otherSessionsEnded"] is True
    assert other_session.get("/api/v1/user/me").status_code == 401
    assert me.get("/api/v1/user/me").status_code == 200  # this session carries on


def test_profile_needs_a_login(client):
    assert client.get("/api/v1/user/me").status_code == 401
    assert client.patch("/api/v1/user/me", json={"fullName": "x"}).status_code == 401
    assert client.post("/api/v1/user/me/password", json={}).status_code == 401


def test_profile_changes_are_rate_limited(app, api):
    me, _ = api.user()
    app.config["PROFILE_RATE_LIMIT"] = "1 per minute"
    assert update(me, fullName="One").status_code == 200
    assert update(me, fullName="Two").status_code == 429

