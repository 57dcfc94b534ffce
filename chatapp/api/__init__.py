"""The HTTP half of the seed's controllers: thin blueprints that parse, call a service, respond.

This package holds what they share: the JSON body, the page size and the next-page headers.
"""

from flask import request

from chatapp import validation
from chatapp.errors import ApiError, InvalidInput

# The cursor of a list's next page; the body stays the bare array the React client expects.
NEXT_PAGE_HEADER = "X-Next-Before"  # paging back (older messages, less recent conversations)
NEXT_AFTER_HEADER = "X-Next-After"  # catching up on newer messages (`?after=`)


def json_body():
    """The request's JSON object; 400 for anything else (no body, not JSON, an array...)."""
    if not request.is_json:
        raise InvalidInput("Expected a JSON body (Content-Type: application/json)")
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # the parser gave up on deep nesting: not a server error
        refuse_truncated_body()
        raise InvalidInput(validation.TOO_DEEP) from None
    refuse_truncated_body()
    if not isinstance(body, dict):
        raise InvalidInput("Request body must be a JSON object")
    return validation.storable(body)  # 400 for lone surrogates and deep nesting


def refuse_truncated_body():
    """413 for a body sent without Content-Length (chunked) that reached MAX_CONTENT_LENGTH.

    With a Content-Length over the limit, Werkzeug refuses the body (413) before reading it.
    A chunked body it reads up to the limit and silently hands over that prefix, which then
    fails to parse and would be answered as malformed (400) instead of too large. Reading past
    the limit makes Werkzeug raise its 413; a body that ended earlier just reads as empty.
    (A chunked body of exactly the limit cannot be told from a longer one: it is refused too.)
    """
    if request.content_length is None:
        request.stream.read(1)


def parse_limit(raw, *, default, maximum):
    """A page size from a query string: default when absent, capped at `maximum`."""
    if raw is None or raw == "":
        return default
    try:
        limit = int(raw)
    except (TypeError, ValueError):
        raise InvalidInput("limit must be a positive integer") from None
    if limit < 1:
        raise InvalidInput("limit must be a positive integer")
    return min(limit, maximum)


STATE_CHANGING = frozenset(("POST", "PUT", "PATCH", "DELETE"))


def refuse_non_json_bodies():
    """415 for a state-changing request whose body is not JSON (a `before_request` hook).

    A page of another site can make a browser send a form (urlencoded, multipart, text/plain)
    without a preflight; only JSON needs one, which CORS then refuses. Requiring JSON is what
    keeps a plain form from marking messages read (or anything else) on the user's behalf. A
    request with no body and no Content-Type (a bare POST such as logout) is still accepted.
    """
    if request.method not in STATE_CHANGING or request.url_rule is None:
        return  # unknown paths and methods get their own 404/405
    has_body = bool(request.content_length) or "chunked" in request.headers.get(
        "Transfer-Encoding", ""
    ).lower()
    if request.is_json or (not has_body and request.content_type is None):
        return
    raise ApiError("Content-Type must be application/json", 415)


def refuse_unstorable_query():
    """400 for a query string the database could not take (a `before_request` hook).

    `?q=` and the cursors reach queries; a NUL or a lone surrogate there would fail inside the
    database (a 500) instead of being the client's error.
    """
    validation.storable(request.args.to_dict(flat=False))
