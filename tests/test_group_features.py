"""Blocks, edits, deletions, reactions and search in group conversations (docs/groups.md)."""

import pytest

from chatapp.models import Conversation, Message
from tests.helpers import groups
from tests.helpers.chat import assert_json_error, received


@pytest.fixture
def team(api):
    """Alice (admin), Bob and Carol in the group "Team", and Dave outside it."""
    people = {name: api.user(fullName=name) for name in ("Alice", "Bob", "Carol", "Dave")}
    group = groups.created(people["Alice"][0], "Team", [people["Bob"][1], people["Carol"][1]])
    return group, people


def block(client, user):
    assert client.post(f"/api/v1/user/blocks/{user['_id']}").status_code == 201


def search(client, q, **params):
    response = client.get("/api/v1/messages/search", query_string={"q": q, **params})
    assert response.status_code == 200, response.get_json()
    return [m["message"] for m in response.get_json()]


def test_a_block_either_way_keeps_a_user_out_of_the_others_groups(api):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    _, carol_user = api.user()
    _, dave_user = api.user()
    block(bob, alice_user)  # Bob blocked Alice: she cannot add him
    response = groups.create(alice, "Team", [bob_user, carol_user])
    assert_json_error(response, 403)
    assert response.get_json()["message"] == "You cannot add this user."  # neutral
    assert Conversation.objects.count() == 0
    group = groups.created(alice, "Team", [carol_user, dave_user])
    assert_json_error(groups.add(alice, group, bob_user), 403)
    assert_json_error(groups.create(bob, "Mine", [alice_user, carol_user]), 403)  # nor he her
    assert bob_user["_id"] not in groups.listed(alice)[group["_id"]]["memberIds"]


def test_typing_is_not_relayed_across_a_block_within_a_group(connect, team):
    group, people = team
    (alice, alice_user), (bob, _), (carol, _), _ = people.values()
    block(bob, alice_user)
    bob_tab, carol_tab = connect(bob), connect(carol)
    alice_tab = connect(alice)
    for tab in (bob_tab, carol_tab, alice_tab):
        tab.get_received()
    alice_tab.emit("typing", {"conversationId": group["_id"], "isTyping": True})
    assert [t["from"] for t in received(carol_tab, "typing")] == [alice_user["_id"]]
    assert received(bob_tab, "typing") == []


def test_edits_deletions_and_reactions_show_in_group_history_and_counts(team):
    group, people = team
    (alice, _), (bob, bob_user), (carol, _), (dave, _) = people.values()
    message = groups.sent(alice, group, "first draft")

    edited = alice.patch(f"/api/v1/message/{message['_id']}", json={"message": "final"})
    assert edited.status_code == 200
    reacted = bob.post(f"/api/v1/message/{message['_id']}/reactions", json={"emoji": "👍"})
    assert reacted.status_code == 200
    page = groups.history(carol, group).get_json()
    [shown] = [m for m in page if m["_id"] == message["_id"]]
    assert shown["message"] == "final" and "editedAt" in shown
    assert shown["reactions"] == [
        {"emoji": "👍", "count": 1, "reacted": False, "userIds": [bob_user["_id"]]}
    ]
    assert groups.listed(carol)[group["_id"]]["lastMessage"]["message"] == "final"

    assert alice.delete(f"/api/v1/message/{message['_id']}").status_code == 200
    assert groups.listed(carol)[group["_id"]]["unreadCount"] == 0  # deleted: no longer unread
    assert carol.post(f"/api/v1/groups/{group['_id']}/read").get_json()["unreadCount"] == 0


def test_the_events_of_an_edit_and_a_reaction_go_to_the_members(connect, team):
    group, people = team
    (alice, _), (bob, _), (carol, _), (dave, _) = people.values()
    message = groups.sent(alice, group, "draft")
    carol_tab, dave_tab = connect(carol), connect(dave)
    for tab in (carol_tab, dave_tab):
        tab.get_received()
    alice.patch(f"/api/v1/message/{message['_id']}", json={"message": "final"})
    bob.post(f"/api/v1/message/{message['_id']}/reactions", json={"emoji": "🎉"})
    events = [(e["name"], e["args"][0]) for e in carol_tab.get_received()]
    assert [(name, body["conversationId"]) for name, body in events] == [
        ("messageUpdated", group["_id"]), ("reactionsUpdated", group["_id"]),
    ]
    assert events[0][1]["message"] == "final"
    assert [e["name"] for e in dave_tab.get_received()] == []


def test_membership_changes_cannot_be_edited_or_deleted(team):
    group, people = team
    alice = people["Alice"][0]
    created = groups.history(alice, group).get_json()[0]
    assert created["system"]["type"] == "groupCreated"
    assert_json_error(alice.patch(f"/api/v1/message/{created['_id']}", json={"message": "x"}), 403)
    assert_json_error(alice.delete(f"/api/v1/message/{created['_id']}"), 403)
    assert Message.objects(id=created["_id"]).first().message.startswith("Alice created")


def test_a_later_member_and_a_former_one_cannot_touch_what_they_may_not_read(team):
    group, people = team
    (alice, _), (bob, _), (carol, carol_user), (dave, dave_user) = people.values()
    early = groups.sent(bob, group, "before dave")
    groups.add(alice, group, dave_user)
    url = f"/api/v1/message/{early['_id']}/reactions"
    assert_json_error(dave.post(url, json={"emoji": "👍"}), 404)
    groups.remove(alice, group, carol_user)
    assert_json_error(carol.post(url, json={"emoji": "👍"}), 404)
    assert bob.post(url, json={"emoji": "👍"}).status_code == 200  # a member since before


def test_search_covers_a_group_from_ones_joining_and_only_while_a_member(team):
    group, people = team
    (alice, _), (bob, _), (carol, carol_user), (dave, dave_user) = people.values()
    groups.sent(bob, group, "lunch before dave")
    groups.add(alice, group, dave_user)
    groups.sent(bob, group, "lunch after dave")
    assert search(alice, "lunch") == ["lunch after dave", "lunch before dave"]
    assert search(dave, "lunch") == ["lunch after dave"]
    assert search(dave, "lunch", conversationId=group["_id"]) == ["lunch after dave"]
    assert search(alice, "added") == []  # membership changes are not messages
    groups.remove(alice, group, carol_user)
    assert search(carol, "lunch") == []
    response = carol.get(
        "/api/v1/messages/search", query_string={"q": "lunch", "conversationId": group["_id"]}
    )
    assert_json_error(response, 404)
