"""/api/v1/user: registration, login, logout, the other-users list, through the HTTP API."""

import pytest

from chatapp.models import User
from tests.conftest import PASSWORD

REGISTER = "/api/v1/user/register"
LOGIN = "/api/v1/user/login"


def test_register_answers_the_seed_body_and_stores_a_hash(client, api):
    response = api.register(client, username="alice", gender="female", fullName="Alice A")
    assert response.status_code == 201
    assert response.get_json() == {"message": "Account created successfully.", "success": True}
    stored = User.objects.get(username="alice")
    assert stored.password != PASSWORD and stored.password.startswith("$2")
    assert stored.full_name == "Alice A"


@pytest.mark.parametrize(
    ("gender", "username", "photo"),
    [
        ("male", "bob", "https://avatar.iran.liara.run/public/boy?username=bob"),
        ("female", "eve", "https://avatar.iran.liara.run/public/girl?username=eve"),
        ("male", "a+b@x", "https://avatar.iran.liara.run/public/boy?username=a%2Bb%40x"),
    ],
)
def test_profile_photo_follows_gender_with_the_username_url_encoded(client, api, gender, username, photo):
    assert api.register(client, username=username, gender=gender).status_code == 201
    login = api.login(client, username)
    assert login.get_json()["profilePhoto"] == photo


def test_login_answers_the_user_and_sets_a_safe_cookie(client, api):
    api.register(client, username="carol", fullName="Carol C")
    response = api.login(client, "carol")
    assert response.status_code == 200
    body = response.get_json()
    assert list(body) == ["_id", "username", "fullName", "profilePhoto"]
    assert body["username"] == "carol" and body["fullName"] == "Carol C"
    assert len(body["_id"]) == 24 and int(body["_id"], 16) >= 0
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("token=")
    for attribute in ("HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=86400"):
        assert attribute in cookie
    assert "Secure" not in cookie  # not configured in tests


def test_cookie_is_secure_when_configured(app, api):
    app.config["COOKIE_SECURE"] = True
    client = app.test_client()
    api.register(client, username="dave")
    assert "Secure" in api.login(client, "dave").headers["Set-Cookie"]


@pytest.mark.parametrize("username", ["carol", "nobody"])
def test_wrong_password_and_unknown_user_get_the_same_answer(client, api, username):
    api.register(client, username="carol")
    response = api.login(client, username, "wrong password")
    assert response.status_code == 400
    assert response.get_json() == {"message": "Incorrect username or password", "success": False}
    assert "Set-Cookie" not in response.headers


def test_unknown_user_still_pays_for_a_bcrypt_check(client, api, monkeypatch):
    """No user enumeration by timing: an unknown name runs the same password check."""
    from chatapp import security

    checks = []
    real_check = security.check_password
    monkeypatch.setattr(security, "check_password", lambda p, h: checks.append(h) or real_check(p, h))
    api.login(client, "ghost", "whatever1")
    assert len(checks) == 1 and checks[0].startswith("$2")


def test_logout_clears_the_cookie_and_ends_the_session(client, api):
    api.register(client, username="erin")
    api.login(client, "erin")
    assert client.get("/api/v1/user/").status_code == 200
    for method in ("get", "post"):
        response = getattr(client, method)("/api/v1/user/logout")
        assert response.status_code == 200
        assert response.get_json() == {"message": "logged out successfully."}
        cookie = response.headers["Set-Cookie"]
        assert cookie.startswith("token=;") and "Max-Age=0" in cookie
    assert client.get("/api/v1/user/").status_code == 401


def test_other_users_lists_everyone_but_the_caller_without_passwords(api):
    client, me = api.user(username="frank")
    api.user(username="grace", gender="female", fullName="Grace G")
    api.user(username="heidi")
    response = client.get("/api/v1/user/")
    assert response.status_code == 200
    people = response.get_json()
    assert sorted(p["username"] for p in people) == ["grace", "heidi"]
    grace = next(p for p in people if p["username"] == "grace")
    assert set(grace) == {"_id", "fullName", "username", "profilePhoto", "gender", "createdAt", "updatedAt"}
    assert grace["fullName"] == "Grace G" and grace["gender"] == "female"
    assert grace["createdAt"].endswith("Z") and len(grace["createdAt"]) == 24
    assert all("password" not in p for p in people)
    # Express answers with or without the trailing slash; so do we.
    assert client.get("/api/v1/user").get_json() == people


def test_other_users_requires_authentication(client):
    response = client.get("/api/v1/user/")
    assert response.status_code == 401
    assert response.get_json() == {"message": "User not authenticated.", "success": False}


# --- registration input -------------------------------------------------------------------

@pytest.mark.parametrize("missing", ["fullName", "username", "password", "confirmPassword", "gender"])
def test_each_missing_field_is_a_400(client, api, missing):
    response = api.register(client, **{missing: None})
    assert response.status_code == 400
    assert response.get_json() == {"message": "All fields are required", "success": False}


@pytest.mark.parametrize("field", ["fullName", "username", "password"])
def test_blank_fields_are_a_400(client, api, field):
    response = api.register(client, **{field: "   "})
    assert response.status_code == 400


