"""The benchmark: one deployed server per worker class, six phases, one table and one JSON file.

Run `python -m bench --help` (or `make bench`, `make bench-quick`). Every load goes to a server
this process started on 127.0.0.1, is bounded in count and time, and the server is stopped at
the end whatever happens.
"""

import argparse
import asyncio
import gc
import json
import os
import random
import resource
import secrets
import sys
import tempfile
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

import aiohttp

from bench import procstat
from bench.profile import Profiler
from bench.sio import SocketClient
from bench.stats import RateSearch, fmt_ms, summary_ms, table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.helpers.live_server import LiveServer  # noqa: E402

PASSWORD = "bench-password-1"
API = "/api/v1"


# --- options ---------------------------------------------------------------------------------

def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--workers", default="eventlet,gevent",
                   help="gunicorn worker classes to run, one server each (default: eventlet,gevent)")
    p.add_argument("--users", type=int, default=200, help="N users (default 200)")
    p.add_argument("--auth-concurrency", type=int, default=8, help="clients registering/logging in at once")
    p.add_argument("--rates", default="100,400", help="fixed open-loop message rates, msg/s")
    p.add_argument("--phase-seconds", type=float, default=15.0, help="length of each fixed-rate phase")
    p.add_argument("--search-seconds", type=float, default=8.0, help="length of each rate-search probe")
    p.add_argument("--search-start", type=float, default=600.0, help="first rate the search tries")
    p.add_argument("--search-probes", type=int, default=6, help="at most this many probes")
    p.add_argument("--search-p99-ms", type=float, default=200.0, help="delivery p99 a rate must hold")
    p.add_argument("--history-messages", type=int, default=300, help="messages in the history conversation")
    p.add_argument("--history-requests", type=int, default=200, help="history pages to time")
    p.add_argument("--idle", type=int, default=2000, help="C extra idle sockets (try 10000)")
    p.add_argument("--stall-seconds", type=float, default=10.0, help="length of the login-burst phase")
    p.add_argument("--stall-logins", type=int, default=16, help="logins in flight during the burst")
    p.add_argument("--stall-rate", type=float, default=20.0,
                   help="message rate of the stall check: low enough that messages alone do not "
                        "load the server (on the embedded database 100/s already does)")
    p.add_argument("--bcrypt-rounds", type=int, default=10, help="server's BCRYPT_ROUNDS (real: 10)")
    p.add_argument("--profile", action="store_true",
                   help="sample the server with py-spy during phases 1, 3 and 5 (adds overhead)")
    p.add_argument("--out", default=None, help="JSON output (default bench/results/<time>.json)")
    p.add_argument("--quick", action="store_true",
                   help="a short run: N=50, 4 s phases, 500 idle sockets")
    p.add_argument("--seed", type=int, default=1, help="random seed for sender/receiver picks")
    p.add_argument("--phases", default="1,2,3,4,5,6",
                   help="phases to run (1 and 2 always run: the others need their users and sockets)")
    args = p.parse_args(argv)
    if args.quick:
        args.users = min(args.users, 50)
        args.phase_seconds = min(args.phase_seconds, 4.0)
        args.search_seconds = min(args.search_seconds, 3.0)
        args.search_probes = min(args.search_probes, 3)
        args.idle = min(args.idle, 500)
        args.stall_seconds = min(args.stall_seconds, 4.0)
        args.history_requests = min(args.history_requests, 50)
    args.rates = [float(r) for r in args.rates.split(",") if r.strip()]
    args.workers = [w.strip() for w in args.workers.split(",") if w.strip()]
    args.phases = {p.strip() for p in args.phases.split(",") if p.strip()} | {"1", "2"}
    return args


# --- the load generator's shared state -------------------------------------------------------

