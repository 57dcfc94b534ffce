"""Logging: human lines (default) or one JSON object per line, each carrying its request's context.

Every log record made while a request (or a socket event) is handled gets `request_id`,
`user_id`, `route` and `sid` attributes from a record factory, so any handler can show them: the
JSON formatter writes them as fields, the human one appends them. Each HTTP request ends with
one access line (`chatapp.access`) carrying method, route, status and duration. The request id
is the trusted proxy's `X-Request-ID` (only when TRUSTED_PROXY_HOPS > 0, and only if it looks
like an id), else a new one; either way it goes back in the response's `X-Request-ID`.

Nothing here logs bodies, headers, cookies or query strings: tokens, passwords and message texts
never reach a log line (tests/test_logs.py checks it).
"""

import logging
import re
import sys
import time
import uuid

from flask import g, has_request_context, request

from chatapp.logformat import CONTEXT_FIELDS, HumanFormatter, JsonFormatter

REQUEST_ID_HEADER = "X-Request-ID"
# What a proxy's id may look like (nginx's $request_id is 32 hex digits; UUIDs fit too).
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")

access_log = logging.getLogger("chatapp.access")


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (test runners swap it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


def _context():
    """The current request's context fields (all None outside a request or socket event)."""
    if not has_request_context():
        return None
    rule = request.url_rule
    return (
        g.get("request_id"),
        g.get("user_id"),
        rule.rule if rule is not None else None,
        getattr(request, "sid", None),  # set by Flask-SocketIO for socket events
    )


def _install_record_factory():
    """Wrap the current record factory (once) so every record carries the request context."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "adds_request_context", False):
        return

    def factory(*args, **kwargs):
        record = previous(*args, **kwargs)
        context = _context()
        if context is not None:
            # Only the known ones: a field set here cannot also come from `extra=`.
            for key, value in zip(CONTEXT_FIELDS, context):
                if value is not None:
                    setattr(record, key, value)
        return record

    factory.adds_request_context = True
    logging.setLogRecordFactory(factory)


def configure(config, root=None):
    """Set the level and format (LOG_LEVEL, LOG_FORMAT) of `root` (the root logger).

    A handler is added only when none is there yet (as logging.basicConfig does: a test runner's
    or gunicorn's own stays in charge), or replaced when it is ours from an earlier app.
    """
    root = root or logging.getLogger()
    level = config.get("LOG_LEVEL", "INFO")
    root.setLevel(level)
    fmt = (config.get("LOG_FORMAT") or "human").strip().lower()
    if fmt not in ("human", "json"):
        raise RuntimeError(f"LOG_FORMAT must be human or json, got {fmt!r}")
    formatter = JsonFormatter() if fmt == "json" else HumanFormatter()
    ours = [handler for handler in root.handlers if isinstance(handler, _StderrHandler)]
    if ours:
        ours[0].setFormatter(formatter)
    elif not root.handlers:
        handler = _StderrHandler()
        handler.setFormatter(formatter)
        root.addHandler(handler)
    # PyMongo logs every command it sends, documents included, at DEBUG: message texts and
    # password hashes would reach the log. It stays at INFO whatever LOG_LEVEL says.
    logging.getLogger("pymongo").setLevel(max(logging.INFO, root.getEffectiveLevel()))
    _install_record_factory()


def request_id_from(headers, trust_proxy):
    """The proxy's X-Request-ID when trusted and well-formed, else a new id."""
    offered = headers.get(REQUEST_ID_HEADER) if trust_proxy else None
    if offered and REQUEST_ID_PATTERN.match(offered):
        return offered
    return uuid.uuid4().hex


def init_app(app):
    """Configure logging for this app, give each request an id, and log one line per request."""
    configure(app.config)
    # Only a proxy we sit behind (see ProxyFix and TRUSTED_PROXY_HOPS) may name the request id:
    # otherwise any client could put anything in our logs under an id of its choosing.
    trust_proxy = int(app.config.get("TRUSTED_PROXY_HOPS", 0) or 0) > 0

    @app.before_request
    def start_request():
        g.request_id = request_id_from(request.headers, trust_proxy)
        g.log_started = time.perf_counter()

    @app.after_request
    def log_request(response):
        request_id = g.get("request_id")
        if request_id is not None:
            response.headers[REQUEST_ID_HEADER] = request_id
        # A path is the client's text: "%0A" in it must not start a forged line in a human log.
        path = CONTROL_CHARACTERS.sub(lambda match: f"\\x{ord(match.group()):02x}", request.path)
        started = g.get("log_started")
        duration_ms = round((time.perf_counter() - started) * 1000, 2) if started else None
        access_log.info(
            "%s %s %s %sms", request.method, path, response.status_code, duration_ms,
            extra={
                "method": request.method,
                "path": path,
                "status": response.status_code,
                "duration_ms": duration_ms,
            },
        )
        return response
