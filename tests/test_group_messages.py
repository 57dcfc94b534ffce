"""Messages in group conversations: delivery, retries, history, read markers, typing."""

import pytest

from chatapp.models import Conversation, Message
from tests.helpers import groups
from tests.helpers.chat import assert_json_error, received
from tests.helpers.chat import sent as sent_pair


@pytest.fixture
def team(api):
    """Alice (admin), Bob and Carol in the group "Team", and Dave outside it."""
    people = {name: api.user(fullName=name) for name in ("Alice", "Bob", "Carol", "Dave")}
    alice = people["Alice"][0]
    group = groups.created(alice, "Team", [people["Bob"][1], people["Carol"][1]])
    return group, people


def drained(*tabs):
    for tab in tabs:
        tab.get_received()
    return tabs


def test_a_group_message_is_stored_once_and_reaches_every_members_tabs(connect, team):
    group, people = team
    (alice, alice_user), (bob, _), (carol, _), (dave, _) = people.values()
    alice_tab, bob_tab1, bob_tab2, carol_tab, dave_tab = drained(
        connect(alice), connect(bob), connect(bob), connect(carol), connect(dave)
    )

    response = groups.send(alice, group, "hello team")
    assert response.status_code == 201
    message = response.get_json()["newMessage"]
    assert message["conversationId"] == group["_id"]
    assert message["senderId"] == alice_user["_id"] and "receiverId" not in message
    raw = Message._get_collection().find_one({"message": "hello team"})
    assert "receiverId" not in raw and raw["conversationId"] == Conversation.objects.get().id
    assert Message.objects(message="hello team").count() == 1

    for tab in (alice_tab, bob_tab1, bob_tab2, carol_tab):  # an HTTP send: every tab
        events = tab.get_received()
        assert [e["name"] for e in events] == ["groupMessage"]  # never newMessage
        assert events[0]["args"][0] == message
    assert dave_tab.get_received() == []


def test_a_socket_send_is_acknowledged_and_skips_the_sending_tab(connect, team):
    group, people = team
    (alice, _), (bob, _), _, _ = people.values()
    alice_tab, alice_other, bob_tab = drained(connect(alice), connect(alice), connect(bob))
    ack = alice_tab.emit(
        "sendGroupMessage", {"conversationId": group["_id"], "message": "via socket"},
        callback=True,
    )
    assert ack["ok"] is True and ack["newMessage"]["message"] == "via socket"
    assert received(alice_tab, "groupMessage") == []
    assert received(alice_other, "groupMessage") == [ack["newMessage"]]
    assert received(bob_tab, "groupMessage") == [ack["newMessage"]]


@pytest.mark.parametrize(
    "data",
    [
        {"message": "no group"},
        {"conversationId": "nope", "message": "x"},
        {"conversationId": "0" * 24, "message": "x"},
        {"conversationId": "GROUP", "message": ""},
        {"conversationId": "GROUP", "message": ["x"]},
        {"conversationId": "GROUP", "message": "x", "clientMessageId": "has space"},
    ],
)
def test_bad_socket_sends_get_a_negative_ack_and_store_nothing(connect, team, data):
    group, people = team
    alice_tab = connect(people["Alice"][0])
    data = {k: group["_id"] if v == "GROUP" else v for k, v in data.items()}
    before = Message.objects.count()
    ack = alice_tab.emit("sendGroupMessage", data, callback=True)
    assert ack["ok"] is False and ack["message"]
    assert Message.objects.count() == before


def test_outsiders_cannot_send_read_or_type(connect, team):
    group, people = team
    (_, _), (bob, _), _, (dave, _) = people.values()
    bob_tab = drained(connect(bob))[0]
    dave_tab = connect(dave)
    assert_json_error(groups.send(dave, group, "let me in"), 404)
    assert_json_error(groups.history(dave, group), 404)
    ack = dave_tab.emit(
        "sendGroupMessage", {"conversationId": group["_id"], "message": "x"}, callback=True
    )
    assert ack == {"ok": False, "message": "Group not found"}
    dave_tab.emit("typing", {"conversationId": group["_id"], "isTyping": True})
    assert [e["name"] for e in bob_tab.get_received()] == ["getOnlineUsers"]  # Dave came online