class Tracker:
    """Matches each sent message to its `newMessage` on the receiver's socket."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.sent_at = {}       # seq -> perf_counter just before the POST
        self.http = []          # POST durations, s
        self.delivery = []      # POST start -> newMessage, s
        self.delivered = set()
        self.http_failed = 0
        self.misdelivered = 0
        self.ok = 0

    def on_message(self, user_id, payload, received_at):
        text = payload.get("message", "")
        if not text.startswith("bench:"):
            return
        seq = int(text.split(":", 2)[1])
        if payload.get("receiverId") != user_id:
            self.misdelivered += 1
            return
        started = self.sent_at.get(seq)
        if started is not None and seq not in self.delivered:
            self.delivered.add(seq)
            self.delivery.append(received_at - started)


class Bench:
    def __init__(self, args, server, http, wsession):
        self.args = args
        self.server = server
        self.url = server.url
        self.http = http
        self.wsession = wsession
        self.pid = procstat.worker_pid(server.pid)
        self.users = []         # [{"username", "id", "token"}] of the N measured users
        self.extra = {}         # name -> user, for history, presence and burst
        self.sockets = []       # the N sockets of phase 2
        self.tracker = Tracker()
        self.rng = random.Random(args.seed)
        self.seq = 0
        self.stored_messages = 0  # messages this run has stored (the server keeps them all)
        self.pairs = set()        # distinct sender/receiver pairs: conversations
        self.run_id = secrets.token_hex(3)
        self.profiles = {}

    def meter(self):
        return procstat.Meter(self.pid)

    def profiling(self, name):
        if not self.args.profile:
            return nullcontext()
        out = ROOT / "bench" / "results" / f"profile-{self.server.worker}-{name}.txt"
        profiler = Profiler(self.pid, out)
        self.profiles[name] = profiler
        return profiler

    # -- HTTP helpers --
    async def register(self, username):
        body = {"fullName": f"Bench {username}", "username": username, "password": PASSWORD,
                "confirmPassword": PASSWORD, "gender": "female"}
        async with self.http.post(self.url + API + "/user/register", json=body) as r:
            await r.read()
            if r.status != 201:
                raise RuntimeError(f"register {username}: {r.status}")

    async def login(self, username):
        body = {"username": username, "password": PASSWORD}
        async with self.http.post(self.url + API + "/user/login", json=body) as r:
            data = await r.json()
            if r.status != 200:
                raise RuntimeError(f"login {username}: {r.status}")
            return {"username": username, "id": data["_id"], "token": r.cookies["token"].value}

    async def send(self, sender, receiver_id, text):
        async with self.http.post(
            f"{self.url}{API}/message/send/{receiver_id}", json={"message": text},
            headers={"Cookie": f"token={sender['token']}"},
        ) as r:
            await r.read()
            return r.status

    def socket(self, user, on_message=None):
        return SocketClient(self.wsession, self.url, user["token"], on_message)


async def timed_pool(items, concurrency, call):
    """Run `call(item)` for every item, `concurrency` at a time; per-item durations and errors."""
    queue = list(items)
    durations, errors, results = [], [], []

    async def worker():
        while queue:
            item = queue.pop()
            started = time.perf_counter()
            try:
                results.append(await call(item))
                durations.append(time.perf_counter() - started)
            except Exception as error:  # a failed request is counted, not fatal
                errors.append(repr(error)[:200])

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return durations, errors, results


# --- phases ----------------------------------------------------------------------------------

async def phase_auth(b):
    """1. Register and log in N users, `auth_concurrency` clients at once."""
    n = b.args.users
    names = [f"b{b.run_id}u{i}" for i in range(n)]
    with b.profiling("1-auth"):
        meter = b.meter()
        reg, reg_err, _ = await timed_pool(names, b.args.auth_concurrency, b.register)
        reg_cpu = meter.read()
        meter = b.meter()
        log, log_err, users = await timed_pool(names, b.args.auth_concurrency, b.login)
        log_cpu = meter.read()
    b.users = sorted(users, key=lambda u: u["username"])
    # Helpers that are not among the N (untimed): a history pair, a late user, burst logins.
    for name in ("histA", "histB", "late"):
        username = f"b{b.run_id}{name}"
        await b.register(username)
        b.extra[name] = await b.login(username)
    total = len(reg) + len(log)
    return {
        "register": {**summary_ms(reg), "errors": len(reg_err), "per_s": round(len(reg) / reg_cpu["wall_s"], 1), "cpu": reg_cpu},
        "login": {**summary_ms(log), "errors": len(log_err), "per_s": round(len(log) / log_cpu["wall_s"], 1), "cpu": log_cpu},
        "per_s": round(total / (reg_cpu["wall_s"] + log_cpu["wall_s"]), 1),
        "errors_sample": (reg_err + log_err)[:3],
    }


async def phase_connect(b):
    """2. Connect N sockets; time until every one's latest online list holds all N."""
    n = len(b.users)
    ids = {u["id"] for u in b.users}
    meter = b.meter()
    started = time.perf_counter()
    sockets = [b.socket(u, _receiver(b, u)) for u in b.users]

    async def connect(sock):
        await sock.connect()
        return time.perf_counter() - started

    _, errors, connected_at = await timed_pool(sockets, 100, connect)
    all_connected = time.perf_counter() - started
    b.sockets = sockets
    deadline = time.perf_counter() + 30
    complete = None
    while time.perf_counter() < deadline:
        if all(ids <= s.online_ids() for s in sockets if not s.closed):
            complete = max(s.online_at for s in sockets) - started
            break
        await asyncio.sleep(0.01)
    return {
        "connected": n - len(errors), "errors": len(errors),
        "all_connected_s": round(all_connected, 3),
        "all_lists_complete_s": round(complete, 3) if complete is not None else None,
        "cpu": meter.read(),
    }


