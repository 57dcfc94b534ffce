"""The app's exceptions, each with its HTTP status, and the one place that turns errors into JSON.

Every error a client can cause is answered at once as `{"message": ..., "success": false}` with
the right status: never an HTML page, a traceback, or (as in the seed) no answer at all.
"""

import logging

from flask import jsonify
from mongoengine.errors import DoesNotExist, NotUniqueError
from mongoengine.errors import ValidationError as DocumentInvalid
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


def error_response(message, status, headers=None):
    response = jsonify({"message": message, "success": False})
    response.status_code = status
    if headers:
        response.headers.extend(headers)
    return response


def register_error_handlers(app):
    @app.errorhandler(ApiError)
    def handle_api_error(error):
        retry_after = getattr(error, "retry_after", None)
        headers = [("Retry-After", str(retry_after))] if retry_after is not None else None
        return error_response(error.message, error.status, headers)

    @app.errorhandler(HTTPException)
    def handle_http_exception(error):
        message = HTTP_MESSAGES.get(error.code, error.name + ".")
        # Keep what Werkzeug put on the response (Allow on 405).
        headers = [(k, v) for k, v in error.get_response().headers if k.lower() in ("allow", "retry-after")]
        return error_response(message, error.code, headers)

    @app.errorhandler(NotUniqueError)
    def handle_not_unique(error):
        return error_response("That already exists.", 409)

    @app.errorhandler(DocumentInvalid)
    def handle_document_invalid(error):
        return error_response("Invalid data.", 400)

    @app.errorhandler(DoesNotExist)
    def handle_does_not_exist(error):
        return error_response("Not found.", 404)

    @app.errorhandler(Exception)
    def handle_unexpected(error):
        log.exception("Unhandled error")
        return error_response("Internal server error.", 500)
