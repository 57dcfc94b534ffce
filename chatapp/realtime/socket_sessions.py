"""The login session behind each signed-in socket, so a socket ends with its session.

A socket signed in with a token lives as long as that token's session: logout (or the user
ending their other sessions) disconnects it at once in this process, a periodic sweep
disconnects sockets whose token expired or whose session another process ended, and every
event re-checks its session before a handler runs. Sockets signed in without a token (the
development-only SOCKET_TRUST_QUERY_USER_ID) have no session to end.
"""

import logging
import threading

log = logging.getLogger(__name__)


class SocketSessions:
    """sid -> Claims of the token the socket signed in with. Thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self._claims = {}  # sid -> Claims
        self._by_user = {}  # user id -> {sid}

    def add(self, sid, claims):
        if claims is not None:
            with self._lock:
                self._claims[sid] = claims
                self._by_user.setdefault(claims.user_id, set()).add(sid)

    def remove(self, sid):
        with self._lock:
            claims = self._claims.pop(sid, None)
            if claims is not None:
                sids = self._by_user.get(claims.user_id)
                sids.discard(sid)
                if not sids:
                    del self._by_user[claims.user_id]

    def claims(self, sid):
        return self._claims.get(sid)

    def __len__(self):
        return len(self._claims)

    def sids_ended(self, user_id, session_id=None, keep=None):
        """Sockets of `user_id` in session `session_id`, or (None) in any session but `keep`."""
        with self._lock:
            return [
                sid for sid in self._by_user.get(user_id, ())
                if (claims := self._claims[sid]) and (
                    claims.session_id == session_id if session_id is not None
                    else claims.session_id != keep
                )
            ]

    def sids_not_live(self, is_live):
        """Sockets whose session `is_live(claims)` says is over (expired or ended elsewhere)."""
        with self._lock:
            items = list(self._claims.items())
        return [sid for sid, claims in items if not is_live(claims)]

    def clear(self):
        with self._lock:
            self._claims.clear()
            self._by_user.clear()


socket_sessions = SocketSessions()
