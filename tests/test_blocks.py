"""Blocking: no messages, no typing and no presence between the two sides; lists and limits."""

import pytest
from bson import ObjectId

from chatapp import db
from chatapp.errors import Forbidden
from chatapp.services import blocks
from tests.helpers.chat import received, send, sent


def block(client, user_id):
    return client.post(f"/api/v1/user/blocks/{user_id}")


def unblock(client, user_id):
    return client.delete(f"/api/v1/user/blocks/{user_id}")


def last_online_list(socket):
    lists = received(socket, "getOnlineUsers")
    return sorted(lists[-1]) if lists else None


def test_a_blocked_user_cannot_send_to_the_blocker_nor_the_blocker_to_them(api, connect):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    bob_tab = connect(bob)
    assert block(bob, alice_user["_id"]).status_code == 201
    bob_tab.get_received()
    response = send(alice, bob_user["_id"], "hello?")
    assert response.status_code == 403
    # Neutral: nothing says "blocked" to the blocked side.
    assert response.get_json() == {"message": "You cannot send messages to this user.", "success": False}
    response = send(bob, alice_user["_id"], "hi")
    assert response.status_code == 403 and "unblock" in response.get_json()["message"]
    assert received(bob_tab, "newMessage") == []
    # No conversation was started either.
    assert db.mongoengine.get_db()["conversations"].count_documents({}) == 0
    alice_tab = connect(alice)
    ack = alice_tab.emit("sendMessage", {"receiverId": bob_user["_id"], "message": "via socket"}, callback=True)
    assert ack == {"ok": False, "message": "You cannot send messages to this user."}
    # After unblocking, messages flow again.
    assert unblock(bob, alice_user["_id"]).status_code == 200
    assert send(alice, bob_user["_id"], "hello again").status_code == 201


def test_blocks_stop_typing_both_ways(api, connect):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    alice_tab, bob_tab = connect(alice), connect(bob)
    block(bob, alice_user["_id"])
    for tab in (alice_tab, bob_tab):
        tab.get_received()
    alice_tab.emit("typing", {"to": bob_user["_id"], "isTyping": True})
    bob_tab.emit("typing", {"to": alice_user["_id"], "isTyping": True})
    assert received(bob_tab, "typing") == [] and received(alice_tab, "typing") == []
    unblock(bob, alice_user["_id"])
    alice_tab.emit("typing", {"to": bob_user["_id"], "isTyping": True})
    assert len(received(bob_tab, "typing")) == 1


def test_a_block_hides_each_side_from_the_others_presence_and_nobody_elses(api, connect):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    carol, carol_user = api.user()
    alice_tab, bob_tab, carol_tab = connect(alice), connect(bob), connect(carol)
    everyone = sorted([alice_user["_id"], bob_user["_id"], carol_user["_id"]])
    assert last_online_list(carol_tab) == everyone
    alice_tab.get_received()
    bob_tab.get_received()

    block(bob, alice_user["_id"])
    assert last_online_list(bob_tab) == sorted([bob_user["_id"], carol_user["_id"]])
    assert last_online_list(alice_tab) == sorted([alice_user["_id"], carol_user["_id"]])
    assert received(carol_tab, "getOnlineUsers") == []  # nothing changed for Carol

    # A new tab of either side, and presence changes, keep the lists filtered.
    alice_second = connect(alice)
    assert last_online_list(alice_second) == sorted([alice_user["_id"], carol_user["_id"]])
    dave, dave_user = api.user()
    connect(dave)
    assert bob_user["_id"] not in last_online_list(alice_tab)
    assert alice_user["_id"] not in last_online_list(bob_tab)
    assert last_online_list(carol_tab) == sorted(everyone + [dave_user["_id"]])

    unblock(bob, alice_user["_id"])
    assert alice_user["_id"] in last_online_list(bob_tab)
    assert bob_user["_id"] in last_online_list(alice_tab)


def test_the_blocked_user_coming_online_later_is_still_hidden(api, connect):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    block(alice, bob_user["_id"])  # both offline
    bob_tab = connect(bob)
    alice_tab = connect(alice)
    assert last_online_list(alice_tab) == [alice_user["_id"]]
    assert last_online_list(bob_tab) == [bob_user["_id"]]


def test_a_block_each_way_stays_until_both_are_lifted(api, connect):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    block(alice, bob_user["_id"])
    block(bob, alice_user["_id"])
    unblock(alice, bob_user["_id"])
    assert send(alice, bob_user["_id"], "hi").status_code == 403
    alice_tab, _ = connect(alice), connect(bob)
    assert bob_user["_id"] not in last_online_list(alice_tab)


