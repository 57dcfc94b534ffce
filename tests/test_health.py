"""`/healthz` and `/readyz`: what load balancers and orchestrators probe."""


def test_healthz_and_readyz(app, client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz").get_json()
    assert ready.pop("latencyMs")["database"] >= 0
    with_redis = {"redis": "ok"} if app.config["REDIS_URL"] else {}  # TEST_REDIS_URL
    assert ready == {"status": "ok", "database": "ok", **with_redis}


def test_readyz_is_a_503_when_the_database_does_not_answer(client, monkeypatch):
    from chatapp import db

    def down():
        raise ConnectionError("no route to database")

    monkeypatch.setattr(db, "ping", down)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unreachable"


def test_readyz_reports_redis_and_how_long_it_took(make_app, redis_url):
    client = make_app(REDIS_URL=redis_url).test_client()
    ready = client.get("/readyz").get_json()
    assert ready["status"] == "ok" and ready["redis"] == "ok"
    assert ready["latencyMs"]["redis"] >= 0 and ready["latencyMs"]["database"] >= 0


def test_a_redis_that_does_not_answer_is_reported_but_the_server_stays_ready(make_app):
    from tests.helpers.live_server import free_port

    app = make_app(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0", REDIS_TIMEOUT_MS=200)
    response = app.test_client().get("/readyz")
    # Without Redis the app degrades (limits fail open, this server's sockets only): still ready.
    assert response.status_code == 200
    assert response.get_json()["redis"] == "unreachable"
