"""Catch-up that cannot skip: `?after=` follows the order messages were stored in (their seq).

Message ids are made by the sending process before the insert, so a send delayed between
taking its place and storing its message can carry a smaller id than one stored before it. A
client that saw the later one and catches up from it must still get the delayed one.
"""

import threading

from bson import ObjectId

from chatapp.models import Message
from chatapp.services import messages
from tests.helpers.chat import history, sent

WAIT = 10  # seconds: a bound on every wait in these tests, never reached when they pass


def test_a_send_delayed_between_allocation_and_storage_is_not_skipped(app, api, monkeypatch):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    before = sent(alice, bob_user["_id"], "before")
    allocated, resume = threading.Event(), threading.Event()
    real_next_seq = messages.next_seq
    delayed_thread = []

    def next_seq(conversation_id):
        seq = real_next_seq(conversation_id)
        if threading.current_thread() in delayed_thread and not allocated.is_set():
            allocated.set()  # it has read the last seq and picked its own ...
            assert resume.wait(WAIT)  # ... and stalls before storing the message
        return seq

    monkeypatch.setattr(messages, "next_seq", next_seq)
    result = {}

    def slow_send():
        with app.app_context():
            result["slow"], _ = messages.send_message(
                alice_user["_id"], bob_user["_id"], "slow", max_length=100
            )

    slow = threading.Thread(target=slow_send)
    delayed_thread.append(slow)
    slow.start()
    try:
        assert allocated.wait(WAIT)
        fast = sent(alice, bob_user["_id"], "fast")  # stored while the slow one waits
        # Bob is online now: he has seen everything up to "fast", his cursor.
        seen = history(bob, alice_user["_id"], after=before["_id"]).get_json()
        assert [m["message"] for m in seen] == ["fast"]
    finally:
        resume.set()
        slow.join(WAIT)
    assert not slow.is_alive()
    # The slow message's id is older than the cursor: by ids alone, it would be skipped.
    assert ObjectId(result["slow"]["_id"]) < ObjectId(fast["_id"])

    caught_up = history(bob, alice_user["_id"], after=fast["_id"]).get_json()
    assert [m["message"] for m in caught_up] == ["slow"]
    assert caught_up[0] == result["slow"]
    everything = history(bob, alice_user["_id"]).get_json()
    assert [m["message"] for m in everything] == ["before", "fast", "slow"]


def test_concurrent_sends_get_distinct_seqs_and_a_catch_up_from_any_message_misses_none(app, api):
    _, alice = api.user()
    bob, bob_user = api.user()
    _, carol = api.user()
    senders = [alice, carol]
    start = threading.Barrier(6)
    errors = []

    def send_many(sender, n):
        start.wait(WAIT)
        with app.app_context():
            try:
                for i in range(n):
                    text = f"{sender['username']}-{i}"
                    messages.send_message(sender["_id"], bob_user["_id"], text, max_length=100)
                    # Alice and carol write to bob in two conversations; alice also to carol.
                    if sender is alice:
                        messages.send_message(alice["_id"], carol["_id"], f"ac-{i}", max_length=100)
            except Exception as error:  # reported below, with the thread's failure
                errors.append(error)

    threads = [threading.Thread(target=send_many, args=(senders[i % 2], 8)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors and not any(t.is_alive() for t in threads)

    for other in (alice, carol):
        stored = list(
            Message._get_collection().find(
                {"senderId": ObjectId(other["_id"]), "receiverId": ObjectId(bob_user["_id"])}
            )
        )
        assert sorted(m["seq"] for m in stored) == list(range(1, 25))
        full = history(bob, other["_id"], limit=100).get_json()
        assert [m["_id"] for m in full] == [
            str(m["_id"]) for m in sorted(stored, key=lambda m: m["seq"])
        ]
        for i, cursor in enumerate(full):
            rest = history(bob, other["_id"], after=cursor["_id"], limit=100).get_json()
            assert rest == full[i + 1:]


def test_history_pages_by_seq_across_messages_stored_before_seqs_existed(app, api):
    """A message an older version stored (no seq) comes first, and pages and catch-up reach it."""
    from chatapp.services.migration import migrate_node_data

    alice, alice_user = api.user()
    bob, bob_user = api.user()
    first = sent(alice, bob_user["_id"], "m0")
    # As an older version stored it: no seq. (MongoDB's unique index allows one such message
    # per conversation; a database in that state is the one migrate-node-data is for.)
    Message._get_collection().update_one({"_id": ObjectId(first["_id"])}, {"$unset": {"seq": 1}})
    later = [sent(alice, bob_user["_id"], f"m{i}") for i in range(1, 5)]
    order = ["m0", "m1", "m2", "m3", "m4"]

    def pages_back(limit):
        cursor, texts = None, []
        for _ in range(10):
            params = {"limit": limit, **({"before": cursor} if cursor else {})}
            response = history(bob, alice_user["_id"], **params)
            texts = [m["message"] for m in response.get_json()] + texts
            cursor = response.headers.get("X-Next-Before")
            if cursor is None:
                return texts
        raise AssertionError("paging did not end")

    for limit in (1, 2, 3, 10):
        assert pages_back(limit) == order
    from_legacy = history(bob, alice_user["_id"], after=first["_id"], limit=2)
    assert [m["message"] for m in from_legacy.get_json()] == ["m1", "m2"]
    assert history(bob, alice_user["_id"], after=later[0]["_id"]).get_json() == later[1:]
    before_legacy = history(bob, alice_user["_id"], before=later[0]["_id"]).get_json()
    assert [m["message"] for m in before_legacy] == ["m0"]

    with app.app_context():
        assert migrate_node_data()["messages given a seq"] == 1
    assert Message._get_collection().find_one({"_id": ObjectId(first["_id"])})["seq"] == 0
    for limit in (1, 3):
        assert pages_back(limit) == order


def test_a_cursor_that_is_no_message_of_the_conversation_is_placed_by_its_id(api):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    for i in range(3):
        sent(alice, bob_user["_id"], f"m{i}")
    earliest = str(ObjectId(b"\0" * 12))
    assert [m["message"] for m in history(bob, alice_user["_id"], after=earliest).get_json()] == [
        "m0", "m1", "m2"
    ]
    assert history(bob, alice_user["_id"], after=str(ObjectId())).get_json() == []
    latest = str(ObjectId(b"\xff" * 12))
    assert [m["message"] for m in history(bob, alice_user["_id"], before=latest).get_json()] == [
        "m0", "m1", "m2"
    ]
    assert history(bob, alice_user["_id"], before=earliest).get_json() == []


def test_a_message_stored_after_the_read_marker_with_a_smaller_id_is_still_unread(api):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    first = sent(alice, bob_user["_id"], "first")
    # Its id was taken before "first" was stored, its seq after (a send delayed in between).
    late_id = ObjectId(b"\0" * 12)
    assert late_id < ObjectId(first["_id"])
    bob.post(f"/api/v1/message/{alice_user['_id']}/read", json={"messageId": first["_id"]})
    conversation_id = Message.objects.get(id=first["_id"]).conversation_id
    Message(id=late_id, conversation_id=conversation_id, sender_id=alice_user["_id"],
            receiver_id=bob_user["_id"], message="late",
            seq=messages.next_seq(conversation_id)).save(force_insert=True)
    read = f"/api/v1/message/{alice_user['_id']}/read"
    receipt = bob.post(read, json={"messageId": first["_id"]})
    assert receipt.get_json()["unreadCount"] == 1
    caught_up = history(bob, alice_user["_id"], after=first["_id"]).get_json()
    assert [m["message"] for m in caught_up] == ["late"]
