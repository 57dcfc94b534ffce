"""The database connection: a real MongoDB from MONGO_URI, or in-memory mongomock without one."""

import logging
import threading
import time

import mongoengine
from flask import request
from pymongo.errors import ConnectionFailure

from chatapp import metrics
from chatapp.errors import Unavailable
from chatapp.models import Block, Conversation, Membership, Message, MessageKey, Reaction, User

log = logging.getLogger(__name__)

DOCUMENTS = (User, Conversation, Message, MessageKey, Reaction, Block, Membership)


# Whether this process has made sure every index exists on the current database. Requests wait
# for it (see `ensure_ready`): the unique indexes are what keep usernames, conversations per
# pair and message seqs unique, so nothing is written before they exist.
_indexes = {"ready": False, "retry_at": 0.0}
_indexes_lock = threading.Lock()
# After an index the data violates, how long requests are answered 503 at once before the next
# attempt (each one reads the whole collection on the server).
INDEX_RETRY_SECONDS = 10
# Endpoints that answer without the database (liveness, readiness, metrics, the demo page).
NO_DATABASE_BLUEPRINTS = ("health", "metrics", "web")


def init_app(app):
    """Connect MongoEngine's default alias for this app and make sure every index exists.

    Creating indexes up front (not lazily on first write) means the unique username and
    one-conversation-per-pair guarantees hold from the very first request. A database that does
    not answer does not stop the start: the process starts not ready (/readyz says 503, requests
    get 503 JSON) and creates the indexes as soon as the database answers, so a worker started
    during a database outage recovers by itself instead of crash-looping.
    """
    uri = app.config["MONGO_URI"]
    # Drop any earlier connection (tests build many apps): disconnect also forgets the
    # collections each document cached, so the next query really uses this database.
    mongoengine.disconnect()
    _indexes.update(ready=False, retry_at=0.0)
    if uri:
        mongoengine.connect(
            # A database named in the URI wins over MONGO_DB_NAME (MongoEngine's rule).
            db=app.config["MONGO_DB_NAME"],
            host=uri,
            # Both bounded: with the database down, a request fails (503) within this time.
            serverSelectionTimeoutMS=app.config["MONGO_TIMEOUT_MS"],
            connectTimeoutMS=app.config["MONGO_TIMEOUT_MS"],
            uuidRepresentation="standard",
            tz_aware=False,
            event_listeners=metrics.database_listeners(),  # command latency, errors
        )
        log.info("Using MongoDB at %s", _redact(uri))
    else:
        # Imported only when used: a real deployment does not need mongomock.
        import mongomock

        mongoengine.connect(
            db=app.config["MONGO_DB_NAME"],
            host="mongodb://localhost",
            mongo_client_class=mongomock.MongoClient,
            uuidRepresentation="standard",
        )
        log.warning(
            "Using the embedded in-memory database (mongomock): data is NOT kept across "
            "restarts. Set MONGO_URI to use a real MongoDB."
        )
    try:
        ensure_ready()
    except ConnectionFailure as error:
        log.warning(
            "The database does not answer (%s): starting not ready; indexes will be created "
            "when it does.", error
        )
    except Unavailable:
        pass  # an index the data violates: logged with what to do; starting not ready
    app.before_request(_require_ready)


def _require_ready():
    if request.blueprint not in NO_DATABASE_BLUEPRINTS and request.endpoint != "static":
        ensure_ready()


def ensure_ready():
    """Return once this process has ensured every index; raise while the database cannot.

    Raises pymongo's ConnectionFailure (answered 503) after the connection's timeout when the
    database does not answer, or Unavailable (503) at once while another thread is trying, or
    when the data violates an index (say, a unique one), until the next attempt is due.
    """
    if _indexes["ready"]:
        return
    if time.monotonic() < _indexes["retry_at"] or not _indexes_lock.acquire(blocking=False):
        raise Unavailable("The database is not ready yet, please retry")
    try:
        if not _indexes["ready"]:
            _create_indexes()
    finally:
        _indexes_lock.release()


def _create_indexes():
    try:
        ensure_indexes()
    except ConnectionFailure:
        raise
    except Exception as error:
        _indexes["retry_at"] = time.monotonic() + INDEX_RETRY_SECONDS
        log.error(
            "Could not create the database's indexes: %s. Not ready until they exist. A database "
            "written by the Node backend or by an older version of this app needs "
            "`flask --app wsgi migrate-node-data` first.", error
        )
        raise Unavailable("The database is not ready yet, please retry") from error
    _indexes["ready"] = True
    log.info("Database indexes are in place: ready")


def ensure_indexes():
    for document in DOCUMENTS:
        document.ensure_indexes()


def drop_all():
    """Empty every collection (tests); indexes are rebuilt so guarantees keep holding."""
    for document in DOCUMENTS:
        document.drop_collection()
    ensure_indexes()


def ping():
    """Raise if the database does not answer."""
    mongoengine.get_db().command("ping")


def _redact(uri):
    if "@" not in uri:
        return uri
    scheme, rest = uri.split("://", 1)
    return f"{scheme}://***@{rest.split('@', 1)[1]}"
