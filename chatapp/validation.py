"""Checks on values a client sent. Raise `InvalidInput` with a message fit for a toast."""

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
