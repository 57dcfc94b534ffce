"""Several servers behind deploy/nginx.conf: clients spread over every server, Engine.IO sessions
stay where they live, WebSocket upgrades pass, and what nginx must not pass does not.

Clients leave from several loopback addresses (127.0.0.x), as different machines would.
"""

import asyncio
import json
import time

import aiohttp
import pytest

from tests.helpers.chat_client import open_users, pairs
from tests.helpers.cluster import loopback_addresses
from tests.helpers.nginx import render_site

pytestmark = pytest.mark.integration

DEADLINE = 60  # seconds: every scenario here is bounded


def run(scenario):
    return asyncio.run(asyncio.wait_for(scenario, DEADLINE))


def test_the_shipped_config_renders_for_any_number_of_servers():
    site = render_site(["10.0.0.1:5001", "10.0.0.2:5001", "10.0.0.3:5001"], "8080")
    assert "hash $remote_addr consistent;" in site
    servers = [
        line.split()[1] for line in site.splitlines() if line.strip().startswith("server 10.")
    ]
    assert servers == ["10.0.0.1:5001", "10.0.0.2:5001", "10.0.0.3:5001"]
    assert "listen 8080;" in site and "listen 80;" not in site


def test_clients_spread_over_every_server_and_chat_across_them(healthy_cluster):
    cluster = healthy_cluster

    async def scenario():
        users = await open_users(cluster.url, loopback_addresses(24), f"spread{time.time_ns()}_")
        try:
            await asyncio.gather(*(user.connect() for user in users))
            held = await cluster.users_by_server_settled(users)
            assert all(held[index] for index in range(len(cluster.servers))), held
            by_user = {user.id: [i for i, ids in held.items() if user.id in ids] for user in users}
            assert all(len(servers) == 1 for servers in by_user.values()), by_user

            # Every user sends to its partner; most partners are on another server.
            partner = pairs(users)
            sent = await asyncio.gather(
                *(u.send(partner[u.id], f"hi from {u.username}") for u in users)
            )
            await _until(lambda: all(m["_id"] in partner[u.id].live for u, m in zip(users, sent)))
            across = sum(by_user[u.id] != by_user[partner[u.id].id] for u in users)
            assert across > 0
        finally:
            await asyncio.gather(*(user.close() for user in users))

    run(scenario())


def test_a_long_polling_session_stays_on_its_server_and_upgrades_to_a_websocket(healthy_cluster):
    """The React client's way in: polling first (no cookie on the handshake), then the upgrade."""
    cluster = healthy_cluster

    async def scenario():
        users = await open_users(
            cluster.url, loopback_addresses(12, first=100), f"poll{time.time_ns()}_"
        )
        try:
            await asyncio.gather(*(_polling_then_upgrade(cluster.url, user) for user in users))
        finally:
            await asyncio.gather(*(user.close() for user in users))

    run(scenario())


async def _polling_then_upgrade(base_url, user):
    # As socket.io-client in the React app: the polling requests carry no cookie (the connect is
    # pending, chatapp/realtime/upgrade_login.py), the WebSocket upgrade does. A new TCP
    # connection for every request: only the client's address keeps them on one server.
    connector = aiohttp.TCPConnector(local_addr=(user.address, 0), force_close=True)
    url = base_url + f"/socket.io/?EIO=4&transport=polling&userId={user.id}"
    async with aiohttp.ClientSession(connector=connector) as http:
        async with http.get(url) as response:
            opening = await response.text()
        assert response.status == 200 and opening.startswith("0"), opening
        sid = json.loads(opening[1:])["sid"]
        session_url = f"{url}&sid={sid}"
        async with http.post(session_url, data="40") as response:
            assert response.status == 200, await response.text()
        async with http.get(session_url) as response:
            body = await response.text()
            assert response.status == 200 and body.startswith("40"), body
        for _ in range(5):  # more round trips (pongs), each must find the session
            async with http.post(session_url, data="3") as response:
                assert response.status == 200, await response.text()
        ws_url = base_url.replace("http://", "ws://") + (
            f"/socket.io/?EIO=4&transport=websocket&sid={sid}&userId={user.id}"
        )
        async with http.ws_connect(ws_url, headers={"Cookie": f"token={user.token}"}) as ws:
            await ws.send_str("2probe")
            probe = await asyncio.wait_for(ws.receive(), 10)
            assert probe.data == "3probe", probe
            await ws.send_str("5")  # upgraded: the session now lives on this WebSocket
            # Admitted by the upgrade's cookie: the user is online, and hears it over the socket.
            while True:
                frame = await asyncio.wait_for(ws.receive(), 10)
                assert frame.type == aiohttp.WSMsgType.TEXT, frame
                if frame.data.startswith('42["getOnlineUsers"') and user.id in frame.data:
                    break
            await ws.close()


def test_nginx_answers_for_metrics_itself(healthy_cluster):
    """/metrics is for the operators' network: nginx answers 404 and never asks a server."""
    cluster = healthy_cluster

    async def scenario():
        async with aiohttp.ClientSession() as http:
            async with http.get(cluster.url + "/metrics") as response:
                body = await response.text()
                assert response.status == 404
                # nginx's own page, not the app's JSON 404: the request never reached a server.
                assert response.headers["Server"].startswith("nginx") and "<html>" in body
            async with http.get(cluster.url + "/api/v1/nothing-here") as response:
                assert response.status == 404 and (await response.json())["success"] is False

    run(scenario())



async def _until(condition, timeout=10):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)
