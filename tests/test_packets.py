"""The Socket.IO packet class tells binary payloads from JSON ones as python-socketio's does."""

import pytest
from socketio.packet import Packet

from chatapp.realtime.packets import ChatPacket

PAYLOADS = [
    ["getOnlineUsers", ["a" * 24, "b" * 24]],
    ["newMessage", {"_id": "x", "message": "hi", "nested": {"list": [1, 2.5, None, True]}}],
    ["file", {"name": "a.png", "data": b"\x89PNG"}],
    ["deep", [[["text", [bytearray(b"x")]]]]],
    ["empty", [], {}],
    "plain",
    b"bytes",
    None,
]


@pytest.mark.parametrize("data", PAYLOADS)
def test_binary_detection_matches_python_socketio(data):
    assert ChatPacket.data_is_binary(data) == Packet.data_is_binary(data)


def test_binary_payloads_still_travel_as_attachments():
    packet = ChatPacket(packet_type=2, data=["file", {"data": b"\x00\x01"}])
    encoded = packet.encode()
    assert isinstance(encoded, list) and encoded[1] == b"\x00\x01"  # header, then the attachment


def test_the_server_uses_it(app):
    from chatapp.extensions import socketio

    assert socketio.server.packet_class is ChatPacket
