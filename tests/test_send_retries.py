"""Idempotent send: a retried send with the same clientMessageId returns the first message."""

import threading

import pytest
from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from chatapp.models import Conversation, Message
from tests.helpers.chat import received


def send(client, to, body):
    return client.post(f"/api/v1/message/send/{to}", json=body)


def test_a_retry_returns_the_first_message_with_200(api):
    alice, alice_user = api.user()
    _, bob_user = api.user()
    body = {"message": "hello", "clientMessageId": "c-1"}
    first = send(alice, bob_user["_id"], body)
    assert first.status_code == 201
    retry = send(alice, bob_user["_id"], body)
    assert retry.status_code == 200
    assert retry.get_json() == first.get_json()
    assert first.get_json()["newMessage"]["clientMessageId"] == "c-1"
    assert Message.objects.count() == 1


def test_a_retry_is_not_delivered_twice_nor_counted_twice(api, connect):
    alice, _ = api.user()
    bob, bob_user = api.user()
    bob_tab = connect(bob)
    bob_tab.get_received()
    body = {"message": "once", "clientMessageId": "c-2"}
    first = send(alice, bob_user["_id"], body).get_json()["newMessage"]
    for _ in range(3):
        send(alice, bob_user["_id"], body)
    assert received(bob_tab, "newMessage") == [first]
    assert [m["_id"] for m in bob.get(f"/api/v1/message/{first['senderId']}").get_json()] == [first["_id"]]
    raw = Conversation._get_collection().find_one()
    assert str(raw["lastMessage"]["_id"]) == first["_id"]


def test_keys_are_per_sender(api):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    a = send(alice, bob_user["_id"], {"message": "from alice", "clientMessageId": "same"})
    b = send(bob, alice_user["_id"], {"message": "from bob", "clientMessageId": "same"})
    assert a.status_code == b.status_code == 201
    assert a.get_json()["newMessage"]["_id"] != b.get_json()["newMessage"]["_id"]


def test_a_key_reused_for_another_message_is_a_409(api):
    alice, _ = api.user()
    _, bob_user = api.user()
    _, carol_user = api.user()
    assert send(alice, bob_user["_id"], {"message": "one", "clientMessageId": "k"}).status_code == 201
    other_text = send(alice, bob_user["_id"], {"message": "two", "clientMessageId": "k"})
    other_receiver = send(alice, carol_user["_id"], {"message": "one", "clientMessageId": "k"})
    for response in (other_text, other_receiver):
        assert response.status_code == 409
        assert response.get_json()["success"] is False
    assert Message.objects.count() == 1


def test_sends_without_a_key_are_never_merged(api):
    alice, _ = api.user()
    _, bob_user = api.user()
    for _ in range(2):
        assert send(alice, bob_user["_id"], {"message": "same"}).status_code == 201
    assert send(alice, bob_user["_id"], {"message": "same", "clientMessageId": None}).status_code == 201
    assert Message.objects.count() == 3
    assert "clientMessageId" not in Message._get_collection().find_one()


@pytest.mark.parametrize(
    "key", [42, "", "x" * 65, {"$ne": None}, ["a"], True, "has space", "line\n", "é"]
)
def test_malformed_keys_are_a_400(api, key):
    alice, _ = api.user()
    _, bob_user = api.user()
    response = send(alice, bob_user["_id"], {"message": "hi", "clientMessageId": key})
    assert response.status_code == 400
    assert "clientMessageId" in response.get_json()["message"]
    assert Message.objects.count() == 0


def test_a_64_character_uuid_like_key_is_fine(api):
    alice, _ = api.user()
    _, bob_user = api.user()
    assert send(alice, bob_user["_id"], {"message": "hi", "clientMessageId": "a" * 64}).status_code == 201


def test_a_key_is_a_document_of_its_own_that_the_database_keeps_unique(app):
    """Not a check-then-insert on the messages: the key's `_id` itself refuses a second claim."""
    from chatapp.models import MessageKey

    keys = MessageKey._get_collection()
    doc = {"_id": "sender:k", "messageId": ObjectId(), "receiverId": ObjectId(), "digest": "d"}
    keys.insert_one(dict(doc))
    with pytest.raises(DuplicateKeyError):
        keys.insert_one(dict(doc, messageId=ObjectId()))


def test_a_retry_stores_the_message_an_interrupted_first_attempt_claimed(api, connect):
    """The first attempt claimed the key and died before storing: the retry stores it, once."""
    from chatapp.services import messages

    alice, alice_user = api.user()
    bob, bob_user = api.user()
    bob_tab = connect(bob)
    bob_tab.get_received()
    sender, receiver = ObjectId(alice_user["_id"]), ObjectId(bob_user["_id"])
    claimed = ObjectId()
    messages._claim_key(sender, receiver, "lost?", "i-1", claimed)  # ...and then nothing

    retry = send(alice, bob_user["_id"], {"message": "lost?", "clientMessageId": "i-1"})
    assert retry.status_code == 201
    assert retry.get_json()["newMessage"]["_id"] == str(claimed)
    assert received(bob_tab, "newMessage") == [retry.get_json()["newMessage"]]
    again = send(alice, bob_user["_id"], {"message": "lost?", "clientMessageId": "i-1"})
    assert again.status_code == 200 and again.get_json() == retry.get_json()
    other = send(alice, bob_user["_id"], {"message": "not that", "clientMessageId": "i-1"})
    assert other.status_code == 409
    assert Message.objects.count() == 1


def test_concurrent_attempts_with_one_key_store_one_message(app, api):
    from chatapp.services import messages

    _, alice = api.user()
    _, bob = api.user()
    barrier = threading.Barrier(4)
    results = []

    def attempt():
        barrier.wait(5)
        with app.app_context():
            results.append(
                messages.send_message(alice["_id"], bob["_id"], "once", max_length=100,
                                      client_message_id="race")
            )

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == 4
    assert sorted(created for _, created in results) == [False, False, False, True]
    assert len({wire["_id"] for wire, _ in results}) == 1
    assert Message.objects.count() == 1


def test_a_send_that_fails_after_storing_is_undone_so_the_retry_delivers(api, connect, monkeypatch):
    from chatapp.services import messages

    alice, _ = api.user()
    bob, bob_user = api.user()
    bob_tab = connect(bob)
    bob_tab.get_received()
    real = messages._record_sent
    calls = []

    def fails_once(*args):
        calls.append(args)
        if len(calls) == 1:
            raise RuntimeError("database hiccup")
        return real(*args)

    monkeypatch.setattr(messages, "_record_sent", fails_once)
    body = {"message": "important", "clientMessageId": "r-1"}
    assert send(alice, bob_user["_id"], body).status_code == 500
    assert Message.objects.count() == 0
    assert received(bob_tab, "newMessage") == []
    retry = send(alice, bob_user["_id"], body)
    assert retry.status_code == 201  # stored now, and delivered now
    assert received(bob_tab, "newMessage") == [retry.get_json()["newMessage"]]
