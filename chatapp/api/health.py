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
    """The database answers: ready for traffic."""
    try:
        db.ping()
    except Exception as error:  # any failure means "not ready", never a 500
        log.warning("Readiness check failed: %s", error)
        return jsonify({"status": "unavailable", "database": "unreachable"}), 503
    return jsonify({"status": "ok", "database": "ok"})
