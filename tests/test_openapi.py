"""chatapp/openapi.json describes the app's routes, all of them, and nothing else.

A route added without its document entry (or an entry left behind by a removed route) fails here;
what the live server answers is checked against the document by tests/test_fuzz_http.py.
"""

import json
import re

import pytest
import schemathesis

from chatapp.api.openapi import DOCUMENT

# Blueprints outside the API: the development demo page (chatapp/web/) is not part of the contract.
UNDOCUMENTED_BLUEPRINTS = {"web"}
IGNORED_METHODS = {"HEAD", "OPTIONS"}
# Operations that count against a rate limit (429 with Retry-After).
RATE_LIMITED = {
    ("post", "/api/v1/user/register"),
    ("post", "/api/v1/user/login"),
    ("post", "/api/v1/message/send/{receiver_id}"),
    # Group creation and membership changes (GROUP_RATE_LIMIT) and group sends (SEND_RATE_LIMIT).
    ("post", "/api/v1/groups/"),
    ("patch", "/api/v1/groups/{group_id}"),
    ("post", "/api/v1/groups/{group_id}/members"),
    ("delete", "/api/v1/groups/{group_id}/members/{user_id}"),
    ("post", "/api/v1/groups/{group_id}/leave"),
    ("post", "/api/v1/groups/{group_id}/messages"),
}
# Operations that never touch the database (so no 503).
NO_DATABASE = {("get", "/api/v1/openapi.json"), ("get", "/healthz"), ("get", "/metrics"),
               ("get", "/api/v1/user/logout"), ("post", "/api/v1/user/logout")}
HTTP_METHODS = {"get", "put", "post", "delete", "patch"}


@pytest.fixture(scope="module")
def document():
    return json.loads(DOCUMENT.read_text(encoding="utf-8"))


def operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield method, path, operation


def openapi_path(rule):
    """Flask's `/message/<other_id>` (or `<string:other_id>`) as OpenAPI's `/message/{other_id}`."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def test_the_document_is_valid_openapi_3_1(document):
    assert document["openapi"].startswith("3.1")
    schemathesis.openapi.from_dict(document).validate()


def test_the_document_is_served(client, document):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.is_json
    assert response.get_json() == document


def test_every_route_is_documented_and_every_documented_route_exists(app, document):
    routes = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] in UNDOCUMENTED_BLUEPRINTS:
            continue
        methods = {m.lower() for m in rule.methods - IGNORED_METHODS}
        routes.setdefault(openapi_path(rule.rule), set()).update(methods)
    documented = {}
    for method, path, _ in operations(document):
        documented.setdefault(path, set()).add(method)
    assert documented == routes


def test_every_operation_documents_the_errors_it_can_answer(document):
    missing = []
    for method, path, operation in operations(document):
        codes = set(operation["responses"])
        expected = set()
        if operation.get("requestBody") or operation.get("parameters"):
            expected.add("400")
        if operation.get("requestBody"):
            expected |= {"413", "415"}
        if method in ("post", "put", "patch", "delete"):
            expected.add("415")
        if operation.get("security"):
            expected.add("401")
        if any(p["in"] == "path" for p in operation.get("parameters", [])):
            expected.add("404")
        if (method, path) in RATE_LIMITED:
            expected.add("429")
        if (method, path) not in NO_DATABASE:
            expected.add("503")
        if expected - codes:
            missing.append(f"{method.upper()} {path}: {sorted(expected - codes)}")
        assert any(code.startswith("2") for code in codes), f"{method} {path}: no success answer"
    assert not missing, "undocumented answers:\n" + "\n".join(missing)


def test_the_documented_security_is_what_the_server_enforces(client, document):
    """Without a token, a secured operation is a 401 and an open one is never one."""
    for method, path, operation in operations(document):
        url = re.sub(r"\{[^}]+\}", "0" * 24, path)
        response = client.open(url, method=method.upper(), json={} if method == "post" else None)
        if operation.get("security"):
            assert response.status_code == 401, f"{method} {path}"
        else:
            assert response.status_code != 401, f"{method} {path}"
