"""Login sessions that end when their user ends them: revoked tokens and per-user session floors.

A token names its session with `jti` (a Node-issued token, which has none, is named by its
SHA-256 digest). Logout revokes that session until the token would have expired anyway;
`end_other_sessions` sets the user's floor: every token issued before it is refused, except
the one the caller keeps. `check` runs on every verified token (HTTP requests, socket connects,
upgrades and events), so a revoked session is refused everywhere at once; listeners (the
socket namespace) disconnect the sockets of a session that ended.

Where the revocations live is a `RevocationStore`: `MemoryRevocationStore` (this process, the
default: right for one worker, and forgotten on restart, when the browser's cookie is deleted
anyway) or a shared one (Redis) so every worker refuses at once. The floor is also written to
the user's document, so it survives restarts whatever the store.
"""

import json
import logging
import math
import threading
import time

from chatapp.errors import NotAuthenticated

log = logging.getLogger(__name__)

SESSION_ENDED = "Session ended. Please log in again."
# How long a floor read from the user's document is trusted before it is read again, seconds.
FLOOR_REREAD_SECONDS = 30.0


class RevocationStore:
    """Where ended sessions and per-user floors are kept until the tokens they refuse expire."""

    def revoke(self, session_id, until):
        """Refuse session `session_id` until time `until` (seconds since the epoch)."""
        raise NotImplementedError

    def is_revoked(self, session_id):
        raise NotImplementedError

    def set_floor(self, user_id, floor, kept_session, until):
        """Refuse `user_id`'s tokens issued before `floor`, except session `kept_session`."""
        raise NotImplementedError

    def floor(self, user_id):
        """(floor, kept session) for `user_id`, or None."""
        raise NotImplementedError

    def lookup(self, session_id, user_id):
        """(is_revoked(session_id), floor(user_id)): what `Sessions.check` asks, at once."""
        return self.is_revoked(session_id), self.floor(user_id)


class MemoryRevocationStore(RevocationStore):
    """In this process. Entries leave when their tokens expire; at most `max_entries` in all
    (beyond, the ones closest to expiry go first: the least harm; a logout needs a login, so
    reaching it means hundreds of thousands of logins within one token lifetime)."""

    def __init__(self, max_entries=500_000, clock=time.time):
        self.max_entries = max_entries
        self.clock = clock
        self._lock = threading.Lock()
        self._revoked = {}  # session id -> until
        self._floors = {}  # user id -> (floor, kept session, until)

    def revoke(self, session_id, until):
        with self._lock:
            self._revoked[session_id] = max(until, self._revoked.get(session_id, 0))
            self._trim()

    def is_revoked(self, session_id):
        until = self._revoked.get(session_id)
        return until is not None and until > self.clock()

    def set_floor(self, user_id, floor, kept_session, until):
        with self._lock:
            self._floors[user_id] = (floor, kept_session, until)
            self._trim()

    def floor(self, user_id):
        entry = self._floors.get(user_id)
        if entry is None or entry[2] <= self.clock():
            return None
        return entry[0], entry[1]

    def __len__(self):
        return len(self._revoked) + len(self._floors)

    def _trim(self):
        if len(self) <= self.max_entries:
            return
        now = self.clock()
        for table, until_of in ((self._revoked, lambda v: v), (self._floors, lambda v: v[2])):
            for key in [k for k, v in table.items() if until_of(v) <= now]:
                del table[key]
        excess = len(self) - self.max_entries
        if excess > 0:
            soonest = sorted(self._revoked, key=self._revoked.get)[:excess]
            for key in soonest:
                del self._revoked[key]


