"""Failed logins: growing delays per (username, client address) and per client address.

A hard lockout per username lets anyone lock the owner out by failing on purpose. Here failures
count only where they come from: after `free` failures that key waits 1 s, and each further
failure doubles the wait (2, 4, ... up to `max_delay`) (answered 429 with Retry-After). The owner, logging in
from their own address, is never slowed by a stranger's failures; a guesser gets a few tries
per (username, address) and a few more per address, then ever longer waits. A success clears
the (username, address) key; the address key fades on its own.

Keys are bounded: the caller validates the username (at most 64 characters) before it becomes
part of a key, the table holds at most `max_keys` entries (oldest first out), and an entry is
forgotten `forget_after` seconds after its last failure.

State is this process's memory: with several workers each counts its own failures, so a
guesser's budget is multiplied by the number of workers (still growing delays, never a
lockout).
"""

import threading
import time
from collections import OrderedDict

from chatapp.errors import TooManyRequests


class LoginThrottle:
    def __init__(self, free=5, free_per_address=30, max_delay=900, max_keys=100_000,
                 forget_after=3600, clock=time.monotonic):
        self.free = free
        self.free_per_address = free_per_address
        self.max_delay = max_delay
        self.max_keys = max_keys
        self.forget_after = forget_after
        self.clock = clock
        self._lock = threading.Lock()
        self._entries = OrderedDict()  # key -> [failures, blocked until, last failure]

    @staticmethod
    def keys(username, address):
        """The (username, address) key (None without a valid username) and the address key."""
        pair = f"u:{username.lower()}|{address}" if username is not None else None
        return pair, f"a:{address}"

    def check(self, username, address):
        """Raise TooManyRequests if this username from this address, or this address, must wait."""
        now = self.clock()
        waits = []
        with self._lock:
            for key in self.keys(username, address):
                entry = self._entries.get(key)
                if entry is not None and entry[1] > now:
                    waits.append(entry[1] - now)
        if waits:
            wait = max(1, int(max(waits) + 0.999))
            raise TooManyRequests(f"Too many failed logins. Try again in {wait} s.", retry_after=wait)

    def failed(self, username, address):
        """Count one failure against both keys (only the address one without a valid username)."""
        now = self.clock()
        pair, per_address = self.keys(username, address)
        with self._lock:
            if pair is not None:
                self._fail(pair, self.free, now)
            self._fail(per_address, self.free_per_address, now)
            self._trim(now)

    def succeeded(self, username, address):
        """A right password from this address: its (username, address) failures are forgiven."""
        pair, _ = self.keys(username, address)
        with self._lock:
            self._entries.pop(pair, None)

    def __len__(self):
        return len(self._entries)

    def key_sizes(self):
        with self._lock:
            return [len(key) for key in self._entries]

    def _fail(self, key, free, now):
        entry = self._entries.pop(key, None)
        if entry is None or now - entry[2] > self.forget_after:
            entry = [0, 0.0, now]
        entry[0] += 1
        entry[2] = now
        beyond = entry[0] - free  # the free-th failure already makes the next try wait 1 s
        if beyond >= 0:
            entry[1] = now + min(self.max_delay, 2 ** min(beyond, 30))
        self._entries[key] = entry  # most recent last

    def _trim(self, now):
        entries = self._entries
        while entries:
            key, entry = next(iter(entries.items()))
            if len(entries) <= self.max_keys and now - entry[2] <= self.forget_after:
                break
            del entries[key]
