"""Sockets that prove who they are with the cookie of their WebSocket upgrade.

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
and the client completed the probe and UPGRADE exchange (`websocket.py` calls
`ChatNamespace.upgrade_accepted` at that point, in the WebSocket's own greenlet). A page outside
the allowed origins that makes a victim's browser open a WebSocket to an attacker's session id
therefore admits nothing, and a made-up session id never reaches this table.

The upgrade may also reach the server before the connect (they travel on different
connections); its identity then waits, briefly, for the connect of its session: at most
UPGRADE_MEMORY_MAX identities, each for at most UPGRADE_MEMORY_SECONDS, and only for sessions
Engine.IO accepted (they are forgotten when the session closes).
"""

import threading
import time

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
