"""Graceful drain on SIGTERM: once the worker has stopped accepting, close every socket it holds.

gunicorn's own SIGTERM handling (eventlet and gevent workers) stops accepting within a second and
then waits, up to `graceful_timeout`, for every connection to end. HTTP requests end by
themselves, but a Socket.IO connection never does: without this, the worker would hold its
sockets until the timeout and then cut them. Here, as soon as its listening sockets are closed
(so a reconnect cannot come back to this server), every Engine.IO session is closed with a CLOSE
packet: clients see "transport close" and reconnect at once, through the load balancer, to
another server; the disconnect handlers run as usual, so presence is updated everywhere.
"""

import logging
import time

from chatapp.extensions import socketio

log = logging.getLogger(__name__)

# Longest wait for gunicorn to close the worker's listeners (it checks once a second).
LISTENERS_CLOSED_TIMEOUT = 3.0
# How often the worker's `alive` flag (cleared by SIGTERM, SIGINT, SIGQUIT) is looked at.
STOPPING_POLL_SECONDS = 0.2


def install(worker):
    """Drain `worker` once gunicorn has told it to stop (from the `post_worker_init` hook)."""
    socketio.start_background_task(_drain_when_stopping, worker)


def _drain_when_stopping(worker):
    # Polled rather than chained to the SIGTERM handler: under eventlet, a green thread spawned
    # inside the signal handler ran seconds late, after gunicorn's own shutdown steps.
    while worker.alive:
        socketio.sleep(STOPPING_POLL_SECONDS)
    drain(lambda: listeners_closed(worker))


def listeners_closed(worker):
    """True once every listening socket of the gunicorn worker is closed."""
    return all(_closed(listener) for listener in worker.sockets)


def _closed(listener):
    # The eventlet worker keeps gunicorn's wrapper (its `sock` is the socket, None once the
    # wrapper is closed); the gevent worker replaced it with a gevent socket.
    sock = getattr(listener, "sock", listener)
    return sock is None or sock.fileno() == -1


def drain(stopped_accepting, timeout=LISTENERS_CLOSED_TIMEOUT):
    """Wait until `stopped_accepting()` (bounded by `timeout`), then close every session."""
    deadline = time.monotonic() + timeout
    while not stopped_accepting() and time.monotonic() < deadline:
        socketio.sleep(0.05)
    server = socketio.server.eio
    sessions = list(server.sockets.values())
    log.info(
        "SIGTERM: closing %d Socket.IO sessions so their clients reconnect elsewhere", len(sessions)
    )
    for session in sessions:
        # wait=False: a polling session's CLOSE waits for its next GET, which may never come.
        try:
            session.close(wait=False, reason=server.reason.SERVER_DISCONNECT)
        except Exception:  # one broken session must not keep the others open
            log.exception("closing session %s", session.sid)
