"""Keep the garbage collector's full passes short: they stop every socket while they run.

CPython's full collection walks every tracked object. In a server process most of them are
long-lived: the imported code, the app, and (on the embedded database) every stored document.
Measured on the benchmark's server (100 msg/s): full collections of 60-94 ms, each one delaying
every message in flight, which made the whole delivery p99. `gc.freeze()` moves every object
alive now into a permanent generation that collections skip:

- once after start-up (the code and the app never die), and
- again after any full collection that took longer than `PAUSE_SECONDS`, so the objects that
  survived it (a growing embedded database, caches) are not walked again by the next one.

The price: a frozen object that later becomes part of unreachable reference cycles is never
reclaimed. Freezes happen only after a long collection, that is after tens of thousands of new
long-lived objects, so what they can strand is the cyclic garbage of the requests in flight at
that moment, a few times over the life of a growing process; a process with a stable heap (a
real MongoDB) freezes once at start-up.
"""

import gc
import time

PAUSE_SECONDS = 0.005

_started_at = []


def _after_long_collections(phase, info):
    if phase == "start":
        _started_at[:] = [time.perf_counter()]
    elif info["generation"] == 2 and _started_at:
        if time.perf_counter() - _started_at[0] > PAUSE_SECONDS:
            gc.freeze()


def install():
    """Freeze what start-up made, and freeze again after every long full collection."""
    gc.collect()  # start-up's own garbage goes first, so it is not frozen for good
    gc.freeze()
    if _after_long_collections not in gc.callbacks:
        gc.callbacks.append(_after_long_collections)


def uninstall():
    """Back to the collector's defaults (tests)."""
    if _after_long_collections in gc.callbacks:
        gc.callbacks.remove(_after_long_collections)
    gc.unfreeze()