def _receiver(b, user):
    user_id = user["id"]
    return lambda payload, at: b.tracker.on_message(user_id, payload, at)


async def phase_history(b):
    """4. One page (50 messages) from a conversation of `history_messages` messages."""
    a, other = b.extra["histA"], b.extra["histB"]
    texts = range(b.args.history_messages)

    # Paced under the server's per-user SEND_RATE_LIMIT (20/s by default): each of the two
    # senders sends 16/s; a 429 is waited out and retried.
    for i in texts:
        sender, receiver = (a, other) if i % 2 == 0 else (other, a)
        for _ in range(20):
            status = await b.send(sender, receiver["id"], f"history {i}")
            if status != 429:
                break
            await asyncio.sleep(0.5)
        if status != 201:
            raise RuntimeError(f"history send: {status}")
        await asyncio.sleep(1 / 32)
    b.stored_messages += len(texts)
    b.pairs.add(frozenset((a["id"], other["id"])))
    url = f"{b.url}{API}/message/{other['id']}"

    async def page(_):
        async with b.http.get(url, headers={"Cookie": f"token={a['token']}"}) as r:
            body = await r.json()
            if r.status != 200 or len(body) != 50:
                raise RuntimeError(f"history page: {r.status}, {len(body)} messages")

    meter = b.meter()
    durations, errors, _ = await timed_pool(range(b.args.history_requests), 1, page)
    return {**summary_ms(durations), "errors": len(errors), "cpu": meter.read()}


# Busy (non-idle) py-spy samples a phase needs before its CPU is split by layer.
MIN_SPLIT_SAMPLES = 100


@contextmanager
def generator_gc_paused():
    """No garbage collection in the load generator while it times deliveries (as `timeit`).

    The generator stamps a delivery when its event loop reads it; a full collection of its own
    heap (tens of ms once it holds a run's results) would be charged to the server as latency.
    """
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def open_loop(b, rate, seconds, grace=3.0):
    """Messages from random senders to random receivers at `rate`/s for `seconds`, open loop:
    each send starts on schedule whether or not earlier ones have been answered."""
    with generator_gc_paused():
        return await _open_loop(b, rate, seconds, grace)


