"""On a real MongoDB (TEST_MONGO_URI), a conversation-list page is one index range, no sort.

Skipped on the embedded database, which has no query planner. Uses the command capture and
explain helpers of test_real_mongo_indexes.
"""

import time

from tests.helpers.mongo_plans import CAPTURE, explain, stages
from tests.helpers.real_db import EXPLAIN_REASON, mongodb_only

pytestmark = mongodb_only(EXPLAIN_REASON)


def test_conversation_list_pages_are_index_scans_without_a_sort(api):
    from chatapp.services import conversations, messages

    _, alice = api.user()
    partners = [api.user()[1] for _ in range(12)]
    for partner in partners:
        messages.send_message(partner["_id"], alice["_id"], "hi", max_length=100)
        time.sleep(0.002)  # distinct updatedAt (milliseconds): ties are tested elsewhere
    for _ in range(3):  # conversations alice is not in must not be read either
        messages.send_message(partners[0]["_id"], partners[1]["_id"], "not alice's", max_length=100)

    CAPTURE.commands.clear()
    CAPTURE.active = True
    try:
        page, cursor = conversations.list_conversations(alice["_id"], limit=5)
        older, _ = conversations.list_conversations(alice["_id"], limit=5, before=cursor)
    finally:
        CAPTURE.active = False
    assert len(page) == 5 and len(older) == 5
    assert not {c["_id"] for c in page} & {c["_id"] for c in older}

    conversation_finds = [c for c in CAPTURE.commands if c[1].get("find") == "conversations"]
    assert len(conversation_finds) == 2
    for database, command in conversation_finds:
        result = explain(database, command)
        plan_stages = stages(result["queryPlanner"]["winningPlan"])
        assert "COLLSCAN" not in plan_stages, plan_stages
        assert "SORT" not in plan_stages, plan_stages  # the index gives the order
        # A page of 5 reads 5 + 1 (is there more?) + at most the cursor's own document.
        assert result["executionStats"]["totalDocsExamined"] <= 7, result["executionStats"]
