"""Reactions: one of each emoji per member, counts and "did I react" in history and live."""

import threading

import pytest
from bson import ObjectId

from chatapp import db
from tests.helpers.chat import history, received, sent


def react(client, message_id, emoji):
    return client.post(f"/api/v1/message/{message_id}/reactions", json={"emoji": emoji})


def unreact(client, message_id, emoji):
    return client.delete(f"/api/v1/message/{message_id}/reactions", json={"emoji": emoji})


@pytest.fixture
def pair(api, connect):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    message = sent(alice, bob_user["_id"], "lunch?")
    tabs = {"alice": connect(alice), "bob": connect(bob)}
    for tab in tabs.values():
        tab.get_received()
    return alice, alice_user, bob, bob_user, message, tabs


def test_reactions_reach_each_side_with_their_own_view(pair):
    alice, alice_user, bob, bob_user, message, tabs = pair
    response = react(bob, message["_id"], "👍")
    assert response.status_code == 200
    assert response.get_json() == {
        "messageId": message["_id"],
        "reactions": [{"emoji": "👍", "count": 1, "reacted": True, "userIds": [bob_user["_id"]]}],
    }
    [for_alice] = received(tabs["alice"], "reactionsUpdated")
    [for_bob] = received(tabs["bob"], "reactionsUpdated")
    assert for_alice["messageId"] == for_bob["messageId"] == message["_id"]
    assert for_alice["conversationId"] and for_alice["conversationId"] == for_bob["conversationId"]
    assert for_alice["reactions"] == [
        {"emoji": "👍", "count": 1, "reacted": False, "userIds": [bob_user["_id"]]}
    ]
    assert for_bob["reactions"][0]["reacted"] is True

    react(alice, message["_id"], "👍")
    react(alice, message["_id"], "🎉")
    page = history(alice, bob_user["_id"]).get_json()
    assert page[0]["reactions"] == [
        {"emoji": "👍", "count": 2, "reacted": True, "userIds": [bob_user["_id"], alice_user["_id"]]},
        {"emoji": "🎉", "count": 1, "reacted": True, "userIds": [alice_user["_id"]]},
    ]
    assert [(r["emoji"], r["reacted"]) for r in history(bob, alice_user["_id"]).get_json()[0]["reactions"]] == [
        ("👍", True), ("🎉", False)
    ]


def test_messages_without_reactions_have_no_reactions_field(pair):
    alice, _, _, bob_user, message, _ = pair
    assert "reactions" not in history(alice, bob_user["_id"]).get_json()[0]


def test_one_of_each_emoji_per_user_and_removing_takes_it_back(pair):
    alice, _, bob, bob_user, message, tabs = pair
    react(bob, message["_id"], "❤️")
    tabs["alice"].get_received()
    again = react(bob, message["_id"], "❤️")
    assert again.get_json()["reactions"][0]["count"] == 1
    assert tabs["alice"].get_received() == []  # nothing changed, nothing sent
    response = unreact(bob, message["_id"], "❤️")
    assert response.status_code == 200 and response.get_json()["reactions"] == []
    assert received(tabs["alice"], "reactionsUpdated")[0]["reactions"] == []
    assert unreact(bob, message["_id"], "❤️").get_json()["reactions"] == []
    assert tabs["alice"].get_received() == []
    assert "reactions" not in history(alice, bob_user["_id"]).get_json()[0]


def test_the_emoji_of_a_removal_may_be_in_the_query_string(pair):
    _, _, bob, _, message, _ = pair
    react(bob, message["_id"], "👍")
    response = bob.delete(f"/api/v1/message/{message['_id']}/reactions", query_string={"emoji": "👍"})
    assert response.get_json()["reactions"] == []


@pytest.mark.parametrize("emoji", [None, "", 5, ["👍"], {"$ne": 1}, "x" * 17, "a b", "👍\n", "\u202e"])
def test_bad_emojis_are_refused(pair, emoji):
    _, _, bob, _, message, tabs = pair
    response = react(bob, message["_id"], emoji)
    assert response.status_code == 400 and response.get_json()["success"] is False
    assert tabs["alice"].get_received() == []


def test_composed_emojis_and_short_names_are_fine(pair):
    _, _, bob, _, message, _ = pair
    for emoji in ("👨‍👩‍👧‍👦", "👍🏽", "🇫🇷", ":+1:"):
        assert react(bob, message["_id"], emoji).status_code == 200


def test_a_message_carries_a_bounded_number_of_different_emojis(app, pair):
    alice, _, bob, _, message, _ = pair
    app.config["REACTION_MAX_DISTINCT"] = 2
    react(alice, message["_id"], "a1")
    react(bob, message["_id"], "a2")
    response = react(bob, message["_id"], "a3")
    assert response.status_code == 409
    assert react(bob, message["_id"], "a1").status_code == 200  # an emoji already there is fine


def test_outsiders_cannot_react_or_see_anything(api, pair):
    _, _, _, _, message, tabs = pair
    carol, _ = api.user()
    for message_id in (message["_id"], str(ObjectId())):
        assert react(carol, message_id, "👍").status_code == 404
        assert unreact(carol, message_id, "👍").status_code == 404
    assert tabs["alice"].get_received() == [] and tabs["bob"].get_received() == []


def test_deleting_a_message_takes_its_reactions_and_a_tombstone_takes_none(pair):
    alice, _, bob, bob_user, message, _ = pair
    react(bob, message["_id"], "👍")
    alice.delete(f"/api/v1/message/{message['_id']}")
    assert db.mongoengine.get_db()["reactions"].count_documents({}) == 0
    assert "reactions" not in history(alice, bob_user["_id"]).get_json()[0]
    assert react(bob, message["_id"], "👍").status_code == 409


def test_concurrent_identical_reactions_count_once(app, pair):
    _, _, bob, _, message, _ = pair
    clients = [app.test_client() for _ in range(6)]
    for client in clients:
        client.set_cookie("token", bob.get_cookie("token").value)
    barrier = threading.Barrier(len(clients))
    statuses = []

    def go(client):
        barrier.wait()
        statuses.append(react(client, message["_id"], "🔥").status_code)

    threads = [threading.Thread(target=go, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert statuses == [200] * len(clients)
    assert db.mongoengine.get_db()["reactions"].count_documents({}) == 1


def test_socket_react_is_acknowledged(pair):
    _, _, _, bob_user, message, tabs = pair
    ack = tabs["bob"].emit("react", {"messageId": message["_id"], "emoji": "👀"}, callback=True)
    assert ack["ok"] is True and ack["reactions"][0]["reacted"] is True
    assert received(tabs["alice"], "reactionsUpdated")[0]["reactions"][0]["userIds"] == [bob_user["_id"]]
    ack = tabs["bob"].emit("react", {"messageId": message["_id"], "emoji": "👀", "remove": True}, callback=True)
    assert ack == {"ok": True, "messageId": message["_id"], "reactions": []}
    bad = tabs["bob"].emit("react", {"messageId": "x", "emoji": "👀"}, callback=True)
    assert bad["ok"] is False


def test_reactions_are_rate_limited(app, pair):
    _, _, bob, _, message, _ = pair
    app.config["REACTION_RATE_LIMIT"] = "2 per minute"
    assert react(bob, message["_id"], "1").status_code == 200
    assert unreact(bob, message["_id"], "1").status_code == 200
    assert react(bob, message["_id"], "1").status_code == 429
