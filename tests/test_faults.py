"""Faults while users chat through nginx, with nothing lost: a server SIGKILLed, servers drained by
SIGTERM one after another, Redis restarted.

Every user chats with one partner from its own loopback address (tests/helpers/chat_client.py):
it sends with a clientMessageId, retries a send no server answered, reconnects when its socket
closes and then catches up with `?after=`. A message is lost when its send was answered 201 and
it never reached the receiver, live or by catch-up. Each scenario is bounded in time.
"""

import asyncio
import random
import time

import pytest

from chatapp.realtime.cluster import LISTEN_RETRY_MAX_SECONDS
from tests.helpers.chat_client import REQUEST_TIMEOUT, open_users, pairs
from tests.helpers.cluster import loopback_addresses

pytestmark = pytest.mark.integration

SCENARIO_SECONDS = 150  # no scenario may take longer, whatever happens
SEND_RATE_PER_USER = 0.5  # messages per second: 50 users send 25 per second in all
WINDOW_SECONDS = 0.1  # PRESENCE_BROADCAST_WINDOW_MS in the servers (its default)


def run(scenario):
    return asyncio.run(asyncio.wait_for(scenario, SCENARIO_SECONDS))


class Traffic:
    """Each user sends to its partner at random moments until stopped; every answer is kept."""

    def __init__(self, users, partner, seed=1):
        self.users = users
        self.partner = partner
        self.rng = random.Random(seed)
        self.sent = []  # (sender, receiver, message, first attempt answered 201)
        self.failed = 0  # sends no retry could store within its deadline
        self.stopped = asyncio.Event()
        self.task = None

    def start(self):
        self.task = asyncio.create_task(self._run())
        return self

    async def stop(self):
        self.stopped.set()
        await self.task

    async def _run(self):
        await asyncio.gather(*(self._user(user) for user in self.users))

    async def _user(self, user):
        receiver = self.partner[user.id]
        n = 0
        while not self.stopped.is_set():
            await asyncio.sleep(self.rng.expovariate(SEND_RATE_PER_USER))
            n += 1
            attempts = len(user.statuses)
            message = await user.send(receiver, f"{user.username} #{n}")
            if message is None:
                self.failed += 1
            else:
                self.sent.append((user, receiver, message, user.statuses[attempts] == 201))

    def answered_201(self):
        return [(s, r, m) for s, r, m, first in self.sent if first]

    def lost(self):
        """Messages answered 201 that their receiver never got (live or by catch-up)."""
        return [
            (s.username, r.username, m["_id"])
            for s, r, m in self.answered_201()
            if m["_id"] not in r.received
        ]

    async def not_stored(self):
        """Every answered message (201, or 200 for a retry) missing from its conversation."""
        stored = {}
        for user in self.users:
            stored[user.id] = {m["_id"] for m in await user.history(self.partner[user.id])}
        return [m["_id"] for s, r, m, _ in self.sent if m["_id"] not in stored[r.id]]


async def chat(cluster, count, prefix, first_address=2):
    """`count` users on their own addresses, connected through nginx, paired."""
    users = await open_users(
        cluster.url, loopback_addresses(count, first_address), f"{prefix}{time.time_ns()}_"
    )
    await asyncio.gather(*(user.connect() for user in users))
    return users, pairs(users)



