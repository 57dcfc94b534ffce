"""Micro-benchmark: what each database operation of a send (and of a read) costs on plain
mongomock and on chatapp.embedded_db, in process, at a realistic size.

    .venv/bin/python -m bench.embedded_db            # 2,000 conversations, 5,000 messages
    .venv/bin/python -m bench.embedded_db --conversations 500 --messages 20000
    .venv/bin/python -m bench.embedded_db --only embedded_db   # skip plain mongomock (slow)

Both clients get the same collections, indexes (those MongoEngine creates from
chatapp/models.py) and documents; each operation is the raw PyMongo call the app makes, repeated
on random targets, and the table shows microseconds per operation (median of a few rounds).
"""

import argparse
import random
import statistics
import time
from datetime import datetime, timedelta

import mongomock
from bson import ObjectId

from chatapp import embedded_db
from chatapp.models import Conversation, Message, User


def _indexes(document):
    """The index specs MongoEngine creates for a document, as (keys, options) pairs."""
    specs = []
    for spec in document._meta.get("index_specs", []):
        options = {k: v for k, v in spec.items() if k not in ("fields", "cls")}
        specs.append((spec["fields"], options))
    return specs


def build(client_class, conversations, messages, seed):
    rng = random.Random(seed)
    db = client_class().chatapp_bench
    for document in (User, Conversation, Message):
        collection = db[document._meta["collection"]]
        for keys, options in _indexes(document):
            collection.create_index(keys, **options)
    users = [ObjectId() for _ in range(max(64, int((2 * conversations) ** 0.5) + 2))]
    db.users.insert_many(
        [{"_id": u, "username": f"user{i}", "fullName": "U", "password": "x", "gender": "male"}
         for i, u in enumerate(users)]
    )
    pairs, seen = [], set()
    while len(pairs) < conversations:
        a, b = rng.sample(users, 2)
        key = ":".join(sorted((str(a), str(b))))
        if key not in seen:
            seen.add(key)
            pairs.append((a, b, key))
    now = datetime(2026, 1, 1)
    convs = [
        {"_id": ObjectId(), "participants": [a, b], "pairKey": key, "createdAt": now,
         "updatedAt": now}
        for a, b, key in pairs
    ]
    db.conversations.insert_many(convs)
    rows = []
    for i in range(messages):
        conv = rng.choice(convs)
        sender, receiver = conv["participants"][:: rng.choice((1, -1))]
        row = {"_id": ObjectId(), "conversationId": conv["_id"], "senderId": sender,
               "receiverId": receiver, "message": f"m{i}", "createdAt": now + timedelta(seconds=i),
               "updatedAt": now}
        if i % 2:
            row["clientMessageId"] = f"c{i}"
        rows.append(row)
    db.messages.insert_many(rows)
    return db, users, convs


def operations(db, users, convs, rng):
    """name -> a function doing that operation once (on a random target)."""

    def insert_message(with_key):
        conv = rng.choice(convs)
        row = {"conversationId": conv["_id"], "senderId": conv["participants"][0],
               "receiverId": conv["participants"][1], "message": "hi",
               "createdAt": datetime(2026, 2, 1), "updatedAt": datetime(2026, 2, 1)}
        if with_key:
            row["clientMessageId"] = str(ObjectId())
        db.messages.insert_one(row)

    def count_unread():
        conv = rng.choice(convs)
        db.conversations.update_one(
            {"_id": conv["_id"]}, {"$inc": {f"unreadCounts.{conv['participants'][1]}": 1}}
        )

    def record_last_message():
        conv = rng.choice(convs)
        mid = ObjectId()
        db.conversations.update_one(
            {"_id": conv["_id"],
             "$or": [{"lastMessage._id": {"$lt": mid}}, {"lastMessage._id": {"$exists": False}}]},
            {"$set": {"lastMessage": {"_id": mid, "message": "hi"}, "updatedAt": datetime.now()}},
        )

    def conversation_by_pair():
        db.conversations.find_one({"pairKey": rng.choice(convs)["pairKey"]}, {"_id": 1})

    def history_page():
        list(db.messages.find({"conversationId": rng.choice(convs)["_id"]})
             .sort("_id", -1).limit(51))

    def unread_recount():
        conv = rng.choice(convs)
        db.messages.count_documents({"conversationId": conv["_id"],
                                     "senderId": conv["participants"][0],
                                     "_id": {"$gt": ObjectId("000000000000000000000000")}})

    def users_by_ids():
        list(db.users.find({"_id": {"$in": rng.sample(users, 20)}}, {"password": 0}))

    def new_conversation_upsert():
        a, b = ObjectId(), rng.choice(users)
        key = ":".join(sorted((str(a), str(b))))
        db.conversations.find_one_and_update(
            {"pairKey": key}, {"$setOnInsert": {"participants": [a, b]}}, upsert=True
        )

    return {
        "insert message (no clientMessageId)": lambda: insert_message(False),
        "insert message (clientMessageId)": lambda: insert_message(True),
        "$inc unread by _id": count_unread,
        "lastMessage guarded update by _id": record_last_message,
        "conversation by pairKey": conversation_by_pair,
        "history page (conversationId, -_id, 51)": history_page,
        "unread recount (count)": unread_recount,
        "20 users by _id $in": users_by_ids,
        "new conversation (upsert on pairKey)": new_conversation_upsert,
    }


def measure(client_class, args):
    db, users, convs = build(client_class, args.conversations, args.messages, args.seed)
    ops = operations(db, users, convs, random.Random(args.seed + 1))
    results = {}
    for name, op in ops.items():
        rounds = []
        for _ in range(args.rounds):
            start = time.perf_counter()
            for _ in range(args.repeat):
                op()
            rounds.append((time.perf_counter() - start) / args.repeat * 1e6)
        results[name] = statistics.median(rounds)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=2000)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=20, help="operations per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", choices=("embedded_db",),
                        help="measure embedded_db alone (plain mongomock takes minutes at 20,000)")
    args = parser.parse_args(argv)
    fast = measure(embedded_db.MongoClient, args)
    if args.only:
        print(f"{args.conversations} conversations, {args.messages} messages; embedded_db, µs per "
              f"operation, median of {args.rounds} rounds of {args.repeat}")
        width = max(map(len, fast))
        for name, value in fast.items():
            print(f"{name:<{width}}  {value:>11.0f}")
        return
    plain = measure(mongomock.MongoClient, args)
    print(f"{args.conversations} conversations, {args.messages} messages (the sizes grow a "
          f"little as the operations insert); µs per operation, median of {args.rounds} rounds "
          f"of {args.repeat}")
    width = max(map(len, plain))
    print(f"{'operation':<{width}}  {'mongomock':>10}  {'embedded_db':>11}  {'speedup':>7}")
    for name in plain:
        print(f"{name:<{width}}  {plain[name]:>10.0f}  {fast[name]:>11.0f}  "
              f"{plain[name] / fast[name]:>6.1f}x")
    send = ("insert message (no clientMessageId)", "$inc unread by _id",
            "lastMessage guarded update by _id")
    before, after = sum(plain[k] for k in send), sum(fast[k] for k in send)
    print(f"{'a send (insert + 2 updates)':<{width}}  {before:>10.0f}  {after:>11.0f}  "
          f"{before / after:>6.1f}x")


if __name__ == "__main__":
    main()
