"""The client side of the live-server tests: a gunicorn per worker, users, browser-like tabs."""

import itertools
import threading
import time
import uuid

import engineio
import pytest
import requests
import socketio
from engineio import packet, payload

from tests.helpers.live_server import LiveServer

WAIT_SECONDS = 5
PASSWORD = "correct horse"
ALLOWED_ORIGIN = "http://localhost:5173"  # one of the default CORS_ORIGINS (the Vite dev server)
_counter = itertools.count()


def start_server(server, log_path):
    """Start `server`; on failure, the assertion carries the end of its log."""
    server.log_path = log_path
    try:
        return server.start()
    except RuntimeError as error:
        log = log_path.read_text(errors="replace")[-3000:] if log_path.exists() else ""
        raise AssertionError(f"{error}\n--- server log ---\n{log}") from None


@pytest.fixture(scope="module", params=["eventlet", "gevent"])
def server(request, tmp_path_factory):
    """One gunicorn per worker class for the whole module: users are unique per test instead."""
    live = LiveServer(request.param)
    start_server(live, tmp_path_factory.mktemp("live") / f"gunicorn-{request.param}.log")
    yield live
    live.stop()


@pytest.fixture(params=["websocket", "polling"])
def transport(request):
    return request.param


class User:
    """A registered, logged-in user: an HTTP session holding the login cookie."""

    def __init__(self, base_url, session, profile):
        self.base_url = base_url
        self.session = session
        self.id = profile["_id"]
        self.token = session.cookies["token"]

    @property
    def cookie_header(self):
        return {"Cookie": f"token={self.token}"}

    def send(self, to, text):
        """POST a message to `to` (a User); the 201 response's `newMessage`."""
        response = self.session.post(
            f"{self.base_url}/api/v1/message/send/{to.id}", json={"message": text},
            timeout=WAIT_SECONDS,
        )
        assert response.status_code == 201, response.text
        return response.json()["newMessage"]


def register_and_log_in(base_url):
    session = requests.Session()
    # Unique across servers and runs (a TEST_MONGO_URI database outlives the process).
    username = f"live{next(_counter)}_{uuid.uuid4().hex[:8]}"
    body = {
        "fullName": f"Live {username}",
        "username": username,
        "password": PASSWORD,
        "confirmPassword": PASSWORD,
        "gender": "female",
    }
    response = session.post(f"{base_url}/api/v1/user/register", json=body, timeout=WAIT_SECONDS)
    assert response.status_code == 201, response.text
    response = session.post(
        f"{base_url}/api/v1/user/login",
        json={"username": username, "password": PASSWORD},
        timeout=WAIT_SECONDS,
    )
    assert response.status_code == 200, response.text
    return User(base_url, session, response.json())


@pytest.fixture
def new_user(server):
    sessions = []

    def make():
        user = register_and_log_in(server.url)
        sessions.append(user.session)
        return user

    yield make
    for session in sessions:
        session.close()


class _EngineIOClient(engineio.Client):
    """python-engineio's client without a race that can stall a polling disconnect for 25 s.

    Its write loop stops as soon as the state leaves "connected", so a CLOSE packet queued while
    a POST is still in flight is never sent; the client then waits on its long poll until the
    server's next ping (pingInterval, 25 s). Posting CLOSE directly first ends that poll at once.
    """

    def disconnect(self, abort=False, reason=None):
        if self.state == "connected" and self.current_transport == "polling":
            self._send_request(
                "POST", self.base_url,
                body=payload.Payload(packets=[packet.Packet(packet.CLOSE)]).encode(),
                headers={"Content-Type": "text/plain"},
                timeout=self.request_timeout,
            )
        super().disconnect(abort=abort, reason=reason)


class _SocketIOClient(socketio.Client):
    def _engineio_client_class(self):
        return _EngineIOClient


class Tab:
    """One browser tab: a real Socket.IO client that records every event it receives."""

    def __init__(self, origin=None):
        # websocket-client sends the server's own origin unless told otherwise; a second Origin
        # header of ours would make a request no browser sends.
        options = {"websocket_extra_options": {"suppress_origin": True}} if origin else {}
        self.origin = origin
        self.client = _SocketIOClient(reconnection=False, **options)
        self._events = []
        self._changed = threading.Condition()
        self.client.on("*", self._record)

    def _record(self, event, *args):
        with self._changed:
            self._events.append((event, args[0] if args else None))
            self._changed.notify_all()

    def connect(self, url, transport, headers=None, **kwargs):
        headers = dict(headers or {})
        if self.origin:
            headers["Origin"] = self.origin
        self.client.connect(
            url, transports=[transport], headers=headers, wait_timeout=WAIT_SECONDS, **kwargs
        )
        return self

    def close(self):
        self.client.disconnect()

    def received(self, event):
        with self._changed:
            return [data for name, data in self._events if name == event]

    def wait_until(self, condition, what):
        """Wait up to WAIT_SECONDS for `condition(tab)` to hold; fail naming `what` otherwise."""
        deadline = time.monotonic() + WAIT_SECONDS
        with self._changed:
            while not condition(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"within {WAIT_SECONDS}s: {what}; received {self._events!r}"
                    )
                self._changed.wait(remaining)

    def latest_online(self):
        """The ids in the last `getOnlineUsers` list, or None before the first."""
        lists = self.received("getOnlineUsers")
        return set(lists[-1]) if lists else None

    def wait_online(self, *, includes=(), excludes=()):
        """Wait until the latest online list shows every id of `includes` and none of `excludes`.

        Lists are coalesced (PRESENCE_BROADCAST_WINDOW_MS), so only the latest one means anything;
        and other tests' users may come and go on the shared server, so only the named ids count.
        """
        includes = {user.id for user in includes}
        excludes = {user.id for user in excludes}

        def shown(tab):
            online = tab.latest_online()
            return online is not None and includes <= online and not excludes & online

        self.wait_until(shown, f"online list with {includes} and without {excludes}")

    def wait_messages(self, count):
        self.wait_until(lambda tab: len(tab.received("newMessage")) >= count, f"{count} newMessage")
        return self.received("newMessage")


@pytest.fixture
def open_tab(server, transport):
    """Connect a Tab to the live server over this test's transport; every tab is closed after."""
    tabs = []

    def connect(user=None, *, query="", origin=None, **kwargs):
        tab = Tab(origin)
        tabs.append(tab)
        headers = user.cookie_header if user is not None else {}
        tab.connect(server.url + query, transport, headers=headers, **kwargs)
        assert tab.client.transport() == transport
        return tab

    yield connect
    for tab in tabs:
        tab.close()


def refused(open_tab, *args, **kwargs):
    """True when the handshake is refused (as socket.io-client's `connect_error`)."""
    try:
        open_tab(*args, **kwargs)
    except socketio.exceptions.ConnectionError:
        return True
    return False
