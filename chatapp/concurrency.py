"""Run blocking, CPU-bound calls without freezing the event loop.

Under eventlet or gevent every request and socket shares one OS thread; a 60 ms bcrypt hash run
there stalls all of them. `run_off_loop` hands such a call to the hub's pool of real threads
(bcrypt releases the GIL, so two cores hash in parallel) and lets other greenlets run meanwhile.
Under plain threads it just calls the function.
"""

import sys


def _patched(library, module):
    if library == "eventlet" and "eventlet" in sys.modules:
        from eventlet import patcher

        return patcher.is_monkey_patched(module)
    if library == "gevent" and "gevent" in sys.modules:
        from gevent import monkey

        return monkey.is_module_patched(module)
    return False


def run_off_loop(function, *args):
    """Call `function(*args)` in a real OS thread when a green event loop is running."""
    if _patched("eventlet", "socket"):
        from eventlet import tpool

        return tpool.execute(function, *args)
    if _patched("gevent", "socket"):
        import gevent

        return gevent.get_hub().threadpool.apply(function, args)
    return function(*args)
