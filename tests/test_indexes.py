"""The indexes every guarantee rests on exist and are enforced by the database itself.

Runs on every server the suite runs on (the embedded database, FerretDB, MongoDB): these are
the uniqueness rules the app's correctness relies on instead of locks.
"""

import pytest
from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from chatapp.models import Conversation, Message, MessageKey, User


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