class Sessions:
    """The session checks and the ways to end sessions, over one store."""

    def __init__(self, store, *, accept_legacy_tokens=True, load_floor=None, save_floor=None,
                 clock=time.time):
        self.store = store
        self.accept_legacy_tokens = accept_legacy_tokens
        self.clock = clock
        # Durable copy of floors (the user's document): read once per user and process when the
        # store knows nothing (after a restart), written by end_other_sessions.
        self._load_floor = load_floor
        self._save_floor = save_floor
        self._loaded_floors = {}  # user id -> (read at, (floor, kept) or None), from load_floor
        self._listeners = []

    def on_ended(self, listener):
        """Call `listener(user_id, session_id=None, keep=None)` when sessions end: one session,
        or (session_id None) all of the user's but `keep`."""
        self._listeners.append(listener)

    def check(self, claims):
        """Raise NotAuthenticated if the session of these verified Claims has ended."""
        if claims.legacy and not self.accept_legacy_tokens:
            raise NotAuthenticated("Invalid token")
        revoked, floor = self.store.lookup(claims.session_id, claims.user_id)
        if revoked:
            raise NotAuthenticated(SESSION_ENDED)
        if floor is None:
            floor = self._durable_floor(claims.user_id)
        if floor is not None and claims.issued_at < floor[0] and claims.session_id != floor[1]:
            raise NotAuthenticated(SESSION_ENDED)

    def is_live(self, claims):
        """True while the session of these Claims has neither expired nor ended."""
        if claims.expires_at <= self.clock():
            return False
        try:
            self.check(claims)
        except NotAuthenticated:
            return False
        return True

    def end(self, claims):
        """Logout: the session of these Claims ends now, everywhere."""
        self.store.revoke(claims.session_id, until=claims.expires_at)
        self._notify(claims.user_id, session_id=claims.session_id)

    def end_others(self, user_id, keep, until):
        """Every session of `user_id` but `keep` (a session id) ends now; `until` is when the
        last token issued before now expires."""
        floor = self.clock()
        self.store.set_floor(user_id, floor, keep, until)
        self._loaded_floors[user_id] = (floor, (floor, keep))
        if self._save_floor is not None:
            self._save_floor(user_id, floor, keep)
        self._notify(user_id, keep=keep)

    def _durable_floor(self, user_id):
        if self._load_floor is None:
            return None
        now = self.clock()
        loaded = self._loaded_floors.get(user_id)
        # Re-read every FLOOR_REREAD_SECONDS: another process may have set it (without a
        # shared store, that is how long it takes to be noticed here).
        if loaded is None or now - loaded[0] > FLOOR_REREAD_SECONDS:
            if len(self._loaded_floors) >= 100_000:
                self._loaded_floors.clear()  # bounded; re-read on next use
            loaded = self._loaded_floors[user_id] = (now, self._load_floor(user_id))
        return loaded[1]

    def _notify(self, user_id, session_id=None, keep=None):
        for listener in self._listeners:
            listener(user_id, session_id=session_id, keep=keep)


class RedisRevocationStore(RevocationStore):
    """In Redis, shared by every worker; entries expire with the tokens they refuse.

    Writes go to this process's memory too, and a Redis error is logged (once a minute) and
    answered from that memory: while Redis is down this worker still refuses the sessions it
    ended itself, and requests keep working instead of failing with 500s. After an error Redis
    is left alone for RETRY_SECONDS, so only one request in that time waits for its timeout.

    Answers are remembered for CACHE_SECONDS per (session, user): a browser sends the same token
    with every request and socket event, and a round trip each time was ~75 us (loopback). So a
    session ended by *another* worker is refused here within CACHE_SECONDS; one ended by this
    worker at once (its memory is asked first).
    """

    RETRY_SECONDS = 5.0
    CACHE_SECONDS = 1.0
    CACHE_MAX = 50_000

    def __init__(self, client, prefix="chatapp:sessions:", clock=time.time):
        self.client = client
        self.prefix = prefix
        self.clock = clock
        self.local = MemoryRevocationStore(clock=clock)
        self._last_error_logged = 0.0
        self._down_until = 0.0
        self._answers = {}  # (session id, user id) -> (monotonic time, answer)

    def revoke(self, session_id, until):
        self.local.revoke(session_id, until)
        ttl = math.ceil(until - self.clock())
        if ttl > 0:
            self._try(lambda: self.client.set(self.prefix + "revoked:" + session_id, 1, ex=ttl))

    def is_revoked(self, session_id):
        return self.lookup(session_id, None)[0]

    def set_floor(self, user_id, floor, kept_session, until):
        self.local.set_floor(user_id, floor, kept_session, until)
        ttl = math.ceil(until - self.clock())
        if ttl > 0:
            value = json.dumps([floor, kept_session])
            self._try(lambda: self.client.set(self.prefix + "floor:" + user_id, value, ex=ttl))

    def floor(self, user_id):
        return self.lookup("", user_id)[1]

    def lookup(self, session_id, user_id):
        local = self.local.lookup(session_id, user_id)
        if local[0] or local[1] is not None:
            return local  # ended here: no need to ask
        key = (session_id, user_id)
        now = time.monotonic()
        known = self._answers.get(key)
        if known is not None and now - known[0] < self.CACHE_SECONDS:
            return known[1]
        keys = [self.prefix + "revoked:" + session_id, self.prefix + "floor:" + (user_id or "")]
        values = self._try(lambda: self.client.mget(keys))  # one round trip
        if values is None:
            return local
        revoked, floor = values
        answer = revoked is not None, tuple(json.loads(floor)) if floor is not None else None
        if len(self._answers) >= self.CACHE_MAX:
            self._answers.clear()  # bounded; refilled on use
        self._answers[key] = (now, answer)
        return answer

    def _try(self, call):
        if self._down_until and time.monotonic() < self._down_until:
            return None
        try:
            return call()
        except redis_errors() as error:
            now = time.monotonic()
            self._down_until = now + self.RETRY_SECONDS
            if now - self._last_error_logged > 60:
                self._last_error_logged = now
                log.warning("Session store (Redis) unavailable, using this process's: %s", error)
            return None


def redis_client(url, timeout):
    """A client for the session store: `timeout` seconds per call and one quick retry, so a
    Redis that is down costs a request a bounded wait (redis-py's default retries back off for
    seconds)."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(
        url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 1)
    )


def redis_errors():
    import redis

    return (redis.RedisError, OSError)
