"""Who is online in every worker: each worker's online users mirrored into Redis, with heartbeats.

Keys (under `prefix`, default "chatapp:presence"):
  workers            set of the worker ids that have registered
  alive:<worker>     "1" with a TTL of 3 x `heartbeat`, refreshed every `heartbeat` seconds
  users:<worker>     set of the users with at least one socket on that worker
  changes            pub/sub channel: a worker id, published after that worker's set changed

A user is online while they are in the set of any worker whose `alive` key exists. A worker killed
with SIGKILL stops refreshing its key: readers ignore it once the key expires (3 heartbeats after
its last one), and the next heartbeat of any other worker (at most one heartbeat later) deletes
its set and announces the change. So its users are offline everywhere within 4 heartbeats (plus
the broadcast window). Sockets stay counted in this process (`Presence`); Redis only
holds the per-worker summary, which a worker rewrites whole whenever it finds its `alive` key
gone (Redis restarted empty, or the worker was paused past its TTL and cleaned up).

Redis being down never fails a connect or a disconnect: writes are logged and redone whole by
the next heartbeat that reaches Redis, and `online_user_ids` answers with this worker's users
until Redis answers again.
"""

import logging
import os
import socket
import threading
import time
import uuid

import redis

from chatapp import redis_metrics
from chatapp.realtime.presence import Presence

log = logging.getLogger(__name__)

# Online users of live workers, deduplicated: one round trip for any number of workers.
ONLINE_SCRIPT = """
local live = {}
for _, worker in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[1] .. ':alive:' .. worker) == 1 then
    table.insert(live, ARGV[1] .. ':users:' .. worker)
  end
end
if #live == 0 then return {} end
return redis.call('SUNION', unpack(live))
"""

# Forget workers whose `alive` key expired; how many. Atomic, so two workers cleaning at once
# neither miss nor double-announce one.
CLEANUP_SCRIPT = """
local removed = 0
for _, worker in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[1] .. ':alive:' .. worker) == 0 then
    redis.call('DEL', ARGV[1] .. ':users:' .. worker)
    redis.call('SREM', KEYS[1], worker)
    removed = removed + 1
  end
end
return removed
"""

# Longest wait between two attempts to resubscribe to `changes`, seconds.
MAX_RETRY_SECONDS = 5.0


