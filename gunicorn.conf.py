"""gunicorn settings, read automatically from the working directory (`make serve`, tests, bench).

Command-line flags (`-k eventlet -w 1 -b ...`) still choose the worker class and address.
"""

import os

# Every open Socket.IO connection holds one of these for as long as it lives. gunicorn's default
# of 1000 makes the 1001st browser tab wait in the accept queue until it times out. Each one is
# also a file descriptor: raise `ulimit -n` to match (bench/ measures 10,000 idle sockets plus
# its 200 users and their HTTP requests, which 10,000 would not hold).
worker_connections = int(os.environ.get("WORKER_CONNECTIONS", "16384"))

# How long an idle keep-alive HTTP connection stays open, seconds. gunicorn's default of 2 closes
# connections that clients (browsers, HTTP client pools) still hold and are about to reuse; a
# POST sent on one as it closes fails, and clients do not retry POSTs. 75 s is longer than the
# common client pools' idle timeouts, as load balancers do (nginx's default is 75 s too).
keepalive = int(os.environ.get("KEEPALIVE_SECONDS", "75"))

# gunicorn 25's control socket ($HOME/.gunicorn/gunicorn.ctl by default) is one path per user:
# several servers on one host (docs/scaling.md) would take it from each other. Nothing here uses it.
control_socket_disable = True

# Flask-SocketIO's async mode for each gunicorn worker class that can serve Socket.IO.
ASYNC_MODE_OF_WORKER = {"eventlet": "eventlet", "gevent": "gevent"}


def on_starting(server):
    """Check the command and the configuration once, in the master, before any worker boots.

    A worker that fails to build the app prints a traceback and gunicorn retries it; a setting
    that can never work (production without JWT_SECRET_KEY, development on a public address,
    `-w 2`, `-k sync`) deserves one clear line and an exit instead.
    """
    from dotenv import load_dotenv

    load_dotenv()  # as wsgi.py does: the workers will see the same settings
    try:
        follow_the_worker(server)  # before config.py is imported: it reads ASYNC_MODE then
        from config import check_config, check_listen_address, config_from_env

        config = config_from_env()
        settings = {name: getattr(config, name) for name in dir(config) if name.isupper()}
        check_config(settings)
        for address in server.cfg.bind:
            host = address.rsplit(":", 1)[0] if not address.startswith("unix:") else "localhost"
            check_listen_address(settings, host)
    except RuntimeError as error:
        server.log.error("%s", error)
        raise SystemExit(1) from None


def follow_the_worker(server):
    """Refuse several workers and worker classes that cannot serve Socket.IO (RuntimeError); set
    ASYNC_MODE to the worker class's mode (`-k gevent` runs the app in gevent mode)."""
    workers = server.cfg.workers
    if workers > 1:
        raise RuntimeError(
            f"gunicorn -w {workers}: Flask-SocketIO serves one worker per server (a session's "
            "requests must all reach the same process). Run -w 1, and for more capacity several "
            "servers behind nginx with REDIS_URL set (docs/scaling.md)."
        )
    worker_class = server.cfg.worker_class_str
    configured = os.environ.get("ASYNC_MODE", "").strip()
    mode = ASYNC_MODE_OF_WORKER.get(worker_class)
    if mode is None:
        if configured == "threading":
            return  # chosen knowingly: Flask-SocketIO's threading mode under a threaded worker
        raise RuntimeError(
            f"gunicorn -k {worker_class} cannot serve Socket.IO in this app: run -k eventlet "
            "or -k gevent (ASYNC_MODE follows the worker)."
        )
    if configured and configured != mode:
        server.log.warning(
            "ASYNC_MODE=%s, but gunicorn runs %s workers: using %s", configured, mode, mode
        )
    os.environ["ASYNC_MODE"] = mode  # inherited by the workers, read by config.py


def post_worker_init(worker):
    """SIGTERM drains the worker: once it stops accepting, its sockets are closed so clients
    reconnect to another server, while requests in flight finish (chatapp/realtime/drain.py)."""
    from chatapp.realtime import drain

    drain.install(worker)

# LOG_FORMAT=json: gunicorn's own lines (start, workers, errors) are JSON too, like the app's
# (chatapp/logs.py, which adds its handler to the root logger). gunicorn's access log stays off:
# the app writes one line per request itself, with its request id.
if os.environ.get("LOG_FORMAT", "").strip().lower() == "json":
    logconfig_dict = {
        "root": {"level": "INFO", "handlers": []},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["json"], "propagate": False},
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
        },
        "handlers": {
            "json": {
                "class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr",
            },
        },
        "formatters": {"json": {"()": "chatapp.logformat.JsonFormatter"}},
    }
