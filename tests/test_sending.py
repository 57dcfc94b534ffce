"""Sending a message over HTTP or a socket: stored, acknowledged, delivered to the right tabs."""

import pytest
from bson import ObjectId

from chatapp.models import Conversation, Message
from chatapp.services import messages
from tests.helpers.chat import history, received, send


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


def test_a_message_reaches_every_tab_of_the_receiver_and_nobody_else(api, connect):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    carol, _ = api.user()
    alice_tab = connect(alice)
    bob_tabs = [connect(bob), connect(bob)]
    carol_tab = connect(carol)
    for socket in (alice_tab, *bob_tabs, carol_tab):
        socket.get_received()

    response = send(alice, bob_user["_id"], "hi bob")
    new_message = response.get_json()["newMessage"]
    for tab in bob_tabs:
        assert received(tab, "newMessage") == [new_message]  # exactly the send response's JSON
    assert received(alice_tab, "newMessage") == []
    assert received(carol_tab, "newMessage") == []


def test_a_failed_send_emits_nothing(api, connect):
    alice, _ = api.user()
    bob, bob_user = api.user()
    bob_tab = connect(bob)
    bob_tab.get_received()
    assert send(alice, bob_user["_id"], "   ").status_code == 400
    assert received(bob_tab, "newMessage") == []


def test_the_service_emits_after_storing(api, connect):
    """send_message called directly (no HTTP) still delivers: the event belongs to the write."""
    _, alice_user = api.user()
    bob, bob_user = api.user()
    bob_tab = connect(bob)
    bob_tab.get_received()
    wire, created = messages.send_message(alice_user["_id"], bob_user["_id"], "direct", max_length=100)
    assert created
    assert received(bob_tab, "newMessage") == [wire]
    page, _ = messages.list_messages(bob_user["_id"], alice_user["_id"], limit=10)
    assert page == [wire]


def test_an_http_send_reaches_all_the_senders_tabs_as_message_sent(api, connect):
    alice, _ = api.user()
    bob, bob_user = api.user()
    carol, _ = api.user()
    alice_tabs = [connect(alice), connect(alice)]
    bob_tab = connect(bob)
    carol_tab = connect(carol)
    for tab in (*alice_tabs, bob_tab, carol_tab):
        tab.get_received()
    new_message = alice.post(f"/api/v1/message/send/{bob_user['_id']}", json={"message": "hi"}).get_json()["newMessage"]
    for tab in alice_tabs:
        packets = tab.get_received()
        assert [(p["name"], p["args"][0]) for p in packets] == [("messageSent", new_message)]
    bob_packets = bob_tab.get_received()
    assert [(p["name"], p["args"][0]) for p in bob_packets] == [("newMessage", new_message)]
    assert carol_tab.get_received() == []


def test_a_socket_send_skips_the_sending_tab(api, connect):
    alice, _ = api.user()
    bob, bob_user = api.user()
    sending_tab, other_tab = connect(alice), connect(alice)
    bob_tab = connect(bob)
    for tab in (sending_tab, other_tab, bob_tab):
        tab.get_received()
    ack = sending_tab.emit("sendMessage", {"receiverId": bob_user["_id"], "message": "hi"}, callback=True)
    assert sending_tab.get_received() == []  # it has the ack
    assert received(other_tab, "messageSent") == [ack["newMessage"]]
    assert received(bob_tab, "newMessage") == [ack["newMessage"]]
    assert received(bob_tab, "messageSent") == []


def test_a_failed_or_repeated_send_emits_no_message_sent(api, connect):
    alice, _ = api.user()
    _, bob_user = api.user()
    tab = connect(alice)
    tab.get_received()
    alice.post(f"/api/v1/message/send/{bob_user['_id']}", json={"message": " "})
    assert received(tab, "messageSent") == []
    body = {"message": "x", "clientMessageId": "k"}
    alice.post(f"/api/v1/message/send/{bob_user['_id']}", json=body)
    alice.post(f"/api/v1/message/send/{bob_user['_id']}", json=body)
    assert len(received(tab, "messageSent")) == 1


def socket_send(socket, data):
    return socket.emit("sendMessage", data, callback=True)


def test_a_socket_send_is_stored_delivered_and_acknowledged(api, connect):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    alice_tab = connect(alice)
    bob_tab = connect(bob)
    for tab in (alice_tab, bob_tab):
        tab.get_received()
    ack = socket_send(alice_tab, {"receiverId": bob_user["_id"], "message": "over the socket"})
    assert ack["ok"] is True
    new_message = ack["newMessage"]
    assert new_message["senderId"] == alice_user["_id"]
    assert new_message["message"] == "over the socket"
    assert received(bob_tab, "newMessage") == [new_message]
    assert received(alice_tab, "newMessage") == []
    assert bob.get(f"/api/v1/message/{alice_user['_id']}").get_json() == [new_message]


