"""Run deploy/nginx.conf for tests and benchmarks: its upstream and listen lines set, on loopback.

The site file is used as shipped; only its `server host:port ...;` lines in `upstream chatapp`
and its `listen` line are replaced. A small main config of our own around it puts the pid file,
logs and temp directories in one temporary directory, so the system's nginx is never touched.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SITE_CONF = ROOT / "deploy" / "nginx.conf"
NGINX = os.environ.get("NGINX", "/usr/sbin/nginx")
START_TIMEOUT = 10  # seconds
STOP_TIMEOUT = 10

_UPSTREAM_SERVER = re.compile(r"^(\s*)server\s+\S+:\d+(\s[^;]*)?;\s*$", re.M)
_LISTEN = re.compile(r"^(\s*)listen\s+[^;]+;\s*$", re.M)

MAIN_CONF = """\
worker_processes 1;
worker_shutdown_timeout 5s;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
{user}
events {{
    worker_connections 16384;
}}
http {{
    access_log {access_log};
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    include {dir}/chatapp.conf;
}}
"""


class Unavailable(RuntimeError):
    """nginx is not installed (tests skip with this as the reason)."""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def render_site(upstreams, listen):
    """deploy/nginx.conf with `upstreams` ("host:port" strings) and `listen` ("host:port")."""
    text = SITE_CONF.read_text()
    servers = list(_UPSTREAM_SERVER.finditer(text))
    if not servers or len(_LISTEN.findall(text)) != 1:
        raise RuntimeError(f"{SITE_CONF}: expected `server host:port` lines and one `listen` line")
    indent, options = servers[0].group(1), servers[0].group(2) or ""
    lines = "".join(f"{indent}server {address}{options};\n" for address in upstreams)
    # The first server line becomes the whole list; the others go.
    text = text[: servers[0].start()] + lines + text[servers[-1].end() + 1 :]
    return _LISTEN.sub(lambda m: f"{m.group(1)}listen {listen};\n", text)


class Nginx:
    """One nginx (master and one worker) on 127.0.0.1:`port`, proxying to `upstreams`."""

    def __init__(self, upstreams, directory=None, port=None, access_log=False):
        if not os.access(NGINX, os.X_OK):
            raise Unavailable(f"{NGINX} is not installed (Debian package nginx-light)")
        self.directory = Path(directory or tempfile.mkdtemp(prefix="chatapp-nginx-"))
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.upstreams = list(upstreams)
        self.access_log = access_log
        self.process = None

    def write_config(self):
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "chatapp.conf").write_text(
            render_site(self.upstreams, f"127.0.0.1:{self.port}")
        )
        main = MAIN_CONF.format(
            dir=self.directory,
            # As root nginx's worker would switch to `nobody`, who cannot write our directory.
            user="user root;" if os.geteuid() == 0 else "",
            access_log=f"{self.directory}/access.log" if self.access_log else "off",
        )
        (self.directory / "nginx.conf").write_text(main)
        return self.directory / "nginx.conf"

    def command(self, *extra):
        return [
            NGINX,
            "-p",
            str(self.directory),
            "-c",
            str(self.directory / "nginx.conf"),
            "-g",
            "daemon off;",
            *extra,
        ]

    def check(self):
        """`nginx -t` on the rendered files: the error text, or "" when they are valid."""
        self.write_config()
        result = subprocess.run(
            self.command("-t", "-q"),
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
        return "" if result.returncode == 0 else result.stderr

    def start(self):
        self.write_config()
        self.process = subprocess.Popen(
            self.command(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"nginx exited with {self.process.returncode}: {self.log_tail()}"
                )
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nginx did not listen on {self.port}: {self.log_tail()}")

    def worker_pids(self):
        """nginx's worker processes (the master's children), for CPU accounting."""
        with open(f"/proc/{self.process.pid}/task/{self.process.pid}/children") as f:
            return [int(pid) for pid in f.read().split()]

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful: finishes what is in flight
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=STOP_TIMEOUT)

    def remove(self):
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def log_tail(self, lines=20):
        path = self.directory / "error.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
