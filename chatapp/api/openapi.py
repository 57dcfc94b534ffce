"""/api/v1/openapi.json: the OpenAPI 3.1 document of the HTTP API (chatapp/openapi.json, by hand).

tests/test_openapi.py checks it against the app's routes; tests/test_fuzz_http.py fuzzes the live
server with it. How to add an endpoint to it: docs/security.md, "The OpenAPI document".
"""

import json
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, jsonify

DOCUMENT = Path(__file__).resolve().parent.parent / "openapi.json"

blueprint = Blueprint("openapi", __name__)


@lru_cache(maxsize=1)
def document():
    """The document, parsed once per process."""
    return json.loads(DOCUMENT.read_text(encoding="utf-8"))


@blueprint.get("/api/v1/openapi.json")
def openapi():
    """The OpenAPI document (public: it describes the API, never its data)."""
    return jsonify(document())
