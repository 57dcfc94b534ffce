"""The pairKey -> conversation id cache behind every send."""

from chatapp import db
from chatapp.models import Conversation
from chatapp.services import messages
from tests.conftest import send


def test_a_pairs_second_message_reuses_its_conversation_without_an_upsert(api, monkeypatch):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    assert send(alice, bob_user["_id"], "one").status_code == 201
    upserts = []
    original = messages._upsert_conversation
    monkeypatch.setattr(messages, "_upsert_conversation", lambda *a: upserts.append(a) or original(*a))
    assert send(bob, alice_user["_id"], "two").status_code == 201
    assert upserts == []
    assert Conversation.objects.count() == 1
    conversation = Conversation.objects.get()
    assert conversation.last_message["message"] == "two"


def test_emptying_the_database_forgets_conversation_ids(api):
    alice, _ = api.user()
    _, bob_user = api.user()
    assert send(alice, bob_user["_id"], "one").status_code == 201
    assert messages._conversation_ids
    db.drop_all()
    assert messages._conversation_ids == {}


def test_deleting_a_conversation_through_mongoengine_forgets_its_id(api):
    alice, _ = api.user()
    _, bob_user = api.user()
    assert send(alice, bob_user["_id"], "one").status_code == 201
    Conversation.objects.delete()
    assert messages._conversation_ids == {}
    assert send(alice, bob_user["_id"], "again").status_code == 201
    assert Conversation.objects.count() == 1
