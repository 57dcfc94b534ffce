"""What a careful attacker sends: unstorable text, deep JSON, forms, planted messages, big lists."""

import json

import bcrypt
import pytest
from bson import ObjectId

from chatapp.models import Conversation, Message, User
from chatapp.validation import UNSTORABLE_TEXT
from tests.helpers.chat import PASSWORD, assert_json_error, history, sent


def post_raw(client, path, text):
    """POST `text` as it is (a JSON escape like \\ud800 stays an escape until the server parses)."""
    return client.post(path, data=text, content_type="application/json")


# --- text the database cannot store, and deep nesting ---------------------------------------

def test_a_lone_surrogate_in_a_message_is_a_400_and_nothing_is_stored(api):
    alice, _ = api.user()
    _, bob = api.user()
    response = post_raw(alice, f"/api/v1/message/send/{bob['_id']}", '{"message": "hi \\ud800"}')
    assert_json_error(response, 400)
    assert response.get_json()["message"] == UNSTORABLE_TEXT
    assert Message.objects.count() == 0


@pytest.mark.parametrize("field", ["fullName", "username", "password", "gender"])
def test_a_lone_surrogate_in_any_registration_field_is_a_400(client, field):
    body = {
        "fullName": "Ann Example", "username": "ann", "password": PASSWORD,
        "confirmPassword": PASSWORD, "gender": "female",
    }
    body[field] = body[field] + "\ud800"
    if field == "password":
        body["confirmPassword"] = body["password"]
    # json.dumps writes the surrogate as the escape \ud800, as any client would send it.
    response = post_raw(client, "/api/v1/user/register", json.dumps(body))
    assert_json_error(response, 400)
    assert response.get_json()["message"] == UNSTORABLE_TEXT
    assert User.objects.count() == 0


def test_a_lone_surrogate_in_a_login_or_a_key_is_a_400(client):
    for text in ('{"username": "ann", "password": "pass\\udfffword"}',
                 '{"username": "ann", "password": "x", "\\ud800": 1}'):
        response = post_raw(client, "/api/v1/user/login", text)
        assert_json_error(response, 400)
        assert response.get_json()["message"] == UNSTORABLE_TEXT


def test_a_lone_surrogate_over_a_socket_is_a_clean_negative_ack(api, connect):
    alice, _ = api.user()
    _, bob = api.user()
    socket = connect(alice)
    ack = socket.emit(
        "sendMessage", {"receiverId": bob["_id"], "message": "hi \ud800"}, callback=True
    )
    assert ack == {"ok": False, "message": UNSTORABLE_TEXT}
    ack = socket.emit("markRead", {"otherUserId": bob["_id"], "\udc00": 1}, callback=True)
    assert ack == {"ok": False, "message": UNSTORABLE_TEXT}
    assert Message.objects.count() == 0


def test_a_nul_character_is_a_400_in_bodies_sockets_and_query_strings(api, connect):
    """PostgreSQL's jsonb (FerretDB) cannot store \\u0000: it is the client's 400, never a 500."""
    alice, _ = api.user()
    _, bob = api.user()
    response = post_raw(alice, f"/api/v1/message/send/{bob['_id']}", '{"message": "a\\u0000b"}')
    assert_json_error(response, 400)
    assert response.get_json()["message"] == UNSTORABLE_TEXT
    response = post_raw(alice, "/api/v1/user/login", '{"username": "a\\u0000", "password": "x"}')
    assert_json_error(response, 400)
    response = alice.get("/api/v1/user/", query_string={"q": "ann\x00"})
    assert_json_error(response, 400)
    assert response.get_json()["message"] == UNSTORABLE_TEXT
    ack = connect(alice).emit(
        "sendMessage", {"receiverId": bob["_id"], "message": "a\x00b"}, callback=True
    )
    assert ack == {"ok": False, "message": UNSTORABLE_TEXT}
    assert Message.objects.count() == 0


@pytest.mark.parametrize(
    "body",
    [
        '{"message": ' + '{"a": ' * 3000 + "1" + "}" * 3000 + "}",  # past the parser's recursion
        '{"message": ' + "[" * 40 + "]" * 40 + "}",  # parses, but deeper than anything we read
    ],
)
def test_deeply_nested_json_is_a_400(api, body):
    alice, _ = api.user()
    _, bob = api.user()
    response = post_raw(alice, f"/api/v1/message/send/{bob['_id']}", body)
    assert_json_error(response, 400)
    assert "nested" in response.get_json()["message"]


# --- state changes only from JSON --------------------------------------------------------------

