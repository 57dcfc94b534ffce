"""Probes for load balancers and orchestrators."""

import logging

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
    """
    try:
        db.ping()
    except Exception as error:  # any failure means "not ready", never a 500
        log.warning("Readiness check failed: %s", error)
        return jsonify({"status": "unavailable", "database": "unreachable"}), 503
    try:
        db.ensure_ready()  # a worker started while the database was down creates them now
    except Exception as error:
        log.warning("Readiness check failed: indexes: %s", error)
        return jsonify({"status": "unavailable", "database": "indexes not created"}), 503
    return jsonify({"status": "ok", "database": "ok"})
