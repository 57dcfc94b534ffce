"""Per-user rate limits on socket and HTTP actions (sending, typing), with the `limits` library.

`limits` is the engine under Flask-Limiter; it is used directly here because these limits are
keyed by the authenticated user and apply to Socket.IO events too, where Flask-Limiter's
decorators do not reach. Each limit is a setting in Flask-Limiter's notation ("20 per second",
several separated by ";"); an empty setting disables it. Counters live in RATELIMIT_STORAGE_URI,
like Flask-Limiter's.
"""

import math
import time
from functools import lru_cache

from flask import current_app
from limits import parse_many
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from chatapp.errors import TooManyRequests

EXTENSION = "chatapp.ratelimit"


SETTINGS = ("SEND_RATE_LIMIT", "TYPING_RATE_LIMIT")
# How often the in-memory counters drop expired entries, seconds.
SWEEP_SECONDS = 1.0


class SweepingMemoryStorage(MemoryStorage):
    """`limits`' in-memory storage, with its expired counters dropped at most once a second.

    The stock one starts a new timer thread 10 ms after every hit that finds the last one gone:
    at a few hundred sends a second that is a thread (a greenlet under eventlet) started and an
    O(keys) sweep run about a hundred times a second, 5% of the server's CPU in a profile.
    Nothing depends on the sweep's promptness: every read already treats an expired counter as
    absent; the sweep only frees their memory. So the sweep runs inline, on a hit, once a second.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._next_sweep = time.monotonic() + SWEEP_SECONDS

    # Replaces MemoryStorage's private `__schedule_expiry` (called on every incr/decr/hit).
    def _MemoryStorage__schedule_expiry(self):
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + SWEEP_SECONDS
            self._MemoryStorage__expire_events()


def _storage(uri):
    if uri.startswith("memory://"):
        return SweepingMemoryStorage(uri)
    return storage_from_string(uri)


def init_app(app):
    """A limiter with its own counters for this app (a fresh app starts from zero).

    A limit that does not parse stops the start, rather than every send later failing with a 500.
    """
    for setting in SETTINGS:
        spec = app.config.get(setting)
        if spec:
            try:
                _parse(spec)
            except ValueError:
                raise RuntimeError(
                    f"{setting} must look like '20 per second' (or be empty), got {spec!r}"
                ) from None
    app.extensions[EXTENSION] = FixedWindowRateLimiter(_storage(app.config["RATELIMIT_STORAGE_URI"]))


@lru_cache(maxsize=32)
def _parse(spec):
    return tuple(parse_many(spec))


def allowed(setting, user_id):
    """Count one action of `user_id` against the limit named by config `setting`; False if over."""
    return retry_after(setting, user_id) is None


def check(setting, user_id, what="requests"):
    """Like `allowed`, but raise TooManyRequests (429, with Retry-After) when over the limit."""
    wait = retry_after(setting, user_id)
    if wait is not None:
        raise TooManyRequests(f"Too many {what}. Try again in {wait} s.", retry_after=wait)


def retry_after(setting, user_id):
    """Count one action; None when within the limit, else the whole seconds to wait."""
    spec = current_app.config.get(setting)
    if not spec:
        return None
    limiter = current_app.extensions[EXTENSION]
    for item in _parse(spec):
        if not limiter.hit(item, setting, str(user_id)):
            reset_at, _ = limiter.get_window_stats(item, setting, str(user_id))
            return max(1, math.ceil(reset_at - time.time()))
    return None
