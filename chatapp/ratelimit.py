"""Rate limits (sends, typing, failed logins, registrations), with the `limits` library.

`limits` is the engine under Flask-Limiter, used directly: the send and typing limits are keyed
by the authenticated user and apply to Socket.IO events too, where Flask-Limiter's decorators do
not reach, and Flask-Limiter's hooks ran on every request and socket event (4-8% of a send's
CPU) although only login and register have a limit. Each limit is a setting in `limits`'
notation ("20 per second", several separated by ";"); an empty setting disables it. Counters
live in RATELIMIT_STORAGE_URI: `memory://` (this process), or Redis (`redis://...`, the default
when REDIS_URL is set), where every worker counts against the same budget.

A storage that fails (Redis down or slow) fails open: the action is allowed and one line is
logged when it starts failing and one when it is back. Refusing every send and login while Redis
is down would turn a cache outage into a chat outage; a limit is a brake, not a lock.
"""

import logging
import math
import time
from functools import lru_cache

from flask import current_app
from limits import parse_many
from limits.errors import StorageError
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from chatapp import metrics, redis_metrics
from chatapp.errors import TooManyRequests

log = logging.getLogger(__name__)

EXTENSION = "chatapp.ratelimit"


SETTINGS = (
    "SEND_RATE_LIMIT", "TYPING_RATE_LIMIT", "REGISTER_LIMIT",
    "SOCKET_CONNECT_LIMIT",
    "EDIT_RATE_LIMIT", "REACTION_RATE_LIMIT", "SEARCH_RATE_LIMIT", "PROFILE_RATE_LIMIT",
    "PASSWORD_FAILURE_LIMIT",
)
SETTINGS += ("GROUP_RATE_LIMIT",)  # group creation, renames and membership changes
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


def storage_uri(config):
    """RATELIMIT_STORAGE_URI, else REDIS_URL when set, else this process's memory."""
    return config["RATELIMIT_STORAGE_URI"] or config.get("REDIS_URL") or "memory://"


def _storage(uri, timeout):
    if uri.startswith("memory://"):
        return SweepingMemoryStorage(uri)
    if uri.startswith(("redis://", "rediss://")):
        # Bounded, so a Redis that does not answer delays a request by `timeout` at most.
        return storage_from_string(
            uri, wrap_exceptions=True, socket_timeout=timeout, socket_connect_timeout=timeout,
            **redis_metrics.options(uri, "rate_limits"),
        )
    return storage_from_string(uri, wrap_exceptions=True)


class _FailOpen:
    """Logs the first failure of the storage after it worked, and its recovery."""

    failing = False

    def failed(self, error):
        if not self.failing:
            self.failing = True
            log.error("Rate limits are not enforced: their storage failed (%s)", error)

    def worked(self):
        if self.failing:
            self.failing = False
            log.warning("Rate limits are enforced again: their storage answers")


_fail_open = _FailOpen()


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
    storage = _storage(storage_uri(app.config), app.config.get("REDIS_TIMEOUT_MS", 1000) / 1000.0)
    app.extensions[EXTENSION] = FixedWindowRateLimiter(storage)


def storage(app):
    """The `limits` storage of this app's counters (for counters that are not limits)."""
    return app.extensions[EXTENSION].storage


@lru_cache(maxsize=32)
def _parse(spec):
    return tuple(parse_many(spec))


def allowed(setting, key):
    """Count one action of `key` (a user id) against the limit of config `setting`; False if over."""
    return _refused(setting, retry_after(setting, key)) is None


def check(setting, key, what="requests"):
    """Like `allowed`, but raise TooManyRequests (429, with Retry-After) when over the limit."""
    wait = _refused(setting, retry_after(setting, key))
    if wait is not None:
        raise TooManyRequests(f"Too many {what}. Try again in {wait} s.", retry_after=wait)


def check_not_exhausted(setting, key, what="requests"):
    """Raise TooManyRequests if `key` has used up the limit of `setting` already; counts nothing.

    For limits on failures (failed logins): checked before the attempt, counted with `count`
    only when it failed.
    """
    spec = current_app.config.get(setting)
    if not spec:
        return
    limiter = current_app.extensions[EXTENSION]
    for item in _parse(spec):
        try:
            within = limiter.test(item, setting, str(key))
            wait = None if within else _refused(
                setting, _seconds_to_reset(limiter, item, setting, key)
            )
        except StorageError as error:
            _fail_open.failed(error)
            return
        _fail_open.worked()
        if wait is not None:
            raise TooManyRequests(f"Too many {what}. Try again in {wait} s.", retry_after=wait)


def count(setting, key):
    """Count one action of `key` against the limit of `setting` (see `check_not_exhausted`)."""
    retry_after(setting, key)


def retry_after(setting, key):
    """Count one action; None when within the limit, else the whole seconds to wait."""
    spec = current_app.config.get(setting)
    if not spec:
        return None
    limiter = current_app.extensions[EXTENSION]
    try:
        for item in _parse(spec):
            if not limiter.hit(item, setting, str(key)):
                wait = _seconds_to_reset(limiter, item, setting, key)
                _fail_open.worked()
                return wait
    except StorageError as error:
        _fail_open.failed(error)
        return None
    _fail_open.worked()
    return None


def _refused(setting, wait):
    """`wait` unchanged; when it is not None the action was refused: count it by limit."""
    if wait is not None:
        metrics.count_refusal(setting)
    return wait


def _seconds_to_reset(limiter, item, setting, key):
    reset_at, _ = limiter.get_window_stats(item, setting, str(key))
    return max(1, math.ceil(reset_at - time.time()))
