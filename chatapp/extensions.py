"""Unbound extension singletons, initialised in `create_app` so any module can import them."""

from flask_cors import CORS
from flask_socketio import SocketIO

cors = CORS()
socketio = SocketIO()
