"""Engine.IO packets a client may not send, on the real server (eventlet and gevent), over
long-polling and over a WebSocket: each ends that client's session at once, the request that
carried it is answered, never held, and the log gets one line, never a traceback."""

import threading
import time

import pytest
import requests

from tests.helpers.live import server  # noqa: F401 (the fixture: one gunicorn per worker class)
from tests.helpers.polling import Polling
from tests.helpers.rawws import CLOSE, TEXT, RawWebSocket

pytestmark = pytest.mark.integration

ADDRESS = "127.0.0.1"


@pytest.fixture
def log_grows(server):
    """The server log's lines written during the test, read once it is done."""
    start = server.log_path.stat().st_size
    return lambda: server.log_path.read_bytes()[start:].decode(errors="replace")


def post(polling, body, timeout=5):
    """(status, seconds taken) of one POST of `body` to the session."""
    started = time.monotonic()
    status, _ = polling.request(
        "POST", f"/socket.io/?EIO=4&transport=polling&sid={polling.sid}", body, timeout=timeout
    )
    return status, time.monotonic() - started


def session_is_gone(server, polling):
    path = f"/socket.io/?EIO=4&transport=polling&sid={polling.sid}"
    return polling.request("GET", path)[0] == 400


# 6: NOOP, 0: OPEN, 2: PING (a client answers pings with 3, never sends one), 9: no such type.
@pytest.mark.parametrize("body", ["6", "0", "2", "9"])
def test_a_packet_the_server_refuses_is_answered_at_once_and_ends_the_session(server, body):
    polling = Polling(server, "", ADDRESS)
    assert polling.status == 200
    status, seconds = post(polling, body)  # used to hang until a GET came, which never could
    assert (status, seconds < 2) == (400, True)
    assert session_is_gone(server, polling)
    assert requests.get(f"{server.url}/healthz", timeout=5).status_code == 200


# No packet type, an empty packet between separators, text after a message's separator, more
# than 16 packets, bytes that are not UTF-8, a JSONP form without its `d` field.
@pytest.mark.parametrize(
    "body", ["x", "\x1e", "4\x1ex", "\x1e".join(["3"] * 17), b"4\xff\xfe", "d="]
)
def test_a_payload_engineio_cannot_decode_is_a_400_without_a_traceback(server, body, log_grows):
    polling = Polling(server, "", ADDRESS)
    status, seconds = post(polling, body)  # was 200, with a traceback in the log
    assert (status, seconds < 2) == (400, True)
    assert session_is_gone(server, polling)
    assert "Traceback" not in log_grows()


@pytest.mark.parametrize("message", ["", "x", "\x00", "+1"])
def test_a_websocket_message_engineio_cannot_decode_closes_it_without_a_traceback(
    server, message, log_grows
):
    ws = RawWebSocket("127.0.0.1", server.port, "/socket.io/?EIO=4&transport=websocket")
    try:
        opcode, opened = ws.recv_frame()
        assert (opcode, opened[:1]) == (TEXT, b"0")  # Engine.IO's OPEN packet
        ws.send_text(message)  # the handler used to die with a traceback here
        deadline = time.monotonic() + 5
        closed = False
        while not closed and time.monotonic() < deadline:
            try:
                closed = ws.recv_frame()[0] == CLOSE
            except (ConnectionError, OSError):
                closed = True
        assert closed
    finally:
        ws.close()
    time.sleep(0.2)  # the server's last lines about it
    assert "Traceback" not in log_grows()
    assert requests.get(f"{server.url}/healthz", timeout=5).status_code == 200


def test_a_long_poll_waiting_when_its_session_is_refused_receives_the_close(server):
    polling = Polling(server, "", ADDRESS)
    assert polling.status == 200
    packets = []
    waiting = threading.Thread(target=lambda: packets.extend(polling.poll(timeout=10)))
    waiting.start()
    time.sleep(0.3)  # the GET is waiting in the server
    status, seconds = post(polling, "6")
    waiting.join(10)
    assert (status, seconds < 2) == (400, True)
    assert "1" in packets  # the CLOSE packet reached the client that was waiting for packets
