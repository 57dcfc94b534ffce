"""One log line per socket connect, refusal and disconnect, with its reason (never its token).

Applied as decorators to the namespace's `on_connect` and `on_disconnect`, so the namespace's
own code stays about Socket.IO. Fields (`extra=`): `event` (socket_connect, socket_pending,
socket_refused, socket_disconnect), `sid`, `user_id`, `reason`, `transport`.
"""

import logging
from functools import wraps

from flask import g, request
from flask_socketio import ConnectionRefusedError


log = logging.getLogger("chatapp.sockets")


def _transport():
    return request.args.get("transport")


def connect(handler):
    """Log the outcome of `handler` (a namespace's on_connect): admitted, pending, or refused."""

    @wraps(handler)
    def wrapped(self, *args, **kwargs):
        sid = request.sid
        try:
            result = handler(self, *args, **kwargs)
        except ConnectionRefusedError as refusal:
            reason = refusal.error_args["message"]
            log.info(
                "Socket refused: %s", reason,
                extra={"event": "socket_refused", "reason": reason, "transport": _transport()},
            )
            raise
        except Exception as error:  # e.g. the database is down: the connect fails, refused
            reason = f"error: {type(error).__name__}"  # not its text, which may quote data
            log.info(
                "Socket refused: %s", reason,
                extra={"event": "socket_refused", "reason": reason, "transport": _transport()},
            )
            raise
        g.user_id = self.presence.user_of(sid)  # the log context's user (see chatapp.logs)
        if g.user_id is None:
            log.info(
                "Socket pending: waits for its WebSocket upgrade to prove its user",
                extra={"event": "socket_pending", "transport": _transport()},
            )
        else:
            log.info(
                "Socket connected",
                extra={"event": "socket_connect", "transport": _transport()},
            )
        return result

    return wrapped


def disconnect(handler):
    """Log a socket's disconnect (a namespace's on_disconnect) with Socket.IO's reason."""

    @wraps(handler)
    def wrapped(self, reason=None, *args):
        g.user_id = self.presence.user_of(request.sid)  # read first: the handler forgets the socket
        log.info(
            "Socket disconnected: %s", reason,
            extra={"event": "socket_disconnect", "reason": reason},
        )
        return handler(self, reason, *args)

    return wrapped


def refused_later(sid, reason):
    """A pending socket the server disconnects (`reason` says why): logged as a refusal.

    Called outside any request (a background task), so the socket id goes in as a field."""
    log.info(
        "Socket refused: %s", reason,
        extra={"event": "socket_refused", "sid": sid, "reason": reason},
    )
