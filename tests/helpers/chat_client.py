"""Chat users behind a load balancer, each on a loopback address of its own, as careful clients.

Each user's HTTP requests and WebSocket leave from its own source address (127.0.0.x), so nginx's
`hash $remote_addr` spreads users over the servers as it would spread real clients. A user does
what a client that must not lose messages does: it sends with a `clientMessageId` and retries the
same send when no answer came; when its socket closes it reconnects (through nginx, which picks a
live server) and then catches up with `GET /api/v1/message/<peer>?after=<last id>`.
"""

import asyncio
import time
import uuid

import aiohttp

from bench.sio import SocketClient

API = "/api/v1"
PASSWORD = "cluster-password-1"
NEXT_AFTER_HEADER = "X-Next-After"
NEXT_BEFORE_HEADER = "X-Next-Before"
REQUEST_TIMEOUT = 10  # seconds: any request slower than this counts as hung
RETRY_STATUSES = {None, 502, 503, 504}  # no answer from a server: the same send is retried


class ChatUser:
    """One user: an HTTP session and (once connected) a socket, both from `address`."""

    def __init__(self, base_url, address, username):
        self.base_url = base_url
        self.address = address
        self.username = username
        self.id = None
        self.token = None
        self.http = None
        self.socket = None
        self.received = {}  # message id -> payload: live or by catch-up
        self.live = set()  # ids that arrived on the socket
        self.cursor = {}  # peer id -> newest message id seen in that conversation
        self.reconnects = 0
        self.statuses = []  # status of every send attempt (None: no answer)
        self.slowest_request = 0.0

    async def open(self):
        connector = aiohttp.TCPConnector(local_addr=(self.address, 0), limit=16)
        self.http = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT),
        )
        return self

    async def close(self):
        if self.socket is not None:
            await self.socket.close()
        if self.http is not None:
            await self.http.close()

    def _headers(self):
        return {"Cookie": f"token={self.token}"} if self.token else {}

    async def request(self, method, path, **kwargs):
        """(status, json body or None); status None when no answer came in REQUEST_TIMEOUT."""
        started = time.monotonic()
        try:
            async with self.http.request(
                method, self.base_url + API + path, headers=self._headers(), **kwargs
            ) as response:
                body = (
                    await response.json(content_type=None) if response.content_length != 0 else None
                )
                return response.status, body, response.headers
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
            return None, None, {}
        finally:
            self.slowest_request = max(self.slowest_request, time.monotonic() - started)

    async def register_and_log_in(self):
        body = {
            "fullName": f"Cluster {self.username}",
            "username": self.username,
            "password": PASSWORD,
            "confirmPassword": PASSWORD,
            "gender": "female",
        }
        status, answer, _ = await self.request("POST", "/user/register", json=body)
        if status != 201:
            raise RuntimeError(f"register {self.username} from {self.address}: {status} {answer}")
        status, answer, headers = await self.request(
            "POST", "/user/login", json={"username": self.username, "password": PASSWORD}
        )
        if status != 200:
            raise RuntimeError(f"login {self.username}: {status} {answer}")
        self.id = answer["_id"]
        cookie = headers.getall("Set-Cookie", [])
        self.token = next(
            c.split("=", 1)[1].split(";", 1)[0] for c in cookie if c.startswith("token=")
        )
        return self

    # -- sending --

    async def send(self, receiver, text, deadline=15.0):
        """Send `text` to `receiver`, retrying the same clientMessageId while no server answers.

        The stored message (answered 201, or 200 when a retry found it stored), or None.
        """
        body = {"message": text, "clientMessageId": uuid.uuid4().hex}
        give_up = time.monotonic() + deadline
        while True:
            status, answer, _ = await self.request(
                "POST", f"/message/send/{receiver.id}", json=body
            )
            self.statuses.append(status)
            if status in (200, 201):
                # Not a catch-up cursor: the partner's messages stored before this one may not
                # have arrived yet.
                return answer["newMessage"]
            if status not in RETRY_STATUSES or time.monotonic() > give_up:
                return None
            await asyncio.sleep(0.2)

    # -- receiving --

    def _on_message(self, payload, _received_at):
        self.live.add(payload["_id"])
        self._seen(payload)

    def _seen(self, payload):
        if payload.get("receiverId") == self.id:
            self.received[payload["_id"]] = payload
            self.cursor[payload["senderId"]] = payload["_id"]

    async def connect(self, timeout=10.0):
        self.socket = SocketClient(self.http, self.base_url, self.token, self._on_message)
        await self.socket.connect(timeout=timeout)
        return self

    @property
    def connected(self):
        return self.socket is not None and self.socket.connected.is_set() and not self.socket.closed

    async def catch_up(self, peer, after=None):
        """Every message from `peer` after message id `after` (None: the newest 100), a page at
        a time; True once the last page was read."""
        for _ in range(100):  # pages: bounded
            query = {"limit": "100"}
            if after is not None:
                query["after"] = after
            status, page, headers = await self.request("GET", f"/message/{peer.id}", params=query)
            if status != 200:
                return False
            for payload in page:
                self._seen(payload)
            after = headers.get(NEXT_AFTER_HEADER)
            if after is None:
                return True
        return False

    async def stay_connected(self, peers, stop, timeout=20.0):
        """Until `stop` is set: whenever the socket closes, reconnect, then catch up with `peers`.

        Returns the seconds each reconnection took (socket closed -> caught up).
        """
        took = []
        while not stop.is_set():
            if self.connected:
                await asyncio.sleep(0.05)
                continue
            lost_at = time.monotonic()
            # The newest message seen before the socket closed: everything after it is fetched,
            # whatever arrives live meanwhile (a live message may overtake one that was lost).
            since = dict(self.cursor)
            while not stop.is_set() and time.monotonic() - lost_at < timeout:
                try:
                    await self.connect(timeout=5)
                    break
                except Exception:  # refused or reset while servers come and go: try again
                    await asyncio.sleep(0.2)
            if not self.connected:
                continue
            self.reconnects += 1
            for peer in peers:
                for _ in range(20):
                    if await self.catch_up(peer, since.get(peer.id)):
                        break
                    await asyncio.sleep(0.2)
            took.append(time.monotonic() - lost_at)
        return took

    async def history(self, peer):
        """Every message of the conversation with `peer`, newest first (all pages)."""
        messages, before = [], None
        for _ in range(100):
            query = {"limit": "100", **({"before": before} if before else {})}
            status, page, headers = await self.request("GET", f"/message/{peer.id}", params=query)
            if status != 200:
                raise RuntimeError(f"history of {self.username}: {status} {page}")
            messages += page
            before = headers.get(NEXT_BEFORE_HEADER)
            if before is None:
                return messages
        raise RuntimeError("history: more than 100 pages")


async def open_users(base_url, addresses, prefix):
    """Registered, logged-in users, one per address (registered a few at a time)."""
    users = [ChatUser(base_url, address, f"{prefix}{i}") for i, address in enumerate(addresses)]
    for user in users:
        await user.open()
    for start in range(0, len(users), 8):
        await asyncio.gather(*(user.register_and_log_in() for user in users[start : start + 8]))
    return users


def pairs(users):
    """Each user's one chat partner: (0, 1), (2, 3), ..."""
    return {
        users[i].id: users[i + 1] if i % 2 == 0 else users[i - 1]
        for i in range(len(users) - len(users) % 2)
    }
