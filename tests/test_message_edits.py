"""Editing and deleting a message: by its sender only, live to both sides, history and the
conversation list follow."""

from datetime import timedelta

import pytest
from bson import ObjectId

from chatapp import db
from tests.helpers.chat import history, received, sent


def edit(client, message_id, text):
    return client.patch(f"/api/v1/message/{message_id}", json={"message": text})


def delete(client, message_id):
    return client.delete(f"/api/v1/message/{message_id}")


def conversation_list(client):
    return client.get("/api/v1/conversations/").get_json()


@pytest.fixture
def pair(api, connect):
    """Alice and Bob, each with a connected tab, and a message from Alice to Bob."""
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    message = sent(alice, bob_user["_id"], "hello wrold")
    tabs = {"alice": connect(alice), "bob": connect(bob)}
    for tab in tabs.values():
        tab.get_received()
    return alice, alice_user, bob, bob_user, message, tabs


def test_the_sender_edits_and_both_sides_see_it_live_and_in_history(pair):
    alice, alice_user, bob, bob_user, message, tabs = pair
    response = edit(alice, message["_id"], "hello world")
    assert response.status_code == 200
    edited = response.get_json()
    assert edited["message"] == "hello world"
    assert edited["_id"] == message["_id"] and edited["createdAt"] == message["createdAt"]
    assert edited["editedAt"] >= message["createdAt"]
    for tab in tabs.values():
        assert received(tab, "messageUpdated") == [edited]
    assert edited["conversationId"]
    page = history(bob, alice_user["_id"]).get_json()
    assert page[0]["message"] == "hello world" and page[0]["editedAt"] == edited["editedAt"]
    # The conversation list's summary follows the newest message's edit.
    summary = conversation_list(bob)[0]["lastMessage"]
    assert summary["message"] == "hello world" and summary["editedAt"] == edited["editedAt"]


def test_editing_an_older_message_leaves_the_summary_on_the_newest(pair):
    alice, _, bob, bob_user, message, _ = pair
    sent(alice, bob_user["_id"], "second")
    assert edit(alice, message["_id"], "first, edited").status_code == 200
    assert conversation_list(bob)[0]["lastMessage"]["message"] == "second"


def test_only_the_sender_may_edit_or_delete(pair):
    _, _, bob, _, message, tabs = pair
    for response in (edit(bob, message["_id"], "mine now"), delete(bob, message["_id"])):
        assert response.status_code == 403
        assert response.get_json()["success"] is False
    assert tabs["alice"].get_received() == [] and tabs["bob"].get_received() == []


def test_outsiders_get_the_same_404_as_for_a_message_that_does_not_exist(api, pair):
    _, _, _, _, message, tabs = pair
    carol, _ = api.user()
    for message_id in (message["_id"], str(ObjectId())):
        assert edit(carol, message_id, "x").status_code == 404
        assert delete(carol, message_id).status_code == 404
        assert edit(carol, message_id, "x").get_json()["message"] == "Message not found"
    assert tabs["alice"].get_received() == []


@pytest.mark.parametrize(
    "body, status",
    [
        ({"message": ""}, 400),
        ({"message": "   "}, 400),
        ({"message": None}, 400),
        ({"message": 5}, 400),
        ({"message": {"$set": "x"}}, 400),
        ({}, 400),
        ({"message": "x" * 5001}, 413),
    ],
)
def test_an_edit_is_checked_like_a_send(pair, body, status):
    alice, _, _, _, message, tabs = pair
    response = alice.patch(f"/api/v1/message/{message['_id']}", json=body)
    assert response.status_code == status
    assert response.get_json()["success"] is False
    assert tabs["bob"].get_received() == []


def test_malformed_ids_and_bodies_are_json_400s(pair):
    alice, *_ = pair
    assert edit(alice, "nope", "x").status_code == 400
    assert delete(alice, "nope").status_code == 400
    response = alice.patch(f"/api/v1/message/{pair[4]['_id']}", data="x", content_type="text/plain")
    assert response.status_code == 415 and response.get_json()["success"] is False
    response = alice.patch(
        f"/api/v1/message/{pair[4]['_id']}", data="[1]", content_type="application/json"
    )
    assert response.status_code == 400 and response.get_json()["success"] is False


def test_the_edit_window(app, pair):
    alice, _, _, _, message, _ = pair
    app.config["EDIT_WINDOW_SECONDS"] = 60
    assert edit(alice, message["_id"], "in time").status_code == 200
    messages = db.mongoengine.get_db()["messages"]
    stored = messages.find_one({"_id": ObjectId(message["_id"])})
    messages.update_one(
        {"_id": stored["_id"]}, {"$set": {"createdAt": stored["createdAt"] - timedelta(minutes=2)}}
    )
    response = edit(alice, message["_id"], "too late")
    assert response.status_code == 403
    assert response.get_json()["message"] == "This message can no longer be edited"


