"""Prometheus metrics: what they count, the `/metrics` endpoint, and who may read it.

Metrics live in this module's own registry (not prometheus_client's global one), defined once
per process: tests build many apps, and each `init_app` only wires the endpoint and request
hooks to the app in hand. Each server process is scraped on its own (one worker per server), so
prometheus_client's multi-process mode is not used. docs/operations.md lists every metric.
"""

import ipaddress
import time
from contextlib import contextmanager

from flask import Blueprint, Response, abort, g, has_app_context, request
from prometheus_client import (
    CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from pymongo import monitoring

REGISTRY = CollectorRegistry(auto_describe=True)
# process_resident_memory_bytes, process_cpu_seconds_total, process_open_fds, process_max_fds...
# (Linux): each open socket holds a file descriptor, so the fd limit caps the sockets served.
ProcessCollector(registry=REGISTRY)

# Seconds. Requests and sends on a healthy server take milliseconds; the tail shows trouble.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "chatapp_http_requests", "HTTP requests answered, by route (URL rule), method and status.",
    ["route", "method", "status"], registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "chatapp_http_request_duration_seconds", "Time to answer an HTTP request, by route and method.",
    ["route", "method"], buckets=LATENCY_BUCKETS, registry=REGISTRY,
)
SOCKETS_OPEN = Gauge(
    "chatapp_sockets_open", "Socket.IO connections open on this process.", registry=REGISTRY,
)
SOCKETS_PENDING = Gauge(
    "chatapp_sockets_pending",
    "Open sockets not yet authenticated (waiting for their WebSocket upgrade's cookie).",
    registry=REGISTRY,
)
USERS_ONLINE = Gauge(
    "chatapp_users_online", "Users with at least one authenticated socket.", registry=REGISTRY,
)
MESSAGES_STORED = Counter(
    "chatapp_messages_stored", "Messages stored by a send (retries of a stored one not counted).",
    registry=REGISTRY,
)
EVENTS_EMITTED = Counter(
    "chatapp_socketio_events_emitted", "Socket.IO events emitted, by event name.",
    ["event"], registry=REGISTRY,
)
DELIVERY_LATENCY = Histogram(
    "chatapp_message_delivery_seconds",
    "From the start of a send (HTTP request or socket event) to its newMessage being emitted.",
    buckets=LATENCY_BUCKETS, registry=REGISTRY,
)
RATE_LIMIT_REFUSALS = Counter(
    "chatapp_rate_limit_refusals", "Actions refused by a rate limit, by the limit's setting.",
    ["limit"], registry=REGISTRY,
)
BCRYPT_QUEUE = Gauge(
    "chatapp_bcrypt_queue_length",
    "Password hashes waiting for a free hashing thread (eventlet/gevent only).",
    registry=REGISTRY,
)
BCRYPT_WAIT = Histogram(
    "chatapp_bcrypt_wait_seconds",
    "Time a password hash waited for a free hashing thread (eventlet/gevent only).",
    buckets=LATENCY_BUCKETS, registry=REGISTRY,
)
DB_LATENCY = Histogram(
    "chatapp_db_command_duration_seconds",
    "MongoDB command round trips, by command name (a real MongoDB only).",
    ["command"], buckets=LATENCY_BUCKETS, registry=REGISTRY,
)
DB_ERRORS = Counter(
    "chatapp_db_command_errors", "MongoDB commands that failed, by command name.",
    ["command"], registry=REGISTRY,
)
DB_HEARTBEAT_FAILURES = Counter(
    "chatapp_db_heartbeat_failures",
    "PyMongo's periodic checks of a MongoDB server that failed (unreachable: no command is sent).",
    registry=REGISTRY,
)
REDIS_LATENCY = Histogram(
    "chatapp_redis_round_trip_seconds",
    "Redis commands from send to reply (a pipeline counts once), by client (REDIS_URL only).",
    ["client"], buckets=LATENCY_BUCKETS, registry=REGISTRY,
)
REDIS_ERRORS = Counter(
    "chatapp_redis_errors",
    "Redis failures (network or timeout) by client and stage: connect, send or reply.",
    ["client", "stage"], registry=REGISTRY,
)

DEFAULT_ALLOWED_NETWORKS = ("127.0.0.0/8", "::1")
# Label values must come from a bounded set: any client can send any method token.
METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))


# --- Called by the code that does the counted thing (one call each) ---------------------------


def mark_start():
    """Remember when the current request or socket event began (send-to-delivery latency)."""
    g.metrics_started = time.perf_counter()


def count_event(event):
    EVENTS_EMITTED.labels(event).inc()


def observe_delivery():
    """A newMessage is being emitted now: record how long since its send began."""
    started = g.get("metrics_started") if has_app_context() else None
    if started is not None:
        DELIVERY_LATENCY.observe(time.perf_counter() - started)


def count_message_stored():
    MESSAGES_STORED.inc()


