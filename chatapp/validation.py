"""Checks on values a client sent. Raise `InvalidInput` with a message fit for a toast."""

import re

from bson import ObjectId

from chatapp.errors import InvalidInput


def string_field(value, name, *, required=True):
    """`value` as a string; rejects operators like `{"$ne": null}` before they reach a query."""
    if value is None:
        if required:
            raise InvalidInput(f"{name} is required")
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string")
    return value


def is_object_id(value):
    """True for a 24-hex string, the only form of id the API accepts."""
    return isinstance(value, str) and ObjectId.is_valid(value) and len(value) == 24


def object_id(value, what="id"):
    """A valid 24-hex ObjectId, or a 400 naming what was malformed."""
    if not is_object_id(value):
        raise InvalidInput(f"Invalid {what}")
    return ObjectId(value)


CLIENT_MESSAGE_ID_MAX = 64
_CLIENT_MESSAGE_ID = re.compile(r"[\x21-\x7e]{1,%d}" % CLIENT_MESSAGE_ID_MAX)


def client_message_id(value):
    """An optional idempotency key: 1 to 64 printable ASCII characters, no spaces (a UUID fits)."""
    if value is None:
        return None
    if not isinstance(value, str) or not _CLIENT_MESSAGE_ID.fullmatch(value):
        raise InvalidInput(
            f"clientMessageId must be a string of 1 to {CLIENT_MESSAGE_ID_MAX} "
            "printable ASCII characters without spaces"
        )
    return value


JSON_MAX_DEPTH = 32
UNSTORABLE_TEXT = (
    "Text must be valid Unicode without NUL: lone surrogates (\\ud800-\\udfff) and \\u0000 "
    "cannot be stored"
)
TOO_DEEP = f"JSON must not be nested more than {JSON_MAX_DEPTH} levels deep"


def storable(value):
    """`value` (a parsed JSON document); InvalidInput if the database could not store it.

    MongoDB stores text as UTF-8, which has no encoding for a lone surrogate ("\\ud800" is valid
    JSON): such a string fails deep inside the driver, after checks passed. Nesting is bounded
    too, so nothing downstream recurses without limit. Walks keys and values without recursion.
    """
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, (dict, list)):
            if depth > JSON_MAX_DEPTH:
                raise InvalidInput(TOO_DEEP)
            if isinstance(item, dict):
                for key, child in item.items():
                    _check_text(key)
                    pending.append((child, depth + 1))
            else:
                pending.extend((child, depth + 1) for child in item)
    return value


def _check_text(text):
    if isinstance(text, str):
        # NUL is valid UTF-8 and MongoDB stores it, but PostgreSQL's jsonb (under FerretDB)
        # refuses it, failing the write deep in the database; no chat text needs one.
        if "\x00" in text:
            raise InvalidInput(UNSTORABLE_TEXT)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidInput(UNSTORABLE_TEXT) from None
