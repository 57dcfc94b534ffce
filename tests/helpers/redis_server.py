"""Start and stop a throwaway redis-server on loopback for the tests, and Redis test helpers.

No persistence (`--save ''`, `--appendonly no`): a restart starts empty, as a crashed Redis would.
"""

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import flask_socketio.test_client
import redis

REDIS_SERVER = os.environ.get("REDIS_SERVER", "/usr/bin/redis-server")
START_TIMEOUT = 10  # seconds
STOP_TIMEOUT = 10


class Unavailable(RuntimeError):
    """redis-server is not installed (tests skip with this as the reason)."""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One redis-server process on 127.0.0.1:`port`, its files in `directory`."""

    def __init__(self, directory, port=None):
        if not (shutil.which(REDIS_SERVER) or os.access(REDIS_SERVER, os.X_OK)):
            raise Unavailable(f"{REDIS_SERVER} is not installed (Debian package redis-server)")
        self.directory = Path(directory)
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self):
        """Start it (again, on the same port after `stop`) and wait until it answers PING."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self._log = open(self.directory / "redis.log", "ab")
        self.process = subprocess.Popen(
            [
                REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(self.port),
                "--save", "", "--appendonly", "no", "--dir", str(self.directory),
                "--protected-mode", "yes",
            ],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop()
                raise RuntimeError(f"redis-server exited with {self.process.returncode}")
            if _answers(self.port):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not answer on port {self.port}")

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT)
        if getattr(self, "_log", None) is not None:
            self._log.close()
            self._log = None

    def restart(self):
        """Stop and start again on the same port: every key is gone, as after a crash."""
        self.stop()
        return self.start()


def flush_redis(url):
    """Empty the Redis database at `url`."""
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


def wait_for(condition, timeout=5.0, interval=0.02):
    """Poll `condition()` until it returns something truthy (returned) or `timeout` s pass (None).

    For what another process or thread delivers through Redis some milliseconds later.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result or time.monotonic() >= deadline:
            return result
        time.sleep(interval)


class _NoQueue:
    """Matches no client manager: see `queue_allowed_in_test_client`."""


class queue_allowed_in_test_client:
    """Let Flask-SocketIO's test client run on an app with the Redis message queue (TEST_REDIS_URL).

    It refuses any queue outright. Ours delivers to this process's sockets before publishing
    (python-socketio's PubSubManager), so the test client sees every emit as without a queue,
    while each emit is also published to Redis: the suite exercises the queue. Delivery between
    processes is tested with real servers (tests/test_cluster.py).
    """

    def __enter__(self):
        self._saved = flask_socketio.test_client.PubSubManager
        flask_socketio.test_client.PubSubManager = _NoQueue

    def __exit__(self, *exc):
        flask_socketio.test_client.PubSubManager = self._saved
