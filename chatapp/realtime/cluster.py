"""What the workers of one chat share through Redis (REDIS_URL): the Socket.IO queue and presence.

Without REDIS_URL both stay in this process (one worker, nothing else to run). With it, every
emit goes through Redis to the worker that holds the receiver's sockets (Flask-SocketIO's message
queue: python-socketio's `RedisManager`), and presence is `SharedPresence`. See docs/scaling.md.
"""

import logging
import time

import redis
import socketio

from chatapp import redis_metrics
from chatapp.realtime.presence import Presence
from chatapp.realtime.shared_presence import SharedPresence

log = logging.getLogger(__name__)

PRESENCE = "chatapp.presence"
QUEUE = "chatapp.message_queue"
# The pub/sub channel of the message queue: the same in every worker of one chat.
QUEUE_CHANNEL = "chatapp-socketio"
# Longest wait between two attempts to resubscribe to the queue, seconds.
LISTEN_RETRY_MAX_SECONDS = 5


class _Stopped(BaseException):
    """Ends a closed queue's listener (a BaseException: PubSubManager's loop catches Exception)."""


class RedisQueue(socketio.RedisManager):
    """python-socketio's Redis manager, with bounded commands and a listener that can be stopped.

    Publishing uses a client with a read timeout, so an emit never waits long on a Redis that
    does not answer (it is logged and dropped: live delivery to other workers is best effort,
    catch-up with `?after=` recovers stored messages). The listener (`_listen`, the method
    python-socketio leaves to each backend) subscribes with no read timeout, a quiet channel
    being normal, and resubscribes after an error, waiting 1 s, then 2, 4 and 5 s at most
    (python-socketio's own listener backs off up to 60 s: emits from other workers would then
    stay lost for up to a minute after Redis is back).
    """

    def __init__(self, url, timeout):
        super().__init__(
            url, channel=QUEUE_CHANNEL,
            redis_options={
                "socket_timeout": timeout, "socket_connect_timeout": timeout,
                **redis_metrics.options(url, "message_queue"),  # timed in /metrics
            },
        )
        self._timeout = timeout
        self._closed = False
        self._subscription = None

    def _listen(self):
        channel = self.channel.encode()
        wait = 1
        while not self._closed:
            try:
                listener = redis.Redis.from_url(
                    self.redis_url, socket_connect_timeout=self._timeout, socket_keepalive=True,
                    **redis_metrics.options(self.redis_url, "message_queue"),
                )
                self._subscription = listener.pubsub(ignore_subscribe_messages=True)
                self._subscription.subscribe(self.channel)
                if self._closed:  # closed while subscribing: `close` may have missed it
                    break
                if wait > 1:
                    log.warning("Message queue: receiving from Redis again")
                wait = 1
                for message in self._subscription.listen():
                    if message["channel"] == channel and message["type"] == "message":
                        yield message["data"]
            except Exception as error:
                if self._closed:
                    break
                log.error("Message queue: cannot receive from Redis (%s); retrying in %d s",
                          error, wait)
                time.sleep(wait)  # cooperative under eventlet and gevent (patched)
                wait = min(wait * 2, LISTEN_RETRY_MAX_SECONDS)
            finally:
                _close_quietly(self._subscription)
        raise _Stopped

    def _thread(self):
        try:
            super()._thread()
        except _Stopped:
            pass

    def close(self):
        """Stop listening (tests: each app has its own server and queue)."""
        self._closed = True
        _close_quietly(self._subscription)  # wakes the listener blocked in its read
        _close_quietly(self.redis)


def _close_quietly(client):
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
