"""Where the server's CPU goes during a phase: py-spy samples of the worker, grouped by layer.

py-spy (from PyPI) samples the worker from outside, 100 times a second, without changing it.
Each sample is a stack of frames. A sample with a mongomock frame
anywhere is the embedded database's (what a real, indexed MongoDB replaces), one in the hashing
pool's threads is bcrypt (native code, so only the pool's Python frames show), one whose
innermost frame is the event loop waiting for I/O is idle and left out; any other is charged
to the layer of its innermost frame that belongs to a listed layer, so "chatapp" is time in the
app's own lines (and stdlib they call directly), while the time chatapp spends inside
MongoEngine, Flask or Socket.IO is charged to those.
"""

import collections
import re
import shutil
import subprocess
from pathlib import Path

# The first two win wherever their frame is; the others go by the innermost frame.
LAYERS = (
    ("mongomock (embedded DB)", ("mongomock/",)),
    # Hashing runs in native code below run_off_loop's pool threads: no bcrypt frame is seen.
    ("bcrypt (pool threads)", ("bcrypt/", "chatapp/concurrency.py", "eventlet/tpool.py",
                               "gevent/threadpool.py")),
    ("mongoengine + pymongo/bson (ODM)", ("mongoengine/", "pymongo/", "bson/")),
    ("Socket.IO + Engine.IO", ("socketio/", "engineio/", "flask_socketio/", "simple_websocket/",
                               "wsproto/", "eventlet/websocket.py", "geventwebsocket/")),
    ("chatapp (the app's own code)", ("chatapp/",)),
    ("Flask + Werkzeug + extensions", ("flask/", "werkzeug/", "flask_cors/",
                                       "limits/", "jwt/")),
    ("server loop (gunicorn, eventlet/gevent, wsgi)", ("gunicorn/", "eventlet/", "gevent/",
                                                      "greenlet/", "wsgiref/")),
)
OTHER = "other (stdlib: json, logging, ...)"
_FRAME_FILE = re.compile(r"\(([^()]*?\.py)(?::\d+)?\)")


def py_spy():
    """The py-spy executable next to this Python, or on PATH; None if absent."""
    import sys

    local = Path(sys.executable).with_name("py-spy")
    return str(local) if local.exists() else shutil.which("py-spy")


class Profiler:
    """`py-spy record` of one process for as long as a `with` block runs."""

    def __init__(self, pid, out_path, rate=100):
        self.pid = pid
        self.out_path = Path(out_path)
        self.rate = rate
        self.process = None

    def __enter__(self):
        exe = py_spy()
        if exe is None:
            raise RuntimeError("py-spy is not installed: pip install -r requirements.txt")
        self.process = subprocess.Popen(
            [exe, "record", "--pid", str(self.pid), "--rate", str(self.rate), "--format", "raw",
             "--output", str(self.out_path), "--nonblocking"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        return self

    def __exit__(self, *exc):
        # SIGINT makes py-spy stop sampling and write what it has.
        self.process.send_signal(2)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def summary(self):
        return summarize(self.out_path) if self.out_path.exists() else None


# Innermost frames of a loop waiting for I/O: py-spy records them as running (the thread is in a
# system call), but they are idle time, not CPU any layer spent.
IDLE_LEAVES = ("Hub.do_poll (eventlet/hubs/", "Hub.run (gevent/hub.py")


def summarize(raw_path):
    """Share of non-idle samples per layer, from py-spy's raw (collapsed stacks) output."""
    counts = collections.Counter()
    total = idle = 0
    for line in Path(raw_path).read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        if stack.rpartition(";")[2].startswith(IDLE_LEAVES):
            idle += int(count)
            continue
        files = _FRAME_FILE.findall(stack)
        counts[classify(files)] += int(count)
        total += int(count)
    shares = {layer: round(100.0 * counts[layer] / total, 1) for layer, _ in LAYERS}
    shares[OTHER] = round(100.0 * counts[OTHER] / total, 1) if total else 0.0
    return {"samples": total, "idle_samples": idle, "share_percent": shares if total else {}}


def classify(files):
    """The layer of one sample, from its frames' files, outermost first."""
    for layer, markers in LAYERS[:2]:
        if any(marker in path for path in files for marker in markers):
            return layer
    for path in reversed(files):
        for layer, markers in LAYERS[2:]:
            if any(marker in path for marker in markers):
                return layer
    return OTHER