def test_a_socket_retry_returns_the_first_message_and_is_not_redelivered(api, connect):
    alice, _ = api.user()
    bob, bob_user = api.user()
    alice_tab = connect(alice)
    bob_tab = connect(bob)
    bob_tab.get_received()
    data = {"receiverId": bob_user["_id"], "message": "once", "clientMessageId": "s-1"}
    first = socket_send(alice_tab, data)
    again = socket_send(alice_tab, data)
    assert first["ok"] and again["ok"]
    assert again["newMessage"] == first["newMessage"]
    assert received(bob_tab, "newMessage") == [first["newMessage"]]
    # An HTTP retry of a socket send finds the same message too.
    http = alice.post(f"/api/v1/message/send/{bob_user['_id']}", json={"message": "once", "clientMessageId": "s-1"})
    assert http.status_code == 200 and http.get_json()["newMessage"] == first["newMessage"]
    assert Message.objects.count() == 1


BAD_PAYLOADS = [
    None,
    "just a string",
    42,
    ["a", "list"],
    {},
    {"receiverId": None, "message": "hi"},
    {"receiverId": 12345, "message": "hi"},
    {"receiverId": {"$ne": None}, "message": "hi"},
    {"receiverId": "not-an-id", "message": "hi"},
    {"receiverId": "RECEIVER", "message": None},
    {"receiverId": "RECEIVER", "message": 42},
    {"receiverId": "RECEIVER", "message": {"$ne": None}},
    {"receiverId": "RECEIVER", "message": "   "},
    {"receiverId": "RECEIVER", "message": "hi", "clientMessageId": 7},
    {"receiverId": "RECEIVER", "message": "hi", "clientMessageId": {"$gt": ""}},
    {"receiverId": "RECEIVER", "message": "x" * 5001},
    {"receiverId": "SELF", "message": "hi"},
    {"receiverId": "UNKNOWN", "message": "hi"},
]


@pytest.mark.parametrize("data", BAD_PAYLOADS)
def test_bad_payloads_get_a_negative_ack_and_store_nothing(api, connect, data):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    alice_tab = connect(alice)
    bob_tab = connect(bob)
    bob_tab.get_received()
    if isinstance(data, dict):
        substitutes = {"RECEIVER": bob_user["_id"], "SELF": alice_user["_id"], "UNKNOWN": str(ObjectId())}
        data = {k: substitutes.get(v, v) if isinstance(v, str) else v for k, v in data.items()}
    ack = socket_send(alice_tab, data)
    assert ack["ok"] is False
    assert isinstance(ack["message"], str) and ack["message"]
    assert alice_tab.is_connected()
    assert Message.objects.count() == 0
    assert received(bob_tab, "newMessage") == []


def test_no_payload_and_extra_arguments_get_a_negative_ack(api, connect):
    alice, _ = api.user()
    _, bob_user = api.user()
    tab = connect(alice)
    assert tab.emit("sendMessage", callback=True)["ok"] is False
    ack = tab.emit("sendMessage", {"receiverId": bob_user["_id"], "message": "a"}, "extra", callback=True)
    assert ack["ok"] is False
    assert Message.objects.count() == 0


def test_an_unexpected_error_is_a_negative_ack_not_a_crash(api, connect, monkeypatch):
    from chatapp.services import messages

    alice, _ = api.user()
    _, bob_user = api.user()
    tab = connect(alice)

    def broken(*args, **kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(messages, "get_or_create_conversation", broken)
    ack = socket_send(tab, {"receiverId": bob_user["_id"], "message": "hi"})
    assert ack == {"ok": False, "message": "Internal server error."}
    assert tab.is_connected()


def test_the_sender_is_the_sockets_user_whatever_the_payload_says(api, connect):
    alice, alice_user = api.user()
    _, bob_user = api.user()
    _, carol_user = api.user()
    tab = connect(alice)
    ack = socket_send(tab, {"receiverId": bob_user["_id"], "message": "hi", "senderId": carol_user["_id"]})
    assert ack["newMessage"]["senderId"] == alice_user["_id"]


def test_a_deleted_users_open_socket_can_no_longer_send_or_mark_read(api, connect):
    from chatapp.models import User

    alice, alice_user = api.user()
    bob, bob_user = api.user()
    alice_tab, bob_tab = connect(alice), connect(bob)
    bob_tab.get_received()
    User.objects(id=alice_user["_id"]).delete()
    ack = socket_send(alice_tab, {"receiverId": bob_user["_id"], "message": "from beyond"})
    assert ack == {"ok": False, "message": "User not authenticated."}
    ack = alice_tab.emit("markRead", {"otherUserId": bob_user["_id"]}, callback=True)
    assert ack["ok"] is False
    assert Message.objects.count() == 0
    assert bob_tab.get_received() == []
