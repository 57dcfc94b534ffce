"""SOCKET_MAX_PAYLOAD caps a whole WebSocket message on the real server, under eventlet and
gevent: a message split into thousands of continuation frames, or one frame promising more, is
refused with close code 1009 before the server has buffered it."""

import time

import pytest

from tests.helpers.live import start_server
from tests.helpers.live_server import LiveServer
from tests.helpers.rawws import CONTINUATION, TEXT, RawWebSocket

pytestmark = pytest.mark.integration

CAP = 16 * 1024


@pytest.fixture(scope="module", params=["eventlet", "gevent"])
def server(request, tmp_path_factory):
    live = LiveServer(request.param, env={"SOCKET_MAX_PAYLOAD": str(CAP)})
    start_server(live, tmp_path_factory.mktemp("wslimits") / f"{request.param}.log")
    yield live
    live.stop()


@pytest.fixture
def open_websocket():
    """Open a raw WebSocket session on a server; closed after the test, whatever happens."""
    opened = []

    def open_(server):
        ws = RawWebSocket("127.0.0.1", server.port, "/socket.io/?EIO=4&transport=websocket")
        opened.append(ws)
        return handshake(ws)

    yield open_
    for ws in opened:
        ws.close()

def handshake(ws):
    assert ws.status == 101
    opcode, payload = ws.recv_frame()
    assert opcode == TEXT and payload.startswith(b"0{")  # Engine.IO's open packet
    return ws


def send_until_closed(ws, frames):
    """Send frames until the server answers; the number of payload bytes sent by then."""
    sent = 0
    try:
        for opcode, payload, fin in frames:
            ws.send_frame(opcode, payload, fin=fin)
            sent += len(payload)
            if ws.readable(0.001):
                break
    except OSError:  # the server closed while we were still sending: also a refusal
        pass
    return sent


def test_a_message_split_into_many_small_frames_is_refused(server, open_websocket):
    ws = open_websocket(server)
    chunk = b"x" * 100
    frames = [(TEXT, b"4" + chunk, False)] + [(CONTINUATION, chunk, False)] * 5000
    sent = send_until_closed(ws, frames)
    assert ws.close_code() == 1009
    assert sent < 5 * CAP  # refused early, not after the 500 kB arrived


def test_one_frame_longer_than_the_cap_is_refused_before_it_is_read(server, open_websocket):
    ws = open_websocket(server)
    # The header promises 8 MB; the payload trickles in, 4 kB at a time.
    header_and_some = (TEXT, b"4" + b"y" * 4095, True)
    ws.sock.sendall(bytes([0x81, 0x80 | 127]) + (8 * 1024 * 1024).to_bytes(8, "big") + b"\0\0\0\0")
    sent = 0
    deadline = time.monotonic() + 10
    try:
        while not ws.readable(0.02) and time.monotonic() < deadline and sent < 8 * 1024 * 1024:
            ws.sock.sendall(header_and_some[1])
            sent += 4096
    except OSError:
        pass
    assert ws.close_code() == 1009
    assert sent < 5 * CAP


def test_a_fragmented_message_within_the_cap_is_received(server, open_websocket):
    ws = open_websocket(server)
    # A Socket.IO connect ("40", no token) in three frames: the server answers it.
    ws.send_frame(TEXT, b"4", fin=False)
    ws.send_frame(CONTINUATION, b"0", fin=False)
    ws.send_frame(CONTINUATION, b"", fin=True)
    opcode, payload = ws.recv_frame()
    assert opcode == TEXT and payload.startswith(b"44")  # CONNECT_ERROR: refused for no token
