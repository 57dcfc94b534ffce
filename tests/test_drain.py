"""SIGTERM drains a server: requests in flight are answered, and its sockets are closed at once
(not cut at the graceful timeout), so their clients can reconnect to another server.

One real gunicorn server per worker class; nothing else is needed (no Redis, no nginx).
"""

import os
import signal
import threading
import time

import pytest
import requests
import socketio

from tests.helpers.cluster import ClusterServer
from tests.helpers.live import register_and_log_in, start_server

pytestmark = pytest.mark.integration

GRACEFUL_TIMEOUT = 12  # seconds: twice what a drain may take
DRAINED_WITHIN = 6  # master -> worker signal (~2 s under eventlet) + accept loop (1 s) + slack


@pytest.fixture(params=["eventlet", "gevent"])
def server(request, tmp_path):
    # Slow hashing (about half a second per password here) keeps a registration in flight.
    live = ClusterServer(request.param, env={"BCRYPT_ROUNDS": "13"})
    live.graceful_timeout = GRACEFUL_TIMEOUT
    start_server(live, tmp_path / "gunicorn.log")
    yield live
    if live.process.poll() is None:  # the test is over: no need to wait for the drain's end
        os.killpg(live.pid, signal.SIGKILL)
    live.stop()


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_sigterm_closes_every_socket_at_once_and_answers_requests_in_flight(server, transport):
    user = register_and_log_in(server.url)
    client = socketio.Client(reconnection=False)
    closed = threading.Event()
    client.on("disconnect", lambda *reason: closed.set())
    client.connect(server.url, headers=user.cookie_header, transports=[transport], wait_timeout=10)
    answered = {}

    def register_slowly():
        body = {
            "fullName": "Late Comer",
            "username": f"late{time.time_ns()}",
            "password": "correct horse",
            "confirmPassword": "correct horse",
            "gender": "female",
        }
        answer = requests.post(f"{server.url}/api/v1/user/register", json=body, timeout=30)
        answered.update(status=answer.status_code, at=time.monotonic())

    in_flight = threading.Thread(target=register_slowly)
    in_flight.start()
    time.sleep(0.3)  # the registration is hashing its password
    terminated_at = time.monotonic()
    os.kill(server.pid, signal.SIGTERM)
    try:
        assert closed.wait(DRAINED_WITHIN), f"socket still open {DRAINED_WITHIN} s after SIGTERM"
        in_flight.join(GRACEFUL_TIMEOUT)
        assert answered.get("status") == 201, answered
        assert answered["at"] > terminated_at  # it really was in flight when SIGTERM came
    finally:
        client.disconnect()
