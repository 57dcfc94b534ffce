"""Read receipts: POST /api/v1/message/<id>/read and socket `markRead`, and `messagesSeen`."""

import io
import json

import pytest
from bson import ObjectId

from chatapp.models import Conversation
from tests.helpers.chat import received
from tests.helpers.chat import sent as send


def read(client, other, body=None, **kwargs):
    if body is None:
        return client.post(f"/api/v1/message/{other}/read", **kwargs)
    return client.post(f"/api/v1/message/{other}/read", json=body, **kwargs)


def unread(client):
    return {c["participant"]["_id"]: c["unreadCount"] for c in client.get("/api/v1/conversations").get_json()}


def test_reading_everything_resets_the_count_and_tells_the_other_side(api, connect):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    carol, _ = api.user()
    sent = [send(alice, bob_user["_id"], f"m{i}") for i in range(3)]
    alice_tabs = [connect(alice), connect(alice)]
    bob_tab, carol_tab = connect(bob), connect(carol)
    for tab in (*alice_tabs, bob_tab, carol_tab):
        tab.get_received()
    assert unread(bob) == {alice_user["_id"]: 3}

    response = read(bob, alice_user["_id"])  # no body at all
    assert response.status_code == 200
    receipt = response.get_json()
    conversation_id = str(Conversation.objects.get().id)
    assert receipt["conversationId"] == conversation_id
    assert receipt["readerId"] == bob_user["_id"]
    assert receipt["messageId"] == sent[-1]["_id"]
    assert receipt["unreadCount"] == 0
    assert receipt["seenAt"].endswith("Z")
    assert unread(bob) == {alice_user["_id"]: 0}

    seen = {k: receipt[k] for k in ("conversationId", "readerId", "messageId", "seenAt")}
    for tab in alice_tabs:
        assert received(tab, "messagesSeen") == [seen]
    assert received(bob_tab, "messagesSeen") == []
    assert carol_tab.get_received() == []


def test_reading_up_to_a_message_leaves_later_ones_unread_and_never_moves_back(api, connect):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    sent = [send(alice, bob_user["_id"], f"m{i}") for i in range(4)]
    alice_tab = connect(alice)
    alice_tab.get_received()

    first = read(bob, alice_user["_id"], {"messageId": sent[1]["_id"]}).get_json()
    assert first["messageId"] == sent[1]["_id"] and first["unreadCount"] == 2
    assert unread(bob) == {alice_user["_id"]: 2}
    assert [s["messageId"] for s in received(alice_tab, "messagesSeen")] == [sent[1]["_id"]]

    read(bob, alice_user["_id"], {"messageId": sent[3]["_id"]})
    backwards = read(bob, alice_user["_id"], {"messageId": sent[0]["_id"]}).get_json()
    assert backwards["messageId"] == sent[3]["_id"]  # the marker stays where it was
    assert backwards["unreadCount"] == 0
    # One event for the move forward, none for the attempt to move back.
    assert [s["messageId"] for s in received(alice_tab, "messagesSeen")] == [sent[3]["_id"]]
    raw = Conversation._get_collection().find_one()
    assert raw["readMarkers"][bob_user["_id"]] == ObjectId(sent[3]["_id"])


def test_own_messages_never_count_as_unread(api):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    send(alice, bob_user["_id"], "from alice")
    mine = send(bob, alice_user["_id"], "from bob")
    receipt = read(bob, alice_user["_id"], {"messageId": mine["_id"]}).get_json()
    assert receipt["unreadCount"] == 0


def test_a_message_of_another_conversation_is_a_404_and_moves_nothing(api, connect):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    carol, carol_user = api.user()
    send(alice, bob_user["_id"], "a to b")
    foreign = send(carol, alice_user["_id"], "c to a")
    bob_tab = connect(bob)
    carol_tab = connect(carol)
    for tab in (bob_tab, carol_tab):
        tab.get_received()
    # Bob claims to have read a message of alice and carol's conversation.
    response = read(bob, alice_user["_id"], {"messageId": foreign["_id"]})
    assert response.status_code == 404
    # And carol cannot mark read in alice and bob's conversation: hers with bob is empty.
    assert read(carol, bob_user["_id"]).get_json()["messageId"] is None
    assert read(carol, bob_user["_id"], {"messageId": foreign["_id"]}).status_code == 404
    assert received(bob_tab, "messagesSeen") == [] and received(carol_tab, "messagesSeen") == []
    assert Conversation._get_collection().find_one({"pairKey": {"$regex": bob_user["_id"]}}).get("readMarkers") in (None, {})


def test_reading_a_conversation_without_messages_is_a_no_op(api, connect):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    tab = connect(alice)
    tab.get_received()
    response = read(bob, alice_user["_id"], {})
    assert response.status_code == 200
    assert response.get_json()["conversationId"] is None
    assert response.get_json()["messageId"] is None
    assert tab.get_received() == []


@pytest.mark.parametrize(
    "body", [[], "x", 42, {"messageId": 42}, {"messageId": {"$ne": None}}, {"messageId": "nope"}, {"messageId": ""}]
)
def test_bad_bodies_are_a_400(api, body):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    send(alice, bob_user["_id"], "hi")
    assert read(bob, alice_user["_id"], body).status_code == 400


def test_a_non_json_body_is_a_415(api):
    # text/plain is what a cross-site form can send without a preflight.
    alice, alice_user = api.user()
    bob, _ = api.user()
    response = bob.post(
        f"/api/v1/message/{alice_user['_id']}/read", data="messageId=1", content_type="text/plain"
    )
    assert response.status_code == 415


