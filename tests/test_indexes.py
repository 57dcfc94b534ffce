"""The indexes every guarantee rests on exist and are enforced by the database itself.

Runs on every server the suite runs on (the embedded database, FerretDB, MongoDB): these are
the uniqueness rules the app's correctness relies on instead of locks.
"""

import pytest
from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from chatapp import db
from chatapp.app import create_app
from chatapp.models import Conversation, Message, MessageKey, User
from config import TestConfig
from tests.helpers.real_db import server_kind


def keys(collection):
    """{index key fields: unique?} as listIndexes reports them."""
    return {
        tuple(field for field, _ in spec["key"]): bool(spec.get("unique"))
        for spec in collection.index_information().values()
    }


def test_every_index_is_listed_with_its_uniqueness(app):
    assert keys(User._get_collection())[("username",)] is True
    conversation_keys = keys(Conversation._get_collection())
    assert conversation_keys[("pairKey",)] is True
    assert conversation_keys[("participants", "updatedAt", "_id")] is False
    message_keys = keys(Message._get_collection())
    assert message_keys[("conversationId", "seq")] is True
    assert message_keys[("conversationId", "_id")] is False
    # Idempotency keys are unique by `_id`, which every server enforces: no partial index needed.
    key_collection = MessageKey._get_collection()
    key_collection.insert_one({"_id": "sender:k", "messageId": ObjectId()})
    assert set(keys(key_collection)) == {("_id",)}
    with pytest.raises(DuplicateKeyError):
        key_collection.insert_one({"_id": "sender:k", "messageId": ObjectId()})


def test_a_username_is_taken_once(app):
    users = User._get_collection()
    doc = {"fullName": "A", "password": "x", "gender": "male"}
    users.insert_one(dict(doc, username="same"))
    with pytest.raises(DuplicateKeyError):
        users.insert_one(dict(doc, username="same"))


def test_one_conversation_per_pair_but_unkeyed_node_conversations_do_not_collide(app):
    conversations = Conversation._get_collection()
    conversations.insert_one({"pairKey": "a:b", "participants": []})
    with pytest.raises(DuplicateKeyError):
        conversations.insert_one({"pairKey": "a:b", "participants": []})
    # As the Node backend wrote them: no pairKey until migrate-node-data runs.
    conversations.insert_one({"participants": [ObjectId(), ObjectId()]})
    conversations.insert_one({"participants": [ObjectId(), ObjectId()]})
    assert conversations.count_documents({"pairKey": {"$exists": False}}) == 2


def test_a_seq_is_taken_once_per_conversation(app):
    messages = Message._get_collection()
    first, second = ObjectId(), ObjectId()
    base = {"senderId": ObjectId(), "receiverId": ObjectId(), "message": "m"}
    messages.insert_one(dict(base, conversationId=first, seq=1))
    messages.insert_one(dict(base, conversationId=second, seq=1))  # another conversation's 1
    with pytest.raises(DuplicateKeyError):
        messages.insert_one(dict(base, conversationId=first, seq=1))
    # As the Node backend wrote them: neither field, and any number of them.
    messages.insert_one(dict(base))
    messages.insert_one(dict(base))
    assert messages.count_documents({}) == 4


NOT_READY = {"status": "unavailable", "database": "indexes not created"}


def readiness(client):
    """/readyz's answer without its latencies."""
    body = client.get("/readyz").get_json()
    assert body.pop("latencyMs")["database"] >= 0
    return body


def start_anew(app):
    """The app as a worker that starts now on this database finds it.

    A real server keeps the data across a new app's connection; the embedded database lives in
    its client, so there the running app forgets its indexes instead, as a new worker would.
    """
    if server_kind() == "embedded":
        db._indexes.update(ready=False, retry_at=0.0)
        return app
    return create_app(TestConfig)


def test_data_that_violates_an_index_starts_the_app_not_ready_until_it_is_fixed(app, monkeypatch):
    users = User._get_collection()
    users.drop_indexes()  # as in a database written without them
    doc = {"fullName": "A", "password": "x", "gender": "male", "username": "twice"}
    users.insert_one(dict(doc))
    users.insert_one(dict(doc))
    monkeypatch.setattr(db, "INDEX_RETRY_SECONDS", 0)

    client = start_anew(app).test_client()  # starts: no exception, no exit
    assert client.get("/readyz").status_code == 503
    assert readiness(client) == NOT_READY
    response = client.post("/api/v1/user/login", json={"username": "twice", "password": "x"})
    assert response.status_code == 503 and response.get_json()["success"] is False

    users = User._get_collection()  # the new worker's connection
    users.delete_one({"username": "twice"})
    assert client.get("/readyz").status_code == 200
    assert keys(users)[("username",)] is True


def test_messages_an_older_version_stored_without_seqs_are_migrated_then_the_app_is_ready(
    app, monkeypatch
):
    if server_kind() == "ferretdb":
        pytest.skip("FerretDB's unique indexes never collide on a missing seq: nothing to fix")
    messages = Message._get_collection()
    messages.drop_indexes()
    conversation = ObjectId()
    for text in ("one", "two"):  # as an older version stored them: no seq
        messages.insert_one({"conversationId": conversation, "senderId": ObjectId(),
                             "receiverId": ObjectId(), "message": text})
    monkeypatch.setattr(db, "INDEX_RETRY_SECONDS", 0)

    fresh = start_anew(app)
    client = fresh.test_client()
    assert readiness(client) == NOT_READY  # two (conversation, no seq) collide
    result = fresh.test_cli_runner().invoke(args=["migrate-node-data"])
    assert "messages given a seq: 2" in result.stdout
    assert client.get("/readyz").status_code == 200
    ordered = Message._get_collection().find({"conversationId": conversation}).sort("seq", 1)
    assert [m["message"] for m in ordered] == ["one", "two"]
