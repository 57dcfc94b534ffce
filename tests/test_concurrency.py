"""Hashing off the event loop: one call per core, at a lower priority, never stalling sockets."""

import os
import subprocess
import sys
import textwrap
import threading

import pytest

from chatapp import concurrency


def test_without_a_green_loop_the_call_runs_in_place():
    assert concurrency.run_off_loop(lambda a, b: a + b, 2, 3) == 5


def test_a_pool_call_runs_at_a_lower_priority_in_its_own_thread_only():
    before = os.getpriority(os.PRIO_PROCESS, 0)
    result = []
    thread = threading.Thread(
        target=lambda: result.append(
            concurrency._at_low_priority(os.getpriority, os.PRIO_PROCESS, 0)
        )
    )
    thread.start()
    thread.join()
    assert result == [max(before, concurrency.POOL_NICENESS)]
    assert os.getpriority(os.PRIO_PROCESS, 0) == before  # the caller's thread is untouched


def test_under_eventlet_at_most_one_call_per_core_runs_at_once(tmp_path):
    # A fresh interpreter: monkey patching must not leak into the rest of the suite.
    script = textwrap.dedent(
        """
        import eventlet
        eventlet.monkey_patch()
        import time
        from eventlet import patcher
        from chatapp import concurrency
        concurrency.SLOTS = 2
        running = [0]; peak = [0]; lock = patcher.original('threading').Lock()
        def work():
            with lock:
                running[0] += 1; peak[0] = max(peak[0], running[0])
            time.sleep(0.05)
            with lock:
                running[0] -= 1
            return 1
        pool = eventlet.GreenPool()
        total = sum(pool.imap(lambda _: concurrency.run_off_loop(work), range(8)))
        print(total, peak[0])
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["8", "2"]  # SLOTS forced to 2 above


HUB_PROBE = textwrap.dedent(
    """
    import sys
    mode = sys.argv[1]
    if mode == "eventlet":
        import eventlet; eventlet.monkey_patch()
        spawn, sleep = eventlet.spawn, eventlet.sleep
    else:
        from gevent import monkey; monkey.patch_all()
        import gevent
        spawn, sleep = gevent.spawn, gevent.sleep
    from chatapp import security

    ticks = []
    running = True
    def ticker():
        while running:
            ticks.append(1)
            sleep(0.005)
    spawn(ticker)
    sleep(0.02)
    before = len(ticks)
    security.hash_password("a password", 13)  # several hundred ms of CPU
    during = len(ticks) - before
    running = False
    print(during)
    """
)


@pytest.mark.parametrize("mode", ["eventlet", "gevent"])
def test_hashing_does_not_freeze_the_event_loop(mode):
    """Other greenlets (every request and socket) keep running while a password is hashed."""
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", HUB_PROBE, mode],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    ticks_during_hash = int(result.stdout.strip().splitlines()[-1])
    # Run on the hub itself, the hash would allow zero ticks until it finished.
    assert ticks_during_hash >= 5
