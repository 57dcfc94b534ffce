"""SharedPresence: who is online across workers, on a real redis-server (two backends stand for
two workers); and the settings that turn it on."""

import threading
import time

import pytest

from chatapp.app import create_app
from chatapp.realtime.shared_presence import SharedPresence
from config import TestConfig
from tests.helpers.redis_server import wait_for


@pytest.fixture
def workers(redis_url):
    made = []

    def make(heartbeat=3.0, start_task=None):
        presence = SharedPresence(redis_url, heartbeat=heartbeat)
        changes = []
        presence.start(
            lambda: changes.append(time.monotonic()),
            start_task or (lambda task: threading.Thread(target=task, daemon=True).start()),
            time.sleep,
        )
        made.append(presence)
        return presence, changes

    yield make
    for presence in made:
        presence.stop()


def test_a_user_is_online_while_any_worker_has_a_socket_of_theirs(workers):
    (one, _), (two, two_heard) = workers(), workers()
    assert one.add("alice", "s1") is True
    assert two.add("alice", "s2") is True  # new on this worker: it tells its own sockets
    assert two.add("bob", "s3") is True
    assert sorted(one.online_user_ids()) == ["alice", "bob"]
    assert one.remove("s1") == ("alice", True)
    assert sorted(two.online_user_ids()) == ["alice", "bob"]  # her socket on two remains
    # Within a heartbeat or so: on a loaded machine a write can miss Redis's 1 s timeout, and
    # then the next heartbeat (3 s) rewrites the set and announces it.
    assert wait_for(lambda: two_heard, timeout=10), "worker two was not told of worker one's change"
    two.remove("s2")
    assert one.online_user_ids() == ["bob"]


def test_a_worker_that_stops_cleanly_takes_its_users_offline_at_once(workers):
    (one, _), (two, _) = workers(), workers()
    one.add("alice", "s1")
    one.stop()
    assert two.online_user_ids() == []


def test_a_frozen_worker_is_offline_within_four_heartbeats_and_others_are_told(workers):
    heartbeat = 0.3
    # Registered, but its heartbeat never runs again: as a worker killed with SIGKILL.
    frozen, _ = workers(heartbeat=heartbeat, start_task=lambda task: None)
    frozen.add("alice", "s1")
    alive, heard = workers(heartbeat=heartbeat)
    alive.add("bob", "s2")
    assert sorted(alive.online_user_ids()) == ["alice", "bob"]
    started = time.monotonic()
    heard.clear()
    assert wait_for(lambda: alive.online_user_ids() == ["bob"], timeout=4 * heartbeat + 2)
    assert wait_for(lambda: heard, timeout=4 * heartbeat + 2), "nobody rebroadcast the list"
    assert heard[0] - started <= 4 * heartbeat + 0.5


def test_redis_url_must_be_a_redis_url():
    with pytest.raises(RuntimeError, match="REDIS_URL must start with redis://"):
        create_app(TestConfig, REDIS_URL="http://127.0.0.1:6379")


def test_two_apps_on_one_redis_share_the_failed_login_budget(make_app, redis_url):
    # RATELIMIT_STORAGE_URI left empty: it follows REDIS_URL.
    apps = [make_app(REDIS_URL=redis_url, LOGIN_FREE_FAILURES=2) for _ in range(2)]
    body = {"username": "somebody", "password": "wrong guess"}
    statuses = [app.test_client().post("/api/v1/user/login", json=body).status_code
                for app in (apps[0], apps[1], apps[0])]
    assert statuses == [400, 400, 429]
