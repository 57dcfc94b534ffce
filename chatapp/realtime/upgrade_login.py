"""The upgrade login: sockets that prove who they are with the cookie of their WebSocket upgrade.

The React client opens its socket with `io(url, {query: {userId}})`: socket.io-client's first
requests are cross-origin long-polling XHRs (`localhost:5173` → `localhost:5000`) sent without
credentials, so they carry no cookie, and the Socket.IO connect arrives over them. A moment later
the client upgrades to a WebSocket, and a browser's WebSocket handshake does carry the `token`
cookie (same site: only the port differs).

So a connect that has no token but names a `userId` is accepted as *pending*: it joins no room,
is not online and receives nothing, and its events are refused. When the upgrade of that very
Engine.IO session is *accepted by Engine.IO* with a cookie whose token is that user's, the socket
is admitted (as if the token had come with the connect); an upgrade with another user's token,
or no upgrade within PENDING_SECONDS, disconnects it. The `userId` query alone still proves
nothing: only the cookie does, as for every other socket.

Accepted means: Engine.IO checked the upgrade's Origin against the same policy as every other
Socket.IO request (`namespace.origin_checker`), found the session live and not yet upgraded,
and the client completed the probe and UPGRADE exchange; `websocket.py` calls
`UpgradeLogin.accepted` at that point, in the WebSocket's own greenlet. A page outside the
allowed origins that makes a victim's browser open a WebSocket to an attacker's session id
therefore admits nothing, and a made-up session id never reaches this module.

The upgrade may also reach the server before the connect (they travel on different
connections); its identity then waits, briefly, for the connect of its session: at most
UPGRADE_MEMORY_MAX identities, each for at most UPGRADE_MEMORY_SECONDS, and only of sessions
Engine.IO accepted (forgotten when the session closes).
"""

import logging
import threading
import time

from flask_socketio import ConnectionRefusedError
from werkzeug.http import parse_cookie

from chatapp import auth
from chatapp.errors import ApiError
from chatapp.realtime import socket_log
from chatapp.services.sessions import SESSIONS

log = logging.getLogger(__name__)

# How long a pending socket may wait for its upgrade before it is disconnected, seconds.
PENDING_SECONDS = 10.0
# How long an upgrade's identity waits for its session's connect, seconds.
UPGRADE_MEMORY_SECONDS = 30.0
# At most this many identities wait for their connect (beyond, the oldest are forgotten).
UPGRADE_MEMORY_MAX = 10_000


class UpgradeAuthenticator:
    """The pending sockets and the identities their upgrades brought, keyed by Engine.IO sid."""

    def __init__(self):
        self._lock = threading.Lock()
        self._pending = {}  # eio sid -> (socket.io sid, claimed user id)
        self._upgraded = {}  # eio sid -> (Claims of the upgrade's token, monotonic time)

    def wait_for_upgrade(self, eio_sid, sid, claimed):
        """Park socket `sid` until its upgrade proves `claimed`; returns the identity an earlier
        upgrade of the session already brought (Claims), or None if the socket is now pending."""
        with self._lock:
            upgraded = self._upgraded.pop(eio_sid, None)
            if upgraded is None:
                self._pending[eio_sid] = (sid, claimed)
                return None
        return upgraded[0]

    def upgraded(self, eio_sid, user_id, connected):
        """The upgrade of session `eio_sid` carried a token (its Claims, here `user_id`).

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

    def waiting_identities(self):
        """How many upgrades' identities wait for their session's connect."""
        with self._lock:
            return len(self._upgraded)

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
        # Insertion order is time order: the oldest come first.
        upgraded = self._upgraded
        while upgraded:
            key, (_, at) = next(iter(upgraded.items()))
            if now - at <= UPGRADE_MEMORY_SECONDS and len(upgraded) < UPGRADE_MEMORY_MAX:
                break
            del upgraded[key]


class UpgradeLogin:
    """The upgrade login of one namespace: parks a cookie-less socket that names a `userId`, and
    admits it (`namespace.admit`) when its session's upgrade brings that user's cookie."""

    def __init__(self, namespace, app):
        self.namespace = namespace
        self.app = app
        self.sessions = UpgradeAuthenticator()
        # Engine.IO's origin check (`namespace.origin_checker`), set by init_app: one policy.
        self.origin_allowed = None

    def wait(self, sid, claimed):
        """Socket `sid` claims `claimed` without a token: the identity an earlier upgrade of its
        session brought, or None when the socket is parked (for at most PENDING_SECONDS)."""
        eio_sid = self._eio_sid(sid)
        claims = self.sessions.wait_for_upgrade(eio_sid, sid, claimed)
        if claims is None:
            self.namespace.socketio.start_background_task(self._expire, eio_sid, sid)
        return claims

    def accepted(self, eio_sid, environ):
        """Engine.IO accepted the WebSocket upgrade of live session `eio_sid` (`websocket.py`
        calls this after the UPGRADE packet): its cookie may admit the pending socket."""
        origin = environ.get("HTTP_ORIGIN")
        # Engine.IO refused a disallowed Origin already; checked again with the very same
        # function so that no setting (cors_allowed_origins=[] disables Engine.IO's) reopens it.
        if origin and not self.origin_allowed(origin, environ):
            return
        token = cookie_token(environ)
        if not token:
            return
        try:
            self.upgraded(eio_sid, token)
        except ApiError:
            pass  # not a valid token (or its session ended): the upgrade proves nothing
        except Exception:  # e.g. the database is down: the socket stays pending
            log.exception("Could not authenticate the upgrade of session %s", eio_sid)

    def upgraded(self, eio_sid, token):
        """An accepted WebSocket upgrade of session `eio_sid` carried `token`; raises
        NotAuthenticated."""
        with self.app.app_context():
            claims = auth.authenticate_claims(
                token, self.app.config["JWT_SECRET_KEY"],
                sessions=self.app.extensions[SESSIONS],
            )
        user_id = claims.user_id
        server = self.namespace.socketio.server
        waiting = self.sessions.upgraded(
            eio_sid, claims,
            connected=lambda: server.manager.sid_from_eio_sid(eio_sid, self.namespace.namespace),
        )
        if waiting is None:
            return
        sid, claimed = waiting
        if claimed != user_id:
            socket_log.refused_later(sid, "upgraded with another user's token")
            server.disconnect(sid, namespace=self.namespace.namespace)
            return
        try:
            with self.app.app_context():
                self.namespace.admit(user_id, claims, sid)
        except ConnectionRefusedError as refused:
            socket_log.refused_later(sid, refused.error_args["message"])
            server.disconnect(sid, namespace=self.namespace.namespace)

    def forget(self, sid):
        """Socket `sid` disconnected: its session waits for nothing any more."""
        eio_sid = self._eio_sid(sid)
        if eio_sid is not None:
            self.sessions.forget(eio_sid)

    def session_closed(self, eio_sid):
        """Engine.IO session `eio_sid` ended (connected to the namespace or not)."""
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
