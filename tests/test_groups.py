"""Group conversations: creating them, who belongs, and what members see (docs/groups.md)."""

import pytest
from bson import ObjectId

from chatapp.models import Conversation, Membership, Message
from tests.helpers import groups
from tests.helpers.chat import assert_json_error, received
from tests.helpers.chat import sent as sent_pair


@pytest.fixture
def trio(api):
    """Alice (who will create the group), Bob and Carol: (client, user) each."""
    return api.user(fullName="Alice"), api.user(fullName="Bob"), api.user(fullName="Carol")


def test_creating_a_group_makes_the_creator_admin_and_tells_every_member(api, connect, trio):
    (alice, alice_user), (bob, bob_user), (carol, carol_user) = trio
    dave, _ = api.user()
    tabs = {name: connect(client) for name, client in
            (("alice", alice), ("bob", bob), ("carol", carol), ("dave", dave))}
    for tab in tabs.values():
        tab.get_received()

    response = groups.create(alice, "  Team  ", [bob_user, carol_user])
    assert response.status_code == 201
    group = response.get_json()
    assert group["type"] == "group" and group["name"] == "Team"
    assert [(m["_id"], m["role"]) for m in group["members"]] == [
        (alice_user["_id"], "admin"), (bob_user["_id"], "member"), (carol_user["_id"], "member"),
    ]
    assert all("password" not in m for m in group["members"])
    assert group["lastMessage"]["message"] == "Alice created the group \u201cTeam\u201d with Bob and Carol"
    assert group["unreadCount"] == 0

    for name in ("alice", "bob", "carol"):
        events = tabs[name].get_received()
        names = [e["name"] for e in events]
        assert "newMessage" not in names  # the React client would show it in the open chat
        [update] = [e["args"][0] for e in events if e["name"] == "conversationUpdated"]
        assert update["conversation"]["_id"] == group["_id"]
        assert update["change"]["type"] == "groupCreated"
        assert update["change"]["actorId"] == alice_user["_id"]
        [created] = [e["args"][0] for e in events if e["name"] == "groupMessage"]
        assert created["system"]["type"] == "groupCreated"
        assert created["conversationId"] == group["_id"] and "receiverId" not in created
    assert tabs["dave"].get_received() == []
    assert_json_error(dave.get(f"/api/v1/groups/{group['_id']}"), 404)


def test_the_conversation_list_shows_groups_beside_unchanged_pairs(trio):
    (alice, alice_user), (bob, bob_user), (carol, carol_user) = trio
    sent_pair(bob, alice_user["_id"], "pair message")
    group = groups.created(alice, "Team", [bob_user, carol_user])
    groups.sent(bob, group, "group message")

    entries = alice.get("/api/v1/conversations").get_json()
    assert [e.get("type") for e in entries] == ["group", None]  # most recent first
    group_entry, pair_entry = entries
    assert set(pair_entry) == {"_id", "participant", "lastMessage", "unreadCount", "updatedAt"}
    assert pair_entry["participant"]["_id"] == bob_user["_id"]
    assert group_entry["name"] == "Team"
    assert group_entry["memberIds"] == [alice_user["_id"], bob_user["_id"], carol_user["_id"]]
    assert group_entry["lastMessage"]["message"] == "group message"
    assert group_entry["unreadCount"] == 1
    assert groups.listed(bob)[group["_id"]]["unreadCount"] == 0  # one's own message


@pytest.mark.parametrize(
    "body, status",
    [
        ({"name": "Team", "memberIds": []}, 400),
        ({"name": "Team"}, 400),
        ({"name": "Team", "memberIds": "abc"}, 400),
        ({"name": "", "memberIds": None}, 400),
        ({"name": "   ", "memberIds": ["B", "C"]}, 400),
        ({"name": "x" * 101, "memberIds": ["B", "C"]}, 400),
        ({"name": "a\nb", "memberIds": ["B", "C"]}, 400),
        ({"name": {"$ne": None}, "memberIds": ["B", "C"]}, 400),
        ({"name": "Team", "memberIds": ["B"]}, 400),  # at least 2 others
        ({"name": "Team", "memberIds": ["B", "B"]}, 400),  # the same one twice is one
        ({"name": "Team", "memberIds": ["B", "A"]}, 400),  # oneself
        ({"name": "Team", "memberIds": ["B", "not-an-id"]}, 400),
        ({"name": "Team", "memberIds": ["B", {"$gt": ""}]}, 400),
        ({"name": "Team", "memberIds": ["B", "0" * 24]}, 404),
    ],
)
def test_invalid_groups_are_refused_and_nothing_is_stored(trio, body, status):
    (alice, alice_user), (_, bob_user), _ = trio
    ids = {"A": alice_user["_id"], "B": bob_user["_id"]}
    if isinstance(body.get("memberIds"), list):
        body = {**body, "memberIds": [ids.get(m, m) if isinstance(m, str) else m
                                      for m in body["memberIds"]]}
    assert_json_error(alice.post("/api/v1/groups", json=body), status)
    assert Conversation.objects.count() == 0 and Membership.objects.count() == 0


