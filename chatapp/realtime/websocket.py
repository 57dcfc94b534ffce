"""Engine.IO's WebSocket drivers, wrapped: a cap on a whole message, and a hook that runs once
Engine.IO has accepted a session's upgrade to a WebSocket.

Size. Engine.IO checks `max_http_buffer_size` (SOCKET_MAX_PAYLOAD) only on a message it has
already received whole. Under eventlet the driver refuses a *frame* above it, but assembles a
message of any number of continuation frames in memory; simple-websocket (gevent, threading)
has a `max_message_size` that Engine.IO never passes, so one frame of any length is buffered.
Here a message is refused with close code 1009 as soon as its bytes so far exceed the cap.

Upgrades. `on_upgraded(eio_sid, environ)` is called after Engine.IO accepted the upgrade of a
live session (Origin allowed, session known and connected, probe and UPGRADE packets
exchanged), in the greenlet that serves the WebSocket, before it reads the next message.

Malformed messages. A text message Engine.IO cannot decode (empty, no packet type, bad base64)
closes the WebSocket with one log line, where Engine.IO's handler would die with a traceback.
"""

import functools
import logging

from engineio.async_drivers import _websocket_wsgi

from chatapp.realtime import engineio_server

log = logging.getLogger(__name__)

# Close code for a message too big to process (RFC 6455, 7.4.1).
MESSAGE_TOO_BIG = 1009


def _capped_eventlet_message(base):
    """eventlet's message assembler, refusing a message once its frames exceed the cap."""
    from eventlet.websocket import FailedConnectionError

    class CappedMessage(base):
        size = 0

        def push(self, data, final=False):
            # `max_frame_length` is the cap Engine.IO gave the driver: applied to the whole
            # message here, as each chunk arrives, before it is kept.
            size = self.size + len(data)
            if size > self.max_frame_length:
                raise FailedConnectionError(MESSAGE_TOO_BIG, "Message is too big")
            self.size = size
            # eventlet's own push, inlined (it is two lines): this runs for every frame.
            self.finished = final
            self.data.append(data)

    return CappedMessage


class _Watched:
    """The driver's WebSocket as Engine.IO's handler sees it: the first `wait` after Engine.IO
    marked the session upgraded calls `accepted()` once (None: nothing to call), and a message
    Engine.IO cannot decode closes the WebSocket instead of killing the handler with a
    traceback (see engineio_server)."""

    def __init__(self, ws, eio_socket, accepted):
        self._ws = ws
        self._eio_socket = eio_socket
        self._accepted = accepted

    def wait(self):
        if self._accepted is not None and self._eio_socket.upgraded:
            accepted, self._accepted = self._accepted, None
            try:
                accepted()
            except Exception:  # raised here it would close the WebSocket it is about
                log.exception("Upgrade hook failed for session %s", self._eio_socket.sid)
        message = self._ws.wait()
        if isinstance(message, str) and engineio_server.malformed(message):
            log.info("Closing the WebSocket of session %s: a message Engine.IO cannot decode",
                     getattr(self._eio_socket, "sid", None))
            self._ws.close()
            # A NOOP: it fails an upgrade in progress, and is ignored after one; either way the
            # next wait finds the WebSocket closed and Engine.IO ends the session as usual.
            return "6"
        return message

    def __getattr__(self, name):
        return getattr(self._ws, name)


def driver(base, max_message_size, on_upgraded):
    """A subclass of Engine.IO's WebSocket driver class `base` with the cap and the hook."""
    eventlet_message = None
    if base.__module__.startswith("engineio.async_drivers.eventlet"):
        from eventlet.websocket import RFC6455WebSocket

        eventlet_message = _capped_eventlet_message(RFC6455WebSocket.Message)

    class Driver(base):
        def __init__(self, handler, server):
            eio_socket = getattr(handler, "__self__", None)
            # A session that was connected before this request is being upgraded; a new
            # WebSocket-only session brought its credentials with its Socket.IO connect.
            upgrading = eio_socket is not None and eio_socket.connected
            self._environ = None

            def watched_handler(ws):
                if eventlet_message is not None and isinstance(ws, RFC6455WebSocket):
                    ws.Message = eventlet_message
                accepted = None
                if upgrading and on_upgraded is not None:
                    environ = self._environ
                    accepted = functools.partial(on_upgraded, eio_socket.sid, environ)
                return handler(_Watched(ws, eio_socket, accepted))

            super().__init__(watched_handler, server)
            if isinstance(self, _websocket_wsgi.SimpleWebSocketWSGI):
                self.server_args["max_message_size"] = max_message_size

        def __call__(self, environ, start_response):
            self._environ = environ
            return super().__call__(environ, start_response)

    Driver.__name__ = Driver.__qualname__ = "Capped" + base.__name__
    return Driver


def install(eio_server, on_upgraded=None):
    """Use the wrapped driver in `eio_server` (its own copy of the async mode's table)."""
    base = eio_server._async.get("websocket")
    if base is None:
        return
    eio_server._async = dict(
        eio_server._async,
        websocket=driver(base, int(eio_server.max_http_buffer_size), on_upgraded),
    )
