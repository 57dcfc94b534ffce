"""The app's exceptions, each with its HTTP status, and the one mapping to what a client hears.

Every error a client can cause is answered at once, over HTTP as `{"message": ..., "success":
false}` with the right status, in a socket ack as `{"ok": false, "message": ...}` with the same
message: never an HTML page, a traceback, or (as in the seed) no answer at all.
"""

import logging

from flask import jsonify
from mongoengine.errors import DoesNotExist, NotUniqueError
from mongoengine.errors import ValidationError as DocumentInvalid
from pymongo.errors import ConnectionFailure
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error a client caused or must hear about; `status` is its HTTP status."""

    status = 400

    def __init__(self, message, status=None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class InvalidInput(ApiError):
    status = 400


class NotAuthenticated(ApiError):
    status = 401


class Forbidden(ApiError):
    status = 403


class NotFoundError(ApiError):
    status = 404


class Conflict(ApiError):
    status = 409


class PayloadTooLarge(ApiError):
    status = 413


class Unavailable(ApiError):
    """The database (or another service the request needs) cannot answer now: retry later."""

    status = 503


class TooManyRequests(ApiError):
    """Over a rate limit; `retry_after` (whole seconds) goes out as the Retry-After header."""

    status = 429

    def __init__(self, message, retry_after=1):
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


class ServiceUnavailable(ApiError):
    """The server is too busy to take this now; `retry_after` (seconds) as for TooManyRequests."""

    status = 503

    def __init__(self, message, retry_after=1):
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


# Short, client-facing texts for the HTTP errors Werkzeug and extensions raise.
HTTP_MESSAGES = {
    400: "Malformed request.",
    404: "Not found.",
    405: "Method not allowed.",
    413: "Request body is too large.",
    415: "Unsupported media type.",
}


DATABASE_UNAVAILABLE = "The database is unavailable; try again shortly."


def client_error(error):
    """What a client hears for `error`: `(status, message, headers)`, over HTTP and in socket acks.

    `headers` is a list of (name, value) pairs (Retry-After on a 429, Allow on a 405). Anything
    not known here is logged with its traceback and heard as a generic 500.
    """
    if isinstance(error, ApiError):
        retry_after = getattr(error, "retry_after", None)
        headers = [("Retry-After", str(retry_after))] if retry_after is not None else []
        return error.status, error.message, headers
    if isinstance(error, HTTPException):
        # Keep what Werkzeug put on the response (Allow on 405).
        headers = [
            (k, v) for k, v in error.get_response().headers if k.lower() in ("allow", "retry-after")
        ]
        return error.code, HTTP_MESSAGES.get(error.code, error.name + "."), headers
    if isinstance(error, NotUniqueError):
        return 409, "That already exists.", []
    if isinstance(error, DocumentInvalid):
        return 400, "Invalid data.", []
    if isinstance(error, DoesNotExist):
        return 404, "Not found.", []
    if isinstance(error, ConnectionFailure):
        # The request was fine; the database did not answer in MONGO_TIMEOUT_MS (or the
        # connection dropped). Worth a retry: pymongo reconnects by itself once it is back.
        log.warning("Database unreachable: %s", error)
        return 503, DATABASE_UNAVAILABLE, [("Retry-After", "5")]
    log.error("Unhandled error", exc_info=error)
    return 500, "Internal server error.", []


def error_response(error):
    """The JSON response for `error`: `{"message": ..., "success": false}` with its status."""
    status, message, headers = client_error(error)
    response = jsonify({"message": message, "success": False})
    response.status_code = status
    response.headers.extend(headers)
    return response


def register_error_handlers(app):
    # Exception covers HTTPException and MongoEngine's errors too: client_error sorts them.
    app.register_error_handler(Exception, error_response)