async def _open_loop(b, rate, seconds, grace):
    t = b.tracker
    t.reset()
    n = max(1, int(rate * seconds))
    users = b.users
    tasks = []
    max_lag = 0.0
    # Past this many unanswered sends the server is overloaded: stop, so a run stays bounded.
    # (half a second's worth: far past any p99 that could pass, and short of gunicorn's 30 s
    # worker timeout, which kills a worker whose loop has a long backlog).
    max_in_flight = max(50, int(rate / 2))
    in_flight = [0]

    async def send_one(seq, sender, receiver):
        text = f"bench:{seq}:hello from {sender['username']}"
        started = time.perf_counter()
        t.sent_at[seq] = started
        in_flight[0] += 1
        try:
            status = await b.send(sender, receiver["id"], text)
        except (aiohttp.ClientError, asyncio.TimeoutError):
            status = None
        finally:
            in_flight[0] -= 1
        if status == 201:
            t.http.append(time.perf_counter() - started)
            t.ok += 1
        else:
            t.http_failed += 1
            t.sent_at.pop(seq, None)

    meter = b.meter()
    db_before = {"messages": b.stored_messages, "conversations": len(b.pairs)}
    t0 = time.perf_counter() + 0.02
    aborted_at = None
    for i in range(n):
        if in_flight[0] > max_in_flight:
            aborted_at = i
            break
        delay = t0 + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            max_lag = max(max_lag, -delay)
        sender, receiver = b.rng.sample(users, 2)
        b.pairs.add(frozenset((sender["id"], receiver["id"])))
        b.seq += 1
        tasks.append(asyncio.create_task(send_one(b.seq, sender, receiver)))
    send_window = time.perf_counter() - t0
    await asyncio.gather(*tasks)
    deadline = time.perf_counter() + grace
    while len(t.delivered) < t.ok and time.perf_counter() < deadline:
        await asyncio.sleep(0.01)
    cpu = meter.read()
    lost = t.ok - len(t.delivered)
    sent = len(tasks)
    b.stored_messages += t.ok
    return {
        "rate": rate, "seconds": seconds, "sent": sent, "http_ok": t.ok,
        # Overloaded: more than max_in_flight sends unanswered, the rest were never sent.
        "aborted_unsent": n - sent if aborted_at is not None else 0,
        "http_failed": t.http_failed, "delivered": len(t.delivered), "lost": lost,
        "misdelivered": t.misdelivered,
        "achieved_rate": round(sent / send_window, 1) if send_window > 0 else None,
        "generator_max_lag_ms": round(max_lag * 1000, 1),
        "http": summary_ms(t.http), "delivery": summary_ms(t.delivery),
        "server_cpu_ms_per_msg": round(1000 * cpu["server_cpu_s"] / max(1, t.ok), 3),
        # What the embedded database scans per query grows with these (harness's own count).
        "db_before": db_before,
        "cpu": cpu,
    }


def holds(result, p99_ms):
    d = result["delivery"]
    return (result["lost"] == 0 and result["http_failed"] == 0 and result["misdelivered"] == 0
            and result["aborted_unsent"] == 0 and d["count"] > 0 and d["p99_ms"] < p99_ms)


async def phase_messages(b):
    """3. Fixed rates, then a search for the highest rate that holds the p99 with nothing lost."""
    out = {"fixed": [], "search": []}
    for rate in b.args.rates:
        with b.profiling(f"3-messages-{int(rate)}"):
            out["fixed"].append(await open_loop(b, rate, b.args.phase_seconds))
    rates = RateSearch(b.args.search_start, up=1.25, down=0.5)
    for _ in range(b.args.search_probes):
        result = await open_loop(b, rates.rate, b.args.search_seconds)
        ok = holds(result, b.args.search_p99_ms)
        out["search"].append({**result, "holds": ok})
        rates.record(ok)
        if rates.done:
            break
        await asyncio.sleep(1.0)  # let queues drain between probes
    out["highest_rate_holding"] = rates.best
    out["lowest_rate_failing"] = rates.worst
    return out


