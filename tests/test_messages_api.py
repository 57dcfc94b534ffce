"""/api/v1/message: sending, and history a page at a time, through the HTTP API."""

import pytest
from bson import ObjectId

from chatapp.models import Conversation, Message
from tests.conftest import history, send


def test_send_answers_the_new_message(api):
    alice, alice_user = api.user()
    _, bob_user = api.user()
    response = send(alice, bob_user["_id"], "hello bob")
    assert response.status_code == 201
    new_message = response.get_json()["newMessage"]
    assert list(new_message) == ["_id", "senderId", "receiverId", "message", "createdAt", "updatedAt"]
    assert new_message["senderId"] == alice_user["_id"]
    assert new_message["receiverId"] == bob_user["_id"]
    assert new_message["message"] == "hello bob"
    assert len(new_message["_id"]) == 24
    assert new_message["createdAt"].endswith("Z") and new_message["createdAt"][19] == "."


def test_both_sides_read_the_same_history_oldest_first(api):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    sent = [
        send(alice, bob_user["_id"], "one").get_json()["newMessage"],
        send(bob, alice_user["_id"], "two").get_json()["newMessage"],
        send(alice, bob_user["_id"], "three").get_json()["newMessage"],
    ]
    for client, other in ((alice, bob_user), (bob, alice_user)):
        response = history(client, other["_id"])
        assert response.status_code == 200
        assert response.get_json() == sent  # identical JSON, times included
    assert Conversation.objects.count() == 1


def test_history_is_an_empty_array_before_any_message(api):
    alice, _ = api.user()
    _, bob_user = api.user()
    response = history(alice, bob_user["_id"])
    assert response.status_code == 200 and response.get_json() == []
    assert "X-Next-Before" not in response.headers


def test_history_is_only_ever_the_callers_own_conversation(api):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    carol, carol_user = api.user()
    send(alice, bob_user["_id"], "for bob only")
    send(carol, alice_user["_id"], "for alice only")
    # Carol asking for "her conversation with bob" sees nothing of alice and bob's.
    assert history(carol, bob_user["_id"]).get_json() == []
    assert [m["message"] for m in history(bob, alice_user["_id"]).get_json()] == ["for bob only"]
    assert [m["message"] for m in history(alice, carol_user["_id"]).get_json()] == ["for alice only"]


def test_history_pages_backwards_with_a_cursor_header(app, api):
    alice, alice_user = api.user()
    _, bob_user = api.user()
    texts = [f"m{i}" for i in range(7)]
    for text in texts:
        send(alice, bob_user["_id"], text)

    first = history(alice, bob_user["_id"], limit=3)
    assert [m["message"] for m in first.get_json()] == ["m4", "m5", "m6"]
    cursor = first.headers["X-Next-Before"]
    assert cursor == first.get_json()[0]["_id"]

    second = history(alice, bob_user["_id"], limit=3, before=cursor)
    assert [m["message"] for m in second.get_json()] == ["m1", "m2", "m3"]
    third = history(alice, bob_user["_id"], limit=3, before=second.headers["X-Next-Before"])
    assert [m["message"] for m in third.get_json()] == ["m0"]
    assert "X-Next-Before" not in third.headers


def test_history_returns_the_newest_page_by_default(app, api):
    app.config["HISTORY_PAGE_SIZE"] = 4
    alice, _ = api.user()
    _, bob_user = api.user()
    for i in range(6):
        send(alice, bob_user["_id"], f"m{i}")
    assert [m["message"] for m in history(alice, bob_user["_id"]).get_json()] == ["m2", "m3", "m4", "m5"]


def test_history_limit_is_capped(app, api):
    app.config["HISTORY_MAX_PAGE_SIZE"] = 3
    alice, _ = api.user()
    _, bob_user = api.user()
    for i in range(5):
        send(alice, bob_user["_id"], f"m{i}")
    assert len(history(alice, bob_user["_id"], limit=1000).get_json()) == 3


@pytest.mark.parametrize("limit", ["0", "-1", "ten", "1.5"])
def test_bad_limit_is_a_400(api, limit):
    alice, _ = api.user()
    _, bob_user = api.user()
    response = history(alice, bob_user["_id"], limit=limit)
    assert response.status_code == 400
    assert response.get_json()["success"] is False


