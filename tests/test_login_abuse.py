"""Failed logins slow the guesser, never the owner; their counters stay small; a burst beyond
what the cores can hash is answered 503 at once, not queued without bound."""

import threading

import pytest

from chatapp import concurrency, security
from tests.helpers.chat import PASSWORD

LOGIN = "/api/v1/user/login"
ATTACKER = "203.0.113.66"
OWNER = "198.51.100.7"


def login(client, username, password, address):
    return client.post(
        LOGIN, json={"username": username, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


@pytest.fixture
def throttle(app):
    return app.extensions["chatapp.login_throttle"]


@pytest.fixture
def memory_counters(throttle):
    """The throttle's counters in this process's memory, whatever TEST_REDIS_URL says: for
    tests that move time or look at the keys."""
    from limits.storage import MemoryStorage

    throttle.storage = MemoryStorage()
    return throttle.storage


@pytest.fixture
def clock(monkeypatch, memory_counters):
    """Time as the throttle and its counters see it, moved by the test."""
    import time as real_time
    from types import SimpleNamespace

    import limits.storage.memory

    from chatapp import login_throttle

    now = [real_time.time()]
    fake = SimpleNamespace(time=lambda: now[0], monotonic=real_time.monotonic)
    monkeypatch.setattr(limits.storage.memory, "time", fake)
    monkeypatch.setattr(login_throttle, "time", fake)
    return now


def test_a_stranger_failing_on_purpose_cannot_lock_the_owner_out(app, api, client, clock):
    api.register(client, username="owner")
    for _ in range(50):
        login(client, "owner", "wrong guess", ATTACKER)
        clock[0] += 1
    assert login(client, "owner", "another guess", ATTACKER).status_code == 429
    response = login(client, "owner", PASSWORD, OWNER)
    assert response.status_code == 200, response.get_json()


def test_the_guessers_waits_grow_with_each_failure(app, api, client, clock, throttle):
    api.register(client, username="target")
    waits = []
    for _ in range(throttle.free + 4):
        response = login(client, "target", "wrong", ATTACKER)
        if response.status_code == 429:
            waits.append(int(response.headers["Retry-After"]))
            clock[0] += waits[-1]  # wait exactly as told, then fail again
            assert login(client, "target", "wrong", ATTACKER).status_code == 400
    assert waits == [1, 2, 4, 8]
    # Even the right password waits from the guesser's address: that is what stops guessing.
    assert login(client, "target", PASSWORD, ATTACKER).status_code == 429


def test_many_usernames_from_one_address_are_slowed_per_address(app, api, client, clock, throttle):
    for n in range(throttle.free_per_address):
        assert login(client, f"someone{n}", "wrong", ATTACKER).status_code == 400
    refused = login(client, "yet-another", "wrong", ATTACKER)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    api.register(client, username="bystander")
    assert login(client, "bystander", PASSWORD, OWNER).status_code == 200


def test_a_huge_username_is_refused_before_it_becomes_a_key(app, client, throttle,
                                                             memory_counters):
    import secrets

    for _ in range(3):
        response = login(client, secrets.token_hex(30_000), "wrong", ATTACKER)  # 60 kB each
        assert response.status_code == 400
        assert response.get_json() == {
            "message": "Incorrect username or password", "success": False
        }
    keys = list(throttle.storage.storage)
    assert keys and max(len(key) for key in keys) < 100


def test_the_counters_expire(throttle, clock):
    for n in range(100):
        throttle.failed(f"user{n}", "10.0.0.1")
    assert throttle.storage.get("login-throttle/a/10.0.0.1/failures") == 100
    clock[0] += throttle.forget_after + 1
    assert throttle.storage.get("login-throttle/a/10.0.0.1/failures") == 0
    throttle.check("user1", "10.0.0.1")  # no wait any more


def test_a_success_forgives_that_addresss_failures_for_that_username(app, api, client, throttle):
    api.register(client, username="forgetful")
    for _ in range(throttle.free - 1):
        assert login(client, "forgetful", "wrong", OWNER).status_code == 400
    assert login(client, "forgetful", PASSWORD, OWNER).status_code == 200
    for _ in range(throttle.free - 1):
        assert login(client, "forgetful", "wrong", OWNER).status_code == 400
    assert login(client, "forgetful", PASSWORD, OWNER).status_code == 200


def test_a_full_bcrypt_queue_answers_503_at_once(app, api, client, monkeypatch):
    api.register(client, username="patient")
    monkeypatch.setattr(concurrency, "SLOTS", 1)
    monkeypatch.setattr(concurrency, "QUEUE_MAX", 1)
    release = threading.Event()
    started = threading.Semaphore(0)
    real_check = security.bcrypt.checkpw

    def slow_check(password, hashed):
        started.release()
        release.wait(10)
        return real_check(password, hashed)

    monkeypatch.setattr(security.bcrypt, "checkpw", slow_check)
    results = []

    def log_in_in_background():
        results.append(login(app.test_client(), "patient", PASSWORD, OWNER).status_code)

    # One hashing, one waiting: the queue is full.
    threads = [threading.Thread(target=log_in_in_background) for _ in range(2)]
    try:
        for thread in threads:
            thread.start()
        assert started.acquire(timeout=5)
        # The second one is inside run_off_loop too (threading mode runs both at once; what
        # counts is the admission: SLOTS + QUEUE_MAX = 2 calls in).
        assert started.acquire(timeout=5)
        response = login(client, "patient", PASSWORD, OWNER)
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "1"
        assert response.get_json()["success"] is False
    finally:
        release.set()
        for thread in threads:
            thread.join(10)
    assert results == [200, 200]
    # The 503 was not a failure: nobody's counters moved.
    assert login(client, "patient", PASSWORD, OWNER).status_code == 200


def test_a_failing_counter_storage_lets_logins_through(app, api, client, throttle, monkeypatch):
    """Fail open, as the rate limits do (Redis down): logins go on, unthrottled."""
    from limits.errors import StorageError

    api.register(client, username="during-outage")

    def broken(*args, **kwargs):
        raise StorageError(ConnectionError("redis down"))

    for name in ("get", "incr", "clear", "get_expiry"):
        monkeypatch.setattr(throttle.storage, name, broken)
    assert login(client, "during-outage", "wrong", OWNER).status_code == 400
    assert login(client, "during-outage", PASSWORD, OWNER).status_code == 200