async def until(condition, timeout, what):
    """Seconds until `condition()` holds; fails the test past `timeout`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout:.1f} s: {what}")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def close_all(users):
    await asyncio.gather(*(user.close() for user in users), return_exceptions=True)


def no_request_hung(users):
    slowest = max(user.slowest_request for user in users)
    assert slowest < REQUEST_TIMEOUT, f"a request took {slowest:.1f} s"


def test_a_sigkilled_server_loses_no_message_and_presence_recovers(healthy_cluster):
    cluster = healthy_cluster

    async def scenario():
        users, partner = await chat(cluster, 50, "kill")
        try:
            held = await cluster.users_by_server_settled(users)
            victim = max(held, key=lambda index: len(held[index]))
            on_victim = [user for user in users if user.id in held[victim]]
            # Two of the victim's users close their tab with it, and come back only at the end.
            leavers = on_victim[:2]
            staying = [user for user in users if user not in leavers]
            observer = next(user for user in users if user.id not in held[victim])

            stop = asyncio.Event()
            keepers = [
                asyncio.create_task(user.stay_connected([partner[user.id]], stop))
                for user in staying
            ]
            traffic = Traffic(users, partner).start()
            await asyncio.sleep(3)

            cluster.kill(victim)  # master and worker: nothing respawns it, nothing says goodbye
            gone = {leaver.id for leaver in leavers}
            bound = 4 * cluster.heartbeat + WINDOW_SECONDS  # docs/scaling.md
            took = await until(
                lambda: not gone & observer.socket.online_ids(),
                bound + 10,
                "the killed server's users shown offline",
            )
            assert took <= bound + 1.0, f"offline after {took:.1f} s, bound {bound:.1f} s"

            await asyncio.sleep(max(0.0, 6 - took))  # more traffic with the server gone
            await traffic.stop()
            await until(
                lambda: all(user.connected for user in staying),
                30,
                "every user on the killed server reconnected",
            )
            await asyncio.sleep(1.0)  # the last live deliveries
            stop.set()
            reconnections = [t for took in await asyncio.gather(*keepers) for t in took]

            # The leavers come back and catch up on everything since their last message.
            for leaver in leavers:
                since = leaver.cursor.get(partner[leaver.id].id)
                await leaver.connect()
                assert await leaver.catch_up(partner[leaver.id], since)

            assert traffic.answered_201(), "no message was sent"
            assert traffic.lost() == []
            assert await traffic.not_stored() == []
            assert all(user.reconnects >= 1 for user in on_victim if user not in leavers)
            everyone = {user.id for user in users}
            await until(
                lambda: observer.socket.online_ids() == everyone, bound + 2, "everyone online again"
            )
            now_held = await cluster.users_by_server_settled(users)
            assert not now_held[victim] and set().union(*now_held.values()) == everyone
            no_request_hung(users)
            by_catch_up = sum(len(set(u.received) - u.live) for u in users)
            print(
                f"SIGKILL: {len(traffic.sent)} sent ({len(traffic.answered_201())} at the first "
                f"attempt), {by_catch_up} received by catch-up; offline after {took:.2f} s; "
                f"{len(reconnections)} reconnections, slowest {max(reconnections):.2f} s"
            )
        finally:
            await close_all(users)

    run(scenario())


def test_sigterm_drains_a_server_and_a_rolling_restart_loses_nothing(healthy_cluster):
    cluster = healthy_cluster

    async def scenario():
        users, partner = await chat(cluster, 30, "drain")
        try:
            stop = asyncio.Event()
            keepers = [
                asyncio.create_task(user.stay_connected([partner[user.id]], stop)) for user in users
            ]
            traffic = Traffic(users, partner, seed=2).start()
            await asyncio.sleep(2)

            for index in range(len(cluster.servers)):
                held = await cluster.users_by_server_settled(users)
                on_it = [user for user in users if user.id in held[index]]
                attempts_before = [len(user.statuses) for user in users]
                reconnects = {user.id: user.reconnects for user in on_it}
                cluster.terminate(index)
                # Its sockets are closed by the drain, well before the graceful timeout that
                # would otherwise cut them, and their clients are back on another server.
                moved = await until(
                    lambda: all(u.reconnects > reconnects[u.id] and u.connected for u in on_it),
                    cluster.graceful_timeout,
                    "the drained server's users reconnected elsewhere",
                )
                assert moved < 5, f"reconnected elsewhere {moved:.1f} s after SIGTERM"
                exited = await asyncio.to_thread(
                    cluster.wait_exited, index, cluster.graceful_timeout + 5
                )
                cluster.restart(index)
                await asyncio.sleep(1)
                # Requests in flight when SIGTERM came were answered: no send failed because its
                # server was draining (traffic.failed == 0 below). The worker itself exits when
                # its last connection is gone, at the latest at the graceful timeout.
                during = [s for user, n in zip(users, attempts_before) for s in user.statuses[n:]]
                print(
                    f"server {index}: {len(on_it)} users elsewhere after {moved:.1f} s, "
                    f"exited after {exited:.1f} s; "
                    f"answers meanwhile {sorted(set(map(str, during)))}"
                )

            await asyncio.sleep(2)
            await traffic.stop()
            await asyncio.sleep(1.0)
            stop.set()
            await asyncio.gather(*keepers)

            assert traffic.answered_201(), "no message was sent"
            assert traffic.failed == 0
            assert traffic.lost() == []
            assert await traffic.not_stored() == []
            no_request_hung(users)
            print(
                f"rolling restart: {len(traffic.sent)} sent, all delivered; "
                f"{sum(u.reconnects for u in users)} reconnections"
            )
        finally:
            await close_all(users)

    run(scenario())


def test_a_redis_restart_stops_no_request_and_emits_resume(healthy_cluster):
    cluster = healthy_cluster

    async def scenario():
        users, partner = await chat(cluster, 20, "redis")
        try:
            held = await cluster.users_by_server_settled(users)
            where = {user_id: index for index, ids in held.items() for user_id in ids}
            traffic = Traffic(users, partner, seed=3).start()
            await asyncio.sleep(2)

            down_from = len(traffic.sent)
            cluster.redis.stop()
            await asyncio.sleep(2)  # down for a while: sends go on, their live events may not
            down_sends = len(traffic.sent) - down_from
            cluster.redis.start()
            back = time.monotonic()
            await asyncio.sleep(LISTEN_RETRY_MAX_SECONDS + 2)  # every listener resubscribed
            resumed_at = len(traffic.sent)
            await asyncio.sleep(4)
            await traffic.stop()
            await asyncio.sleep(1.0)

            # Live delivery across servers works again by itself: everything sent once every
            # server had resubscribed arrived live, on whatever server its receiver is.
            after = [(s, r, m) for s, r, m, first in traffic.sent[resumed_at:]]
            across = [m for s, r, m in after if where[s.id] != where[r.id]]
            assert across, "no message between two servers after Redis came back"
            missed = [m["_id"] for s, r, m in after if m["_id"] not in r.live]
            assert missed == [], f"{len(missed)} sent {time.monotonic() - back:.0f} s after Redis"
            # Sends never failed: Redis holds no message; nothing stored was lost.
            assert traffic.failed == 0 and all(s in (200, 201) for u in users for s in u.statuses)
            assert await traffic.not_stored() == []
            no_request_hung(users)
            not_live = sum(m["_id"] not in r.live for s, r, m, _ in traffic.sent)
            print(
                f"Redis restart: {len(traffic.sent)} sent, {down_sends} while Redis was down, "
                f"{not_live} not delivered live (all stored); slowest request "
                f"{max(u.slowest_request for u in users):.2f} s"
            )
        finally:
            await close_all(users)

    run(scenario())
