"""Caches of what the app verified, and `clear_all()`, which the app factory and the tests call.

A cache belongs here only when its answer is the same in every worker process (a pure function
of its key), so that running several workers cannot make one of them answer from stale memory.
Anything whose truth lives in the database (does this user exist? which conversation is this
pair's?) is asked of the database, whose indexes answer it. (Two `functools.lru_cache`s memoize
constants of the configuration, `ratelimit._parse` and `users._dummy_hash`: nothing to reset.)
"""

import threading

from cachetools import LRUCache

# (secret, token) -> security.Claims of tokens whose signature and claims verified: a browser sends
# the same token with every request and socket, and checking its HMAC and claims each time was
# ~5% of a send. See security.decode_token.
verified_tokens = LRUCache(maxsize=10_000)

# Held around every read and write of a cache here: cachetools' caches are not thread-safe, and
# in threading mode requests run on OS threads.
lock = threading.Lock()


def clear_all():
    """Forget everything cached (a new app, a new test)."""
    with lock:
        verified_tokens.clear()