def test_a_retry_with_the_same_client_message_id_is_not_stored_or_delivered_twice(connect, team):
    group, people = team
    (alice, _), (bob, _), _, _ = people.values()
    bob_tab = drained(connect(bob))[0]
    first = groups.send(alice, group, "once", clientMessageId="k-1")
    again = groups.send(alice, group, "once", clientMessageId="k-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json()["newMessage"] == first.get_json()["newMessage"]
    assert Message.objects(message="once").count() == 1
    assert len(received(bob_tab, "groupMessage")) == 1
    assert groups.listed(bob)[group["_id"]]["unreadCount"] == 1
    assert_json_error(groups.send(alice, group, "other text", clientMessageId="k-1"), 409)
    # The key of a group message cannot name a pair message either.
    response = bob.post(
        f"/api/v1/message/send/{people['Alice'][1]['_id']}",
        json={"message": "once", "clientMessageId": "k-1"},
    )
    assert response.status_code == 201  # Bob's keys are his own
    alice_pair = alice.post(
        f"/api/v1/message/send/{people['Bob'][1]['_id']}",
        json={"message": "once", "clientMessageId": "k-1"},
    )
    assert_json_error(alice_pair, 409)


def test_history_pages_back_and_catches_up(team):
    group, people = team
    (alice, _), (bob, _), _, _ = people.values()
    sent = [groups.sent(alice, group, f"m{i}") for i in range(5)]
    page = groups.history(bob, group, limit=2)
    assert [m["message"] for m in page.get_json()] == ["m3", "m4"]
    older = groups.history(bob, group, limit=2, before=page.headers["X-Next-Before"])
    assert [m["message"] for m in older.get_json()] == ["m1", "m2"]
    caught_up = groups.history(bob, group, after=sent[1]["_id"], limit=2)
    assert [m["message"] for m in caught_up.get_json()] == ["m2", "m3"]
    rest = groups.history(bob, group, after=caught_up.headers["X-Next-After"])
    assert [m["message"] for m in rest.get_json()] == ["m4"] and "X-Next-After" not in rest.headers
    assert_json_error(groups.history(bob, group, before=sent[0]["_id"], after=sent[1]["_id"]), 400)
    assert_json_error(groups.history(bob, group, limit="0"), 400)
    assert_json_error(groups.history(bob, group, before="zzz"), 400)


def test_read_markers_and_unread_counts_work_as_for_pairs(connect, team):
    group, people = team
    (alice, alice_user), (bob, bob_user), (carol, _), _ = people.values()
    sent = [groups.sent(alice, group, f"m{i}") for i in range(3)]
    groups.sent(bob, group, "bob's own")
    assert groups.listed(bob)[group["_id"]]["unreadCount"] == 3
    assert groups.listed(carol)[group["_id"]]["unreadCount"] == 4
    alice_tab, carol_tab, bob_tab = drained(connect(alice), connect(carol), connect(bob))

    up_to = bob.post(f"/api/v1/groups/{group['_id']}/read", json={"messageId": sent[0]["_id"]})
    assert up_to.status_code == 200 and up_to.get_json()["unreadCount"] == 2
    receipt = bob.post(f"/api/v1/groups/{group['_id']}/read").get_json()
    assert receipt["unreadCount"] == 0 and receipt["readerId"] == bob_user["_id"]
    assert receipt["conversationId"] == group["_id"]
    assert groups.listed(bob)[group["_id"]]["unreadCount"] == 0
    seen = [s["messageId"] for s in received(alice_tab, "messagesSeen")]
    assert seen == [sent[0]["_id"], receipt["messageId"]]
    assert len(received(carol_tab, "messagesSeen")) == 2
    assert received(bob_tab, "messagesSeen") == []
    back = bob.post(f"/api/v1/groups/{group['_id']}/read", json={"messageId": sent[1]["_id"]})
    assert back.get_json()["messageId"] == receipt["messageId"]  # never moves back
    assert received(alice_tab, "messagesSeen") == []

    ack = carol_tab.emit("markGroupRead", {"conversationId": group["_id"]}, callback=True)
    assert ack["ok"] is True and ack["unreadCount"] == 0
    # Membership changes are history, not unread messages.
    alice.patch(f"/api/v1/groups/{group['_id']}", json={"name": "Renamed"})
    assert groups.listed(carol)[group["_id"]]["unreadCount"] == 0
    assert carol.post(f"/api/v1/groups/{group['_id']}/read").get_json()["unreadCount"] == 0


def test_read_marker_errors(team):
    group, people = team
    (alice, alice_user), (bob, bob_user), _, (dave, _) = people.values()
    pair_message = sent_pair(alice, bob_user["_id"], "in the pair")
    url = f"/api/v1/groups/{group['_id']}/read"
    assert_json_error(bob.post(url, json={"messageId": pair_message["_id"]}), 404)
    assert_json_error(bob.post(url, json={"messageId": "bad"}), 400)
    assert_json_error(bob.post(url, data="x", content_type="text/plain"), 415)
    assert_json_error(bob.post(url, data="[1]", content_type="application/json"), 400)
    assert_json_error(dave.post(url), 404)


def test_typing_in_a_group_reaches_the_other_members_only(connect, team):
    group, people = team
    (alice, alice_user), (bob, _), (carol, _), (dave, _) = people.values()
    alice_tab, bob_tab, carol_tab, dave_tab = drained(
        connect(alice), connect(bob), connect(carol), connect(dave)
    )
    alice_tab.emit("typing", {"conversationId": group["_id"], "isTyping": True})
    expected = {
        "from": alice_user["_id"], "conversationId": group["_id"], "isTyping": True,
        "expiresInMs": 5000,
    }
    assert received(bob_tab, "typing") == [expected]
    assert received(carol_tab, "typing") == [expected]
    assert alice_tab.get_received() == [] and dave_tab.get_received() == []
    for bad in ({"conversationId": group["_id"], "isTyping": "yes"},
                {"conversationId": "0" * 24, "isTyping": True},
                {"conversationId": {"$ne": None}, "isTyping": True}):
        alice_tab.emit("typing", bad)
    assert bob_tab.get_received() == []


def test_group_and_pair_sends_share_the_send_budget(app, connect, team):
    app.config["SEND_RATE_LIMIT"] = "2 per minute"
    group, people = team
    (alice, _), (_, bob_user), _, _ = people.values()
    assert groups.send(alice, group, "one").status_code == 201
    sent_pair(alice, bob_user["_id"], "two")
    assert_json_error(groups.send(alice, group, "three"), 429)
    ack = connect(alice).emit(
        "sendGroupMessage", {"conversationId": group["_id"], "message": "four"}, callback=True
    )
    assert ack["ok"] is False and ack["retryAfter"] >= 1


def test_group_catch_up_follows_the_storage_order_not_the_ids(app, team, monkeypatch):
    """As for pairs (tests/test_catch_up_order.py): a send delayed between taking its seq and
    storing its message carries a smaller id than one stored meanwhile; catch-up still has it."""
    import threading

    from bson import ObjectId

    from chatapp.services import group_messages, messages

    group, people = team
    (alice, alice_user), (bob, _), _, _ = people.values()
    before = groups.sent(alice, group, "before")
    allocated, resume = threading.Event(), threading.Event()
    real_next_seq = messages.next_seq
    delayed, result = [], {}

    def next_seq(conversation_id):
        seq = real_next_seq(conversation_id)
        if threading.current_thread() in delayed and not allocated.is_set():
            allocated.set()
            assert resume.wait(10)
        return seq

    monkeypatch.setattr(messages, "next_seq", next_seq)

    def slow_send():
        with app.app_context():
            result["slow"], _ = group_messages.send_group_message(
                alice_user["_id"], group["_id"], "slow", max_length=100
            )

    slow = threading.Thread(target=slow_send)
    delayed.append(slow)
    slow.start()
    try:
        assert allocated.wait(10)
        fast = groups.sent(alice, group, "fast")
        assert groups.texts(bob, group, after=before["_id"]) == ["fast"]
    finally:
        resume.set()
        slow.join(10)
    assert not slow.is_alive()
    assert ObjectId(result["slow"]["_id"]) < ObjectId(fast["_id"])
    assert groups.texts(bob, group, after=fast["_id"]) == ["slow"]
    assert groups.texts(bob, group) == ["before", "fast", "slow"]
    assert groups.listed(bob)[group["_id"]]["lastMessage"]["message"] == "slow"


def test_a_cursor_from_elsewhere_is_a_404(team):
    group, people = team
    (alice, _), (bob, bob_user), _, _ = people.values()
    pair_message = sent_pair(alice, bob_user["_id"], "in the pair")
    assert_json_error(groups.history(bob, group, before=pair_message["_id"]), 404)
    assert_json_error(groups.history(bob, group, after=pair_message["_id"]), 404)
