"""gunicorn commands a new user might type: the server follows its worker class or refuses in a line.

Before: `gunicorn -k gevent -w 1 wsgi:app` without ASYNC_MODE=gevent started, answered HTTP, and
broke every socket (presence never arrived); `-w 2` started and failed Socket.IO sessions at
random (a session's requests reached either worker).
"""

import subprocess
import sys

import pytest
import requests

from tests.helpers.live import Tab, register_and_log_in, start_server
from tests.helpers.live_server import ROOT, LiveServer, free_port

pytestmark = pytest.mark.integration


def gunicorn(*args, env=None, timeout=30):
    """Run gunicorn in the repository (so gunicorn.conf.py applies) until it exits."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", *args, "-b", f"127.0.0.1:{port}", "wsgi:app"]
    server = LiveServer("eventlet", env=env)  # only for its environment
    result = subprocess.run(
        command, cwd=ROOT, env=server.env, capture_output=True, text=True, timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return result, port


def assert_refused_in_one_line(result, *phrases):
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output, output
    lines = [line for line in output.splitlines() if all(p in line for p in phrases)]
    assert len(lines) == 1, output


def test_several_workers_in_one_server_are_refused_in_one_line():
    result, port = gunicorn("-k", "eventlet", "-w", "2")
    assert_refused_in_one_line(result, "-w 2", "one worker per server", "REDIS_URL")
    with pytest.raises(requests.ConnectionError):  # it never listened
        requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)


def test_a_worker_class_that_cannot_serve_socketio_is_refused_in_one_line():
    result, _ = gunicorn("-k", "sync", "-w", "1")
    assert_refused_in_one_line(result, "-k sync", "-k eventlet or -k gevent")


class ConfiglessServer(LiveServer):
    """gunicorn run without our gunicorn.conf.py (an empty one), as from another directory."""

    def __init__(self, worker, config_path, **kwargs):
        super().__init__(worker, **kwargs)
        self.config_path = config_path

    def command(self):
        argv = super().command()
        return argv[:3] + ["-c", str(self.config_path)] + argv[3:]


@pytest.mark.parametrize("with_config", [True, False], ids=["gunicorn.conf.py", "no-config"])
def test_a_gevent_worker_told_eventlet_follows_its_worker_and_presence_arrives(
    tmp_path, with_config
):
    env = {"ASYNC_MODE": "eventlet"}  # the default a new user never changed
    if with_config:
        server = LiveServer("gevent", env=env)
    else:
        empty = tmp_path / "empty.conf.py"
        empty.write_text("")
        server = ConfiglessServer("gevent", empty, env=env)
    log_path = tmp_path / "gunicorn.log"
    start_server(server, log_path)
    tab = None
    try:
        user = register_and_log_in(server.url)
        tab = Tab().connect(server.url, "websocket", headers=user.cookie_header)
        tab.wait_online(includes=[user])
    finally:
        if tab is not None:
            tab.close()
        server.stop()
    if with_config:
        assert "ASYNC_MODE=eventlet, but gunicorn runs gevent workers" in log_path.read_text()
    assert "Bad file descriptor" not in log_path.read_text()
