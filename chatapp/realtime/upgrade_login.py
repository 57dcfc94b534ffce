"""The upgrade login: sockets that prove who they are with the cookie of their WebSocket upgrade.

The React client opens its socket with `io(url, {query: {userId}})`: socket.io-client's first
requests are cross-origin long-polling XHRs (`localhost:5173` → `localhost:5000`) sent without
credentials, so they carry no cookie, and the Socket.IO connect arrives over them. A moment later
the client upgrades to a WebSocket, and a browser's WebSocket handshake does carry the `token`
cookie (same site: only the port differs).

So a connect that has no token but names a `userId` is accepted as *pending*: it joins no room,
is not online and receives nothing, and its events are refused. When the upgrade of that very
Engine.IO session arrives with a cookie whose token is that user's, the socket is admitted (as
if the token had come with the connect); an upgrade with another user's token, or no upgrade
within PENDING_SECONDS, disconnects it. The `userId` query alone still proves nothing: only the
cookie does, as for every other socket.

The upgrade may also reach the server before the connect (they travel on different
connections); its identity then waits, briefly, for the connect of its session.
"""

import logging
import threading
import time
from urllib.parse import parse_qs

from werkzeug.http import parse_cookie

from chatapp import auth
from chatapp.errors import NotAuthenticated
from chatapp.realtime import socket_log

log = logging.getLogger(__name__)

# How long a pending socket may wait for its upgrade before it is disconnected, seconds.
PENDING_SECONDS = 10.0
# How long an upgrade's identity waits for its session's connect, seconds.
UPGRADE_MEMORY_SECONDS = 30.0


class UpgradeAuthenticator:
    """The pending sockets and the identities their upgrades brought, keyed by Engine.IO sid."""

    def __init__(self):
        self._lock = threading.Lock()
        self._pending = {}  # eio sid -> (socket.io sid, claimed user id)
        self._upgraded = {}  # eio sid -> (user id, monotonic time)

    def wait_for_upgrade(self, eio_sid, sid, claimed):
        """Park socket `sid` until its upgrade proves `claimed`; returns the identity an earlier
        upgrade of the session already brought (user id), or None if the socket is now pending."""
        with self._lock:
            upgraded = self._upgraded.pop(eio_sid, None)
            if upgraded is None:
                self._pending[eio_sid] = (sid, claimed)
                return None
        return upgraded[0]

    def upgraded(self, eio_sid, user_id, connected):
        """The upgrade of session `eio_sid` carried `user_id`'s token.

        Returns (socket.io sid, claimed user id) of the socket that was waiting for it, or None
        when none was. The identity is then kept for the session's connect if `connected()` says
        it has not happened yet (it is on its way); a socket that connected with a token of its
        own needs nothing from its upgrade.
        """
        now = time.monotonic()
        with self._lock:
            waiting = self._pending.pop(eio_sid, None)
            if waiting is None and not connected():
                self._forget_old_upgrades(now)
                self._upgraded[eio_sid] = (user_id, now)
            return waiting

    def forget(self, eio_sid):
        """Session `eio_sid` is gone: it waits for nothing any more."""
        with self._lock:
            self._pending.pop(eio_sid, None)
            self._upgraded.pop(eio_sid, None)

    def give_up(self, eio_sid, sid):
        """True (and forgotten) if socket `sid` is still waiting for its upgrade."""
        with self._lock:
            waiting = self._pending.get(eio_sid)
            if waiting is None or waiting[0] != sid:
                return False
            del self._pending[eio_sid]
            return True

    def _forget_old_upgrades(self, now):
        stale = [k for k, (_, at) in self._upgraded.items() if now - at > UPGRADE_MEMORY_SECONDS]
        for key in stale:
            del self._upgraded[key]


class UpgradeLogin:
    """The upgrade login of one namespace: parks a cookie-less socket that names a `userId`, and
    admits it (`namespace.admit`) when its session's upgrade brings that user's cookie."""

    def __init__(self, namespace, app):
        self.namespace = namespace
        self.app = app
        self.sessions = UpgradeAuthenticator()

    def wait(self, sid, claimed):
        """Socket `sid` claims `claimed` without a token: the identity an earlier upgrade of its
        session brought, or None when the socket is parked (for at most PENDING_SECONDS)."""
        eio_sid = self._eio_sid(sid)
        user_id = self.sessions.wait_for_upgrade(eio_sid, sid, claimed)
        if user_id is None:
            self.namespace.socketio.start_background_task(self._expire, eio_sid, sid)
        return user_id

    def upgraded(self, eio_sid, token):
        """A WebSocket upgrade of session `eio_sid` carried `token`; raises NotAuthenticated."""
        with self.app.app_context():
            user_id = auth.authenticate(token, self.app.config["JWT_SECRET_KEY"])
        server = self.namespace.socketio.server
        waiting = self.sessions.upgraded(
            eio_sid, user_id,
            connected=lambda: server.manager.sid_from_eio_sid(eio_sid, self.namespace.namespace),
        )
        if waiting is None:
            return
        sid, claimed = waiting
        if claimed != user_id:
            socket_log.refused_later(sid, "upgraded with another user's token")
            server.disconnect(sid, namespace=self.namespace.namespace)
            return
        self.namespace.admit(user_id, sid)

    def forget(self, sid):
        """Socket `sid` disconnected: its session waits for nothing any more."""
        eio_sid = self._eio_sid(sid)
        if eio_sid is not None:
            self.sessions.forget(eio_sid)

    def _expire(self, eio_sid, sid):
        self.namespace.socketio.sleep(PENDING_SECONDS)
        if self.sessions.give_up(eio_sid, sid):
            socket_log.refused_later(sid, f"no WebSocket upgrade within {PENDING_SECONDS:g} s")
            self.namespace.socketio.server.disconnect(sid, namespace=self.namespace.namespace)

    def _eio_sid(self, sid):
        server = self.namespace.socketio.server
        return server.manager.eio_sid_from_sid(sid, self.namespace.namespace)


def cookie_token(environ):
    """The `token` cookie of a raw WSGI request."""
    return auth.find_token(cookies=parse_cookie(environ))


def websocket_upgrade(environ, socketio_path="/socket.io"):
    """The Engine.IO sid of a WebSocket upgrade request to an existing session, else None."""
    if not environ.get("PATH_INFO", "").startswith(socketio_path):
        return None
    if environ.get("HTTP_UPGRADE", "").lower() != "websocket":
        return None
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if query.get("transport") != ["websocket"] or not query.get("sid"):
        return None
    return query["sid"][0]


class UpgradeMiddleware:
    """WSGI middleware: before Engine.IO upgrades a session to a WebSocket, let `on_upgrade`
    see the sid and the token of the upgrade's cookie."""

    def __init__(self, wsgi_app, on_upgrade):
        self.wsgi_app = wsgi_app
        self.on_upgrade = on_upgrade

    def __call__(self, environ, start_response):
        eio_sid = websocket_upgrade(environ)
        if eio_sid is not None:
            token = cookie_token(environ)
            if token:
                try:
                    self.on_upgrade(eio_sid, token)
                except NotAuthenticated:
                    pass  # not a valid token: the upgrade proves nothing
                except Exception:  # e.g. the database is down: the socket stays pending
                    log.exception("Could not authenticate the upgrade of session %s", eio_sid)
        return self.wsgi_app(environ, start_response)
