"""The HTTP half of the seed's controllers: thin blueprints that parse, call a service, respond."""

from flask import request

from chatapp.errors import InvalidInput


def json_body():
    """The request's JSON object; 400 for anything else (no body, not JSON, an array...)."""
    if not request.is_json:
        raise InvalidInput("Expected a JSON body (Content-Type: application/json)")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("Request body must be a JSON object")
    return body