async def phase_stall(b):
    """6. Delivery at `stall_rate` msg/s, first alone, then while `stall_logins` logins are
    always being hashed: what the hashing costs the event loop, apart from message cost."""
    quiet = await open_loop(b, b.args.stall_rate, b.args.stall_seconds / 2)
    stop = asyncio.Event()
    logins = []

    async def burst():
        while not stop.is_set():
            user = b.rng.choice(b.users)
            started = time.perf_counter()
            try:
                await b.login(user["username"])
                logins.append(time.perf_counter() - started)
            except Exception:
                pass

    workers = [asyncio.create_task(burst()) for _ in range(b.args.stall_logins)]
    await asyncio.sleep(0.5)  # the pool is busy before the first message
    started = time.perf_counter()
    result = await open_loop(b, b.args.stall_rate, b.args.stall_seconds)
    stop.set()
    await asyncio.gather(*workers)
    elapsed = time.perf_counter() - started + 0.5
    result["logins"] = {**summary_ms(logins), "per_s": round(len(logins) / elapsed, 1)}
    result["without_burst"] = quiet
    return result


async def phase_idle(b):
    """5. C more authenticated sockets (extra tabs of the N users), then one presence update."""
    c = b.args.idle
    rss_before = procstat.process_rss_bytes(b.pid)
    socks = [b.socket(b.users[i % len(b.users)]) for i in range(c)]
    failures = []

    async def connect(sock):
        if len(failures) >= 200:
            raise RuntimeError("skipped: too many failures")
        try:
            await sock.connect(timeout=10)
        except Exception as error:
            failures.append(repr(error)[:200])
            raise

    with b.profiling("5-idle-ramp"):
        meter = b.meter()
        _, errors, _ = await timed_pool(socks, 100, connect)
        ramp = meter.read()
    await asyncio.sleep(1.0)
    rss_after = procstat.process_rss_bytes(b.pid)
    opened = [s for s in socks if s.connected.is_set() and not s.closed]
    late_user = b.extra["late"]
    everyone = [s for s in b.sockets if not s.closed] + opened
    started = time.perf_counter()
    late = b.socket(late_user)
    reached = None
    try:
        await late.connect(timeout=10)
        deadline = time.perf_counter() + 60
    except Exception:  # the server takes no more connections: nothing to time
        deadline = 0
    while time.perf_counter() < deadline:
        if all(s.online_raw is not None and late_user["id"] in s.online_raw for s in everyone):
            reached = max(s.online_at for s in everyone) - started
            break
        await asyncio.sleep(0.01)
    n_ok = len(opened)
    result = {
        "requested": c, "succeeded": n_ok, "failed": c - n_ok,
        "failure_sample": failures[:3],
        "ramp_s": ramp["wall_s"], "server_cpu_s": ramp["server_cpu_s"], "cpu": ramp,
        "rss_before_mb": round(rss_before / 2**20, 1), "rss_after_mb": round(rss_after / 2**20, 1),
        "rss_per_socket_kb": round((rss_after - rss_before) / max(1, n_ok) / 1024, 1),
        "presence_update_sockets": len(everyone),
        "presence_update_s": round(reached, 3) if reached is not None else None,
    }
    await asyncio.gather(*(s.close() for s in socks + [late]))
    return result


# --- one server ------------------------------------------------------------------------------

