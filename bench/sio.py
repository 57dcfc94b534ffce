"""A lean Socket.IO 4 client over one WebSocket: what socket.io-client does with
`transports: ["websocket"]`, minus everything a benchmark does not need.

Engine.IO v4 on the WebSocket transport: the server opens with `0{...}`, the client joins the
default namespace with `40`, the server answers `40{"sid": ...}` (or `44{...}` when it refuses),
events arrive as `42["name", payload]`, and the client answers each ping `2` with a pong `3`.
Payloads are parsed only when a phase asks for them, so thousands of sockets cost the load
generator little CPU.
"""

import asyncio
import json
import time

import aiohttp

NEW_MESSAGE_PREFIX = '42["newMessage",'
ONLINE_PREFIX = '42["getOnlineUsers",'


class ConnectRefused(Exception):
    """The server refused the Socket.IO connection (`44`) or closed the socket during it."""


class SocketClient:
    """One authenticated socket of one user.

    `on_message(payload, received_at)` is called for each `newMessage`. The latest
    `getOnlineUsers` is kept raw in `online_raw` with its arrival time `online_at`.
    """

    def __init__(self, session, url, token, on_message=None):
        self.session = session
        self.url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        self.token = token
        self.on_message = on_message
        self.ws = None
        self.online_raw = None
        self.online_at = None
        self._online_cache = (None, None)
        self._reader = None
        self.connected = asyncio.Event()
        self.closed = False

    async def connect(self, timeout=20.0):
        """Open the WebSocket and join the namespace, all within `timeout` seconds."""
        try:
            async with asyncio.timeout(timeout):
                return await self._connect()
        except TimeoutError:
            await self.close()
            raise

    async def _connect(self):
        # A server that does not accept() (all its worker connections taken) leaves the
        # upgrade request hanging: connect()'s overall timeout bounds it.
        self.ws = await self.session.ws_connect(
            self.url, headers={"Cookie": f"token={self.token}"},
            timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=5),
            autoclose=True, autoping=True, max_msg_size=64 * 1024 * 1024,
        )
        opening = await self.ws.receive()
        if opening.type != aiohttp.WSMsgType.TEXT or not opening.data.startswith("0"):
            raise ConnectRefused(f"unexpected Engine.IO opening: {opening.type} {opening.data!r:.80}")
        await self.ws.send_str("40")
        self._reader = asyncio.create_task(self._read())
        await self.connected.wait()
        if self.closed:
            raise ConnectRefused("closed during the Socket.IO handshake")
        return self

    async def _read(self):
        ws = self.ws
        try:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                data = msg.data
                now = time.perf_counter()
                if data == "2":
                    await ws.send_str("3")
                elif data.startswith(NEW_MESSAGE_PREFIX):
                    if self.on_message is not None:
                        self.on_message(json.loads(data[2:])[1], now)
                elif data.startswith(ONLINE_PREFIX):
                    self.online_raw = data
                    self.online_at = now
                elif data.startswith("40"):
                    self.connected.set()
                elif data.startswith("44"):
                    break
        except (aiohttp.ClientError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.closed = True
            self.connected.set()  # wake a pending connect(); it sees `closed`

    def online_ids(self):
        """The ids of the latest `getOnlineUsers`, parsed once per new list."""
        raw, ids = self._online_cache
        if raw is not self.online_raw:
            ids = set(json.loads(self.online_raw[2:])[1]) if self.online_raw else set()
            self._online_cache = (self.online_raw, ids)
        return ids

    async def close(self):
        self.closed = True
        if self.ws is not None and not self.ws.closed:
            try:
                await asyncio.wait_for(self.ws.close(), 5)
            except (asyncio.TimeoutError, aiohttp.ClientError, ConnectionError):
                pass
        if self._reader is not None:
            self._reader.cancel()