@contextmanager
def waiting_for(slots):
    """Hold `slots` (a semaphore) for the block; the wait for it is the bcrypt queue."""
    started = time.perf_counter()
    BCRYPT_QUEUE.inc()
    try:
        slots.acquire()
    finally:
        BCRYPT_QUEUE.dec()
    BCRYPT_WAIT.observe(time.perf_counter() - started)
    try:
        yield
    finally:
        slots.release()


def count_refusal(setting):
    """A rate limit (its setting's name, e.g. SEND_RATE_LIMIT) refused an action."""
    RATE_LIMIT_REFUSALS.labels(setting.lower()).inc()


def database_listeners():
    """PyMongo event listeners for `MongoClient(event_listeners=...)` (see `chatapp.db`)."""
    return [DatabaseListener(), DatabaseHeartbeatListener()]


class DatabaseListener(monitoring.CommandListener):
    """Times every command PyMongo sends.

    PyMongo reports the round trip itself, so nothing is kept between started and finished.
    mongomock sends nothing over a wire and calls no listener: without MONGO_URI these stay 0.
    """

    def started(self, event):
        pass

    def succeeded(self, event):
        DB_LATENCY.labels(event.command_name).observe(event.duration_micros / 1e6)

    def failed(self, event):
        DB_LATENCY.labels(event.command_name).observe(event.duration_micros / 1e6)
        DB_ERRORS.labels(event.command_name).inc()


class DatabaseHeartbeatListener(monitoring.ServerHeartbeatListener):
    """Counts failed server checks: a database that cannot be reached at all fails in server
    selection, before any command exists to fail, and shows here instead."""

    def started(self, event):
        pass

    def succeeded(self, event):
        pass

    def failed(self, event):
        DB_HEARTBEAT_FAILURES.inc()


# --- The endpoint --------------------------------------------------------------------------


def allowed_networks(setting):
    """Parse METRICS_ALLOWED_NETWORKS (a list, or a comma-separated string); RuntimeError if bad."""
    if isinstance(setting, str):
        setting = [item.strip() for item in setting.split(",") if item.strip()]
    try:
        return tuple(ipaddress.ip_network(item, strict=False) for item in setting)
    except ValueError as error:
        raise RuntimeError(f"METRICS_ALLOWED_NETWORKS: {error}") from None


def may_read(remote_addr, networks):
    """True when a peer at `remote_addr` is inside one of `networks`."""
    try:
        address = ipaddress.ip_address(remote_addr or "")
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped is not None:  # ::ffff:127.0.0.1
        address = address.ipv4_mapped
    return any(address in network for network in networks)


def init_app(app):
    """Serve `/metrics` to the allowed networks only, and time every HTTP request."""
    setting = app.config.get("METRICS_ALLOWED_NETWORKS", DEFAULT_ALLOWED_NETWORKS)
    networks = allowed_networks(setting)
    _watch_sockets(app)

    # A blueprint of its own, which needs no database (chatapp.db.NO_DATABASE_BLUEPRINTS): the
    # metrics matter most while the database is down.
    blueprint = Blueprint("metrics", __name__)

    @blueprint.get("/metrics")
    def metrics():
        """Prometheus's text format, to a scraper in METRICS_ALLOWED_NETWORKS; else a 404."""
        # The address Werkzeug gives: the direct peer, or the client ProxyFix found behind
        # TRUSTED_PROXY_HOPS proxies (which is why deploy/nginx.conf does not pass /metrics).
        if not may_read(request.remote_addr, networks):
            abort(404)  # as if there were nothing here
        return Response(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)

    app.register_blueprint(blueprint)

    def start_timer():
        mark_start()

    # First of all hooks, so that a request another hook refuses (a 503) is timed too.
    app.before_request_funcs.setdefault(None, []).insert(0, start_timer)

    @app.after_request
    def count_request(response):
        started = g.get("metrics_started")
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        method = request.method if request.method in METHODS else "other"
        HTTP_REQUESTS.labels(route, method, str(response.status_code)).inc()
        if started is not None:
            HTTP_LATENCY.labels(route, method).observe(time.perf_counter() - started)
        return response


def _watch_sockets(app):
    """Socket gauges read at scrape time from Socket.IO's own rooms, so they cannot drift."""
    # Imported here: the realtime package imports this module (to count events).
    from chatapp.extensions import socketio
    from chatapp.realtime.cluster import PRESENCE
    from chatapp.realtime.events import NAMESPACE, SIGNED_IN_ROOM
    from chatapp.realtime.presence import Presence

    def room_size(room):
        server = getattr(socketio, "server", None)
        if server is None:
            return 0
        return len(server.manager.rooms.get(NAMESPACE, {}).get(room, ()))

    # Every connected socket is in the room None; authenticated ones also in SIGNED_IN_ROOM.
    SOCKETS_OPEN.set_function(lambda: room_size(None))
    SOCKETS_PENDING.set_function(lambda: max(0, room_size(None) - room_size(SIGNED_IN_ROOM)))
    def users_online():
        presence = app.extensions.get(PRESENCE)
        # This process's users only (Presence's own count, without asking Redis for everyone's):
        # each process is scraped on its own.
        return len(Presence.online_user_ids(presence)) if presence is not None else 0

    USERS_ONLINE.set_function(users_online)
