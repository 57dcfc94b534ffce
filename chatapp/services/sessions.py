"""Ending login sessions: logout, and ending all of a user's other sessions (password change).

The rules and the store are `chatapp.sessions`; this module builds them for an app (the store
from its settings, the floors kept on the user's document) and offers the service calls.
"""

import time

from flask import current_app

from chatapp import security
from chatapp.errors import NotAuthenticated
from chatapp.models import User
from chatapp.sessions import MemoryRevocationStore, RedisRevocationStore, Sessions, redis_client

SESSIONS = "chatapp.sessions"


def init_app(app):
    """This app's Sessions: in Redis when REDIS_URL is set (every worker refuses an ended
    session at once), else in this process."""
    config = app.config
    if config.get("REDIS_URL"):
        timeout = config.get("REDIS_TIMEOUT_MS", 1000) / 1000.0
        store = RedisRevocationStore(redis_client(config["REDIS_URL"], timeout))
    else:
        store = MemoryRevocationStore()
    app.extensions[SESSIONS] = Sessions(
        store,
        accept_legacy_tokens=app.config["ACCEPT_LEGACY_TOKENS"],
        load_floor=_load_floor,
        save_floor=_save_floor,
    )


def _sessions():
    return current_app.extensions[SESSIONS]


def log_out(token):
    """End the session of `token` (a token that does not verify ends nothing)."""
    config = current_app.config
    try:
        claims = security.decode_claims(token, config["JWT_SECRET_KEY"])
    except security.InvalidToken:
        return
    _sessions().end(claims)


def end_other_sessions(user_id, keep_token):
    """End every session of `user_id` except the one of `keep_token` (which must be theirs):
    their other tabs and devices are signed out, their sockets disconnected."""
    config = current_app.config
    try:
        keep = security.decode_claims(keep_token, config["JWT_SECRET_KEY"])
    except security.InvalidToken:
        raise NotAuthenticated("Invalid token") from None
    if keep.user_id != str(user_id):
        raise NotAuthenticated("Invalid token")
    # The last token issued before now expires within the longest lifetime a token can have.
    until = time.time() + config["TOKEN_MAX_AGE_SECONDS"]
    _sessions().end_others(str(user_id), keep.session_id, until)


def _load_floor(user_id):
    doc = User.objects(id=user_id).only("sessions_ended_at", "kept_session").as_pymongo().first()
    if not doc or doc.get("sessionsEndedAt") is None:
        return None
    return doc["sessionsEndedAt"], doc.get("keptSession")


def _save_floor(user_id, floor, kept_session):
    User.objects(id=user_id).update_one(
        set__sessions_ended_at=floor, set__kept_session=kept_session
    )
