"""Probes for load balancers and orchestrators."""

import logging
import time

from flask import Blueprint, current_app, jsonify

from chatapp import db

blueprint = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@blueprint.get("/healthz")
def healthz():
    """The process is up and serving."""
    return jsonify({"status": "ok"})


@blueprint.get("/readyz")
def readyz():
    """The database answers and this process has its indexes: ready for traffic.

    A 503 names what is not ready: `"database": "unreachable"` (it does not answer within
    MONGO_TIMEOUT_MS) or `"indexes not created"` (it answers, but creating them failed).
    `latencyMs` says how long each dependency's check took, milliseconds.

    With REDIS_URL, Redis is checked too (`"redis": "ok"` or `"unreachable"`) but never makes the
    server unready: the app degrades without it (rate limits fail open, presence and emits stay
    on this server), and a Redis outage must not take every server out of the balancer at once.
    """
    started = time.perf_counter()
    try:
        db.ping()
    except Exception as error:  # any failure means "not ready", never a 500
        log.warning("Readiness check failed: %s", error)
        body = {"status": "unavailable", "database": "unreachable", "latencyMs": _since(started)}
        return jsonify(body), 503
    latency = _since(started)  # the ping's round trip, not the index check's
    try:
        db.ensure_ready()  # a worker started while the database was down creates them now
    except Exception as error:
        log.warning("Readiness check failed: indexes: %s", error)
        body = {"status": "unavailable", "database": "indexes not created", "latencyMs": latency}
        return jsonify(body), 503
    body = {"status": "ok", "database": "ok"}
    if current_app.config.get("REDIS_URL"):
        started = time.perf_counter()
        body["redis"] = "ok" if _redis_answers() else "unreachable"
        latency["redis"] = _since(started)["database"]
    body["latencyMs"] = latency
    return jsonify(body)


def _since(started):
    """{"database": milliseconds since `started`}: the per-dependency latencies of a check."""
    return {"database": round((time.perf_counter() - started) * 1000, 2)}


def _redis_answers():
    """A PING on a connection of its own (connect included), bounded by REDIS_TIMEOUT_MS."""
    import redis

    from chatapp import redis_metrics

    url = current_app.config["REDIS_URL"]
    timeout = current_app.config["REDIS_TIMEOUT_MS"] / 1000.0
    try:
        with redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout,
            **redis_metrics.options(url, "health"),
        ) as client:
            return bool(client.ping())
    except redis.RedisError as error:
        log.warning("Redis does not answer the readiness check: %s", error)
        return False
