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
    """The database answers: ready for traffic. `latencyMs` says how long each dependency took."""
    started = time.perf_counter()
    try:
        db.ping()
    except Exception as error:  # any failure means "not ready", never a 500
        log.warning("Readiness check failed: %s", error)
        return jsonify({
            "status": "unavailable", "database": "unreachable", "latencyMs": _since(started),
        }), 503
    return jsonify({"status": "ok", "database": "ok", "latencyMs": _since(started)})


def _since(started):
    """{"database": milliseconds since `started`}: the per-dependency latencies of a check."""
    return {"database": round((time.perf_counter() - started) * 1000, 2)}
