"""Group conversations on the real server (gunicorn eventlet and gevent), over loopback.

A real Socket.IO client in each member's tab: `sendGroupMessage` acknowledged, `groupMessage` to
every other tab of every member (never `newMessage`), group `typing`, `markGroupRead` and
`messagesSeen`, and a removed member's tab hearing `conversationUpdated` and nothing after.
"""

import pytest

from tests.helpers.live import WAIT_SECONDS, Tab, new_user, server  # noqa: F401 (fixtures)

pytestmark = pytest.mark.integration


def test_a_group_conversation_over_real_sockets(server, new_user):  # noqa: F811
    alice, bob, carol = new_user(), new_user(), new_user()
    created = alice.session.post(
        f"{server.url}/api/v1/groups",
        json={"name": "Live team", "memberIds": [bob.id, carol.id]},
        timeout=WAIT_SECONDS,
    )
    assert created.status_code == 201, created.text
    group_id = created.json()["_id"]
    tabs = [Tab().connect(server.url, "websocket", headers=user.cookie_header)
            for user in (alice, alice, bob, carol)]
    sending, other, bob_tab, carol_tab = tabs
    try:
        data = {"conversationId": group_id, "message": "live group hello", "clientMessageId": "g-1"}
        ack = sending.client.call("sendGroupMessage", data, timeout=WAIT_SECONDS)
        assert ack["ok"] is True and ack["newMessage"]["conversationId"] == group_id
        retry = sending.client.call("sendGroupMessage", data, timeout=WAIT_SECONDS)
        assert retry["newMessage"]["_id"] == ack["newMessage"]["_id"]
        for tab in (other, bob_tab, carol_tab):
            tab.wait_until(lambda t: t.received("groupMessage"), "groupMessage")

        bob_tab.client.emit("typing", {"conversationId": group_id, "isTyping": True})
        carol_tab.wait_until(lambda t: t.received("typing"), "carol's tab gets typing")
        assert carol_tab.received("typing")[0] == {
            "from": bob.id, "conversationId": group_id, "isTyping": True, "expiresInMs": 5000,
        }
        seen = bob_tab.client.call("markGroupRead", {"conversationId": group_id},
                                   timeout=WAIT_SECONDS)
        assert seen["ok"] is True and seen["messageId"] == ack["newMessage"]["_id"]
        other.wait_until(lambda t: t.received("messagesSeen"), "alice's tab gets messagesSeen")

        removed = alice.session.delete(
            f"{server.url}/api/v1/groups/{group_id}/members/{carol.id}", timeout=WAIT_SECONDS
        )
        assert removed.status_code == 200, removed.text
        carol_tab.wait_until(lambda t: t.received("conversationUpdated"), "carol hears she is out")
        sending.client.call("sendGroupMessage", {"conversationId": group_id, "message": "after"},
                            timeout=WAIT_SECONDS)
        bob_tab.wait_until(lambda t: len(t.received("groupMessage")) == 3, "bob gets 3 messages")
        # Checked behind the later events: no retry delivered again, no newMessage anywhere,
        # nothing for Carol after her removal, nothing back to the sending tab.
        hello, removal, after = bob_tab.received("groupMessage")
        assert (hello["message"], after["message"]) == ("live group hello", "after")
        assert removal["system"] == {"type": "memberRemoved", "userIds": [carol.id]}
        assert all(t.received("newMessage") == [] for t in tabs)
        assert [m["message"] for m in carol_tab.received("groupMessage")] == ["live group hello"]
        assert sending.received("groupMessage") == [removal]  # its own sends came as acks
    finally:
        for tab in tabs:
            tab.close()