async def bench_worker(args, worker, log_dir):
    env = {
        "BCRYPT_ROUNDS": str(args.bcrypt_rounds),
        # With MONGO_URI set the whole stack is measured on a real MongoDB, in its own database.
        "MONGO_URI": os.environ.get("MONGO_URI", ""),
        "MONGO_DB_NAME": os.environ.get("BENCH_MONGO_DB_NAME", "chatapp_bench"),
        "LOG_LEVEL": "WARNING",
        # One client address stands for every user here, and each user opens many sockets: the
        # per-address and per-user socket caps (docs/security.md) would refuse them.
        "SOCKET_PENDING_PER_ADDRESS": "0",
        "SOCKETS_PER_USER_MAX": "0",
        "SOCKET_CONNECT_LIMIT": "",
    }
    server = LiveServer(worker=worker, env=env, log_path=log_dir / f"server-{worker}.log")
    results = {"worker": worker}
    server.start()
    try:
        timeout = aiohttp.ClientTimeout(total=60)
        jar = aiohttp.DummyCookieJar()  # every request carries its own user's cookie
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=256), timeout=timeout, cookie_jar=jar
        ) as http, aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0), cookie_jar=aiohttp.DummyCookieJar()
        ) as wsession:
            b = Bench(args, server, http, wsession)
            results["rss_start_mb"] = round(procstat.process_rss_bytes(b.pid) / 2**20, 1)
            # Run in this order: history and the stall check before the message phases, so they
            # meet a database of the stated size (every message sent stays in it, and the
            # embedded database scans whole collections); the idle sockets last.
            for key, phase in (("1_auth", phase_auth), ("2_connect", phase_connect),
                               ("4_history", phase_history), ("6_stall", phase_stall),
                               ("3_messages", phase_messages), ("5_idle", phase_idle)):
                if key[0] not in args.phases:
                    continue
                log(f"[{worker}] phase {key} ...")
                try:
                    results[key] = await phase(b)
                except procstat.WorkerGone as error:
                    results["error"] = f"phase {key}: {error} (see {server.log_path})"
                    log(f"[{worker}] {results['error']}")
                    break
                log(f"[{worker}] phase {key}: {brief(key, results[key])}")
            await asyncio.gather(*(s.close() for s in b.sockets))
            if b.profiles:
                results["profile"] = {name: p.summary() for name, p in b.profiles.items()}
    finally:
        server.stop()
        if os.environ.get("MONGO_URI"):
            _drop_bench_database(env)
    return results


def _drop_bench_database(env):
    import pymongo

    client = pymongo.MongoClient(env["MONGO_URI"], serverSelectionTimeoutMS=3000)
    try:
        client.drop_database(env["MONGO_DB_NAME"])
    finally:
        client.close()


def brief(key, r):
    if key == "1_auth":
        return f"{r['per_s']} req/s, register {fmt_ms(r['register'])} ms, login {fmt_ms(r['login'])} ms"
    if key == "2_connect":
        return f"{r['connected']} connected in {r['all_connected_s']} s, lists complete at {r['all_lists_complete_s']} s"
    if key == "4_history":
        return f"{fmt_ms(r)} ms"
    if key == "3_messages":
        return "; ".join(
            f"{int(x['rate'])}/s delivery {fmt_ms(x['delivery'])} ms lost {x['lost']}" for x in r["fixed"]
        ) + f"; highest holding {r['highest_rate_holding']}"
    if key == "6_stall":
        return (f"delivery alone {fmt_ms(r['without_burst']['delivery'])} ms, during burst "
                f"{fmt_ms(r['delivery'])} ms, {r['logins']['count']} logins")
    if key == "5_idle":
        return (f"{r['succeeded']}/{r['requested']} in {r['ramp_s']} s, server CPU {r['server_cpu_s']} s, "
                f"{r['rss_per_socket_kb']} kB/socket, presence {r['presence_update_s']} s")
    return ""


def log(text):
    print(text, file=sys.stderr, flush=True)


# --- the report ------------------------------------------------------------------------------