def test_listing_blocks_newest_first_and_unblocking(api):
    me, _ = api.user()
    _, first = api.user()
    _, second = api.user()
    assert block(me, first["_id"]).status_code == 201
    assert block(me, second["_id"]).status_code == 201
    again = block(me, first["_id"])
    assert again.status_code == 200 and again.get_json()["_id"] == first["_id"]
    listed = me.get("/api/v1/user/blocks").get_json()
    assert [u["_id"] for u in listed] == [second["_id"], first["_id"]]
    assert all("password" not in u and u["blockedAt"] for u in listed)
    assert unblock(me, second["_id"]).get_json() == {"userId": second["_id"], "blocked": False, "wasBlocked": True}
    assert unblock(me, second["_id"]).get_json()["wasBlocked"] is False
    assert [u["_id"] for u in me.get("/api/v1/user/blocks").get_json()] == [first["_id"]]


@pytest.mark.parametrize("target, status", [("nope", 400), ("SELF", 400), ("UNKNOWN", 404)])
def test_bad_block_targets(api, target, status):
    me, me_user = api.user()
    target = {"SELF": me_user["_id"], "UNKNOWN": str(ObjectId())}.get(target, target)
    response = block(me, target)
    assert response.status_code == status and response.get_json()["success"] is False
    assert unblock(me, "nope").status_code == 400


def test_blocking_needs_a_login(client, api):
    _, other = api.user()
    assert client.post(f"/api/v1/user/blocks/{other['_id']}").status_code == 401
    assert client.get("/api/v1/user/blocks").status_code == 401


def test_the_number_of_blocks_is_bounded(app, api):
    app.config["BLOCK_MAX"] = 1
    me, _ = api.user()
    _, first = api.user()
    _, second = api.user()
    assert block(me, first["_id"]).status_code == 201
    assert block(me, second["_id"]).status_code == 409


def test_the_group_helper_refuses_adding_someone_across_a_block(api):
    _, alice_user = api.user()
    bob, bob_user = api.user()
    _, carol_user = api.user()
    block(bob, alice_user["_id"])
    for adder, added in ((alice_user, bob_user), (bob_user, alice_user)):
        with pytest.raises(Forbidden):
            blocks.check_can_add(adder["_id"], added["_id"])
    blocks.check_can_add(alice_user["_id"], carol_user["_id"])  # no block: fine


def test_messages_before_the_block_stay_in_history(api):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    sent(alice, bob_user["_id"], "before")
    block(bob, alice_user["_id"])
    assert [m["message"] for m in bob.get(f"/api/v1/message/{alice_user['_id']}").get_json()] == ["before"]


def test_across_a_block_no_reactions_or_edits_reach_the_other_side_but_deleting_works(api, connect):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    from_alice = sent(alice, bob_user["_id"], "before the block")
    from_bob = sent(bob, alice_user["_id"], "mine")
    assert alice.post(f"/api/v1/message/{from_bob['_id']}/reactions", json={"emoji": "👍"}).status_code == 200
    block(bob, alice_user["_id"])
    bob_tab = connect(bob)
    bob_tab.get_received()
    response = alice.post(f"/api/v1/message/{from_bob['_id']}/reactions", json={"emoji": "🎉"})
    assert response.status_code == 403
    assert response.get_json()["message"] == "You cannot send messages to this user."
    response = alice.patch(f"/api/v1/message/{from_alice['_id']}", json={"message": "after"})
    assert response.status_code == 403
    assert received(bob_tab, "messageUpdated") == [] and received(bob_tab, "reactionsUpdated") == []
    # Taking things away is always allowed.
    assert alice.delete(f"/api/v1/message/{from_bob['_id']}/reactions", json={"emoji": "👍"}).status_code == 200
    assert alice.delete(f"/api/v1/message/{from_alice['_id']}").status_code == 200
    assert len(received(bob_tab, "messageDeleted")) == 1


def test_a_block_made_elsewhere_reaches_the_lists_at_the_next_refresh(app, api, connect):
    """As a block made through another worker (REDIS_URL) or straight in the database."""
    from chatapp.models import Block
    from chatapp.realtime import visibility

    alice, alice_user = api.user()
    bob, bob_user = api.user()
    carol, _ = api.user()
    alice_tab, bob_tab = connect(alice), connect(bob)
    Block._get_collection().insert_one({
        "_id": f"{bob_user['_id']}:{alice_user['_id']}", "blockerId": ObjectId(bob_user["_id"]),
        "blockedId": ObjectId(alice_user["_id"]), "seq": ObjectId(),
    })
    app.extensions[visibility.EXTENSION].refresh_seconds = 0  # the next broadcast re-reads
    for tab in (alice_tab, bob_tab):
        tab.get_received()
    connect(carol)  # a presence change: a broadcast
    assert bob_user["_id"] not in last_online_list(alice_tab)
    assert alice_user["_id"] not in last_online_list(bob_tab)
