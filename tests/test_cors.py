"""Browsers on the configured origins may call the API with credentials; no other origin may."""

import pytest


@pytest.mark.parametrize(
    "origin",
    ["http://localhost:5173", "http://localhost:3000", "http://127.0.0.1:5173", "http://127.0.0.1:3000"],
)
def test_cors_grants_credentials_to_the_configured_origins(client, origin):
    preflight = client.options(
        "/api/v1/user/login",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == origin
    assert preflight.headers["Access-Control-Allow-Credentials"] == "true"
    # The browser may cache the preflight instead of repeating it before every send.
    assert int(preflight.headers["Access-Control-Max-Age"]) >= 60
    response = client.post("/api/v1/user/login", json={}, headers={"Origin": origin})
    assert response.headers["Access-Control-Allow-Origin"] == origin


@pytest.mark.parametrize("origin", ["http://evil.example", "http://localhost:5174", "null"])
def test_cors_never_echoes_another_origin(client, origin):
    response = client.options(
        "/api/v1/user/login",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
    )
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Allow-Credentials" not in response.headers
    response = client.post("/api/v1/user/login", json={}, headers={"Origin": origin})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_cors_origins_come_from_configuration(api):
    from chatapp.app import create_app
    from config import TestConfig

    app = create_app(TestConfig, CORS_ORIGINS=["https://chat.example.com"])
    client = app.test_client()
    ok = client.get("/api/v1/user/", headers={"Origin": "https://chat.example.com"})
    assert ok.headers["Access-Control-Allow-Origin"] == "https://chat.example.com"
    denied = client.get("/api/v1/user/", headers={"Origin": "http://localhost:5173"})
    assert "Access-Control-Allow-Origin" not in denied.headers


def test_the_history_cursor_header_is_readable_cross_origin(api):
    alice, _ = api.user()
    _, bob = api.user()
    response = alice.get(f"/api/v1/message/{bob['_id']}", headers={"Origin": "http://localhost:5173"})
    assert "X-Next-Before" in response.headers["Access-Control-Expose-Headers"]