def test_a_group_takes_at_most_group_max_members_others(app, api):
    app.config["GROUP_MAX_MEMBERS"] = 3
    alice, _ = api.user()
    others = [api.user()[1] for _ in range(4)]
    assert_json_error(groups.create(alice, "Big", others), 400)
    group = groups.created(alice, "Full", others[:3])
    response = groups.add(alice, group, others[3])
    assert_json_error(response, 409)
    assert "at most 4 members" in response.get_json()["message"]
    assert len(Conversation.objects.get(id=group["_id"]).participants) == 4


def test_non_json_and_unauthenticated_calls_are_json_errors(client, trio):
    (alice, _), _, _ = trio
    assert_json_error(alice.post("/api/v1/groups", data="name=x"), 415)
    assert_json_error(client.post("/api/v1/groups", json={"name": "x", "memberIds": []}), 401)
    assert_json_error(alice.get("/api/v1/groups/not-an-id"), 400)
    assert_json_error(alice.get("/api/v1/groups/" + "0" * 24), 404)


def test_a_pair_conversation_is_not_a_group(trio):
    (alice, alice_user), (bob, bob_user), _ = trio
    sent_pair(alice, bob_user["_id"], "hello")
    pair_id = str(Conversation.objects.get().id)
    assert "system" not in Message._get_collection().find_one()  # only groups have system messages
    assert_json_error(alice.get(f"/api/v1/groups/{pair_id}"), 404)
    assert_json_error(groups.send(alice, {"_id": pair_id}, "into the pair"), 404)
    assert Message.objects.count() == 1


def test_admins_rename_and_add_members_do_not(api, connect, trio):
    (alice, alice_user), (bob, bob_user), (carol, carol_user) = trio
    dave, dave_user = api.user(fullName="Dave")
    group = groups.created(alice, "Team", [bob_user, carol_user])
    assert_json_error(bob.patch(f"/api/v1/groups/{group['_id']}", json={"name": "Mine"}), 403)
    assert_json_error(groups.add(bob, group, dave_user), 403)
    assert_json_error(groups.remove(bob, group, carol_user), 403)
    assert_json_error(dave.patch(f"/api/v1/groups/{group['_id']}", json={"name": "X"}), 404)

    bob_tab = connect(bob)
    bob_tab.get_received()
    renamed = alice.patch(f"/api/v1/groups/{group['_id']}", json={"name": "Crew"})
    assert renamed.status_code == 200 and renamed.get_json()["name"] == "Crew"
    [update] = received(bob_tab, "conversationUpdated")
    assert update["conversation"]["name"] == "Crew"
    assert update["change"] == {
        "type": "groupRenamed", "userIds": [], "name": "Crew", "previousName": "Team",
        "actorId": alice_user["_id"], "messageId": update["change"]["messageId"],
    }
    assert groups.listed(bob)[group["_id"]]["name"] == "Crew"
    # The same name again is no change: no event, no system message.
    alice.patch(f"/api/v1/groups/{group['_id']}", json={"name": "Crew"})
    assert received(bob_tab, "conversationUpdated") == []
    assert Message.objects(__raw__={"system.type": "groupRenamed"}).count() == 1


