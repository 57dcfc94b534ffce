"""Entry point: `gunicorn -k eventlet -w 1 wsgi:app` in production, `python wsgi.py` to develop.

Run as a script it patches the standard library for ASYNC_MODE first (gunicorn's eventlet and
gevent workers do that themselves), then serves HTTP and WebSocket on HOST:PORT.
"""

import os
import socket
import sys

from dotenv import load_dotenv

# Settings from a .env file (see .env.example); the real environment wins.
load_dotenv()


def patched_by():
    """"eventlet" or "gevent" when that library has patched the standard library, else None."""
    if "eventlet" in sys.modules:
        from eventlet.patcher import is_monkey_patched

        if is_monkey_patched("socket"):
            return "eventlet"
    if "gevent" in sys.modules:
        from gevent.monkey import is_module_patched

        if is_module_patched("socket"):
            return "gevent"
    return None


if __name__ == "__main__":
    _mode = os.environ.get("ASYNC_MODE", "eventlet")
    if _mode == "eventlet":
        import eventlet

        eventlet.monkey_patch()
    elif _mode == "gevent":
        from gevent import monkey

        monkey.patch_all()
elif patched_by():
    # Under a gunicorn eventlet or gevent worker (which patched before importing us), run in
    # its mode whatever ASYNC_MODE says: the other mode starts, answers HTTP, then breaks every
    # socket (gunicorn.conf.py does the same, and this covers a server run without it).
    os.environ["ASYNC_MODE"] = patched_by()

import gc  # noqa: E402

from chatapp.app import create_app  # noqa: E402
from chatapp.extensions import socketio  # noqa: E402
from config import check_listen_address  # noqa: E402

app = create_app()
# Start-up's objects (the code, the app: ~88,000) live as long as the process. Frozen, they are
# left out of every later full collection, which otherwise walked them all while every socket
# waited: ~30 ms per full collection, measured after create_app().
gc.collect()  # start-up's own garbage goes first, so it is not kept for good
gc.freeze()


def refuse_a_taken_port(host, port):
    """Exit if something already listens on host:port.

    eventlet listens with SO_REUSEPORT, so a second `python wsgi.py` (a forgotten `make run`)
    would bind the same port without a word, and the kernel would then spread one browser's
    Socket.IO requests over both processes: "Invalid session" 400s and failed websocket upgrades.
    A probe bound without SO_REUSEPORT fails while any server listens there.
    """
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is no server
        try:
            probe.bind(address)
        except OSError as error:
            raise SystemExit(
                f"Cannot serve on {host}:{port}: {error.strerror}. "
                "Is another `make run` still running? Stop it, or set PORT."
            ) from None


if __name__ == "__main__":
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "5000"))
    try:
        check_listen_address(app.config, host)
    except RuntimeError as error:
        raise SystemExit(str(error)) from None
    refuse_a_taken_port(host, port)
    app.logger.warning(
        "Serving chatapp on http://%s:%s (async mode %s)", host, port, app.config["ASYNC_MODE"]
    )
    socketio.run(
        app,
        host=host,
        port=port,
        # Only reached in threading mode, which uses Werkzeug's development server.
        allow_unsafe_werkzeug=app.config["ENV_NAME"] != "production",
    )
