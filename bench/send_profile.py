"""In-process cost of a message send and a history page, on the embedded database.

    .venv/bin/python -m bench.send_profile [--messages N] [--users N] [--profile]

Builds the app as the tests do (TestConfig: embedded database, bcrypt cost 4, threading mode)
with the send rate limit counted (but too high to refuse), registers users, opens a few
Socket.IO test clients, then sends messages between random pairs through the Flask test client
(the real HTTP route: auth, rate limit, store, both emits) and reads history pages of 50 out of
300 messages. Prints µs per send
and per history page; `--profile` prints the top of a cProfile of the sends.
"""

import argparse
import cProfile
import pstats
import random
import time

from chatapp import db
from chatapp.app import create_app
from chatapp.extensions import socketio
from chatapp.services import messages as message_service
from config import TestConfig

PASSWORD = "correct horse"


def build(users):
    # The send limit is counted as in production, but high enough that a fast run (one user
    # sending more than 20 a second) measures sends, not 429s.
    app = create_app(TestConfig, SEND_RATE_LIMIT="1000000 per second")
    db.drop_all()
    clients, ids = [], []
    for n in range(users):
        client = app.test_client()
        body = {"fullName": f"User {n}", "username": f"bench{n}", "password": PASSWORD,
                "confirmPassword": PASSWORD, "gender": "female"}
        assert client.post("/api/v1/user/register", json=body).status_code == 201
        response = client.post("/api/v1/user/login", json={"username": f"bench{n}", "password": PASSWORD})
        assert response.status_code == 200
        clients.append(client)
        ids.append(response.get_json()["_id"])
    return app, clients, ids


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--sockets", type=int, default=10)
    parser.add_argument("--history", type=int, default=200)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--conversations", type=int, default=0,
                        help="draw pairs from this many fixed pairs (0: any pair, mostly new)")
    args = parser.parse_args()
    rng = random.Random(args.seed)

    app, clients, ids = build(args.users)
    sockets = [socketio.test_client(app, flask_test_client=clients[i]) for i in range(args.sockets)]

    pool = [tuple(rng.sample(range(args.users), 2)) for _ in range(args.conversations)]
    pairs = []
    for _ in range(args.messages):
        a, b = rng.choice(pool) if pool else rng.sample(range(args.users), 2)
        pairs.append((a, b) if rng.random() < 0.5 else (b, a))

    def sends():
        for a, b in pairs:
            response = clients[a].post(f"/api/v1/message/send/{ids[b]}", json={"message": f"hi {b}"})
            assert response.status_code == 201, response.get_json()

    profiler = cProfile.Profile() if args.profile else None
    start, cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    sends()
    if profiler:
        profiler.disable()
    send_us = (time.perf_counter() - start) / len(pairs) * 1e6
    send_cpu = (time.process_time() - cpu) / len(pairs) * 1e6

    # History: a conversation of 300 messages, seeded through the service (no rate limit).
    a, b = ids[0], ids[1]
    with app.app_context():
        for n in range(300):
            sender, receiver = (a, b) if n % 2 else (b, a)
            message_service.send_message(sender, receiver, f"history {n}", max_length=5000)
    for socket in sockets:
        socket.get_received()
    hprofiler = cProfile.Profile() if args.profile else None
    start, cpu = time.perf_counter(), time.process_time()
    if hprofiler:
        hprofiler.enable()
    for _ in range(args.history):
        response = clients[0].get(f"/api/v1/message/{b}")
        assert response.status_code == 200 and len(response.get_json()) == 50
    if hprofiler:
        hprofiler.disable()
    history_us = (time.perf_counter() - start) / args.history * 1e6
    history_cpu = (time.process_time() - cpu) / args.history * 1e6

    for socket in sockets:
        socket.disconnect()
    print(f"send: {send_us:.0f} us/message ({send_cpu:.0f} us CPU) over {len(pairs)} messages,"
          f" {args.users} users, {args.conversations or 'any'} conversations")
    print(f"history: {history_us:.0f} us/page ({history_cpu:.0f} us CPU) (50 of 300)"
          f" over {args.history} pages")
    if profiler:
        print("=== sends, cumulative ===")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
        print("=== sends, tottime ===")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
        print("=== history, cumulative ===")
        pstats.Stats(hprofiler).sort_stats("cumulative").print_stats(30)


if __name__ == "__main__":
    main()