@pytest.mark.parametrize("before", ["nope", "0" * 23, "g" * 24])
def test_bad_cursor_is_a_400(api, before):
    alice, _ = api.user()
    _, bob_user = api.user()
    assert history(alice, bob_user["_id"], before=before).status_code == 400


@pytest.mark.parametrize("bad_id", ["123", "not-an-object-id", "z" * 24, "6" * 25])
def test_malformed_ids_are_a_400(api, bad_id):
    alice, _ = api.user()
    for response in (send(alice, bad_id, "hi"), history(alice, bad_id)):
        assert response.status_code == 400
        assert response.get_json() == {"message": "Invalid user id" if response.request.method == "GET" else "Invalid receiver id", "success": False}
    assert Message.objects.count() == 0


def test_unknown_receiver_is_a_404_and_creates_no_conversation(api):
    alice, _ = api.user()
    response = send(alice, str(ObjectId()), "anyone there?")
    assert response.status_code == 404
    assert response.get_json()["success"] is False
    assert Conversation.objects.count() == 0 and Message.objects.count() == 0


def test_message_to_oneself_is_a_400(api):
    alice, alice_user = api.user()
    assert send(alice, alice_user["_id"], "note to self").status_code == 400
    assert history(alice, alice_user["_id"]).status_code == 400
    assert Conversation.objects.count() == 0


@pytest.mark.parametrize("text", ["", "   ", "\n\t "])
def test_empty_message_is_a_400(api, text):
    alice, _ = api.user()
    _, bob_user = api.user()
    response = send(alice, bob_user["_id"], text)
    assert response.status_code == 400
    assert Message.objects.count() == 0


@pytest.mark.parametrize("body", [{}, {"message": None}, {"message": 42}, {"message": {"$ne": 1}}, {"message": ["x"]}])
def test_missing_or_non_string_message_is_a_400(api, body):
    alice, _ = api.user()
    _, bob_user = api.user()
    response = alice.post(f"/api/v1/message/send/{bob_user['_id']}", json=body)
    assert response.status_code == 400
    assert Message.objects.count() == 0


def test_message_length_limit_is_configurable(app, api):
    app.config["MAX_MESSAGE_LENGTH"] = 10
    alice, _ = api.user()
    _, bob_user = api.user()
    assert send(alice, bob_user["_id"], "x" * 10).status_code == 201
    response = send(alice, bob_user["_id"], "x" * 11)
    assert response.status_code == 413
    assert "at most 10" in response.get_json()["message"]
    assert Message.objects.count() == 1


def test_default_message_limit_is_5000_characters(api):
    alice, _ = api.user()
    _, bob_user = api.user()
    assert send(alice, bob_user["_id"], "é" * 5000).status_code == 201
    assert send(alice, bob_user["_id"], "é" * 5001).status_code == 413


def test_messages_keep_unicode_and_markup_verbatim(api):
    alice, _ = api.user()
    bob, bob_user = api.user()
    text = "<b>héllo</b> 👋 \"quoted\""
    send(alice, bob_user["_id"], text)
    assert history(alice, bob_user["_id"]).get_json()[0]["message"] == text


def test_sending_requires_authentication(client, api):
    _, bob_user = api.user()
    assert send(client, bob_user["_id"], "hi").status_code == 401
    assert history(client, bob_user["_id"]).status_code == 401
    assert Message.objects.count() == 0


def test_conversation_keeps_no_growing_array_of_message_ids(api):
    alice, _ = api.user()
    _, bob_user = api.user()
    for i in range(3):
        send(alice, bob_user["_id"], f"m{i}")
    raw = Conversation._get_collection().find_one()
    assert "messages" not in raw
    assert raw["lastMessage"]["message"] == "m2"


def test_racing_first_messages_share_one_conversation(api):
    """The other sender's first message made the conversation a moment ago (this process has not
    seen it): ours meets the unique pairKey and is stored in theirs, not in a second one."""

    alice, alice_user = api.user()
    bob, bob_user = api.user()
    Conversation._get_collection().insert_one({
        "pairKey": Conversation.key_for(alice_user["_id"], bob_user["_id"]),
        "participants": [ObjectId(bob_user["_id"]), ObjectId(alice_user["_id"])],
    })
    assert send(alice, bob_user["_id"], "first!").status_code == 201
    assert Conversation.objects.count() == 1
    assert [m["message"] for m in history(bob, alice_user["_id"]).get_json()] == ["first!"]
    assert Conversation.objects.get().last_message["message"] == "first!"
