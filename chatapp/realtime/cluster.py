"""What the workers of one chat share when REDIS_URL is set: the Socket.IO message queue and presence.

Without REDIS_URL both stay in this process (one worker, nothing else to run). With it, every
emit goes through Redis to the worker that holds the receiver's sockets (Flask-SocketIO's message
queue: python-socketio's `RedisManager`), and presence is `SharedPresence`. See docs/scaling.md.
"""

import logging

import redis
import socketio

from chatapp.realtime.presence import Presence
from chatapp.realtime.shared_presence import SharedPresence

PRESENCE = "chatapp.presence"
QUEUE = "chatapp.message_queue"
# The pub/sub channel of the message queue: the same in every worker of one chat.
QUEUE_CHANNEL = "chatapp-socketio"


# What a closed queue's listener says on its way out (a closed connection, then _Stopped): nothing.
_SILENT = logging.getLogger(__name__ + ".closed")
_SILENT.disabled = True


class _Stopped(BaseException):
    """Ends a closed queue's listener (a BaseException: its retry loop catches Exception)."""


class RedisQueue(socketio.RedisManager):
    """python-socketio's Redis manager, with bounded commands and a listener that can be stopped.

    Publishing uses a client with a read timeout, so an emit never waits long on a Redis that
    does not answer (it is logged and dropped: live delivery to other workers is best effort,
    catch-up with `?after=` recovers stored messages). The listener's subscription has no read
    timeout (a quiet channel is normal); it retries a lost connection itself, backing off from
    1 s to 60 s.
    """

    def __init__(self, url, timeout):
        super().__init__(
            url, channel=QUEUE_CHANNEL,
            redis_options={"socket_timeout": timeout, "socket_connect_timeout": timeout},
        )
        self._timeout = timeout
        self._closed = False

    def _redis_connect(self):
        if self._closed:
            raise _Stopped
        super()._redis_connect()
        listener = redis.Redis.from_url(
            self.redis_url, socket_connect_timeout=self._timeout, socket_keepalive=True
        )
        self.pubsub = listener.pubsub(ignore_subscribe_messages=True)

    def _get_logger(self):
        return _SILENT if self._closed else super()._get_logger()

    def _thread(self):
        try:
            super()._thread()
        except _Stopped:
            pass

    def close(self):
        """Stop listening (tests: each app has its own server and queue)."""
        self._closed = True
        for client in (self.pubsub, self.redis):
            if client is not None:
                try:
                    client.close()
                except Exception:
                    pass


def client_manager(app):
    """The Socket.IO client manager for this app: the Redis queue, or None (in-process)."""
    url = app.config["REDIS_URL"]
    queue = RedisQueue(url, app.config["REDIS_TIMEOUT_MS"] / 1000.0) if url else None
    app.extensions[QUEUE] = queue
    return queue


def presence_for(app):
    """This app's presence: shared through Redis with REDIS_URL, this process's otherwise."""
    url = app.config["REDIS_URL"]
    if url:
        presence = SharedPresence(
            url,
            heartbeat=app.config["PRESENCE_HEARTBEAT_SECONDS"],
            timeout=app.config["REDIS_TIMEOUT_MS"] / 1000.0,
        )
    else:
        presence = Presence()
    app.extensions[PRESENCE] = presence
    return presence


def close(app):
    """Stop this app's background work with Redis (tests, and a worker shutting down)."""
    presence = app.extensions.get(PRESENCE)
    if presence is not None:
        presence.stop()
    queue = app.extensions.get(QUEUE)
    if queue is not None:
        queue.close()