@pytest.mark.parametrize(
    "value", [{"$ne": None}, ["alice"], 12345, True, {"$gt": ""}],
)
@pytest.mark.parametrize("field", ["fullName", "username", "password", "confirmPassword", "gender"])
def test_non_string_fields_are_a_400_and_create_nothing(client, api, field, value):
    response = api.register(client, **{field: value})
    assert response.status_code == 400
    assert response.get_json()["success"] is False
    assert User.objects.count() == 0


def test_mismatched_passwords(client, api):
    response = api.register(client, password="secret-one", confirmPassword="secret-two")
    assert response.status_code == 400
    assert response.get_json()["message"] == "Password do not match"
    assert User.objects.count() == 0


@pytest.mark.parametrize("gender", ["other", "Male", ""])
def test_unknown_gender(client, api, gender):
    response = api.register(client, gender=gender)
    assert response.status_code == 400
    assert User.objects.count() == 0


def test_taken_username(client, api):
    assert api.register(client, username="ivan").status_code == 201
    response = api.register(client, username="ivan")
    assert response.status_code == 400
    assert response.get_json() == {"message": "Username already exit try different", "success": False}
    assert User.objects.count() == 1


def test_racing_registrations_meet_the_unique_index_not_a_500(client, api, monkeypatch):
    """Both requests pass the early check; the database's unique index decides, with a 400."""
    from mongoengine.queryset import QuerySet

    real_first = QuerySet.first
    # Make the early "is it taken?" check blind, as when two requests interleave.
    monkeypatch.setattr(
        QuerySet, "first", lambda self: None if self._document is User and self._query.get("username") else real_first(self)
    )
    assert api.register(client, username="judy").status_code == 201
    response = api.register(client, username="judy")
    assert response.status_code == 400
    assert response.get_json()["message"] == "Username already exit try different"
    assert User.objects(username="judy").count() == 1


@pytest.mark.parametrize("username", ["ab", "x" * 65, "has space", "semi;colon", "tab\tname", "<script>"])
def test_username_bounds(client, api, username):
    response = api.register(client, username=username)
    assert response.status_code == 400
    assert "Username" in response.get_json()["message"]


def test_full_name_bounds(client, api):
    assert api.register(client, fullName="x" * 101).status_code == 400
    assert api.register(client, fullName="bell\x07name").status_code == 400
    assert api.register(client, fullName="  Kim   Lee  ", username="kim").status_code == 201
    assert User.objects.get(username="kim").full_name == "Kim Lee"


def test_password_too_short(client, api):
    response = api.register(client, password="12345", confirmPassword="12345")
    assert response.status_code == 400
    assert "at least 6" in response.get_json()["message"]


def test_password_over_bcrypts_72_bytes_is_explained(client, api):
    long_password = "é" * 37  # 74 bytes in UTF-8, though only 37 characters
    response = api.register(client, password=long_password, confirmPassword=long_password)
    assert response.status_code == 400
    assert "72 bytes" in response.get_json()["message"]
    assert User.objects.count() == 0


def test_password_of_exactly_72_bytes_works(client, api):
    password = "p" * 72
    assert api.register(client, username="leo", password=password, confirmPassword=password).status_code == 201
    assert api.login(client, "leo", password).status_code == 200
    assert api.login(client, "leo", password[:-1]).status_code == 400


# --- login input --------------------------------------------------------------------------

@pytest.mark.parametrize(
    "body",
    [{}, {"username": "mia"}, {"password": PASSWORD}, {"username": "", "password": ""}],
)
def test_login_missing_fields(client, body):
    response = client.post(LOGIN, json=body)
    assert response.status_code == 400
    assert response.get_json() == {"message": "All fields are required", "success": False}


@pytest.mark.parametrize(
    "body",
    [
        {"username": {"$ne": None}, "password": PASSWORD},
        {"username": "mia", "password": {"$ne": None}},
        {"username": ["mia"], "password": PASSWORD},
    ],
)
def test_login_operator_injection_is_a_400(client, api, body):
    api.register(client, username="mia")
    response = client.post(LOGIN, json=body)
    assert response.status_code == 400
    assert "Set-Cookie" not in response.headers


def test_repeated_failed_logins_are_throttled_per_username(app, api):
    client = app.test_client()
    api.register(client, username="nina")
    limit = 5  # TestConfig.LOGIN_FREE_FAILURES
    for _ in range(limit):
        assert api.login(client, "nina", "wrong-password").status_code == 400
    response = api.login(client, "nina", "wrong-password")
    assert response.status_code == 429
    assert response.get_json()["success"] is False
    assert "Too many failed logins" in response.get_json()["message"]
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    # Even the right password waits: that is what stops guessing.
    assert api.login(client, "nina").status_code == 429
    # Another username from the same address is not affected.
    api.register(client, username="omar")
    assert api.login(client, "omar").status_code == 200


def test_successful_logins_do_not_count_towards_the_throttle(client, api):
    api.register(client, username="pia")
    for _ in range(8):
        assert api.login(client, "pia").status_code == 200


def test_register_limit_per_address_is_configurable(app, api):
    app.config["REGISTER_LIMIT"] = "2 per minute"
    client = app.test_client()
    assert api.register(client).status_code == 201
    assert api.register(client).status_code == 201
    response = api.register(client)
    assert response.status_code == 429
    assert "Retry-After" in response.headers
