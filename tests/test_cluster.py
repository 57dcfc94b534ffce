"""Several servers, one chat: real gunicorn processes sharing a real redis-server.

Each server here has its own embedded database (a shared database comes with FerretDB), so users
are registered on the server they use; what crosses between servers is what goes through Redis:
emits, presence and rate-limit counters.
"""

import os
import signal
import time
import uuid

import pytest
import requests
import socketio

from chatapp.realtime.cluster import LISTEN_RETRY_MAX_SECONDS, QUEUE_CHANNEL
from tests.helpers import ferretdb
from tests.helpers.live import WAIT_SECONDS, Tab, register_and_log_in, start_server
from tests.helpers.live_server import LiveServer
from tests.helpers.missing import skip_unless_ci

pytestmark = pytest.mark.integration

HEARTBEAT = 0.5  # seconds: a killed server's users go offline within 4x this (plus the window)


@pytest.fixture(scope="module")
def shared_database():
    """A MongoDB-protocol server several servers can share: TEST_MONGO_URI, else FerretDB."""
    if os.environ.get("TEST_MONGO_URI"):
        yield os.environ["TEST_MONGO_URI"]
        return
    try:
        database = ferretdb.start()
    except ferretdb.Unavailable as error:
        skip_unless_ci(str(error))
    yield database.uri
    database.stop()


@pytest.fixture
def servers(redis_url, tmp_path):
    """`start(name)` a gunicorn server on the test's Redis; all are stopped after the test.

    Each has its own embedded database unless MONGO_URI (and MONGO_DB_NAME) are given.
    """
    started = []

    def start(name, worker="eventlet", **env):
        server = LiveServer(worker, env={
            "MONGO_URI": "",
            "REDIS_URL": redis_url,
            "PRESENCE_HEARTBEAT_SECONDS": str(HEARTBEAT),
            **env,
        })
        started.append(server)
        return start_server(server, tmp_path / f"{name}.log")

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def tabs():
    opened = []

    def open_tab(server, user):
        tab = Tab().connect(server.url, "websocket", headers=user.cookie_header)
        opened.append(tab)
        return tab

    yield open_tab
    for tab in opened:
        if tab.client.connected:
            tab.close()


def wait_for_online(tab, *, includes=(), excludes=(), timeout=WAIT_SECONDS):
    """Seconds until `tab`'s latest online list shows `includes` and none of `excludes`."""
    includes = {user.id for user in includes}
    excludes = {user.id for user in excludes}
    started = time.monotonic()
    while True:
        online = tab.latest_online()
        if online is not None and includes <= online and not excludes & online:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(
                f"within {timeout}s: online list with {includes} and without {excludes}; "
                f"lists received: {tab.received('getOnlineUsers')!r}"
            )
        time.sleep(0.02)


def test_an_emit_from_another_process_reaches_the_socket_on_this_server(servers, tabs, redis_url):
    one = servers("one")
    alice = register_and_log_in(one.url)
    tab = tabs(one, alice)
    tab.wait_online(includes=[alice])
    # Another worker's emit, as python-socketio publishes it to the queue.
    other_worker = socketio.RedisManager(redis_url, channel=QUEUE_CHANNEL, write_only=True)
    payload = {"_id": "x", "message": "from the other worker", "receiverId": alice.id}
    other_worker.emit("newMessage", payload, namespace="/", room=f"user:{alice.id}")
    assert tab.wait_messages(1) == [payload]
    other_worker.emit("newMessage", {"message": "not alice's"}, namespace="/", room="user:nobody")
    other_worker.emit("newMessage", payload, namespace="/", room=f"user:{alice.id}")
    assert tab.wait_messages(2) == [payload, payload]  # nothing addressed to others in between


def test_users_on_two_servers_see_each_other_come_and_go(servers, tabs):
    one, two = servers("one"), servers("two", worker="gevent")  # either worker class
    alice, bob = register_and_log_in(one.url), register_and_log_in(two.url)
    alice_tab = tabs(one, alice)
    alice_tab.wait_online(includes=[alice])
    bob_tab = tabs(two, bob)
    bob_tab.wait_online(includes=[alice, bob])  # the list at connect already counts server one
    alice_tab.wait_online(includes=[alice, bob])

    # Bob's second tab keeps him online when his first closes: carol's arrival, announced
    # after it, would otherwise come with a list without bob.
    bob_tab_2 = tabs(two, bob)
    bob_tab.close()
    carol = register_and_log_in(two.url)
    tabs(two, carol)
    alice_tab.wait_online(includes=[alice, bob, carol])

    bob_tab_2.close()
    alice_tab.wait_online(includes=[alice, carol], excludes=[bob])


def test_users_of_a_killed_server_go_offline_within_the_heartbeat_bound(servers, tabs):
    one, two = servers("one"), servers("two")
    alice, bob = register_and_log_in(one.url), register_and_log_in(two.url)
    alice_tab = tabs(one, alice)
    tabs(two, bob)
    alice_tab.wait_online(includes=[alice, bob])

    os.killpg(two.pid, signal.SIGKILL)  # master and worker: nothing says goodbye
    bound = 4 * HEARTBEAT + 0.1 + 2.0  # key TTL + the next heartbeat + window + slack
    took = wait_for_online(alice_tab, includes=[alice], excludes=[bob], timeout=bound + 5)
    assert took <= bound, f"offline after {took:.1f}s, bound {bound:.1f}s"


