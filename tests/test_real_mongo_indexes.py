"""On a real MongoDB (TEST_MONGO_URI), the hot queries use indexes and read one page, not a history.

The embedded database (mongomock) scans every collection whatever the indexes, so what only a
real server can show is proven here: every `find` the history call sends is answered by an index scan that
examines at most a page of documents, however long the conversation.
"""

from tests.helpers.mongo_plans import CAPTURE, explain, stages
from tests.helpers.real_db import EXPLAIN_REASON, mongodb_only

pytestmark = mongodb_only(EXPLAIN_REASON)


def test_history_pages_are_index_scans_of_one_page(api):
    from chatapp.services import messages

    alice_client, alice = api.user()
    _, bob = api.user()
    _, carol = api.user()
    for i in range(300):
        messages.send_message(alice["_id"], bob["_id"], f"m{i}", max_length=100)
    for i in range(200):  # other conversations' messages must not be read either
        messages.send_message(alice["_id"], carol["_id"], f"c{i}", max_length=100)

    CAPTURE.commands.clear()
    CAPTURE.active = True
    try:
        page, cursor = messages.list_messages(alice["_id"], bob["_id"], limit=50)
        older, _ = messages.list_messages(alice["_id"], bob["_id"], limit=50, before=cursor)
    finally:
        CAPTURE.active = False
    assert [m["message"] for m in page] == [f"m{i}" for i in range(250, 300)]
    assert [m["message"] for m in older] == [f"m{i}" for i in range(200, 250)]

    assert CAPTURE.commands, "no find command was captured"
    for database, command in CAPTURE.commands:
        result = explain(database, command)
        plan_stages = stages(result["queryPlanner"]["winningPlan"])
        assert "COLLSCAN" not in plan_stages, (command, plan_stages)
        assert "IXSCAN" in plan_stages or "IDHACK" in plan_stages or "EXPRESS_IXSCAN" in plan_stages, plan_stages
        # A page costs a page: never the 300-message history, never the other conversation.
        assert result["executionStats"]["totalDocsExamined"] <= 51, (command, result["executionStats"])
        assert "SORT" not in plan_stages  # the index gives the order; no in-memory sort


def test_the_conversation_lookup_uses_the_unique_pair_index(api):
    from chatapp.services import messages

    _, alice = api.user()
    _, bob = api.user()
    messages.send_message(alice["_id"], bob["_id"], "hi", max_length=100)
    CAPTURE.commands.clear()
    CAPTURE.active = True
    try:
        messages.list_messages(bob["_id"], alice["_id"], limit=10)
    finally:
        CAPTURE.active = False
    conversation_finds = [c for c in CAPTURE.commands if c[1].get("find") == "conversations"]
    assert conversation_finds
    for database, command in conversation_finds:
        plan_stages = stages(explain(database, command)["queryPlanner"]["winningPlan"])
        assert "COLLSCAN" not in plan_stages, plan_stages