def test_delete_leaves_a_tombstone_without_the_text(pair):
    alice, alice_user, bob, bob_user, message, tabs = pair
    response = delete(alice, message["_id"])
    assert response.status_code == 200
    tombstone = response.get_json()
    assert tombstone["message"] == "" and tombstone["deletedAt"]
    for tab in tabs.values():
        assert received(tab, "messageDeleted") == [tombstone]
    # The text is gone from the database itself, not just hidden.
    stored = db.mongoengine.get_db()["messages"].find_one({"_id": ObjectId(message["_id"])})
    assert stored["message"] == "" and "hello" not in str(stored)
    # It keeps its place in history, in the shape the React client renders (an empty bubble).
    page = history(bob, alice_user["_id"]).get_json()
    assert [m["_id"] for m in page] == [message["_id"]]
    assert page[0]["message"] == "" and page[0]["senderId"] == alice_user["_id"]
    summary = conversation_list(alice)[0]["lastMessage"]
    assert summary["message"] == "" and summary["deletedAt"] == tombstone["deletedAt"]


def test_a_deleted_message_cannot_be_edited_and_deleting_again_changes_nothing(pair):
    alice, _, _, _, message, tabs = pair
    first = delete(alice, message["_id"]).get_json()
    for tab in tabs.values():
        tab.get_received()
    again = delete(alice, message["_id"])
    assert again.status_code == 200 and again.get_json() == first
    response = edit(alice, message["_id"], "back from the dead")
    assert response.status_code == 409
    assert tabs["alice"].get_received() == [] and tabs["bob"].get_received() == []


def test_an_unread_message_deleted_is_no_longer_unread(pair):
    alice, alice_user, bob, bob_user, message, _ = pair
    sent(alice, bob_user["_id"], "still here")
    assert conversation_list(bob)[0]["unreadCount"] == 2
    delete(alice, message["_id"])
    assert conversation_list(bob)[0]["unreadCount"] == 1
    # Reading recounts, and the deleted one does not count either.
    receipt = bob.post(f"/api/v1/message/{alice_user['_id']}/read", json={"messageId": message["_id"]})
    assert receipt.get_json()["unreadCount"] == 1


def test_deleting_a_read_message_leaves_the_count_alone(pair):
    alice, alice_user, bob, bob_user, message, _ = pair
    bob.post(f"/api/v1/message/{alice_user['_id']}/read", json={})
    sent(alice, bob_user["_id"], "new")
    delete(alice, message["_id"])
    assert conversation_list(bob)[0]["unreadCount"] == 1


def test_a_retried_send_of_a_deleted_message_finds_the_tombstone(pair):
    alice, _, _, bob_user, _, _ = pair
    first = alice.post(
        f"/api/v1/message/send/{bob_user['_id']}", json={"message": "oops", "clientMessageId": "k-1"}
    ).get_json()["newMessage"]
    delete(alice, first["_id"])
    retry = alice.post(
        f"/api/v1/message/send/{bob_user['_id']}", json={"message": "oops", "clientMessageId": "k-1"}
    )
    assert retry.status_code == 200
    assert retry.get_json()["newMessage"]["_id"] == first["_id"]
    assert retry.get_json()["newMessage"]["message"] == ""


def test_socket_edit_and_delete_are_acknowledged(pair):
    _, _, _, _, message, tabs = pair
    ack = tabs["alice"].emit(
        "editMessage", {"messageId": message["_id"], "message": "via socket"}, callback=True
    )
    assert ack["ok"] is True and ack["message"]["message"] == "via socket"
    assert received(tabs["bob"], "messageUpdated")[0]["message"] == "via socket"
    ack = tabs["bob"].emit("deleteMessage", {"messageId": message["_id"]}, callback=True)
    assert ack == {"ok": False, "message": "You can only delete your own messages"}
    ack = tabs["alice"].emit("deleteMessage", {"messageId": message["_id"]}, callback=True)
    assert ack["ok"] is True and ack["message"]["message"] == ""
    bad = tabs["alice"].emit("editMessage", ["not", "an", "object"], callback=True)
    assert bad["ok"] is False


def test_edits_are_rate_limited(app, pair):
    alice, _, _, _, message, _ = pair
    app.config["EDIT_RATE_LIMIT"] = "2 per minute"
    assert edit(alice, message["_id"], "one").status_code == 200
    assert edit(alice, message["_id"], "two").status_code == 200
    response = edit(alice, message["_id"], "three")
    assert response.status_code == 429 and response.headers["Retry-After"]