def rows(all_results):
    """(measure, per worker..., target) rows."""
    def col(fn):
        out = []
        for r in all_results:
            try:
                out.append(fn(r))
            except (KeyError, TypeError, IndexError, StopIteration, ZeroDivisionError):
                out.append("n/a")
        return out

    def fixed(r, rate):
        return next(x for x in r["3_messages"]["fixed"] if x["rate"] == rate)

    table_rows = [
        ("1 register+login, 8 concurrent: req/s", col(lambda r: r["1_auth"]["per_s"]), "≥ 27"),
        ("1 register p50/p95/p99/max ms", col(lambda r: fmt_ms(r["1_auth"]["register"])), ""),
        ("1 login p50/p95/p99/max ms", col(lambda r: fmt_ms(r["1_auth"]["login"])), ""),
        ("2 N sockets: all connected / all lists complete, s",
         col(lambda r: f"{r['2_connect']['all_connected_s']} / {r['2_connect']['all_lists_complete_s']}"), ""),
    ]
    for rate in (all_results[0].get("3_messages", {}).get("fixed", []) if all_results else []):
        rt = rate["rate"]
        table_rows += [
            (f"3 {int(rt)} msg/s: HTTP p50/p95/p99/max ms", col(lambda r: fmt_ms(fixed(r, rt)["http"])), ""),
            (f"3 {int(rt)} msg/s: delivery p50/p95/p99/max ms", col(lambda r: fmt_ms(fixed(r, rt)["delivery"])),
             "p99 ≤ 10" if rt == 100 else ""),
            (f"3 {int(rt)} msg/s: sent/delivered/lost",
             col(lambda r: _sent_line(fixed(r, rt))), "none lost"),
            (f"3 {int(rt)} msg/s: server CPU ms/msg (gen. CPU s)",
             col(lambda r: f"{fixed(r, rt)['server_cpu_ms_per_msg']} ({fixed(r, rt)['cpu']['generator_cpu_s']})"), ""),
        ]
    def db_split(r, rt):
        x = fixed(r, rt)
        profile = r["profile"][f"3-messages-{int(rt)}"]
        if profile["samples"] < MIN_SPLIT_SAMPLES:  # too few busy samples to split anything
            return f"n/a ({profile['samples']} busy samples)"
        db = x["server_cpu_ms_per_msg"] * profile["share_percent"]["mongomock (embedded DB)"] / 100.0
        return f"{db:.2f} / {x['server_cpu_ms_per_msg'] - db:.2f}"

    if all_results and all_results[0].get("profile"):
        for rate in all_results[0].get("3_messages", {}).get("fixed", []):
            rt = rate["rate"]
            table_rows.append((f"3 {int(rt)} msg/s: server CPU ms/msg, embedded DB / the rest",
                               col(lambda r: db_split(r, rt)), "rest small"))
    table_rows += [
        ("3 highest rate, p99 < 200 ms, none lost (first failing)",
         col(lambda r: f"{r['3_messages']['highest_rate_holding']} ({r['3_messages']['lowest_rate_failing']})"), "≥ 600"),
        ("4 history page of 50 (of 300) p50/p95/p99/max ms", col(lambda r: fmt_ms(r["4_history"])), ""),
        ("5 idle sockets opened / requested", col(lambda r: f"{r['5_idle']['succeeded']}/{r['5_idle']['requested']}"), "all"),
        ("5 server CPU for the ramp, s", col(lambda r: r["5_idle"]["server_cpu_s"]), "≤ 3 (2,000)"),
        ("5 RSS per idle socket, kB", col(lambda r: r["5_idle"]["rss_per_socket_kb"]), "≤ 30"),
        ("5 one presence update reaches every socket, s", col(lambda r: r["5_idle"]["presence_update_s"]), ""),
        ("6 delivery, no logins, p50/p95/p99/max ms", col(lambda r: fmt_ms(r["6_stall"]["without_burst"]["delivery"])), ""),
        ("6 delivery during login burst p50/p95/p99/max ms", col(lambda r: fmt_ms(r["6_stall"]["delivery"])), "p99 ≤ 50"),
        ("6 logins/s during the burst", col(lambda r: r["6_stall"]["logins"]["per_s"]), ""),
    ]
    return [(name, *values, target) for name, values, target in table_rows]


