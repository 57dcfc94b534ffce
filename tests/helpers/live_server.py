"""Start the real server (gunicorn, one worker) on a free loopback port, for integration tests
and benchmarks. The process is always stopped by the code that started it."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
TEST_SECRET = "live-server-secret-key-that-is-long-enough-0123456789"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LiveServer:
    """`gunicorn -k <worker> -w 1 wsgi:app` on 127.0.0.1, as deployed, on the embedded database."""

    def __init__(self, worker="eventlet", env=None, port=None, log_path=None):
        self.worker = worker
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.env = {
            **os.environ,
            "APP_ENV": "development",
            "ASYNC_MODE": worker,
            "JWT_SECRET_KEY": TEST_SECRET,
            "BCRYPT_ROUNDS": "4",
            "REGISTER_LIMIT": "",
            "MONGO_URI": os.environ.get("TEST_MONGO_URI", ""),
            # Never a developer's real database, should TEST_MONGO_URI name no database.
            "MONGO_DB_NAME": "chatapp_live_test",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.process = None
        self._log = None

    def command(self):
        """The server's argv; a subclass may run another entry point on the same port and env."""
        return [
            sys.executable, "-m", "gunicorn",
            "-k", self.worker, "-w", "1",
            "-b", f"127.0.0.1:{self.port}",
            "--graceful-timeout", "3",
            "wsgi:app",
        ]

    def start(self, timeout=30):
        self._log = open(self.log_path, "wb") if self.log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(
            self.command(),
            cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
            # No terminal, as under CI or a service manager: a server that needs one must fail here.
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop()
                raise RuntimeError(f"server exited with {self.process.returncode}")
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not answer on {self.url} within {timeout}s")

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        # Also when the server exited by itself: an unclosed log file is a ResourceWarning.
        if self._log not in (None, subprocess.DEVNULL):
            self._log.close()
        self._log = None

    @property
    def pid(self):
        return self.process.pid

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
