"""What a client can make the Socket.IO server hold or log before it is signed in.

Wraps python-socketio's handling of Engine.IO sessions and messages (through Engine.IO's
documented `on()` handlers, and the server's own `_handle_eio_*` attributes, which Flask-SocketIO's
test client calls directly):

- sessions not yet signed in (no Socket.IO connect, or a pending one waiting for its upgrade's
  cookie) are capped per client address (`SOCKET_PENDING_PER_ADDRESS`): each holds an Engine.IO
  session, its queue and its environ, and costs the attacker one request;
- binary messages and binary Socket.IO packets (attachments: the app uses none) close the
  session, before python-socketio starts buffering attachments for them;
- a packet that does not parse (bad JSON, a bad packet type) closes the session with one log
  line, not a traceback per packet.
"""

import logging
import threading

log = logging.getLogger(__name__)

# Socket.IO packet types BINARY_EVENT and BINARY_ACK, as the first character of a text message.
BINARY_PACKET_TYPES = ("5", "6")


class AddressGate:
    """Engine.IO sessions not yet signed in, counted per client address (at most `limit` each)."""

    def __init__(self, limit):
        self.limit = limit
        self._lock = threading.Lock()
        self._address_of = {}  # eio sid -> address, while not signed in
        self._count = {}  # address -> sessions of it in _address_of

    def opened(self, eio_sid, address):
        """A new session from `address`; False (and not counted) if that address is at its limit."""
        with self._lock:
            count = self._count.get(address, 0)
            if self.limit and count >= self.limit:
                return False
            self._count[address] = count + 1
            self._address_of[eio_sid] = address
            return True

    def signed_in(self, eio_sid):
        """Session `eio_sid` proved who it is: it no longer counts against its address."""
        with self._lock:
            address = self._address_of.pop(eio_sid, None)
            if address is not None:
                count = self._count[address] - 1
                if count:
                    self._count[address] = count
                else:
                    del self._count[address]

    closed = signed_in  # a session that is gone no longer counts either

    def waiting(self, address):
        with self._lock:
            return self._count.get(address, 0)


def install(server, gate, namespace="/", on_closed=None):
    """Wrap python-socketio `server`'s Engine.IO handlers with `gate` and the packet checks;
    `on_closed(eio_sid)` is told of every session that ends."""
    eio = server.eio
    handle_connect = server._handle_eio_connect
    handle_message = server._handle_eio_message
    handle_disconnect = server._handle_eio_disconnect

    def refuse(eio_sid, why):
        log.info("Closing session %s: %s", eio_sid, why)
        sid = server.manager.sid_from_eio_sid(eio_sid, namespace)
        if sid is not None:
            server.disconnect(sid, namespace=namespace)
        if eio_sid in eio.sockets:
            eio.disconnect(eio_sid)

    def on_connect(eio_sid, environ):
        if not gate.opened(eio_sid, environ.get("REMOTE_ADDR") or "unknown"):
            log.info("Refusing a session: too many sessions not signed in from this address")
            return False
        return handle_connect(eio_sid, environ)

    def on_message(eio_sid, data):
        if not isinstance(data, str) or data[:1] in BINARY_PACKET_TYPES:
            refuse(eio_sid, "binary data (the app accepts none)")
            return
        try:
            handle_message(eio_sid, data)
        except ValueError as error:  # JSON or packet syntax: the client's fault, not ours
            refuse(eio_sid, f"malformed packet ({error.__class__.__name__})")

    def on_disconnect(eio_sid, reason=None):
        gate.closed(eio_sid)
        if on_closed is not None:
            on_closed(eio_sid)
        return handle_disconnect(eio_sid, reason)

    server._handle_eio_connect = on_connect
    server._handle_eio_message = on_message
    server._handle_eio_disconnect = on_disconnect
    eio.on("connect", on_connect)
    eio.on("message", on_message)
    eio.on("disconnect", on_disconnect)
