"""Fixtures: a fresh app and an empty database per test, clients, and an API helper.

Helpers that are not fixtures live in tests/helpers/ (chat.py for the in-process tests).
"""

import mongoengine
import pytest

from chatapp import caches, db
from chatapp.app import create_app
from chatapp.extensions import socketio
from chatapp.realtime import cluster
from config import TestConfig
from tests.helpers.chat import Api
from tests.helpers.redis_server import (
    RedisServer,
    Unavailable,
    flush_redis,
    queue_allowed_in_test_client,
)
# Also importable from here for tests written before tests/helpers/chat.py (new ones import that).
from tests.helpers.chat import PASSWORD, _counter, history, received, send, sent  # noqa: F401
from tests.helpers.missing import skip_unless_ci


@pytest.fixture(scope="session", autouse=True)
def _close_the_last_connection():
    """A real database's client is closed at the end (each new app closes the one before)."""
    yield
    mongoengine.disconnect()


@pytest.fixture
def app():
    if TestConfig.REDIS_URL:  # presence and rate-limit counters outlive an app
        flush_redis(TestConfig.REDIS_URL)
    app = create_app(TestConfig)
    db.drop_all()  # a real TEST_MONGO_URI database keeps data between tests; mongomock does not
    yield app
    cluster.close(app)
    db.drop_all()
    caches.clear_all()  # nothing a test verified is remembered by the next


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
    caches.clear_all()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A redis-server of our own on a free loopback port (skipped without the binary)."""
    try:
        server = RedisServer(tmp_path_factory.mktemp("redis"))
    except Unavailable as error:
        skip_unless_ci(str(error))
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


@pytest.fixture
def client(app):
    return app.test_client()


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


@pytest.fixture(scope="session")
def servers_behind_nginx():
    """Three gunicorn servers behind deploy/nginx.conf, on one Redis and one FerretDB (or
    TEST_MONGO_URI); skipped with the reason when redis-server, nginx or FerretDB is missing."""
    from tests.helpers.cluster import Cluster, Unavailable as ClusterUnavailable

    try:
        started = Cluster(servers=3).start()
    except ClusterUnavailable as error:
        skip_unless_ci(str(error))
    yield started
    started.stop()


@pytest.fixture
def healthy_cluster(servers_behind_nginx):
    """The cluster with every server running (a fault test before may have stopped one)."""
    servers_behind_nginx.ensure_running()
    return servers_behind_nginx
