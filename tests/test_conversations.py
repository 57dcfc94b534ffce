"""/api/v1/conversations: the caller's conversations, most recent first, from summaries only."""

from datetime import datetime

import pytest
from bson import ObjectId

from chatapp.models import Conversation, Message
from tests.helpers.chat import history, send, sent


def conversations(client, **params):
    return client.get("/api/v1/conversations", query_string=params)


def test_a_new_user_has_no_conversations(api):
    alice, _ = api.user()
    response = conversations(alice)
    assert response.status_code == 200 and response.get_json() == []
    assert "X-Next-Before" not in response.headers


def test_the_list_shows_the_other_person_the_last_message_and_unread_counts(api):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    carol, carol_user = api.user()
    sent(alice, bob_user["_id"], "hi bob")
    sent(bob, alice_user["_id"], "hi alice")
    last = sent(carol, alice_user["_id"], "psst " + "x" * 300)

    listed = conversations(alice).get_json()
    assert [c["participant"]["_id"] for c in listed] == [carol_user["_id"], bob_user["_id"]]
    with_carol, with_bob = listed
    assert list(with_carol) == ["_id", "participant", "lastMessage", "unreadCount", "updatedAt"]
    assert with_carol["participant"] == next(
        u for u in alice.get("/api/v1/user/").get_json() if u["_id"] == carol_user["_id"]
    )
    assert "password" not in with_carol["participant"]
    assert with_carol["lastMessage"] == {
        "_id": last["_id"],
        "senderId": carol_user["_id"],
        "message": last["message"][:200],
        "createdAt": last["createdAt"],
    }
    assert with_carol["unreadCount"] == 1
    assert with_carol["updatedAt"] == last["createdAt"]
    assert with_bob["lastMessage"]["message"] == "hi alice"
    assert with_bob["unreadCount"] == 1

    bobs = conversations(bob).get_json()
    assert [c["participant"]["_id"] for c in bobs] == [alice_user["_id"]]
    assert bobs[0]["unreadCount"] == 1  # "hi bob"; his own message does not count
    assert bobs[0]["_id"] == with_bob["_id"]


def test_nobody_sees_conversations_they_are_not_in(api):
    alice, _ = api.user()
    _, bob_user = api.user()
    dave, _ = api.user()
    sent(alice, bob_user["_id"], "private")
    assert conversations(dave).get_json() == []


def test_unread_counts_grow_per_message_but_not_per_retry(api):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    for i in range(3):
        sent(alice, bob_user["_id"], f"m{i}")
    sent(alice, bob_user["_id"], "again", clientMessageId="k1")
    sent(alice, bob_user["_id"], "again", clientMessageId="k1")
    assert conversations(bob).get_json()[0]["unreadCount"] == 4
    assert conversations(alice).get_json()[0]["unreadCount"] == 0


def test_the_list_reads_no_messages(api):
    """Served from the conversation's summary: emptying the messages collection changes nothing."""
    alice, _ = api.user()
    _, bob_user = api.user()
    sent(alice, bob_user["_id"], "kept in the summary")
    before = conversations(alice).get_json()
    Message._get_collection().delete_many({})
    assert conversations(alice).get_json() == before


def test_pages_follow_the_cursor_without_gaps_or_repeats(api):
    alice, alice_user = api.user()
    others = [api.user() for _ in range(5)]
    for client, _ in others:
        sent(client, alice_user["_id"], "hello")
    # Two conversations with the very same updatedAt: the _id breaks the tie.
    same = datetime(2030, 1, 1)
    Conversation._get_collection().update_many({}, {"$set": {"updatedAt": same}})

    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2} if cursor is None else {"limit": 2, "before": cursor}
        response = conversations(alice, **params)
        assert response.status_code == 200
        seen += [c["participant"]["_id"] for c in response.get_json()]
        pages += 1
        cursor = response.headers.get("X-Next-Before")
        if cursor is None:
            break
    assert pages == 3
    assert sorted(seen) == sorted(u["_id"] for _, u in others)


def test_the_most_recent_activity_comes_first(api):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    carol, carol_user = api.user()
    sent(bob, alice_user["_id"], "1")
    sent(carol, alice_user["_id"], "2")
    assert conversations(alice).get_json()[0]["participant"]["_id"] == carol_user["_id"]
    sent(alice, bob_user["_id"], "3")
    assert conversations(alice).get_json()[0]["participant"]["_id"] == bob_user["_id"]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"}, {"limit": "x"}, {"before": "nope"}, {"before": "123_abc"},
        {"before": "{\"$ne\": null}"}, {"before": "-1_" + "a" * 24}, {"before": ""},
        {"before": "9" * 15 + "_" + "a" * 24}, {"before": "1_" + "A" * 24},
    ],
)
def test_bad_parameters_are_a_400(api, params):
    alice, _ = api.user()
    response = conversations(alice, **params)
    assert response.status_code == 400
    assert response.get_json()["success"] is False


def test_a_well_formed_cursor_from_nowhere_is_just_an_empty_page(api):
    alice, _ = api.user()
    assert conversations(alice, before="0_" + "0" * 24).get_json() == []


def test_the_list_requires_authentication(client):
    assert conversations(client).status_code == 401


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


def test_a_conversation_deleted_behind_the_apps_back_is_made_again_by_the_next_send(api):
    """Another process (or an operator) removed it: the next send finds that out from the
    database and starts a fresh conversation, rather than writing into one that is gone."""
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    sent(alice, bob_user["_id"], "before")
    Conversation._get_collection().delete_many({})
    assert send(alice, bob_user["_id"], "after").status_code == 201
    assert Conversation.objects.count() == 1
    assert Conversation.objects.get().last_message["message"] == "after"
    assert [m["message"] for m in history(bob, alice_user["_id"]).get_json()] == ["after"]
