"""The chat features of issue 5 on the real server (gunicorn eventlet and gevent), over loopback.

Socket acknowledgements, `messageSent` to the sender's other tab, `typing`, `markRead` and
`messagesSeen`, as a real Socket.IO client sees them. Uses the live-server helpers
(tests/helpers/live.py).
"""

import pytest

from tests.helpers.live import WAIT_SECONDS, Tab, new_user, server  # noqa: F401 (fixtures)

pytestmark = pytest.mark.integration


def test_socket_send_ack_message_sent_typing_and_read_receipts(server, new_user):  # noqa: F811
    alice, bob = new_user(), new_user()
    sending = Tab().connect(server.url, "websocket", headers=alice.cookie_header)
    other = Tab().connect(server.url, "websocket", headers=alice.cookie_header)
    receiving = Tab().connect(server.url, "websocket", headers=bob.cookie_header)
    try:
        data = {"receiverId": bob.id, "message": "live hello", "clientMessageId": "live-1"}
        ack = sending.client.call("sendMessage", data, timeout=WAIT_SECONDS)
        assert ack["ok"] is True and ack["newMessage"]["message"] == "live hello"
        retry = sending.client.call("sendMessage", data, timeout=WAIT_SECONDS)
        assert retry["newMessage"]["_id"] == ack["newMessage"]["_id"]
        bad = sending.client.call("sendMessage", "not an object", timeout=WAIT_SECONDS)
        assert bad["ok"] is False

        receiving.wait_until(lambda t: t.received("newMessage"), "bob's tab gets newMessage")
        other.wait_until(lambda t: t.received("messageSent"), "alice's other tab gets messageSent")

        sending.client.emit("typing", {"to": bob.id, "isTyping": True})
        receiving.wait_until(lambda t: t.received("typing"), "bob's tab gets typing")
        assert receiving.received("typing")[0]["from"] == alice.id

        seen = receiving.client.call("markRead", {"otherUserId": alice.id}, timeout=WAIT_SECONDS)
        assert seen["ok"] is True and seen["messageId"] == ack["newMessage"]["_id"]
        other.wait_until(lambda t: t.received("messagesSeen"), "alice's tab gets messagesSeen")

        # Checked behind the later events: the retry was not delivered again, and the sending
        # tab never got its own message back.
        assert len(receiving.received("newMessage")) == 1
        assert sending.received("messageSent") == [] and receiving.received("messageSent") == []
        listed = bob.session.get(f"{server.url}/api/v1/conversations", timeout=WAIT_SECONDS).json()
        assert [(c["participant"]["_id"], c["unreadCount"]) for c in listed] == [(alice.id, 0)]
    finally:
        for tab in (sending, other, receiving):
            tab.close()
