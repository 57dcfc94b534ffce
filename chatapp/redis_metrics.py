"""Redis round trips and errors, timed in redis-py's connections, for every client chatapp makes.

redis-py has no command listener (its observability module needs OpenTelemetry), so each of
chatapp's clients (the Socket.IO message queue, shared presence, rate-limit counters) is made
with `options(url, client)`: a connection class that times the wait from a command's send to its
reply, labelled with the client's name. A pipeline counts as one round trip (until its first
reply); a pub/sub connection's wait for the next message is not a round trip and is not timed.
"""

import time
from functools import lru_cache

import redis
from redis.connection import Connection, SSLConnection, UnixDomainSocketConnection

from chatapp.metrics import REDIS_ERRORS, REDIS_LATENCY


class _Timed:
    client = "other"
    _sent_at = None

    def connect(self, *args, **kwargs):
        try:
            return super().connect(*args, **kwargs)
        except redis.RedisError:
            REDIS_ERRORS.labels(self.client, "connect").inc()
            raise

    def send_packed_command(self, *args, **kwargs):
        try:
            super().send_packed_command(*args, **kwargs)
        except redis.RedisError:
            REDIS_ERRORS.labels(self.client, "send").inc()
            raise
        if self._sent_at is None:
            self._sent_at = time.perf_counter()

    def read_response(self, *args, **kwargs):
        sent_at, self._sent_at = self._sent_at, None
        try:
            return super().read_response(*args, **kwargs)
        except (redis.ConnectionError, redis.TimeoutError):
            # A reply that is an error (NOSCRIPT, WRONGTYPE, ...) is an answer, not a failure.
            REDIS_ERRORS.labels(self.client, "reply").inc()
            raise
        finally:
            if sent_at is not None:
                REDIS_LATENCY.labels(self.client).observe(time.perf_counter() - sent_at)


# By URL scheme, the class redis-py itself would pick (an explicit one overrides its choice).
_BASES = {"redis": Connection, "rediss": SSLConnection, "unix": UnixDomainSocketConnection}


@lru_cache(maxsize=None)
def connection_class(scheme, client):
    """A timed connection class for `scheme`, labelled `client`; None for an unknown scheme."""
    base = _BASES.get(scheme)
    if base is None:
        return None
    return type(f"Timed{base.__name__}", (_Timed, base), {"client": client})


def options(url, client):
    """Keyword arguments for `redis.Redis.from_url(url, ...)` (or any client passing them on),
    timing that client's round trips as `client` (message_queue, presence, rate_limits)."""
    timed = connection_class(url.partition("://")[0], client)
    return {"connection_class": timed} if timed else {}