def test_failed_logins_count_against_one_budget_on_every_server(servers):
    env = {"LOGIN_FREE_FAILURES": "3"}  # per (username, address): one address here
    one, two = servers("one", **env), servers("two", **env)
    body = {"username": "somebody", "password": "wrong guess"}
    statuses = [
        requests.post(f"{server.url}/api/v1/user/login", json=body, timeout=WAIT_SECONDS)
        .status_code
        for server in (one, two, one, two)
    ]
    assert statuses == [400, 400, 400, 429]


def test_presence_recovers_after_redis_restarts_empty(servers, tabs, redis_server):
    one, two = servers("one"), servers("two")
    alice, bob = register_and_log_in(one.url), register_and_log_in(two.url)
    alice_tab = tabs(one, alice)
    tabs(two, bob)
    alice_tab.wait_online(includes=[alice, bob])

    redis_server.restart()  # every key gone
    # Each server rewrites its users with its next heartbeat; a newcomer's list shows both.
    carol = register_and_log_in(two.url)
    time.sleep(2 * HEARTBEAT)
    carol_tab = tabs(two, carol)
    wait_for_online(carol_tab, includes=[alice, bob, carol], timeout=10)


def test_emits_from_other_workers_resume_by_themselves_after_redis_restarts(
    servers, tabs, redis_server, redis_url
):
    one = servers("one")
    alice = register_and_log_in(one.url)
    tab = tabs(one, alice)
    tab.wait_online(includes=[alice])

    redis_server.restart()
    restarted = time.monotonic()
    other_worker = socketio.RedisManager(redis_url, channel=QUEUE_CHANNEL, write_only=True)
    # Emits published before the server has resubscribed are lost (live delivery is best
    # effort); keep emitting until one arrives.
    sent = 0
    while not tab.received("newMessage") and time.monotonic() - restarted < 15:
        other_worker.emit("newMessage", {"n": sent}, namespace="/", room=f"user:{alice.id}")
        sent += 1
        time.sleep(0.1)
    took = time.monotonic() - restarted
    assert tab.received("newMessage"), "no emit arrived within 15 s of the restart"
    assert took <= LISTEN_RETRY_MAX_SECONDS + 2, f"emits resumed after {took:.1f}s"


def test_a_message_sent_to_one_server_reaches_the_receiver_on_another(servers, tabs,
                                                                     shared_database):
    database = {"MONGO_URI": shared_database, "MONGO_DB_NAME": f"cluster_{uuid.uuid4().hex[:8]}"}
    one, two = servers("one", **database), servers("two", **database)
    alice, bob = register_and_log_in(one.url), register_and_log_in(two.url)
    bob_tab = tabs(two, bob)
    alice_tab = tabs(one, alice)
    alice_other_tab = tabs(two, alice)  # the same login, on the other server
    bob_tab.wait_online(includes=[alice, bob])

    message = alice.send(bob, "across servers")  # HTTP to server one
    assert bob_tab.wait_messages(1) == [message]
    alice_other_tab.wait_until(lambda tab: tab.received("messageSent") == [message],
                               "messageSent on alice's tab on the other server")

    # And back: bob sends over his socket on server two, alice's tab on server one hears it.
    ack = bob_tab.client.call("sendMessage", {"receiverId": alice.id, "message": "got it"},
                              timeout=WAIT_SECONDS)
    assert ack["ok"] is True, ack
    assert alice_tab.wait_messages(1) == [ack["newMessage"]]


def test_a_group_message_reaches_members_on_every_server(servers, tabs, shared_database):
    """`groupMessage` goes to a list of rooms: over the queue, each member's tabs on any server
    get it once, and `conversationUpdated` too (docs/groups.md)."""
    database = {"MONGO_URI": shared_database, "MONGO_DB_NAME": f"cluster_{uuid.uuid4().hex[:8]}"}
    one, two = servers("one", **database), servers("two", **database)
    alice, bob, carol = (register_and_log_in(url) for url in (one.url, two.url, two.url))
    bob_tab, carol_tab = tabs(two, bob), tabs(two, carol)
    alice_other_tab = tabs(two, alice)
    bob_tab.wait_online(includes=[alice, bob, carol])

    created = alice.session.post(f"{one.url}/api/v1/groups", timeout=WAIT_SECONDS,
                                 json={"name": "Across", "memberIds": [bob.id, carol.id]})
    assert created.status_code == 201, created.text
    group_id = created.json()["_id"]
    sent = alice.session.post(f"{one.url}/api/v1/groups/{group_id}/messages",
                              json={"message": "to everyone"}, timeout=WAIT_SECONDS)
    assert sent.status_code == 201, sent.text
    for tab in (bob_tab, carol_tab, alice_other_tab):
        tab.wait_until(lambda t: len(t.received("groupMessage")) >= 2, "two groupMessages")
        assert [m["message"] for m in tab.received("groupMessage")][1] == "to everyone"
        assert len(tab.received("conversationUpdated")) == 1
        assert tab.received("newMessage") == []
