"""Engine.IO packets a long-polling client may not send, on the real server (eventlet, gevent):
each one closes that session at once, and the request that carried it is answered, never held.
"""

import threading
import time

import pytest
import requests

from tests.helpers.live import start_server
from tests.helpers.live_server import LiveServer
from tests.helpers.polling import Polling

pytestmark = pytest.mark.integration

ADDRESS = "127.0.0.1"


@pytest.fixture(scope="module", params=["eventlet", "gevent"])
def server(request, tmp_path_factory):
    live = LiveServer(request.param)
    start_server(live, tmp_path_factory.mktemp("polling") / f"{request.param}.log")
    yield live
    live.stop()


def post(polling, body, timeout=5):
    """(status, seconds taken) of one POST of `body` to the session."""
    started = time.monotonic()
    status, _ = polling.request(
        "POST", f"/socket.io/?EIO=4&transport=polling&sid={polling.sid}", body, timeout=timeout
    )
    return status, time.monotonic() - started


# 6: NOOP, 0: OPEN, 2: PING (a client answers pings with 3, never sends one), 9: no such type.
@pytest.mark.parametrize("body", ["6", "0", "2", "9"])
def test_a_packet_the_server_refuses_is_answered_at_once_and_ends_the_session(server, body):
    polling = Polling(server, "", ADDRESS)
    assert polling.status == 200
    status, seconds = post(polling, body)  # used to hang until a GET came, which never could
    assert (status, seconds < 2) == (400, True)
    assert polling.request("GET", f"/socket.io/?EIO=4&transport=polling&sid={polling.sid}")[0] == 400
    assert requests.get(f"{server.url}/healthz", timeout=5).status_code == 200  # and the server serves on


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
