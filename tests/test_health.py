"""`/healthz` and `/readyz`: what load balancers and orchestrators probe."""


def test_healthz_and_readyz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz").get_json()
    assert ready.pop("latencyMs")["database"] >= 0
    assert ready == {"status": "ok", "database": "ok"}


def test_readyz_is_a_503_when_the_database_does_not_answer(client, monkeypatch):
    from chatapp import db

    def down():
        raise ConnectionError("no route to database")

    monkeypatch.setattr(db, "ping", down)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unreachable"
