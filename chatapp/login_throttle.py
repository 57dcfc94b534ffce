"""Failed logins: growing delays per (username, client address) and per client address.

A hard lockout per username lets anyone lock the owner out by failing on purpose. Here failures
count only where they come from: after `free` failures that key waits 1 s, and each further
failure doubles the wait (2, 4, ... up to `max_delay`), answered 429 with Retry-After. The owner,
logging in from their own address, is never slowed by a stranger's failures; a guesser gets a
few tries per (username, address) and a few more per address, then ever longer waits. A success
clears the (username, address) count; the address count fades on its own.

Counters live in the rate limits' `limits` storage (chatapp/ratelimit.py): this process's
memory, or Redis when configured, so every worker counts against the same budget. Two counters
per key: failures (forgotten `forget_after` seconds after the first), and a "blocked" counter
whose expiry is the wait. Keys are bounded: the caller validates the username (at most 64
characters) before it becomes part of a key; counters expire. A storage that fails (Redis down)
fails open, as the rate limits do: logins go on, unthrottled, with one log line a minute.
"""

import logging
import math
import time

from limits.errors import StorageError

from chatapp import metrics
from chatapp.errors import TooManyRequests

log = logging.getLogger(__name__)

PREFIX = "login-throttle"


class LoginThrottle:
    def __init__(self, storage, free=5, free_per_address=30, max_delay=900, forget_after=3600):
        self.storage = storage
        self.free = free
        self.free_per_address = free_per_address
        self.max_delay = max_delay
        self.forget_after = forget_after

    @staticmethod
    def keys(username, address):
        """The (username, address) key (None without a valid username) and the address key."""
        pair = f"{PREFIX}/u/{username.lower()}/{address}" if username is not None else None
        return pair, f"{PREFIX}/a/{address}"

    def check(self, username, address):
        """Raise TooManyRequests if this username from this address, or this address, must wait."""
        try:
            waits = [
                self.storage.get_expiry(key + "/blocked") - time.time()
                for key in self.keys(username, address)
                if key is not None and self.storage.get(key + "/blocked") > 0
            ]
        except StorageError as error:
            self._storage_failed(error)
            return
        if waits:
            wait = max(1, math.ceil(max(waits)))
            metrics.count_refusal("LOGIN_THROTTLE")
            raise TooManyRequests(
                f"Too many failed logins. Try again in {wait} s.", retry_after=wait
            )

    def failed(self, username, address):
        """Count one failure against both keys (only the address one without a valid username)."""
        pair, per_address = self.keys(username, address)
        try:
            if pair is not None:
                self._fail(pair, self.free)
            self._fail(per_address, self.free_per_address)
        except StorageError as error:
            self._storage_failed(error)

    def succeeded(self, username, address):
        """A right password from this address: its (username, address) failures are forgiven."""
        pair, _ = self.keys(username, address)
        try:
            if pair is not None:
                self.storage.clear(pair + "/failures")
        except StorageError as error:
            self._storage_failed(error)

    _last_failure_logged = 0.0

    def _storage_failed(self, error):
        now = time.monotonic()
        if now - self._last_failure_logged > 60:
            self._last_failure_logged = now
            log.error("Failed logins are not counted: their storage failed (%s)", error)

    def _fail(self, key, free):
        failures = self.storage.incr(key + "/failures", self.forget_after)
        beyond = failures - free  # the free-th failure already makes the next try wait 1 s
        if beyond >= 0:
            blocked = key + "/blocked"
            self.storage.clear(blocked)  # a fresh counter takes the new expiry: the wait
            self.storage.incr(blocked, min(self.max_delay, 2 ** min(beyond, 30)))
