"""Behind deploy/nginx.conf the request id in the app's logs is nginx's, never a client's."""

import asyncio
import re

import aiohttp
import pytest

pytestmark = pytest.mark.integration


def test_a_client_cannot_choose_its_request_id_through_nginx(healthy_cluster):
    """The servers trust X-Request-ID from their one proxy (TRUSTED_PROXY_HOPS=1), so nginx must
    set its own: a client's would otherwise name lines in the app's logs."""

    async def scenario():
        async with aiohttp.ClientSession() as http:
            headers = {"X-Request-ID": "chosen-by-the-client"}
            async with http.get(healthy_cluster.url + "/healthz", headers=headers) as response:
                assert response.status == 200
                request_id = response.headers["X-Request-ID"]
        assert request_id != "chosen-by-the-client"
        assert re.fullmatch(r"[0-9a-f]{32}", request_id)  # nginx's $request_id

    asyncio.run(asyncio.wait_for(scenario(), 60))


def test_a_server_keeps_its_proxys_request_id(healthy_cluster):
    """Straight to a server, as nginx talks to it: the id it sent is the one in the logs."""

    async def scenario():
        async with aiohttp.ClientSession() as http:
            headers = {"X-Request-ID": "0123456789abcdef0123456789abcdef"}
            server = healthy_cluster.servers[0].url
            async with http.get(server + "/healthz", headers=headers) as response:
                return response.headers["X-Request-ID"]

    assert asyncio.run(asyncio.wait_for(scenario(), 60)) == "0123456789abcdef0123456789abcdef"
