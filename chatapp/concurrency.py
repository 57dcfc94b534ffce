"""Run blocking, CPU-bound calls without freezing the event loop.

Under eventlet or gevent every request and socket shares one OS thread; a 60 ms bcrypt hash run
there stalls all of them. `run_off_loop` hands such a call to the hub's pool of real threads
(bcrypt releases the GIL, so two cores hash in parallel) and lets other greenlets run meanwhile.
Under plain threads it just calls the function.

Two rules keep a burst of logins from starving the event loop (bench/ phase 6 measures it):
at most one call per core, plus one, runs at a time (eventlet's pool has 20 threads: 20 hashes
at once would take 20/21 of the CPU from the loop's one thread and gain no throughput; the
extra one keeps every core busy while a finished call hands over to the next), and those
threads run at a lower priority (a higher nice value), so when the loop and a hash both want a
core the loop gets it, while an idle loop still leaves every core to hashing.
"""

import os
import sys
import threading
from contextlib import contextmanager

from chatapp import metrics

# Calls running at once in the pool: one per core, plus one to cover hand-overs (with exactly
# one per core, bench phase 1 lost about 10% of its logins per second).
SLOTS = 1 + (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
# Nice value of a pool thread while it runs such a call (Linux: a per-thread attribute).
POOL_NICENESS = 10

_semaphores = {}

# Calls that may wait for a slot, beyond the SLOTS running (BCRYPT_QUEUE_MAX; `configure`).
QUEUE_MAX = 64
_admitted = 0  # calls running or waiting now
_admitted_lock = threading.Lock()


class Busy(Exception):
    """Every slot is taken and QUEUE_MAX calls already wait: try again shortly."""


def configure(queue_max):
    global QUEUE_MAX
    QUEUE_MAX = max(0, int(queue_max))


@contextmanager
def _admission():
    """Hold one place among the SLOTS + QUEUE_MAX calls allowed in; Busy when none is left.

    A burst of logins beyond what the cores can hash answers at once instead of growing a
    queue (and its memory and wait) without bound.
    """
    global _admitted
    with _admitted_lock:
        if _admitted >= SLOTS + QUEUE_MAX:
            metrics.count_refusal("BCRYPT_QUEUE_MAX")
            raise Busy()
        _admitted += 1
    try:
        yield
    finally:
        with _admitted_lock:
            _admitted -= 1


def _patched(library, module):
    if library == "eventlet" and "eventlet" in sys.modules:
        from eventlet import patcher

        return patcher.is_monkey_patched(module)
    if library == "gevent" and "gevent" in sys.modules:
        from gevent import monkey

        return monkey.is_module_patched(module)
    return False


def _slots(library):
    """A green semaphore of SLOTS for `library`'s greenlets, made on first use."""
    semaphore = _semaphores.get(library)
    if semaphore is None:
        if library == "eventlet":
            from eventlet.semaphore import Semaphore
        else:
            from gevent.lock import Semaphore
        semaphore = _semaphores[library] = Semaphore(SLOTS)
    return semaphore


def _at_low_priority(function, *args):
    """Call `function` in a pool thread after lowering that thread's priority (once)."""
    try:
        # who=0 is the calling thread: Linux keeps a nice value per thread.
        if os.getpriority(os.PRIO_PROCESS, 0) < POOL_NICENESS:
            os.setpriority(os.PRIO_PROCESS, 0, POOL_NICENESS)
    except (AttributeError, OSError):  # not Linux, or not allowed: run at normal priority
        pass
    return function(*args)


def run_off_loop(function, *args):
    """Call `function(*args)` in a real OS thread when a green event loop is running.

    Raises Busy when SLOTS calls run and QUEUE_MAX wait already.
    """
    with _admission():
        return _run(function, *args)


def _run(function, *args):
    if _patched("eventlet", "socket"):
        from eventlet import tpool

        with metrics.waiting_for(_slots("eventlet")):
            return tpool.execute(_at_low_priority, function, *args)
    if _patched("gevent", "socket"):
        import gevent

        with metrics.waiting_for(_slots("gevent")):
            return gevent.get_hub().threadpool.apply(_at_low_priority, (function, *args))
    return function(*args)
