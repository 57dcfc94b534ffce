"""The attacker's side of the cookie-on-upgrade login, on the real server (eventlet and gevent).

An attacker opens a polling session claiming the victim's userId (pending: it sees nothing),
then makes the victim's browser open a WebSocket to that session id, carrying the victim's
cookie. Only an upgrade Engine.IO accepts, from an allowed origin, may admit a pending socket.
"""

import itertools
import uuid

import pytest
import requests

from tests.helpers.live import start_server
from tests.helpers.live_server import LiveServer
from tests.helpers.polling import Polling
from tests.helpers.rawws import TEXT, RawWebSocket

pytestmark = pytest.mark.integration

PASSWORD = "correct horse"
EVIL_ORIGIN = "http://localhost:6666"  # same site as localhost:5173, not in CORS_ORIGINS
GOOD_ORIGIN = "http://localhost:5173"
PENDING_PER_ADDRESS = 4
_addresses = (f"127.0.0.{n}" for n in itertools.count(10))


@pytest.fixture(scope="module", params=["eventlet", "gevent"])
def server(request, tmp_path_factory):
    live = LiveServer(request.param, env={"SOCKET_PENDING_PER_ADDRESS": str(PENDING_PER_ADDRESS)})
    start_server(live, tmp_path_factory.mktemp("upgrades") / f"{request.param}.log")
    yield live
    live.stop()


def user(server):
    """(requests session with the login cookie, user json)."""
    session = requests.Session()
    name = f"u{uuid.uuid4().hex[:12]}"
    body = {"fullName": name, "username": name, "password": PASSWORD,
            "confirmPassword": PASSWORD, "gender": "male"}
    response = session.post(f"{server.url}/api/v1/user/register", json=body, timeout=5)
    assert response.status_code == 201
    response = session.post(f"{server.url}/api/v1/user/login",
                            json={"username": name, "password": PASSWORD}, timeout=5)
    assert response.status_code == 200
    return session, response.json()


@pytest.fixture
def sessions():
    opened = []
    yield opened
    for session in opened:
        session.close()


def pending_socket(server, sessions, claimed_user_id):
    polling = Polling(server, f"userId={claimed_user_id}", next(_addresses))
    sessions.append(polling)
    assert polling.status == 200
    polling.send("40")
    assert polling.poll()[0].startswith("40{")  # connected, and pending: nothing else
    return polling


def websocket_to(server, sid, cookie, origin):
    path = f"/socket.io/?EIO=4&transport=websocket&sid={sid}"
    return RawWebSocket("127.0.0.1", server.port, path,
                        headers={"Cookie": f"token={cookie}", "Origin": origin})


def saw_private_data(packets):
    return any("getOnlineUsers" in p or "newMessage" in p for p in packets)


def test_a_page_outside_the_allowed_origins_cannot_admit_the_attackers_session(server, sessions):
    victim_session, victim = user(server)
    sender, _ = user(server)
    attacker = pending_socket(server, sessions, victim["_id"])
    # The attacker's page makes the victim's browser open a WebSocket to the attacker's session.
    ws = websocket_to(server, attacker.sid, victim_session.cookies["token"], EVIL_ORIGIN)
    ws.close()
    assert ws.status == 400  # Engine.IO refuses the origin
    sender.post(f"{server.url}/api/v1/message/send/{victim['_id']}", json={"message": "secret"},
                timeout=5)
    assert not saw_private_data(attacker.poll(timeout=1.5))


def test_an_upgrade_engineio_never_accepted_admits_nothing(server, sessions):
    """Handshake only: no probe, no UPGRADE packet, so Engine.IO never upgraded the session."""
    victim_session, victim = user(server)
    sender, _ = user(server)
    attacker = pending_socket(server, sessions, victim["_id"])
    ws = websocket_to(server, attacker.sid, victim_session.cookies["token"], GOOD_ORIGIN)
    assert ws.status == 101
    ws.close()
    sender.post(f"{server.url}/api/v1/message/send/{victim['_id']}", json={"message": "secret"},
                timeout=5)
    assert not saw_private_data(attacker.poll(timeout=1.5))


def test_the_react_clients_own_upgrade_admits_its_socket(server, sessions):
    me_session, me = user(server)
    sender, _ = user(server)
    mine = pending_socket(server, sessions, me["_id"])
    ws = websocket_to(server, mine.sid, me_session.cookies["token"], GOOD_ORIGIN)
    try:
        assert ws.status == 101
        ws.send_text("2probe")
        assert ws.recv_frame() == (TEXT, b"3probe")
        ws.send_text("5")  # UPGRADE: Engine.IO now accepts, and the cookie admits the socket
        frames = [ws.recv_frame()[1].decode()]
        while "getOnlineUsers" not in frames[-1]:
            frames.append(ws.recv_frame()[1].decode())
        assert me["_id"] in frames[-1]
        sender.post(f"{server.url}/api/v1/message/send/{me['_id']}", json={"message": "hello"},
                    timeout=5)
        frame = ws.recv_frame()[1].decode()
        while "newMessage" not in frame:
            frame = ws.recv_frame()[1].decode()
        assert "hello" in frame
    finally:
        ws.close()


def test_sessions_not_signed_in_are_capped_per_address(server, sessions):
    address = next(_addresses)
    opened = [Polling(server, "", address) for _ in range(PENDING_PER_ADDRESS + 1)]
    sessions.extend(opened)
    # Engine.IO answers a refused connection 401.
    assert [p.status for p in opened] == [200] * PENDING_PER_ADDRESS + [401]
    other = Polling(server, "", next(_addresses))  # another address is not affected
    sessions.append(other)
    assert other.status == 200
    opened[0].close()
    again = Polling(server, "", address)
    sessions.append(again)
    assert again.status == 200  # a closed session frees its place
