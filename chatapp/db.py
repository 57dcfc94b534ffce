"""The database connection: a real MongoDB from MONGO_URI, or in-memory mongomock without one."""

import logging

import mongoengine

from chatapp import metrics
from chatapp.models import Conversation, Message, User

log = logging.getLogger(__name__)

DOCUMENTS = (User, Conversation, Message)


def init_app(app):
    """Connect MongoEngine's default alias for this app and make sure every index exists.

    Creating indexes up front (not lazily on first write) means the unique username and
    one-conversation-per-pair guarantees hold from the very first request.
    """
    uri = app.config["MONGO_URI"]
    # Drop any earlier connection (tests build many apps): disconnect also forgets the
    # collections each document cached, so the next query really uses this database.
    mongoengine.disconnect()
    if uri:
        mongoengine.connect(
            # A database named in the URI wins over MONGO_DB_NAME (MongoEngine's rule).
            db=app.config["MONGO_DB_NAME"],
            host=uri,
            serverSelectionTimeoutMS=app.config["MONGO_TIMEOUT_MS"],
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
    ensure_indexes()


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
