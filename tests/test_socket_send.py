"""Socket event `sendMessage`: stores and delivers like the HTTP send, and always acknowledges."""

import pytest
from bson import ObjectId

from chatapp.models import Message
from tests.conftest import received


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