@pytest.mark.parametrize("other", ["123", "z" * 24, "SELF", "UNKNOWN"])
def test_bad_or_unknown_users(api, other):
    alice, alice_user = api.user()
    other = {"SELF": alice_user["_id"], "UNKNOWN": str(ObjectId())}.get(other, other)
    response = read(alice, other)
    assert response.status_code == (404 if other not in ("123", "z" * 24, alice_user["_id"]) else 400)
    assert response.get_json()["success"] is False


def test_reading_requires_authentication(client, api):
    _, bob_user = api.user()
    assert read(client, bob_user["_id"]).status_code == 401


def test_the_route_does_not_shadow_history_or_send(api):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    send(alice, bob_user["_id"], "hi")
    assert bob.get(f"/api/v1/message/{alice_user['_id']}").status_code == 200
    assert bob.get(f"/api/v1/message/{alice_user['_id']}/read").status_code == 405
    assert bob.post(f"/api/v1/message/{alice_user['_id']}").status_code == 405


# --- socket markRead --------------------------------------------------------------------------

def test_mark_read_over_the_socket_acknowledges_and_notifies(api, connect):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    sent = [send(alice, bob_user["_id"], f"m{i}") for i in range(2)]
    alice_tab, bob_tab = connect(alice), connect(bob)
    for tab in (alice_tab, bob_tab):
        tab.get_received()
    ack = bob_tab.emit("markRead", {"otherUserId": alice_user["_id"]}, callback=True)
    assert ack["ok"] is True
    assert ack["messageId"] == sent[-1]["_id"] and ack["unreadCount"] == 0
    [seen] = received(alice_tab, "messagesSeen")
    assert seen == {k: ack[k] for k in ("conversationId", "readerId", "messageId", "seenAt")}
    assert received(bob_tab, "messagesSeen") == []


@pytest.mark.parametrize(
    "data",
    [
        None, "x", 42, [], {},
        {"otherUserId": 1}, {"otherUserId": {"$ne": None}}, {"otherUserId": "nope"},
        {"otherUserId": "UNKNOWN"}, {"otherUserId": "SELF"},
        {"otherUserId": "OTHER", "messageId": {"$gt": ""}}, {"otherUserId": "OTHER", "messageId": "UNKNOWN"},
    ],
)
def test_mark_read_bad_payloads_get_a_negative_ack(api, connect, data):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    send(alice, bob_user["_id"], "hi")
    bob_tab, alice_tab = connect(bob), connect(alice)
    alice_tab.get_received()
    if isinstance(data, dict):
        subs = {"UNKNOWN": str(ObjectId()), "SELF": bob_user["_id"], "OTHER": alice_user["_id"]}
        data = {k: subs.get(v, v) if isinstance(v, str) else v for k, v in data.items()}
    ack = bob_tab.emit("markRead", data, callback=True)
    assert ack["ok"] is False and isinstance(ack["message"], str)
    assert received(alice_tab, "messagesSeen") == []
    assert unread(bob) == {alice_user["_id"]: 1}


def test_a_chunked_body_is_read_too(api):
    """Without Content-Length (chunked, as under gunicorn) a body still counts as a body."""
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    first = alice.post(f"/api/v1/message/send/{bob_user['_id']}", json={"message": "a"}).get_json()
    alice.post(f"/api/v1/message/send/{bob_user['_id']}", json={"message": "b"})

    def chunked(body, content_type):
        return bob.post(
            f"/api/v1/message/{alice_user['_id']}/read",
            input_stream=io.BytesIO(body),
            headers={"Transfer-Encoding": "chunked", "Content-Type": content_type},
            environ_overrides={"wsgi.input_terminated": True},
        )

    assert chunked(b"messageId=x", "application/x-www-form-urlencoded").status_code == 415
    response = chunked(json.dumps({"messageId": first["newMessage"]["_id"]}).encode(), "application/json")
    assert response.status_code == 200
    assert response.get_json()["unreadCount"] == 1


def test_an_older_send_recorded_after_a_newer_one_counts_but_keeps_the_newer_summary(api):
    """The send's one conversation update: `$inc` always, summary only for a newer message."""
    from datetime import datetime

    from chatapp.models import Message
    from chatapp.services.messages import _record_sent, get_or_create_conversation

    alice, alice_user = api.user()
    bob, bob_user = api.user()
    sender, receiver = ObjectId(alice_user["_id"]), ObjectId(bob_user["_id"])
    conversation_id = get_or_create_conversation(sender, receiver)
    # Newer by seq, the order they were stored in, even with the smaller id.
    newer, older = sorted(ObjectId() for _ in range(2))

    def message(mid, text, seq):  # the stored document, as send_message passes it
        return Message(id=mid, conversation_id=conversation_id, sender_id=sender,
                       receiver_id=receiver, message=text, seq=seq,
                       created_at=datetime(2026, 1, 1)).to_mongo().to_dict()

    _record_sent(conversation_id, receiver, message(newer, "newer", 2))
    _record_sent(conversation_id, receiver, message(older, "older", 1))  # lost the race
    doc = Conversation.objects(id=conversation_id).as_pymongo().first()
    assert doc["unreadCounts"] == {str(receiver): 2}
    assert doc["lastMessage"]["_id"] == newer and doc["lastMessage"]["message"] == "newer"
    _record_sent(ObjectId(), receiver, message(ObjectId(), "nowhere", 3))  # no such conversation
    assert Conversation.objects.count() == 1
