"""Fixtures: a fresh app and an empty database per test, clients, and an API helper."""

import itertools
import time

import flask_socketio.test_client
import pytest
import redis

from chatapp import db
from chatapp.app import create_app
from chatapp.extensions import socketio
from chatapp.realtime import cluster
from config import TestConfig
from tests.helpers.redis_server import RedisServer, Unavailable

PASSWORD = "correct horse"
_counter = itertools.count()


def flush_redis(url):
    """Empty the Redis database at `url` (presence and rate-limit counters outlive an app)."""
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


@pytest.fixture
def app():
    if TestConfig.REDIS_URL:
        flush_redis(TestConfig.REDIS_URL)
    app = create_app(TestConfig)
    db.drop_all()  # a real TEST_MONGO_URI database keeps data between tests; mongomock does not
    yield app
    cluster.close(app)
    db.drop_all()


@pytest.fixture
def make_app():
    """`make_app(**settings)`: an app on TestConfig with some settings changed, closed after."""
    apps = []

    def make(**overrides):
        if TestConfig.REDIS_URL:
            flush_redis(TestConfig.REDIS_URL)
        app = create_app(TestConfig, **overrides)
        db.drop_all()
        apps.append(app)
        return app

    yield make
    for app in apps:
        cluster.close(app)
    db.drop_all()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A redis-server of our own on a free loopback port (skipped without the binary)."""
    try:
        server = RedisServer(tmp_path_factory.mktemp("redis"))
    except Unavailable as error:
        pytest.skip(str(error))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server):
    """The URL of an empty Redis database."""
    if redis_server.process.poll() is not None:  # a test stopped it
        redis_server.start()
    flush_redis(redis_server.url)
    return redis_server.url


def wait_for(condition, timeout=5.0, interval=0.02):
    """Poll `condition()` until it returns something truthy (returned) or `timeout` s pass (None).

    For what another process or thread delivers (through Redis) some milliseconds later.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result or time.monotonic() >= deadline:
            return result
        time.sleep(interval)


@pytest.fixture
def client(app):
    return app.test_client()


class Api:
    """Register and log users in through the HTTP API, as the React client does."""

    def __init__(self, app):
        self.app = app

    def register(self, client=None, **fields):
        client = client or self.app.test_client()
        n = next(_counter)
        body = {
            "fullName": f"User {n}",
            "username": f"user{n}",
            "password": PASSWORD,
            "confirmPassword": PASSWORD,
            "gender": "female",
        }
        body.update(fields)
        return client.post("/api/v1/user/register", json=body)

    def login(self, client, username, password=PASSWORD):
        return client.post("/api/v1/user/login", json={"username": username, "password": password})

    def user(self, **fields):
        """A new registered user, logged in on a client of its own: (client, user json)."""
        client = self.app.test_client()
        n = next(_counter)
        username = fields.pop("username", f"member{n}")
        response = self.register(client, username=username, **fields)
        assert response.status_code == 201, response.get_json()
        response = self.login(client, username, fields.get("password", PASSWORD))
        assert response.status_code == 200, response.get_json()
        return client, response.get_json()


@pytest.fixture
def api(app):
    return Api(app)


@pytest.fixture
def connect(app):
    """Open a Socket.IO test client for a logged-in HTTP client (its cookie goes along)."""
    opened = []

    def open_socket(http_client=None, **kwargs):
        with queue_allowed_in_test_client():
            socket = socketio.test_client(app, flask_test_client=http_client, **kwargs)
        opened.append(socket)
        return socket

    yield open_socket
    for socket in opened:
        if socket.is_connected():
            socket.disconnect()


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


def received(socket, event):
    """The payloads of `event` a test socket got since last asked."""
    return [packet["args"][0] for packet in socket.get_received() if packet["name"] == event]


def send(client, to, text, **extra):
    """POST a message as the React client does; returns the response."""
    return client.post(f"/api/v1/message/send/{to}", json={"message": text, **extra})


def sent(client, to, text, **extra):
    """Send a message that must be accepted; returns the stored message (`newMessage`)."""
    response = send(client, to, text, **extra)
    assert response.status_code in (200, 201), response.get_json()
    return response.get_json()["newMessage"]


def history(client, other, **params):
    """GET a page of the caller's conversation with `other`; returns the response."""
    return client.get(f"/api/v1/message/{other}", query_string=params)