@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("", "application/x-www-form-urlencoded"),  # an empty <form method=post>
        ("messageId=1", "application/x-www-form-urlencoded"),
        ("--x--\r\n", "multipart/form-data; boundary=x"),
        ('{"messageId": null}', "text/plain"),  # <form enctype=text/plain>, JSON-looking
    ],
)
def test_a_form_post_cannot_mark_messages_read(api, data, content_type):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    sent(alice, bob_user["_id"], "unread")
    response = bob.post(
        f"/api/v1/message/{alice_user['_id']}/read", data=data, content_type=content_type
    )
    assert_json_error(response, 415)
    assert Conversation.objects.get().unread_counts[bob_user["_id"]] == 1


@pytest.mark.parametrize("path", ["/api/v1/user/login", "/api/v1/user/register"])
def test_form_logins_and_registrations_are_a_415(client, path):
    response = client.post(path, data={"username": "ann", "password": PASSWORD})
    assert_json_error(response, 415)
    assert response.get_json()["message"] == "Content-Type must be application/json"


def test_a_post_without_a_body_still_works(api):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    sent(alice, bob_user["_id"], "unread")
    # What fetch(url, {method: "POST"}) sends: no body, no Content-Type.
    response = bob.post(f"/api/v1/message/{alice_user['_id']}/read")
    assert response.status_code == 200 and response.get_json()["unreadCount"] == 0
    assert bob.post("/api/v1/user/logout").status_code == 200


# --- messages that are not between the conversation's two people -----------------------------

def test_history_shows_only_messages_between_the_two_people(api):
    alice, alice_user = api.user()
    _, bob_user = api.user()
    _, carol_user = api.user()
    first = sent(alice, bob_user["_id"], "for bob")
    # A message of carol's planted in alice and bob's conversation (a bug, a bad import).
    Message._get_collection().insert_one({
        "conversationId": ObjectId(first["conversationId"]) if "conversationId" in first
        else Conversation.objects.get().id,
        "senderId": ObjectId(carol_user["_id"]), "receiverId": ObjectId(bob_user["_id"]),
        "message": "carol's secret to bob",
    })
    page = history(alice, bob_user["_id"]).get_json()
    assert [m["message"] for m in page] == ["for bob"]


# --- passwords -----------------------------------------------------------------------------

def test_new_passwords_follow_password_min_length_and_old_ones_still_log_in(app, client, api):
    app.config["PASSWORD_MIN_LENGTH"] = 12
    response = api.register(client, password="elevenchars", confirmPassword="elevenchars")
    assert_json_error(response, 400)
    assert response.get_json()["message"] == "Password must be at least 12 characters"
    # An account made when six characters were enough (as the Node backend allowed any).
    User._get_collection().insert_one({
        "fullName": "Old Timer", "username": "oldtimer", "gender": "male",
        "password": bcrypt.hashpw(b"abc123", bcrypt.gensalt(4)).decode(),
    })
    assert api.login(client, "oldtimer", "abc123").status_code == 200


# --- the user directory --------------------------------------------------------------------

def test_the_user_list_is_still_the_whole_list_by_default(api):
    me, _ = api.user()
    others = [api.user()[1]["_id"] for _ in range(3)]
    response = me.get("/api/v1/user/")
    assert [u["_id"] for u in response.get_json()] == others
    assert "X-Next-Before" not in response.headers


def test_the_user_list_pages_newest_first_with_a_cursor(api):
    me, _ = api.user()
    others = [api.user()[1]["_id"] for _ in range(5)]
    seen, before = [], None
    for _ in range(5):
        response = me.get("/api/v1/user/", query_string={"limit": 2, "before": before or []})
        assert response.status_code == 200
        seen += [u["_id"] for u in response.get_json()]
        before = response.headers.get("X-Next-Before")
        if before is None:
            break
    assert seen == list(reversed(others))


def test_the_user_list_searches_by_prefix_of_username_or_full_name(api):
    me, _ = api.user()
    kim = api.user(username="kim.lee", fullName="Kimberly Lee")[1]
    api.user(username="kimxlee", fullName="Someone Else")  # "." is not a wildcard
    ann = api.user(username="annie", fullName="KIM Anne")[1]
    api.user(username="bob", fullName="Bob Kim")  # "Kim" inside, not a prefix

    def search(q):
        response = me.get("/api/v1/user/", query_string={"q": q})
        assert response.status_code == 200, response.get_json()
        return sorted(u["username"] for u in response.get_json())

    assert search("kim") == sorted([kim["username"], ann["username"], "kimxlee"])
    assert search("KIM.") == [kim["username"]]
    assert search("Kimb") == [kim["username"]]
    assert search("(") == [] and search(".*") == []  # a pattern is text, not a regex
    response = me.get("/api/v1/user/", query_string={"q": "k" * 65})
    assert_json_error(response, 400)


@pytest.mark.parametrize("params", [{"limit": "0"}, {"limit": "x"}, {"before": "nope"}])
def test_bad_user_list_parameters_are_a_400(api, params):
    me, _ = api.user()
    assert_json_error(me.get("/api/v1/user/", query_string=params), 400)
