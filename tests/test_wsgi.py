"""`python wsgi.py` (make run): the development entry point."""

import os
import socket
import subprocess
import sys

from tests.helpers.live_server import ROOT


def test_a_second_dev_server_on_a_taken_port_refuses_to_start():
    # A server already listening as eventlet does (SO_REUSEPORT). Before the check, a second
    # `make run` bound the same port too, and a browser's Socket.IO requests, spread over the two
    # processes, failed with "Invalid session" and a 400 on the websocket upgrade.
    with socket.socket() as first:
        first.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        first.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        first.bind(("127.0.0.1", 0))
        first.listen()
        port = first.getsockname()[1]
        env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "APP_ENV": "development",
               "JWT_SECRET_KEY": "wsgi-test-secret-key-that-is-long-enough-0123456789",
               "MONGO_URI": ""}
        result = subprocess.run(
            [sys.executable, "wsgi.py"], cwd=ROOT, env=env, capture_output=True, text=True,
            timeout=20,  # a server that does start is killed then (and the test fails)
        )
    assert result.returncode != 0
    assert f"Cannot serve on 127.0.0.1:{port}" in result.stderr
    assert "another `make run`" in result.stderr


def test_the_served_app_leaves_its_start_up_objects_out_of_garbage_collections():
    """gunicorn imports wsgi: the app and the code it loaded are frozen, so a full collection no
    longer walks them while every socket waits (about 30 ms each time, measured)."""
    env = {**os.environ, "APP_ENV": "development", "MONGO_URI": "",
           "JWT_SECRET_KEY": "wsgi-test-secret-key-that-is-long-enough-0123456789"}
    result = subprocess.run(
        [sys.executable, "-c", "import gc, wsgi; print(gc.get_freeze_count())"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) > 10_000  # tens of thousands of objects, not a handful
