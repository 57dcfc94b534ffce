"""Probes for load balancers and orchestrators."""

import logging
import time

from flask import Blueprint, jsonify

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
    return jsonify({"status": "ok", "database": "ok", "latencyMs": latency})


def _since(started):
    """{"database": milliseconds since `started`}: the per-dependency latencies of a check."""
    return {"database": round((time.perf_counter() - started) * 1000, 2)}