def _sent_line(x):
    line = f"{x['sent']}/{x['delivered']}/{x['lost'] + x['http_failed']}"
    if x["aborted_unsent"]:
        line += f" (overloaded: {x['aborted_unsent']} not sent)"
    return line


def report(all_results, meta):
    headers = ["measure", *[r["worker"] for r in all_results], "target"]
    text = [table(rows(all_results), headers)]
    text.append("")
    text.append("CPU seconds per phase (server worker / load generator / everything else on the machine):")
    for r in all_results:
        parts = []
        for key in ("1_auth", "3_messages", "6_stall", "5_idle"):
            phase = r.get(key, {})
            cpus = []
            if key == "1_auth":
                cpus = [phase.get("register", {}).get("cpu"), phase.get("login", {}).get("cpu")]
            elif key == "3_messages":
                cpus = [x["cpu"] for x in phase.get("fixed", []) + phase.get("search", [])]
            else:
                cpus = [phase.get("cpu")]
            cpus = [c for c in cpus if c]
            if cpus:
                s = sum(c["server_cpu_s"] for c in cpus)
                g = sum(c["generator_cpu_s"] for c in cpus)
                o = sum(c["others_cpu_s"] for c in cpus)
                w = sum(c["wall_s"] for c in cpus)
                parts.append(f"{key} {s:.1f}/{g:.1f}/{o:.1f} in {w:.0f} s")
        text.append(f"  {r['worker']}: " + "; ".join(parts))
    for r in all_results:
        for name, prof in (r.get("profile") or {}).items():
            if prof and prof.get("samples"):
                shares = ", ".join(f"{k} {v}%" for k, v in prof["share_percent"].items() if v)
                text.append(f"  profile {r['worker']} {name} ({prof['samples']} busy samples, {prof.get('idle_samples', 0)} idle): {shares}")
    text.append(f"load average at start {meta['loadavg_start']}, at end {meta['loadavg_end']}; "
                f"{meta['cpus']} CPUs; database: {meta['database']}")
    return "\n".join(text)


def start_database():
    """The benchmark's database: MONGO_URI, else FerretDB on PostgreSQL started here (returned,
    to be stopped). The embedded mongomock is a test double: it is never benchmarked."""
    if os.environ.get("MONGO_URI"):
        return None
    from tests.helpers import ferretdb

    directory = tempfile.mkdtemp(prefix="chatapp-bench-db-")
    os.chmod(directory, 0o755)  # as root, PostgreSQL runs as `postgres` inside it
    try:
        database = ferretdb.Servers(directory).start()
    except ferretdb.Unavailable as error:
        sys.exit(f"the benchmark measures a real database: {error}. Build FerretDB with "
                 "`make ferretdb` (needs Go), or set MONGO_URI=mongodb://...")
    os.environ["MONGO_URI"] = database.uri  # read by bench_worker, inherited by the servers
    return database


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the server inherits it too
    return hard


def main(argv=None):
    args = parse_args(argv)
    results_dir = ROOT / "bench" / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    fd_limit = raise_fd_limit()
    database = start_database()
    meta = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "args": {k: sorted(v) if isinstance(v, set) else v for k, v in vars(args).items()},
        "cpus": os.cpu_count(), "fd_limit": fd_limit,
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        "database": "MONGO_URI" if database is None else "FerretDB 1.24.2 on PostgreSQL 15",
        "python": sys.version.split()[0],
    }
    all_results = []
    try:
        for worker in args.workers:
            all_results.append(asyncio.run(bench_worker(args, worker, results_dir)))
    finally:
        if database is not None:
            database.stop()
            del os.environ["MONGO_URI"]
    meta["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    meta["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    text = report(all_results, meta)
    out = Path(args.out) if args.out else results_dir / f"{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "results": all_results, "table": text}, indent=1))
    print(text)
    print(f"\nJSON: {out}")
    return all_results
