"""Two people chat in a real browser: what Python clients cannot see (CORS preflights, SameSite
cookies, credentials on the Socket.IO polling handshake, the upgrade to websocket).

The backend runs as deployed (gunicorn, eventlet worker); tests/browser/chat.test.mjs serves
chatapp/web/ from http://localhost:5173 (the React client's origin) and drives headless Chromium
with playwright-core. Needs Debian's chromium and `npm ci`; `.ci/run` installs both.
"""

import errno
import os
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from config import DEFAULT_CORS_ORIGINS
from tests.helpers.live_server import ROOT, LiveServer
from tests.helpers.missing import skip_unless_ci

CHROMIUM = Path("/usr/bin/chromium")
PLAYWRIGHT = ROOT / "node_modules" / "playwright-core"
SCRIPT = ROOT / "tests" / "browser" / "chat.test.mjs"
NODE_TIMEOUT = 150  # seconds; the script gives up by itself after 90

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def browser_tools():
    """Skip on a bare developer machine; in CI (which installs both) a missing tool is a failure."""
    missing = [
        reason
        for present, reason in (
            (CHROMIUM.exists(), "no /usr/bin/chromium (apt-get install chromium)"),
            (PLAYWRIGHT.is_dir(), "no node_modules/playwright-core (npm ci)"),
        )
        if not present
    ]
    if missing:
        skip_unless_ci("; ".join(missing))


def ipv6_loopback_is_free(port):
    """Nothing listens on [::1]:`port`, where a browser may try `localhost` first."""
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(("::1", port))
    except OSError as error:
        # No IPv6 loopback here: nothing can listen there either.
        return error.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT)
    return True


def listen_for_the_web_client():
    """A listening socket on 127.0.0.1: port 5173 (the React client's) if free, else any.

    The test holds it from here on and node serves on it (by file descriptor), so two runs at
    once on one machine never race for the same port.
    """
    for port in (5173, 0):
        listener = socket.socket()
        # Connections of an earlier run in TIME_WAIT do not make the port busy.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind(("127.0.0.1", port))
        except OSError:
            listener.close()
            continue
        if port and not ipv6_loopback_is_free(port):
            listener.close()
            continue
        listener.listen()
        return listener
    raise RuntimeError("no free loopback port for the web client")


def run_node(env, pass_fds=()):
    """Run the browser script; on a time-out it gets SIGTERM first, so it closes Chromium."""
    process = subprocess.Popen(
        [shutil.which("node") or "node", str(SCRIPT)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        pass_fds=pass_fds,
    )
    try:
        output, _ = process.communicate(timeout=NODE_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)
        try:
            output, _ = process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        output += f"\n(killed after {NODE_TIMEOUT}s)"
    return process.returncode, output


def test_two_people_chat_in_a_real_browser(tmp_path):
    web = listen_for_the_web_client()
    web_origin = f"http://localhost:{web.getsockname()[1]}"
    server_log = tmp_path / "server.log"
    server = LiveServer(
        env={
            "CORS_ORIGINS": ",".join([*DEFAULT_CORS_ORIGINS, web_origin]),
            "HISTORY_PAGE_SIZE": "1",  # so two messages make two pages
        },
        log_path=server_log,
    )
    with web, server:
        env = {
            **os.environ,
            # `localhost`, not 127.0.0.1: the page's origin and the API are then same-site, as
            # for the React client on localhost:5173 and the backend on localhost:5000.
            "CHATAPP_API_URL": f"http://localhost:{server.port}",
            "CHATAPP_WEB_ORIGIN": web_origin,
            "CHATAPP_WEB_FD": str(web.fileno()),
        }
        returncode, output = run_node(env, pass_fds=(web.fileno(),))
    if returncode != 0:
        pytest.fail(
            f"browser test failed (exit {returncode}):\n{output}\n"
            f"--- server log ---\n{server_log.read_text(errors='replace')[-4000:]}",
            pytrace=False,
        )
    print(output)
