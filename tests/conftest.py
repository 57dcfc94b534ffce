"""Fixtures: a fresh app and an empty database per test, clients, and an API helper.

Helpers that are not fixtures live in tests/helpers/ (chat.py for the in-process tests).
"""

import mongoengine
import pytest

from chatapp import caches, db
from chatapp.app import create_app
from chatapp.extensions import socketio
from config import TestConfig
from tests.helpers.chat import Api
# Also importable from here for tests written before tests/helpers/chat.py (new ones import that).
from tests.helpers.chat import PASSWORD, _counter, history, received, send, sent  # noqa: F401


@pytest.fixture(scope="session", autouse=True)
def _close_the_last_connection():
    """A real database's client is closed at the end (each new app closes the one before)."""
    yield
    mongoengine.disconnect()


@pytest.fixture
def app():
    app = create_app(TestConfig)
    db.drop_all()  # a real TEST_MONGO_URI database keeps data between tests; mongomock does not
    yield app
    db.drop_all()
    caches.clear_all()  # nothing a test verified is remembered by the next


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
        socket = socketio.test_client(app, flask_test_client=http_client, **kwargs)
        opened.append(socket)
        return socket

    yield open_socket
    for socket in opened:
        if socket.is_connected():
            socket.disconnect()
