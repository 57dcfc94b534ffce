"""Registering, logging in and out, and the token that says who is calling over HTTP."""

from datetime import datetime, timedelta, timezone

import jwt
import pytest
from bson import ObjectId

from chatapp import security
from chatapp.models import User
from config import TestConfig
from tests.helpers.chat import PASSWORD, assert_json_error

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
    response = api.register(client, password="1234567", confirmPassword="1234567")
    assert response.status_code == 400
    assert "at least 8" in response.get_json()["message"]
    assert api.register(client, password="12345678", confirmPassword="12345678").status_code == 201


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


SECRET = "test-secret-key-that-is-long-enough-for-hs256-0123456789"


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


def test_tokens_round_trip_and_carry_the_seeds_claim():
    import jwt

    token = security.create_token("a" * 24, TestConfig.JWT_SECRET_KEY, 60)
    claims = jwt.decode(token, TestConfig.JWT_SECRET_KEY, algorithms=["HS256"])
    assert claims["userId"] == "a" * 24
    assert claims["exp"] - claims["iat"] == 60
    assert security.decode_token(token, TestConfig.JWT_SECRET_KEY) == "a" * 24


def test_a_token_that_verified_is_refused_once_it_expires(monkeypatch):
    """Verified tokens are remembered; the memory must not outlive the token."""
    import datetime as real_datetime

    import jwt.api_jwt

    token = security.create_token("b" * 24, TestConfig.JWT_SECRET_KEY, 60)
    assert security.decode_token(token, TestConfig.JWT_SECRET_KEY) == "b" * 24

    later = security.time.time() + 61

    class Later(real_datetime.datetime):
        @classmethod
        def now(cls, tz=None):
            return real_datetime.datetime.fromtimestamp(later, tz)

    monkeypatch.setattr(security.time, "time", lambda: later)
    monkeypatch.setattr(jwt.api_jwt, "datetime", Later)
    with pytest.raises(security.InvalidToken, match="expired"):
        security.decode_token(token, TestConfig.JWT_SECRET_KEY)


def test_a_token_that_verified_under_one_secret_is_refused_under_another():
    token = security.create_token("c" * 24, TestConfig.JWT_SECRET_KEY, 60)
    assert security.decode_token(token, TestConfig.JWT_SECRET_KEY) == "c" * 24
    with pytest.raises(security.InvalidToken):
        security.decode_token(token, "another secret that is long enough to be accepted")


def test_bcryptjs_hashes_from_the_node_backend_verify():
    # bcryptjs writes $2a$ hashes (bcrypt writes $2b$); users of the Node backend keep logging in.
    import bcrypt

    made = bcrypt.hashpw(b"password123", bcrypt.gensalt(4, prefix=b"2a")).decode()
    assert made.startswith("$2a$")
    assert security.check_password("password123", made)
    assert not security.check_password("password124", made)


def test_a_stored_value_that_is_not_a_hash_never_matches():
    assert security.check_password("anything", "plain-text-password") is False


def test_an_account_deleted_by_another_process_is_refused_at_once(api, connect):
    """Whoever deleted it (another worker, an operator in the database shell), its token stops
    working on the very next request and socket: nothing answers from a stale memory."""
    client, me = api.user()
    assert client.get("/api/v1/user/").status_code == 200
    User._get_collection().delete_one({"_id": ObjectId(me["_id"])})
    assert_json_error(client.get("/api/v1/user/"), 401)
    assert not connect(client).is_connected()