def new_worker_id():
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class SharedPresence(Presence):
    """`Presence` for several workers: the local sockets, plus every worker's users in Redis."""

    def __init__(self, url, *, heartbeat=3.0, timeout=1.0, prefix="chatapp:presence",
                 worker_id=None):
        super().__init__()
        self.heartbeat = heartbeat
        self.ttl_ms = max(1, round(3000 * heartbeat))  # a key outlives two missed heartbeats
        self.prefix = prefix
        self.worker_id = worker_id or new_worker_id()
        self._url = url
        self._timeout = timeout
        # Commands: a short timeout, so a Redis that does not answer never holds a request long.
        self._redis = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, decode_responses=True,
            **redis_metrics.options(url, "presence"),  # timed in /metrics
        )
        self._online = self._redis.register_script(ONLINE_SCRIPT)
        self._cleanup = self._redis.register_script(CLEANUP_SCRIPT)
        self._write_lock = threading.Lock()  # this worker's writes reach Redis in order
        self._dirty = True  # Redis may not hold our set: the next heartbeat rewrites it whole
        self._failing = False
        self._started = False
        self._stopped = False
        self._pubsub = None
        self._on_change = None
        self._last_heartbeat_online = None  # the global set as the previous heartbeat read it

    def _key(self, *parts):
        return ":".join((self.prefix, *parts))

    # -- the interface of Presence ------------------------------------------------------------

    def add(self, user_id, sid):
        came_online = super().add(user_id, sid)
        if came_online:
            self._write(lambda pipe: pipe.sadd(self._key("users", self.worker_id), user_id))
        return came_online

    def remove(self, sid):
        user_id, went_offline = super().remove(sid)
        if went_offline:
            self._write(lambda pipe: pipe.srem(self._key("users", self.worker_id), user_id))
        return user_id, went_offline

    def online_user_ids(self):
        """Everyone online on a live worker; this worker's users alone while Redis is down."""
        try:
            users = self._online(keys=[self._key("workers")], args=[self.prefix])
        except redis.RedisError as error:
            self._failed("read the online users", error)
            return super().online_user_ids()
        self._succeeded()
        # This worker's own users even before the heartbeat has (re)written them.
        return list(set(users) | set(super().online_user_ids()))

    def start(self, on_change, start_task, sleep):
        """Register this worker and begin its heartbeat and its listener (once)."""
        if self._started:
            return
        with self._write_lock:
            if self._started or self._stopped:
                return
            self._started = True
        self._on_change = on_change
        self._sleep = sleep
        try:
            self._subscribe()  # before the first socket's list is read: no change goes unheard
        except redis.RedisError as error:
            if self._pubsub is not None:
                self._pubsub.close()
                self._pubsub = None  # the listener keeps trying
            self._failed("listen for presence changes", error)
        self._beat()
        start_task(self._heartbeat_loop)
        start_task(self._listen_loop)

    def stop(self):
        """Stop both tasks and take this worker's users out of Redis (a clean shutdown)."""
        self._stopped = True
        if self._pubsub is not None:
            try:
                self._pubsub.close()  # wakes the listener blocked in its read
            except Exception:
                pass
        if self._started:
            try:
                pipe = self._redis.pipeline()
                pipe.delete(self._key("alive", self.worker_id), self._key("users", self.worker_id))
                pipe.srem(self._key("workers"), self.worker_id)
                pipe.publish(self._key("changes"), self.worker_id)
                pipe.execute()
            except redis.RedisError:
                pass  # its alive key expires by itself
        self._redis.close()

    # -- Redis writes -------------------------------------------------------------------------

    def _write(self, command):
        """Run `command(pipe)` and announce the change; on failure leave it to the heartbeat."""
        with self._write_lock:
            if self._dirty:
                return  # the next heartbeat writes the whole set, this change included
            try:
                pipe = self._redis.pipeline()
                command(pipe)
                pipe.publish(self._key("changes"), self.worker_id)
                pipe.execute()
            except redis.RedisError as error:
                self._dirty = True
                self._failed("record a presence change", error)
                return
        self._succeeded()

    def _beat(self):
        """Refresh this worker's key; rewrite its set if Redis lost it; clean up dead workers."""
        alive = self._key("alive", self.worker_id)
        users = self._key("users", self.worker_id)
        try:
            with self._write_lock:
                found = self._redis.set(alive, "1", px=self.ttl_ms, get=True)
                if found is None or self._dirty:
                    online_here = super().online_user_ids()
                    pipe = self._redis.pipeline()  # MULTI: readers see the old set or the new
                    pipe.delete(users)
                    if online_here:
                        pipe.sadd(users, *online_here)
                    pipe.sadd(self._key("workers"), self.worker_id)
                    pipe.set(alive, "1", px=self.ttl_ms)
                    pipe.publish(self._key("changes"), self.worker_id)
                    pipe.execute()
                    self._dirty = False
            removed = self._cleanup(keys=[self._key("workers")], args=[self.prefix])
            if removed:
                log.warning("Presence: %d worker(s) stopped sending heartbeats; their users "
                            "are offline", removed)
                self._redis.publish(self._key("changes"), self.worker_id)
            # Pub/sub delivers at most once: a notice lost (a resubscription, a subscription
            # not yet active on a loaded server) would leave this worker's lists stale until the
            # next change. Comparing the set each heartbeat heals that within one heartbeat.
            online = frozenset(self._online(keys=[self._key("workers")], args=[self.prefix]))
            previous, self._last_heartbeat_online = self._last_heartbeat_online, online
            if removed or (previous is not None and online != previous):
                self._changed()
        except redis.RedisError as error:
            self._dirty = True
            self._failed("send the presence heartbeat", error)
            return
        self._succeeded()

    def _heartbeat_loop(self):
        while not self._stopped:
            self._sleep(self.heartbeat)
            try:
                if not self._stopped:
                    self._beat()
            except Exception:
                # Never let the loop die: a worker without heartbeats is counted offline.
                if not self._stopped:  # (after stop, the client may close under it)
                    log.exception("Presence: heartbeat failed")

    # -- changes made by other workers --------------------------------------------------------

    def _subscribe(self):
        """Subscribe to `changes` and wait for Redis to confirm: changes published after this
        returns are heard. Raises redis errors."""
        # No read timeout on this connection: a quiet channel is normal. Keepalive notices a
        # dead peer.
        listener = redis.Redis.from_url(
            self._url, socket_connect_timeout=self._timeout, socket_keepalive=True,
            decode_responses=True, **redis_metrics.options(self._url, "presence"),
        )
        self._pubsub = listener.pubsub()
        self._pubsub.subscribe(self._key("changes"))
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            message = self._pubsub.get_message(timeout=self._timeout)
            if message is not None and message["type"] == "subscribe":
                return
        raise redis.TimeoutError("no confirmation of the subscription to presence changes")

    def _listen_loop(self):
        """Call `on_change` for every other worker's announced change, resubscribing after errors.

        Also once after each resubscription: changes made while it was not listening are
        otherwise never heard of.
        """
        wait = 0.5
        subscribed = self._pubsub is not None  # by `start`, unless Redis was down then
        while not self._stopped:
            try:
                if not subscribed:
                    self._subscribe()
                    if self._stopped:
                        break
                    wait = 0.5
                    self._changed()
                subscribed = False  # whatever ends the loop below needs a new subscription
                for message in self._pubsub.listen():
                    if self._stopped:
                        break
                    if message.get("type") == "message" and message.get("data") != self.worker_id:
                        self._changed()
            except Exception as error:  # redis errors, or the pubsub closed under it by stop()
                if self._stopped:
                    break
                self._failed("listen for presence changes", error)
                self._sleep(wait)
                wait = min(wait * 2, MAX_RETRY_SECONDS)
            finally:
                if not subscribed and self._pubsub is not None:
                    try:
                        self._pubsub.close()
                    except Exception:
                        pass

    def _changed(self):
        try:
            self._on_change()
        except Exception:
            log.exception("Presence: could not broadcast the online users")

    # -- logging: one line when Redis starts failing, one when it is back ---------------------

    def _failed(self, what, error):
        if not self._failing:
            self._failing = True
            log.error("Presence: could not %s in Redis (%s); this worker's own users are "
                      "still served, and Redis is retried", what, error)

    def _succeeded(self):
        if self._failing:
            self._failing = False
            log.warning("Presence: Redis answers again")
