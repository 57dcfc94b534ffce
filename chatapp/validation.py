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
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:  # a lone surrogate ("\ud800" in JSON): BSON cannot store it
            raise InvalidInput(f"{name} must be valid Unicode text") from None
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
