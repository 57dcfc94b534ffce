"""Checks on values a client sent. Raise `InvalidInput` with a message fit for a toast."""

from bson import ObjectId
from bson.errors import InvalidId

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


def object_id(value, what="id"):
    """A valid 24-hex ObjectId, or a 400 naming what was malformed."""
    if not isinstance(value, str) or len(value) != 24:
        raise InvalidInput(f"Invalid {what}")
    try:
        return ObjectId(value)
    except (InvalidId, TypeError):
        raise InvalidInput(f"Invalid {what}") from None
