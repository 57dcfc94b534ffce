"""Engine.IO's server-side disconnect, made never to wait for a client that is not polling.

python-engineio's `Server.disconnect(sid)` closes the session with `wait=True`: it queues the
CLOSE packet, then blocks until that packet was taken off the session's queue. A WebSocket's
writer takes it at once, and so does a long-poll GET that is already waiting; but a polling
client with no GET in flight never takes it, since a closed session refuses every later GET.
The caller then blocks forever: the POST of a client that sent a packet the server does not
accept (`6`, a NOOP, say), or of one our guard refuses (binary data), hung with its connection
and greenlet, and the session was never removed from `server.sockets`.

Here the close never waits. Nothing is lost by it: a WebSocket writer or a GET already waiting
holds the session object and still sends the CLOSE packet; a client that polls later is told
the session is gone (HTTP 400) and reconnects, as it would after any transport error.
"""

import logging

log = logging.getLogger(__name__)


def install(eio):
    """Replace `eio.disconnect` (a python-engineio Server) with one that never blocks."""

    def disconnect(sid=None):
        sessions = [eio.sockets.get(sid)] if sid is not None else list(eio.sockets.values())
        for session in sessions:
            if session is None:
                continue  # already closed and gone
            try:
                session.close(wait=False, reason=eio.reason.SERVER_DISCONNECT)
            except Exception:  # one broken session must not keep the others open
                log.exception("closing Engine.IO session %s", session.sid)
            eio.sockets.pop(session.sid, None)

    eio.disconnect = disconnect
