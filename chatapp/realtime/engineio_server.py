"""Engine.IO's server, where a client could hang one of its requests or fill the log: fixed here.

**A close that never waits.** python-engineio's `Server.disconnect(sid)` closes the session with
`wait=True`: it queues the CLOSE packet, then blocks until that packet was taken off the
session's queue. A WebSocket's writer takes it at once, and so does a long-poll GET already
waiting; but a polling client with no GET in flight never takes it, since a closed session
refuses every later GET. The caller then blocked forever: the POST of a client that sent a
packet the server does not accept (`6`, a NOOP, say), or one our guard refuses (binary data),
hung with its connection, and the session was never removed. Here the close never waits, and
nothing is lost by it: a WebSocket writer or a waiting GET holds the session object and still
sends the CLOSE packet; a client that polls later is told the session is gone (HTTP 400) and
reconnects, as after any transport error.

**Malformed packets.** Engine.IO decodes what a client sends without catching its own errors: an
empty packet, a type that is not a digit, bad base64 after `b`, a body that is not UTF-8. Over
long-polling the POST was answered 200 with a traceback in the log; over a WebSocket the
handler died with one. Either way a client could write a traceback per request. Here a POST
whose payload Engine.IO cannot decode is a 400 that ends its session, and `malformed` lets the
WebSocket wrapper (`websocket.py`) end a socket that sends such a message; one INFO line each.
"""

import io
import logging
from urllib.parse import parse_qs

from engineio import packet, payload

log = logging.getLogger(__name__)

_DIGITS = tuple("0123456789")  # a tuple: `"" in "0123..."` would be True


def malformed(encoded):
    """True when Engine.IO cannot decode `encoded` (one packet: a WebSocket message)."""
    if encoded[:1] in _DIGITS:
        return False  # every socket event: a type digit, then text Engine.IO never fails on
    try:
        packet.Packet(encoded_packet=encoded)
    except Exception:  # ValueError, binascii.Error, IndexError, TypeError: all the client's
        return True
    return False


def _malformed_payload(body):
    """True when Engine.IO cannot decode `body` (a long-polling POST: packets, or too many)."""
    try:
        payload.Payload(encoded_payload=body.decode("utf-8"))
    except Exception:  # UnicodeDecodeError, ValueError, KeyError (a JSONP body without d=)
        return True
    return False


def install(eio):
    """Replace `eio.disconnect` and `eio.handle_request` (a python-engineio Server)."""

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

    handle_request = eio.handle_request

    def checked_request(environ, start_response):
        if environ.get("REQUEST_METHOD") == "POST":
            query = parse_qs(environ.get("QUERY_STRING", ""))
            sid = (query.get("sid") or [None])[0]
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = -1
            if sid in eio.sockets and 0 <= length <= eio.max_http_buffer_size:
                body = environ["wsgi.input"].read(length)
                if _malformed_payload(body):
                    log.info("Closing Engine.IO session %s: a payload it cannot decode", sid)
                    disconnect(sid)
                    start_response("400 BAD REQUEST", [("Content-Type", "text/plain")])
                    return [b"Bad Request"]
                environ["wsgi.input"] = io.BytesIO(body)  # read once: Engine.IO reads it again
        return handle_request(environ, start_response)

    eio.disconnect = disconnect
    eio.handle_request = checked_request