def test_a_member_added_later_sees_history_from_their_joining(api, connect, trio):
    (alice, alice_user), (bob, bob_user), (carol, carol_user) = trio
    dave, dave_user = api.user(fullName="Dave")
    group = groups.created(alice, "Team", [bob_user, carol_user])
    early = groups.sent(bob, group, "before dave")
    dave_tab = connect(dave)
    dave_tab.get_received()

    response = groups.add(alice, group, dave_user, bob_user)  # Bob is already in: skipped
    assert response.status_code == 200
    assert [m["_id"] for m in response.get_json()["members"]][-1] == dave_user["_id"]
    groups.sent(carol, group, "after dave")
    events = [(e["name"], e["args"][0]) for e in dave_tab.get_received()]
    [update] = [body for name, body in events if name == "conversationUpdated"]
    assert update["change"]["type"] == "memberAdded"
    assert update["change"]["userIds"] == [dave_user["_id"]]
    assert [body["message"] for name, body in events if name == "groupMessage"] == [
        "Alice added Dave", "after dave",
    ]

    page = groups.history(dave, group).get_json()
    assert [m["message"] for m in page] == ["Alice added Dave", "after dave"]
    assert groups.texts(dave, group, before=page[0]["_id"]) == []  # nothing older for Dave
    assert groups.texts(dave, group, after=early["_id"]) == ["after dave"]
    assert groups.texts(bob, group) == ["before dave", "after dave"]
    assert groups.listed(dave)[group["_id"]]["unreadCount"] == 1
    assert_json_error(groups.add(alice, group, dave_user), 409)  # all already members


def test_a_removed_member_stops_receiving_and_can_no_longer_read(connect, trio):
    (alice, alice_user), (bob, bob_user), (carol, carol_user) = trio
    group = groups.created(alice, "Team", [bob_user, carol_user])
    groups.sent(alice, group, "while carol was in")
    carol_tab, bob_tab = connect(carol), connect(bob)
    for tab in (carol_tab, bob_tab):
        tab.get_received()

    response = groups.remove(alice, group, carol_user)
    assert response.status_code == 200
    assert [m["_id"] for m in response.get_json()["members"]] == [alice_user["_id"], bob_user["_id"]]
    [update] = received(carol_tab, "conversationUpdated")  # Carol learns she is out
    assert update["change"]["type"] == "memberRemoved"
    assert update["change"]["userIds"] == [carol_user["_id"]]
    assert [m["message"] for m in received(bob_tab, "groupMessage")] == ["Alice removed Carol"]

    groups.sent(alice, group, "after carol")
    assert received(carol_tab, "groupMessage") == []
    assert_json_error(groups.history(carol, group), 404)
    assert_json_error(groups.send(carol, group, "let me back"), 404)
    assert_json_error(carol.post(f"/api/v1/groups/{group['_id']}/read"), 404)
    assert group["_id"] not in groups.listed(carol)
    assert_json_error(groups.remove(alice, group, carol_user), 404)  # not a member any more


def test_anyone_can_leave_and_the_last_admin_hands_the_role_on(connect, trio):
    (alice, alice_user), (bob, bob_user), (carol, carol_user) = trio
    group = groups.created(alice, "Team", [bob_user, carol_user])
    bob_tab = connect(bob)
    bob_tab.get_received()

    assert carol.post(f"/api/v1/groups/{group['_id']}/leave").status_code == 204
    assert alice.delete(f"/api/v1/groups/{group['_id']}/members/{alice_user['_id']}").status_code == 204
    [left, handed] = received(bob_tab, "groupMessage")
    assert left["message"] == "Carol left" and left["system"]["type"] == "memberLeft"
    assert handed["message"] == "Alice left; Bob is now an admin"
    assert handed["system"]["adminIds"] == [bob_user["_id"]]
    shown = bob.get(f"/api/v1/groups/{group['_id']}").get_json()
    assert [(m["_id"], m["role"]) for m in shown["members"]] == [(bob_user["_id"], "admin")]
    # Bob, now admin, can rename; Alice, gone, cannot.
    assert bob.patch(f"/api/v1/groups/{group['_id']}", json={"name": "Solo"}).status_code == 200
    assert_json_error(alice.patch(f"/api/v1/groups/{group['_id']}", json={"name": "X"}), 404)
    assert_json_error(alice.post(f"/api/v1/groups/{group['_id']}/leave"), 404)


def test_a_re_added_member_starts_afresh(trio):
    (alice, _), (bob, bob_user), (carol, carol_user) = trio
    group = groups.created(alice, "Team", [bob_user, carol_user])
    groups.sent(bob, group, "first era")
    carol.post(f"/api/v1/groups/{group['_id']}/leave")
    groups.sent(bob, group, "while away")
    assert groups.add(alice, group, carol_user).status_code == 200
    assert groups.texts(carol, group) == []
    assert groups.listed(carol)[group["_id"]]["unreadCount"] == 0
    groups.sent(bob, group, "welcome back")
    assert groups.texts(carol, group) == ["welcome back"]
    assert groups.listed(carol)[group["_id"]]["unreadCount"] == 1


def test_group_changes_are_rate_limited_per_user(app, trio):
    app.config["GROUP_RATE_LIMIT"] = "2 per minute"
    (alice, _), (bob, bob_user), (_, carol_user) = trio
    group = groups.created(alice, "One", [bob_user, carol_user])
    assert alice.patch(f"/api/v1/groups/{group['_id']}", json={"name": "Two"}).status_code == 200
    refused = alice.patch(f"/api/v1/groups/{group['_id']}", json={"name": "Three"})
    assert_json_error(refused, 429)
    assert int(refused.headers["Retry-After"]) >= 1
    assert bob.post(f"/api/v1/groups/{group['_id']}/leave").status_code == 204  # Bob's own budget


def test_membership_mirror_matches_memberships(trio):
    (alice, _), (_, bob_user), (carol, carol_user) = trio
    group = groups.created(alice, "Team", [bob_user, carol_user])
    carol.post(f"/api/v1/groups/{group['_id']}/leave")
    stored = Conversation._get_collection().find_one({"_id": Conversation.objects.get().id})
    members = {str(m.user_id) for m in Membership.objects(conversation_id=stored["_id"])}
    assert {str(p) for p in stored["participants"]} == members
    assert carol_user["_id"] not in stored.get("unreadCounts", {})


def test_a_member_added_during_another_change_is_not_lost_from_the_mirror(api, monkeypatch, trio):
    """Two admins' changes racing: the one that read the memberships first writes last. Its
    re-read sees the other's member and writes again, so nobody drops out of `participants`
    (who get the group's events and see it in their list)."""
    from chatapp.services import memberships

    (alice, _), (_, bob_user), (_, carol_user) = trio
    dave, dave_user = api.user()
    eve, eve_user = api.user()
    group = groups.created(alice, "Team", [bob_user, carol_user])
    real_member_ids = memberships.member_ids
    calls = []

    def racing_member_ids(group_id):
        result = real_member_ids(group_id)
        calls.append(result)
        if len(calls) == 1:  # Eve's membership lands just after this change read the list
            Membership._get_collection().insert_one({
                "_id": memberships.membership_key(group_id, eve_user["_id"]),
                "conversationId": group_id, "userId": ObjectId(eve_user["_id"]),
                "role": "member", "joinedSeq": ObjectId(), "visibleFrom": ObjectId(),
            })
        return result

    monkeypatch.setattr(memberships, "member_ids", racing_member_ids)
    assert groups.add(alice, group, dave_user).status_code == 200
    participants = {str(p) for p in Conversation.objects.get(id=group["_id"]).participants}
    assert {dave_user["_id"], eve_user["_id"]} <= participants
    assert group["_id"] in groups.listed(eve)


def test_migrating_node_data_leaves_groups_alone(trio):
    from chatapp.services.migration import migrate_node_data

    (alice, _), (bob, bob_user), (_, carol_user) = trio
    group = groups.created(alice, "Team", [bob_user, carol_user])
    groups.sent(bob, group, "kept")
    before = groups.listed(alice)[group["_id"]]
    counts = migrate_node_data()
    assert not any("skipped" in key for key in counts), counts
    assert groups.listed(alice)[group["_id"]] == before
    assert groups.texts(alice, group) == ["kept"]


def test_when_everyone_leaves_the_group_is_gone_from_every_list(trio):
    (alice, _), (bob, _), (carol, _) = trio
    group = groups.created(alice, "Team", [trio[1][1], trio[2][1]])
    for client in (alice, bob, carol):
        assert client.post(f"/api/v1/groups/{group['_id']}/leave").status_code == 204
        assert group["_id"] not in groups.listed(client)
    stored = Conversation._get_collection().find_one({"_id": Conversation.objects.get().id})
    assert stored["participants"] == [] and Membership.objects.count() == 0
    assert_json_error(groups.add(alice, group, trio[1][1]), 404)
