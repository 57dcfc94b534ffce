"""chatapp.embedded_db gives the same answers as plain mongomock, operation by operation.

Every scenario runs on a plain `mongomock.MongoClient` and on `chatapp.embedded_db.MongoClient`
side by side; results (documents in order, counts, update results) and errors (type and
message) must be identical, and so must the collections' contents afterwards.
"""

import collections
import copy
import datetime
import itertools
import random
import re

import bson
import bson.tz_util
import mongomock
import pymongo
import pytest
from bson import ObjectId
from pymongo import ASCENDING, DESCENDING

from chatapp import embedded_db

IDS = [ObjectId() for _ in range(8)]


def _outcome(fn):
    try:
        result = fn()
        if hasattr(result, "raw_result"):
            result = dict(result.raw_result, connectionId=None)  # differs per client
        elif hasattr(result, "inserted_ids"):
            result = result.inserted_ids
        elif hasattr(result, "inserted_id"):
            result = result.inserted_id
        elif hasattr(result, "deleted_count"):
            result = result.deleted_count
        elif hasattr(result, "__iter__") and not isinstance(result, (dict, str)):
            result = list(result)
        return ("ok", copy.deepcopy(result))
    except Exception as error:  # the same error, or the same success, is the point
        return ("error", type(error).__name__, str(error))


class _Ids:
    """mongomock's generated ObjectIds, the same sequence for each side of an operation."""

    def __init__(self):
        self.counter = 0

    def __call__(self, oid=None):
        if oid is not None:
            return ObjectId(oid)
        self.counter += 1
        return ObjectId(b"\x01" * 4 + self.counter.to_bytes(8, "big"))


@pytest.fixture(autouse=True)
def deterministic_ids(monkeypatch):
    ids = _Ids()
    monkeypatch.setattr(mongomock.collection, "ObjectId", ids)
    return ids


class Twin:
    """The same collection on plain mongomock and on the fast client."""

    def __init__(self, name="c"):
        self.plain = mongomock.MongoClient().db[name]
        self.fast = embedded_db.MongoClient().db[name]
        assert type(self.fast) is embedded_db.Collection

    def same(self, op):
        """Run `op(collection)` on both; assert identical outcomes; return it."""
        ids = mongomock.collection.ObjectId
        start = getattr(ids, "counter", 0)
        expected = _outcome(lambda: op(self.plain))
        if isinstance(ids, _Ids):
            ids.counter = start
        actual = _outcome(lambda: op(self.fast))
        assert actual == expected
        assert list(self.fast.find()) == list(self.plain.find())
        check_hash_index(self.fast)
        return expected


def check_hash_index(collection):
    """The collection's hash index, if built, is exactly a fresh one over its documents: each
    document in the right slot of every field, nothing else, sequence numbers in store order."""
    store = collection._store
    index = store._hash
    if index is None:
        return
    assert index.documents is store._documents
    assert set(embedded_db._hash_fields(store.indexes)) <= set(index.fields)
    fresh = embedded_db._HashIndex(store._documents, index.fields)

    def shape(ix):
        return {
            field: {slot: set(bucket) for slot, bucket in slots.items()}
            for field, slots in ix.buckets.items()
        }

    assert shape(index) == shape(fresh)
    keys = list(store._documents)
    assert set(index.rows) == set(keys)
    assert sorted(keys, key=lambda k: index.rows[k][0]) == keys
    for slots in index.buckets.values():
        for bucket in slots.values():
            assert all(index.rows[key][0] == seq for key, seq in bucket.items())


def _docs(n=60, seed=1):
    rng = random.Random(seed)
    names = ["ann", "bob", "cy", "dee", None]
    docs = []
    for i in range(n):
        doc = {"_id": ObjectId() if i % 7 else f"s{i}", "n": i}
        kind = rng.choice(["str", "oid", "list", "none", "missing", "int", "dict", "strlist"])
        if kind == "str":
            doc["k"] = rng.choice(names[:4])
        elif kind == "oid":
            doc["k"] = rng.choice(IDS)
        elif kind == "list":
            doc["k"] = [rng.choice(IDS), rng.choice(IDS)]
        elif kind == "strlist":
            doc["k"] = [str(rng.choice(IDS)), rng.choice(names[:4])]
        elif kind == "none":
            doc["k"] = None
        elif kind == "int":
            doc["k"] = rng.randint(0, 3)
        elif kind == "dict":
            doc["k"] = {"x": rng.choice(names[:4])}
        doc["owner"] = rng.choice(IDS[:3])
        doc["tag"] = rng.choice(["a", "b"])
        docs.append(doc)
    return docs


@pytest.fixture
def twin():
    twin = Twin()
    docs = _docs()
    twin.same(lambda c: c.insert_many(copy.deepcopy(docs)))
    return twin


def _filters(docs):
    some_id = docs[5]["_id"]
    str_id = next(d["_id"] for d in docs if isinstance(d["_id"], str))
    missing = ObjectId()
    filters = [
        {},
        {"_id": some_id},
        {"_id": str_id},
        {"_id": str(some_id)},  # a string is not the ObjectId
        {"_id": missing},
        {"_id": some_id, "tag": "a"},
        {"_id": some_id, "tag": "zzz"},
        {"_id": some_id, "n": {"$gt": 100}},
        {"_id": {"$eq": some_id}},
        {"_id": {"$in": [docs[9]["_id"], missing, docs[2]["_id"], docs[9]["_id"]]}},
        {"_id": {"$in": []}},
        {"_id": {"$in": [docs[3]["_id"], str_id]}},
        {"_id": {"$gt": some_id}},
        {"_id": {"$ne": some_id}, "tag": "a"},
        {"_id": some_id, "$or": [{"k": {"$exists": False}}, {"n": {"$lt": 10}}]},
        {"k": None},
        {"k": {"$exists": False}},
        {"k": "ann"},
        {"k": "zzz"},
        {"k": 2},
        {"k": True},
        {"k": [IDS[0], IDS[1]]},
        {"k.x": "ann"},
        {"k": {"x": "bob"}},
        {"tag": "a", "owner": IDS[1]},
        {"tag": "a", "owner": IDS[1], "n": {"$gte": 20}},
        {"tag": "b", "$or": [{"k": "bob"}, {"n": 3}]},
        {"tag": "a", "k": {"$type": "string"}},
        {"owner": str(IDS[1])},
        {"n": {"$in": [1, 2, 3]}},
        {"tag": re.compile("^a")},
        {"tag": {"$regex": "b"}},
        {"$nor": [{"tag": "a"}]},
    ]
    filters += [{"k": v} for v in IDS[:4]] + [{"k": str(v)} for v in IDS[:4]]
    filters += [{"k": v, "tag": "a"} for v in IDS[:4]] + [{"k": v} for v in ["bob", "cy", "dee"]]
    return filters


def test_the_app_uses_the_fast_collections(app):
    from chatapp.models import Conversation, Message, User

    for document in (User, Conversation, Message):
        assert type(document._get_collection()) is embedded_db.Collection


def test_with_options_keeps_the_fast_class(twin):
    from bson.codec_options import CodecOptions

    other = twin.fast.with_options(codec_options=CodecOptions(tz_aware=True))
    assert type(other) is embedded_db.Collection
    assert type(twin.fast.database.client.get_database("db")) is embedded_db.Database


def _same_reads(twin, spec):
    """Finds, counts, and sorted/limited finds of `spec` answer the same on both sides."""
    twin.same(lambda c: c.find(spec))
    twin.same(lambda c: c.count_documents(spec))
    twin.same(lambda c: c.find_one(spec))
    twin.same(lambda c: c.find(spec).sort("_id", DESCENDING).limit(5))
    twin.same(lambda c: c.find(spec).sort([("n", ASCENDING)]).skip(2).limit(3))


def test_finds_counts_and_sorts_match(twin):
    docs = list(twin.plain.find())
    for spec in _filters(docs):
        _same_reads(twin, spec)
        twin.same(lambda c: c.find(spec, {"tag": 1}).sort("_id", ASCENDING))


def test_invalid_filters_fail_the_same_way(twin):
    some_id = next(twin.plain.find())["_id"]
    for spec in (
        {"_id": some_id, "n": {"$bogus": 1}},
        {"_id": some_id, "$bogus": 1},
        {"tag": "a", "n": {"$bogus": 1}},
        {"_id": {"$in": 5}},
    ):
        twin.same(lambda c: c.find(spec))
    empty = Twin("empty")
    missing = ObjectId()
    empty.same(lambda c: c.find({"_id": missing, "n": {"$bogus": 1}}))


def test_updates_and_deletes_match(twin):
    docs = list(twin.plain.find())
    for i, spec in enumerate(_filters(docs)):
        twin.same(lambda c: c.update_one(spec, {"$inc": {"hits": 1}}))
        twin.same(lambda c: c.update_many(spec, {"$set": {f"m{i % 3}": i}}))
        twin.same(lambda c: c.find_one_and_update(spec, {"$max": {"top": i}}))
    new_id = ObjectId()
    twin.same(lambda c: c.update_one({"_id": new_id}, {"$set": {"k": "new"}}, upsert=True))
    twin.same(lambda c: c.update_one({"tag": "zzz"}, {"$set": {"k": "up"}}, upsert=True))
    for spec in _filters(docs)[::3]:
        twin.same(lambda c: c.delete_one(spec))
    twin.same(lambda c: c.delete_many({"tag": "b"}))
    twin.same(lambda c: c.insert_many(copy.deepcopy(docs), ordered=False))  # re-inserts


def test_record_last_message_guard_matches(twin):
    cid = next(twin.plain.find())["_id"]
    newer, older = ObjectId(), ObjectId()
    newer, older = max(newer, older), min(newer, older)

    def guarded(message_id):
        return lambda c: c.update_one(
            {"_id": cid, "$or": [{"lm._id": {"$lt": message_id}}, {"lm._id": {"$exists": False}}]},
            {"$set": {"lm": {"_id": message_id}}, "$inc": {"unread.x": 1}},
        )

    assert twin.same(guarded(newer))[1]["n"] == 1
    assert twin.same(guarded(older))[1]["n"] == 0


UNIQUE_INDEXES = [
    ({"keys": [("u", 1)], "unique": True}, "plain"),
    ({"keys": [("u", 1)], "unique": True, "sparse": True}, "sparse"),
    ({"keys": [("a", 1), ("b", 1)], "unique": True}, "compound"),
    (
        {
            "keys": [("a", 1), ("b", 1)],
            "unique": True,
            "partialFilterExpression": {"b": {"$type": "string"}},
        },
        "partial",
    ),
    ({"keys": [("d.e", 1)], "unique": True}, "dotted"),
]

VALUES = ["x", "y", None, IDS[0], IDS[1], str(IDS[0]), ["x", "z"], 3, {"e": "x"}]


@pytest.mark.parametrize("plain_values", [True, False], ids=["plain", "any"])
@pytest.mark.parametrize("index", [i for i, _ in UNIQUE_INDEXES], ids=[n for _, n in UNIQUE_INDEXES])
def test_unique_indexes_match(index, plain_values):
    """Random inserts, updates and deletes; with only strings/ObjectIds/None in the indexed
    fields (the app's case) the fast checks and skips apply, with anything they must not."""
    values = [v for v in VALUES if type(v) in (str, ObjectId, type(None))] if plain_values else VALUES
    twin = Twin()
    twin.same(lambda c: c.create_index(index["keys"], **{k: v for k, v in index.items() if k != "keys"}))
    rng = random.Random(3)
    ids = []
    for step in range(250):
        doc = {"n": step}
        for field in ("u", "a", "b", "d"):
            value = rng.choice(values + ["missing"] * 3)
            if value != "missing":
                doc[field] = {"e": value} if field == "d" else value
        outcome = twin.same(lambda c: c.insert_one(copy.deepcopy(doc)))
        if outcome[0] == "ok":
            ids.append(outcome[1])
        if ids and step % 3 == 0:  # an update that may or may not touch the indexed fields
            target = rng.choice(ids)
            field = rng.choice(["u", "a", "b", "n", "other"])
            value = rng.choice(values)
            twin.same(lambda c: c.update_one({"_id": target}, {"$set": {field: value}}))
        if ids and step % 11 == 0:
            target = ids.pop(rng.randrange(len(ids)))
            twin.same(lambda c: c.delete_one({"_id": target}))
    twin.same(lambda c: c.count_documents({}))


def test_duplicate_key_errors_on_insert_and_update():
    twin = Twin()
    twin.same(lambda c: c.create_index([("u", 1)], unique=True, sparse=True))
    twin.same(
        lambda c: c.create_index(
            [("s", 1), ("k", 1)], unique=True, partialFilterExpression={"k": {"$type": "string"}}
        )
    )
    twin.same(lambda c: c.insert_one({"_id": 1, "u": "ann", "s": IDS[0], "k": "k1"}))
    assert twin.same(lambda c: c.insert_one({"_id": 2, "u": "ann"}))[0] == "error"
    assert twin.same(lambda c: c.insert_one({"_id": 3, "s": IDS[0], "k": "k1"}))[0] == "error"
    assert twin.same(lambda c: c.insert_one({"_id": 4, "s": IDS[0], "k": None}))[0] == "ok"
    assert twin.same(lambda c: c.insert_one({"_id": 5, "s": IDS[0]}))[0] == "ok"  # both outside
    assert twin.same(lambda c: c.insert_one({"_id": 6, "s": IDS[1], "k": "k1"}))[0] == "ok"
    assert twin.same(lambda c: c.insert_one({"_id": 7}))[0] == "ok"  # sparse: no u
    assert twin.same(lambda c: c.insert_one({"_id": 8}))[0] == "ok"
    assert twin.same(lambda c: c.update_one({"_id": 7}, {"$set": {"u": "ann"}}))[0] == "error"
    assert twin.same(lambda c: c.update_one({"_id": 6}, {"$set": {"s": IDS[0]}}))[0] == "error"
    assert twin.same(lambda c: c.update_one({"_id": 6}, {"$set": {"x": 1}}))[0] == "ok"
    assert twin.same(lambda c: c.insert_one({"_id": 1}))[0] == "error"  # duplicate _id
    twin.same(lambda c: c.delete_one({"_id": 1}))
    assert twin.same(lambda c: c.insert_one({"_id": 9, "u": "ann", "s": IDS[0], "k": "k1"}))[0] == "ok"
    assert twin.same(lambda c: c.update_one({"k": "k2"}, {"$set": {"u": "bob"}}, upsert=True))[0] == "ok"
    assert twin.same(lambda c: c.update_one({"k": "k3"}, {"$set": {"u": "bob"}}, upsert=True))[0] == "error"


def test_drop_and_reinsert(twin):
    docs = list(twin.plain.find())
    twin.same(lambda c: c.drop())
    twin.same(lambda c: c.find({"_id": docs[0]["_id"]}))
    twin.same(lambda c: c.insert_many(copy.deepcopy(docs[:10])))
    for spec in _filters(docs):
        twin.same(lambda c: c.find(spec))


def test_random_equality_filters_match(twin):
    rng = random.Random(7)
    fields = ["k", "tag", "owner", "n", "nope"]
    pool = ["ann", "bob", "a", "b", None, 1, 3] + IDS[:4] + [str(IDS[0])]
    for _ in range(300):
        spec = {f: rng.choice(pool) for f in rng.sample(fields, rng.randint(1, 3))}
        twin.same(lambda c: c.find(spec).sort("_id", DESCENDING))
    for keys in itertools.combinations(fields, 2):
        twin.same(lambda c: c.find({keys[0]: "a", keys[1]: IDS[1]}))


def test_updates_that_keep_or_change_what_a_unique_index_depends_on():
    twin = Twin()
    twin.same(
        lambda c: c.create_index(
            [("a", 1), ("b", 1)], unique=True, partialFilterExpression={"c": {"$type": "string"}}
        )
    )
    twin.same(lambda c: c.create_index([("u", 1)], unique=True))
    twin.same(lambda c: c.insert_one({"_id": 1, "a": "x", "b": "y", "c": "in", "u": "p"}))
    twin.same(lambda c: c.insert_one({"_id": 2, "a": "x", "b": "y", "u": "q"}))  # outside
    # Only the partial filter's field changes: the document enters the index and collides.
    assert twin.same(lambda c: c.update_one({"_id": 2}, {"$set": {"c": "in"}}))[0] == "error"
    assert twin.same(lambda c: c.update_one({"_id": 2}, {"$set": {"c": 5}}))[0] == "ok"
    assert twin.same(lambda c: c.update_one({"_id": 2}, {"$set": {"n": 1}}))[0] == "ok"
    assert twin.same(lambda c: c.update_one({"_id": 2}, {"$set": {"u": "p"}}))[0] == "error"
    assert twin.same(lambda c: c.update_many({}, {"$set": {"u": "same"}}))[0] == "error"
    assert twin.same(lambda c: c.update_many({}, {"$inc": {"n": 1}}))[0] == "ok"
    # A pipeline update, and a replacement, that bring back a taken key.
    twin.same(lambda c: c.update_one({"_id": 2}, {"$set": {"u": "r"}}))
    twin.same(lambda c: c.update_one({"_id": 2}, [{"$set": {"u": "p"}}]))
    twin.same(lambda c: c.replace_one({"_id": 2}, {"u": "p"}))
    assert twin.same(lambda c: c.replace_one({"_id": 2}, {"u": "r", "a": "x"}))[0] == "ok"
    # Upserts whose inserted document collides, or does not.
    twin.same(lambda c: c.update_one({"u": "q", "n": 9}, {"$set": {"k": 1}}, upsert=True))
    twin.same(lambda c: c.update_one({"u": "new"}, {"$set": {"k": 1}}, upsert=True))
    twin.same(lambda c: c.find_one_and_update({"u": "q"}, {"$set": {"a": "x", "b": "y"}}))
    twin.same(lambda c: c.find_one_and_update({"_id": 2}, {"$set": {"u": "new"}}))
    outcomes = [r[0] for r in (twin.same(lambda c: c.insert_one({"u": u})) for u in "pqrs")]
    assert "error" in outcomes and "ok" in outcomes


def test_id_sorted_pages_with_limits_match():
    """The `_id`-sorted fast path (all ObjectIds) and the limited cursor, like history pages."""
    twin = Twin("pages")
    docs = [d for d in _docs(120, seed=3) if isinstance(d["_id"], ObjectId)]
    random.Random(4).shuffle(docs)
    twin.same(lambda c: c.insert_many(copy.deepcopy(docs)))
    middle = sorted(d["_id"] for d in docs)[len(docs) // 2]
    for spec in ({}, {"owner": IDS[1]}, {"owner": IDS[1], "_id": {"$lt": middle}},
                 {"tag": "a", "_id": {"$gt": middle}}, {"owner": ObjectId()}):
        for direction in (ASCENDING, DESCENDING):
            twin.same(lambda c: c.find(spec).sort("_id", direction).limit(7))
            twin.same(lambda c: c.find(spec).sort([("_id", direction)]).skip(3).limit(5))
            twin.same(lambda c: c.find(spec, {"tag": 1}).sort("_id", direction).limit(2))
            twin.same(lambda c: c.find(spec).sort("_id", direction))
            twin.same(lambda c: c.find(spec).sort("_id", direction).limit(-3))
            twin.same(lambda c: c.find(spec).sort("_id", direction).limit(4)[2])
            twin.same(lambda c: c.find(spec).sort("_id", direction).limit(4)[1:3])

            def alive_after_one(c):
                cursor = c.find(spec).sort("_id", direction).limit(3)
                first = next(cursor, None)
                return [first, cursor.alive, list(cursor)]

            twin.same(alive_after_one)
    # A string `_id` among ObjectIds: mongomock's own sort.
    twin.same(lambda c: c.insert_one({"_id": "zz", "owner": IDS[1], "tag": "a"}))
    twin.same(lambda c: c.find({"owner": IDS[1]}).sort("_id", DESCENDING).limit(6))
    twin.same(lambda c: c.find({}).sort("_id", ASCENDING).limit(6))


def test_the_copied_update_is_mongomocks_but_for_the_snapshot():
    """`Collection._mongomock_update` is mongomock's `_update` with three names changed; a
    mongomock upgrade that changes `_update` fails here rather than silently diverging."""
    import inspect

    from mongomock.collection import Collection as Plain

    ours = inspect.getsource(embedded_db.Collection._mongomock_update)
    theirs = inspect.getsource(Plain._update)
    theirs = theirs.replace("copy.deepcopy(existing_document)", "_snapshot(existing_document)")
    theirs = theirs.replace("ObjectId()", "_mongomock_collection.ObjectId()")
    theirs = theirs.replace("helpers.patch_datetime_awareness_in_document(", "_patch_datetimes(")
    assert ours == theirs.replace("def _update(", "def _mongomock_update(", 1)


def test_update_snapshots_roll_back_like_deep_copies():
    """A failed update (duplicate key, altered `_id`) restores the document as it was."""
    twin = Twin("rollback")
    twin.same(lambda c: c.create_index("u", unique=True))
    twin.same(lambda c: c.insert_many([
        {"_id": 1, "u": "a", "d": {"x": [1, {"y": 2}], "t": IDS[0]}, "l": [[1], {"z": 3}]},
        {"_id": 2, "u": "b", "d": {"x": []}},
    ]))
    twin.same(lambda c: c.update_one({"_id": 1}, {"$set": {"u": "b", "d.x.1.y": 5}, "$push": {"l": 4}}))
    twin.same(lambda c: c.update_one({"_id": 1}, {"$set": {"d.x.1.y": 6}, "$pull": {"l": [1]}}))
    twin.same(lambda c: c.replace_one({"_id": 1}, {"_id": 3, "u": "c"}))
    twin.same(lambda c: c.update_many({}, {"$inc": {"n": 1}, "$unset": {"d": ""}}))
    twin.same(lambda c: c.update_one({"_id": 9}, {"$set": {"u": "z"}}, upsert=True))


# --- The hash index (embedded_db._HashIndex): same answers whether lookups go through it or not.


@pytest.fixture(params=["default", "always"])
def hash_share(request, monkeypatch):
    """'always': every lookup on a hashed field uses the hash index, however many candidates."""
    if request.param == "always":
        monkeypatch.setattr(embedded_db, "_HASH_SHARE", float("inf"))
    return request.param


@pytest.fixture
def hash_lookups(monkeypatch):
    """Counts the lookups answered from a hash index."""
    calls = []
    items = embedded_db._HashIndex.items

    def counting(self, field, value):
        calls.append((field, value))
        return items(self, field, value)

    monkeypatch.setattr(embedded_db._HashIndex, "items", counting)
    return calls


def _indexed_twin(docs=None):
    twin = Twin()
    twin.same(lambda c: c.create_index([("k", 1)]))
    twin.same(lambda c: c.create_index([("owner", 1), ("n", -1)]))
    twin.same(lambda c: c.create_index([("tag", 1), ("u", 1)], unique=True, sparse=True))
    if docs is not None:
        twin.same(lambda c: c.insert_many(copy.deepcopy(docs)))
    return twin


def test_hashed_fields_are_unique_keys_and_first_keys():
    twin = _indexed_twin()
    twin.same(lambda c: c.create_index([("d.e", 1), ("z", 1)]))  # dotted first key: not hashed
    twin.same(lambda c: c.create_index([("_id", 1), ("y", 1)]))
    assert embedded_db._hash_fields(twin.fast._store.indexes) == ("k", "owner", "tag", "u")


def test_hashed_finds_counts_and_sorts_match(hash_share, hash_lookups):
    docs = _docs(90, seed=5)
    twin = _indexed_twin(docs)
    for spec in _filters(docs):
        _same_reads(twin, spec)
    assert hash_lookups  # the index answered (with 'always', every filter on k, owner, tag)
    if hash_share == "always":
        assert {field for field, _ in hash_lookups} >= {"k", "owner", "tag"}


def test_hashed_updates_and_deletes_match(hash_share, hash_lookups):
    docs = _docs(90, seed=6)
    twin = _indexed_twin(docs)
    for i, spec in enumerate(_filters(docs)):
        twin.same(lambda c: c.update_one(spec, {"$inc": {"hits": 1}}))
        twin.same(lambda c: c.update_many(spec, {"$set": {f"m{i % 3}": i}}))
        twin.same(lambda c: c.find_one_and_update(spec, {"$max": {"top": i}}))
    for spec in _filters(docs)[::3]:
        twin.same(lambda c: c.delete_one(spec))
    twin.same(lambda c: c.delete_many({"tag": "b"}))
    twin.same(lambda c: c.insert_many(copy.deepcopy(docs), ordered=False))  # re-inserts
    for spec in _filters(docs):
        twin.same(lambda c: c.find(spec))
    assert hash_lookups


def test_updates_that_move_documents_between_values(hash_share):
    """Each write path that changes an indexed field, then the lookups that would see a stale
    index (a document still under its old value, or missing under its new one)."""
    twin = _indexed_twin()
    a, b = IDS[0], IDS[1]
    twin.same(lambda c: c.insert_many([
        {"_id": i, "k": "x" if i % 2 else a, "owner": a if i < 5 else b, "n": i} for i in range(10)
    ]))

    def lookups():
        for value in ("x", "y", "z", a, b, None, str(a)):
            for field in ("k", "owner", "tag"):
                twin.same(lambda c: c.find({field: value}))
        twin.same(lambda c: c.find({"k": "x", "owner": a}))
        twin.same(lambda c: c.find({"k": a, "owner": b}).sort("_id", DESCENDING).limit(2))

    lookups()
    steps = [
        lambda c: c.update_one({"_id": 1}, {"$set": {"k": "y"}}),
        lambda c: c.update_many({"k": "x"}, {"$set": {"k": "z", "owner": b}}),
        lambda c: c.update_one({"_id": 2}, {"$unset": {"k": ""}}),
        lambda c: c.update_one({"_id": 4}, {"$set": {"k": ["x", "y"]}}),  # an array: 'other'
        lambda c: c.update_one({"_id": 4}, {"$pop": {"k": 1}}),  # ["x"]: matches "x"
        lambda c: c.update_one({"_id": 6}, {"$set": {"k": {"x": 1}}}),
        lambda c: c.update_one({"_id": 6}, {"$set": {"k": "x"}}),  # back to a plain value
        lambda c: c.update_one({"_id": 8}, {"$set": {"k": 5}}),
        lambda c: c.update_one({"_id": 0}, {"$rename": {"k": "kk"}}),
        lambda c: c.update_one({"_id": 0}, {"$rename": {"kk": "k"}}),
        lambda c: c.update_one({"_id": 3}, {"$set": {"k": None}}),
        lambda c: c.update_one({"_id": 5}, [{"$set": {"k": "y", "owner": a}}]),  # pipeline
        lambda c: c.replace_one({"_id": 7}, {"k": "y", "owner": a}),
        lambda c: c.replace_one({"_id": 7}, {"n": 7}),
        lambda c: c.find_one_and_update({"k": "z"}, {"$set": {"k": "x"}}),
        lambda c: c.find_one_and_replace({"k": "y"}, {"k": a, "owner": b}),
        lambda c: c.find_one_and_delete({"k": "y"}),
        lambda c: c.update_one({"k": "new"}, {"$set": {"owner": a}}, upsert=True),
        lambda c: c.update_one({"_id": 20}, {"$set": {"k": "x"}}, upsert=True),
        lambda c: c.update_one({"_id": 21, "k": "x"}, [{"$set": {"owner": b}}], upsert=True),
        lambda c: c.replace_one({"k": "q"}, {"k": "x", "owner": a}, upsert=True),
        lambda c: c.update_many({"owner": b}, {"$set": {"owner": a}}),
        lambda c: c.update_one({"_id": 9}, {"$set": {"_id": 99, "k": "y"}}),  # fails, rolled back
        lambda c: c.delete_many({"k": "x"}),
        lambda c: c.insert_one({"_id": 1, "k": "x", "owner": a}),  # a new key: at the end
        lambda c: c.delete_one({"_id": 3}),
        lambda c: c.insert_one({"_id": 3, "k": "x", "owner": b}),  # back, at the end
        lambda c: c.bulk_write([
            pymongo.InsertOne({"_id": 30, "k": "y"}),
            pymongo.UpdateOne({"k": "y"}, {"$set": {"k": "x"}}),
            pymongo.UpdateMany({"owner": a}, {"$set": {"owner": b}}),
            pymongo.ReplaceOne({"_id": 30}, {"k": a}),
            pymongo.DeleteOne({"k": "z"}),
            pymongo.UpdateOne({"k": "w"}, {"$set": {"owner": a}}, upsert=True),
        ]),
    ]
    for step in steps:
        twin.same(step)
        lookups()


def test_store_order_survives_values_moving_back_and_forth(hash_share):
    """A document that leaves a value and comes back is found in the store's order, not in the
    order it re-entered the value's bucket."""
    twin = _indexed_twin()
    twin.same(lambda c: c.insert_many([{"_id": i, "k": "x", "n": i} for i in range(6)]))
    for i in (0, 3, 1):
        twin.same(lambda c: c.update_one({"_id": i}, {"$set": {"k": "y"}}))
    for i in (3, 1, 0):
        twin.same(lambda c: c.update_one({"_id": i}, {"$set": {"k": "x"}}))
        twin.same(lambda c: c.find({"k": "x"}))
        twin.same(lambda c: c.find_one({"k": "x"}))
        twin.same(lambda c: c.update_one({"k": "x"}, {"$inc": {"hits": 1}}))
        twin.same(lambda c: c.delete_one({"k": "x", "n": {"$gt": 2}}))


def test_hashed_unique_checks(hash_share, hash_lookups):
    """Duplicate keys on a unique sparse index and on a partial unique index, like the app's
    pairKey and (senderId, clientMessageId), on insert, update, upsert, replace and rollback."""
    twin = Twin()
    twin.same(lambda c: c.create_index([("pk", 1)], unique=True, sparse=True))
    twin.same(lambda c: c.create_index(
        [("s", 1), ("cm", 1)], unique=True, partialFilterExpression={"cm": {"$type": "string"}}))
    rows = [{"pk": f"p{i}", "s": IDS[i % 3], "cm": f"c{i}"} for i in range(40)]
    twin.same(lambda c: c.insert_many(copy.deepcopy(rows)))
    twin.same(lambda c: c.insert_many([{"s": IDS[i % 3]} for i in range(20)]))
    cases = [
        lambda c: c.insert_one({"pk": "p7"}),
        lambda c: c.insert_one({"pk": "p99"}),
        lambda c: c.insert_one({"pk": "p99", "s": IDS[0]}),
        lambda c: c.insert_one({"s": IDS[1], "cm": "c1"}),  # c1 belongs to IDS[1]
        lambda c: c.insert_one({"s": IDS[0], "cm": "c1"}),
        lambda c: c.insert_one({"s": IDS[0], "cm": "c1"}),
        lambda c: c.insert_one({"s": IDS[0], "cm": None}),
        lambda c: c.insert_one({"s": IDS[0], "cm": 5}),
        lambda c: c.insert_one({"s": IDS[0], "cm": 5}),  # outside the partial index
        lambda c: c.insert_many([{"pk": "q1"}, {"pk": "q2"}, {"pk": "q1"}, {"pk": "q3"}]),
        lambda c: c.insert_many([{"pk": "r1"}, {"pk": "r1"}, {"pk": "r2"}], ordered=False),
        lambda c: c.update_one({"pk": "p2"}, {"$set": {"pk": "p3"}}),  # rolled back
        lambda c: c.update_one({"pk": "p2"}, {"$set": {"pk": "p2b"}}),
        lambda c: c.insert_one({"pk": "p2"}),  # free again
        lambda c: c.insert_one({"pk": "p2b"}),
        lambda c: c.update_one({"pk": "p4"}, {"$set": {"cm": "c7"}}),  # s of p4 is IDS[1], c7 too
        lambda c: c.update_one({"pk": "p5"}, {"$set": {"cm": "c8"}}),
        lambda c: c.update_one({"pk": "p5"}, {"$set": {"s": IDS[2]}}),  # (IDS[2], c8) is p8's
        lambda c: c.update_many({"s": IDS[0]}, {"$set": {"pk": "same"}}),
        lambda c: c.update_one({"pk": "zz"}, {"$set": {"s": IDS[1], "cm": "c10"}}, upsert=True),
        lambda c: c.update_one({"pk": "p1"}, {"$set": {"s": IDS[2]}}, upsert=True),
        lambda c: c.replace_one({"pk": "p9"}, {"pk": "p11"}),
        lambda c: c.replace_one({"pk": "p9"}, {"pk": "p9", "s": IDS[1], "cm": "c9x"}),
        lambda c: c.find_one_and_update({"pk": "p12"}, {"$set": {"pk": "p13"}}),
        lambda c: c.find_one_and_replace({"pk": "p12"}, {"pk": "p14"}),
        lambda c: c.delete_one({"pk": "p14"}),
        lambda c: c.insert_one({"pk": "p14"}),
        lambda c: c.update_one({"pk": "p15"}, [{"$set": {"pk": "p16"}}]),
        lambda c: c.update_one({"pk": "p15"}, [{"$set": {"pk": ["p16"]}}]),  # an array
        lambda c: c.insert_one({"pk": "p16"}),
        lambda c: c.update_one({"pk": "p15"}, {"$set": {"pk": "p15"}}),
    ]
    for case in cases:
        twin.same(case)
        twin.same(lambda c: c.find({"pk": "p16"}))
        twin.same(lambda c: c.find({"s": IDS[1], "cm": "c10"}))
    assert {field for field, _ in hash_lookups} >= {"pk", "cm"}


def test_drop_rename_and_index_changes(hash_share):
    docs = _docs(60, seed=8)
    twin = _indexed_twin(docs)
    twin.same(lambda c: c.find({"k": "ann"}))
    twin.same(lambda c: c.drop())
    twin.same(lambda c: c.find({"k": "ann"}))
    twin.same(lambda c: c.create_index([("k", 1)]))
    twin.same(lambda c: c.insert_many(copy.deepcopy(docs[:30])))
    twin.same(lambda c: c.find({"k": "ann"}))
    twin.same(lambda c: c.find({"tag": "a"}))
    twin.same(lambda c: c.create_index([("tag", 1)]))  # a new hashed field, documents present
    twin.same(lambda c: c.find({"tag": "a"}))
    twin.same(lambda c: c.drop_indexes())
    twin.same(lambda c: c.find({"tag": "b"}))
    twin.same(lambda c: c.create_index([("owner", 1)], unique=True))  # fails: duplicates
    twin.same(lambda c: c.create_index([("n", 1)], unique=True))
    twin.same(lambda c: c.insert_one({"n": 3}))
    twin.same(lambda c: c.database.drop_collection(c.name))
    twin.same(lambda c: c.insert_many(copy.deepcopy(docs[30:])))
    twin.same(lambda c: c.find({"k": "bob"}))
    twin.same(lambda c: c.rename("renamed"))
    twin.plain, twin.fast = twin.plain.database["renamed"], twin.fast.database["renamed"]
    twin.same(lambda c: c.create_index([("k", 1)]))
    twin.same(lambda c: c.find({"k": "bob"}))
    twin.same(lambda c: c.update_many({"k": "bob"}, {"$set": {"k": "cy"}}))
    twin.same(lambda c: c.find({"k": "cy"}))


def test_random_operations_keep_the_index_exact(hash_share):
    """A random mix of every write path, with lookups and the index checked after each step."""
    rng = random.Random(11)
    twin = Twin()
    twin.same(lambda c: c.create_index([("k", 1)]))
    twin.same(lambda c: c.create_index([("u", 1)], unique=True, sparse=True))
    twin.same(lambda c: c.create_index(
        [("o", 1), ("m", 1)], unique=True, partialFilterExpression={"m": {"$type": "string"}}))
    values = ["a", "b", "c", None, IDS[0], IDS[1], str(IDS[0]), ["a", "b"], [IDS[0]], 1, {"a": 1}]
    plain = ["a", "b", "c", IDS[0], IDS[1], str(IDS[0])]
    keys = list(range(40))

    def random_doc():
        doc = {"n": rng.randrange(100)}
        for field in ("k", "u", "o", "m"):
            if rng.random() < 0.8:
                doc[field] = rng.choice(values if rng.random() < 0.2 else plain)
        if rng.random() < 0.7:
            doc["_id"] = rng.choice(keys)
        return doc

    def random_filter():
        spec = {rng.choice(["k", "u", "o", "m"]): rng.choice(plain)}
        if rng.random() < 0.3:
            spec[rng.choice(["k", "o", "n"])] = rng.choice(plain + [rng.randrange(100)])
        if rng.random() < 0.2:
            spec["n"] = {"$gt": rng.randrange(100)}
        if rng.random() < 0.1:
            spec = {"_id": rng.choice(keys)}
        return spec

    def random_update():
        field = rng.choice(["k", "u", "o", "m", "n"])
        kind = rng.random()
        if kind < 0.6:
            return {"$set": {field: rng.choice(values)}}
        if kind < 0.75:
            return {"$unset": {field: ""}}
        if kind < 0.85:
            return [{"$set": {field: rng.choice(plain)}}]
        return {"$inc": {"n": 1}}

    operations = [
        lambda: (lambda c, d=random_doc(): c.insert_one(copy.deepcopy(d))),
        lambda: (lambda c, ds=[random_doc() for _ in range(3)], o=rng.random() < 0.5:
                 c.insert_many(copy.deepcopy(ds), ordered=o)),
        lambda: (lambda c, f=random_filter(), u=random_update(): c.update_one(f, u)),
        lambda: (lambda c, f=random_filter(), u=random_update(): c.update_many(f, u)),
        lambda: (lambda c, f=random_filter(), u=random_update(): c.update_one(f, u, upsert=True)),
        lambda: (lambda c, f=random_filter(), d=random_doc(), up=rng.random() < 0.3: c.replace_one(
            f, {k: v for k, v in d.items() if k != "_id"}, upsert=up)),
        lambda: (lambda c, f=random_filter(), u=random_update(): c.find_one_and_update(f, u)),
        lambda: (lambda c, f=random_filter(): c.find_one_and_delete(f)),
        lambda: (lambda c, f=random_filter(): c.delete_one(f)),
        lambda: (lambda c, f=random_filter(): c.delete_many(f)),
        lambda: (lambda c, f=random_filter(), u=random_update(), g=random_filter(),
                 d=random_doc(), o=rng.random() < 0.5: c.bulk_write(
                     [pymongo.UpdateOne(f, u), pymongo.DeleteOne(g),
                      pymongo.InsertOne(copy.deepcopy(d))],
                     ordered=o)),
    ]
    for step in range(400):
        if step == 250:
            twin.same(lambda c: c.drop())
            twin.same(lambda c: c.create_index([("k", 1)]))
            twin.same(lambda c: c.create_index([("u", 1)], unique=True, sparse=True))
        op = rng.choice(operations)()
        twin.same(op)
        spec = random_filter()
        twin.same(lambda c: c.find(spec))
        twin.same(lambda c: c.find(spec).sort("_id", DESCENDING).limit(3))


# --- Inserts (embedded_db.Collection._insert): the fast path stores what mongomock stores.


def _typed(value):
    """`value` with every type spelled out (dict vs OrderedDict, list vs tuple, naive vs aware
    datetimes, nan), so that equal-but-different documents compare different."""
    if isinstance(value, dict):
        return (type(value).__name__, [(_typed(k), _typed(v)) for k, v in value.items()])
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [_typed(v) for v in value])
    if isinstance(value, datetime.datetime):
        return (type(value).__name__, value.isoformat(), repr(value.tzinfo), value.fold)
    return (type(value).__name__, repr(value))


def _raw_store(collection):
    """The stored documents themselves (no find, no copy), with their store keys."""
    return _typed(list(dict.items(collection._store._documents)))


class _Odd:
    """A value BSON cannot encode, with a repr that is the same on both sides."""

    def __repr__(self):
        return "_Odd()"


class _NoOffset(datetime.tzinfo):
    def utcoffset(self, moment):
        return None

    def __repr__(self):
        return "_NoOffset()"


_NO_OFFSET = _NoOffset()
_ODD = _Odd()
_MS = datetime.datetime(2026, 3, 4, 5, 6, 7, 891234)
_IST = datetime.timezone(datetime.timedelta(hours=5, minutes=30))


def _insert_shapes():
    """(name, factory of a fresh document); each factory builds new objects every call."""
    shapes = {
        "message": lambda: {
            "conversationId": IDS[0], "senderId": IDS[1], "receiverId": IDS[2],
            "message": "héllo ☃", "clientMessageId": "k-1",
            "createdAt": datetime.datetime(2026, 1, 2, 3, 4, 5, 678000),
            "updatedAt": datetime.datetime(2026, 1, 2, 3, 4, 5, 678000),
        },
        "conversation": lambda: {
            "pairKey": f"{IDS[1]}:{IDS[2]}", "participants": [IDS[1], IDS[2]],
            "createdAt": _MS, "updatedAt": _MS,
        },
        "microseconds": lambda: {"a": _MS, "b": [_MS, {"c": _MS}], "d": datetime.datetime(1, 1, 1)},
        "aware": lambda: {
            "ist": _MS.replace(tzinfo=_IST), "utc": _MS.replace(tzinfo=datetime.timezone.utc),
            "minus": datetime.datetime(2026, 1, 1, 23, 59, 59, 999999,
                                       tzinfo=datetime.timezone(-datetime.timedelta(hours=3))),
            "nested": {"x": [_MS.replace(tzinfo=_IST)]},
        },
        "aware overflow": lambda: {"d": datetime.datetime.min.replace(tzinfo=_IST)},
        "fold": lambda: {"d": _MS.replace(fold=1), "e": _MS.replace(fold=1, tzinfo=_IST)},
        "fixed offset tz": lambda: {"d": _MS.replace(tzinfo=bson.tz_util.FixedOffset(90, "x"))},
        "offset None tz": lambda: {"d": _MS.replace(tzinfo=_NO_OFFSET)},
        "numbers": lambda: {
            "i": 7, "neg": -3, "big": 2**63 - 1, "small": -2**63, "f": 1.5, "nan": float("nan"),
            "inf": float("-inf"), "t": True, "no": False, "none": None, "zero": 0,
        },
        "int too big": lambda: {"i": 2**63},
        "int too small": lambda: {"l": [1, -2**63 - 1]},
        "nested": lambda: {
            "d": {"e": {"f": [1, [2, [3, {"g": "h"}]], ()]}, "empty": {}},
            "t": (1, "two", (IDS[3], None)), "l": [],
        },
        "given _id": lambda: {"_id": IDS[4], "v": 1},
        "str _id": lambda: {"_id": "me", "v": 1},
        "int _id": lambda: {"_id": 12, "v": 1},
        "None _id": lambda: {"_id": None, "v": 1},
        "_id not first": lambda: {"v": 1, "_id": IDS[5]},
        "dict _id": lambda: {"_id": {"a": 1, "b": [2]}, "v": 1},
        "datetime _id": lambda: {"_id": _MS, "v": 1},
        "float _id": lambda: {"_id": 1.5},
        "bool _id": lambda: {"_id": True},
        "top $ key": lambda: {"$x": 1},
        "nested $ key": lambda: {"a": {"$x": 1}},
        "dotted key": lambda: {"a.b": 1},
        "nested dotted key": lambda: {"a": [{"b.c": 1}]},
        "NUL key": lambda: {"a\0b": 1},
        "nested NUL key": lambda: {"a": {"b\0": 1}},
        "NUL key in a list": lambda: {"a": [{"b\0": 1}]},
        "NUL in a value": lambda: {"a": "b\0c"},
        "empty key": lambda: {"": 1},
        "int key": lambda: {1: 2},
        "nested int key": lambda: {"a": {1: 2}},
        "surrogate key": lambda: {"\ud800": 1},
        "surrogate value": lambda: {"a": ["\udfff"]},
        "set": lambda: {"a": {1, 2}},
        "custom object": lambda: {"a": [_ODD]},
        "date": lambda: {"a": datetime.date(2026, 1, 1)},
        "bytes": lambda: {"a": b"xy"},
        "OrderedDict value": lambda: {"a": collections.OrderedDict([("b", _MS)])},
        "SON value": lambda: {"a": bson.SON([("b", 1), ("c", _MS)])},
        "str subclass": lambda: {"a": _Str("x")},
        "int subclass": lambda: {"a": bson.Int64(3)},
        "deep": lambda: _deep(30),
    }
    return list(shapes.items())


class _Str(str):
    pass


def _deep(depth):
    doc = {"leaf": _MS}
    for _ in range(depth):
        doc = {"d": doc} if len(doc) == 1 else {"l": [doc]}
    return doc


# Shapes the fast path must take (the app's documents and other plain ones); every other shape
# may go either way (most go to mongomock's code).
_FAST_SHAPES = {
    "message", "conversation", "microseconds", "aware", "fold", "numbers", "nested", "given _id",
    "str _id", "int _id", "None _id", "_id not first", "NUL in a value",
}


def _same_inserts(twin, op, make):
    """Run `op(collection, documents)` on both sides with fresh documents from `make()`;
    identical outcomes, caller's documents afterwards (mongomock adds `_id` to them) and stored
    documents, type for type."""
    sides = {}
    ids = mongomock.collection.ObjectId
    start = ids.counter
    for name, collection in (("plain", twin.plain), ("fast", twin.fast)):
        ids.counter = start
        documents = make()
        outcome = _outcome(lambda: op(collection, documents))
        sides[name] = (outcome, _typed(documents), _raw_store(collection))
    assert sides["fast"] == sides["plain"]
    assert _typed(list(twin.fast.find())) == _typed(list(twin.plain.find()))
    check_hash_index(twin.fast)
    return sides["plain"][0]


@pytest.mark.parametrize("name, make", _insert_shapes(), ids=[n for n, _ in _insert_shapes()])
def test_insert_one_stores_what_mongomock_stores(name, make):
    twin = Twin()
    twin.same(lambda c: c.create_index("v", unique=True, sparse=True))
    twin.same(lambda c: c.insert_one({"_id": "first", "x": 1}))
    first = _same_inserts(twin, lambda c, d: c.insert_one(d), make)
    # The same shape again: a duplicate `_id` when it was given, else a second document.
    _same_inserts(twin, lambda c, d: c.insert_one(d), make)
    # and inside insert_many, both orders, between two fine documents
    for ordered in (True, False):
        _same_inserts(
            twin,
            lambda c, d: c.insert_many(d, ordered=ordered),
            lambda: [{"n": 1}, make(), {"n": 2}],
        )
    if name in _FAST_SHAPES:
        assert first[0] == "ok"


def test_fast_inserts_skip_mongomocks_code_only_for_plain_documents(monkeypatch):
    """The shapes in `_FAST_SHAPES` (the app's among them) take the fast path, and the rest of
    those the fast path refuses are mongomock's own `_insert`."""
    calls = []
    original = mongomock.collection.Collection._insert

    def counting(self, data, *args, **kwargs):
        calls.append(data)
        return original(self, data, *args, **kwargs)

    monkeypatch.setattr(mongomock.collection.Collection, "_insert", counting)
    slow = set()
    for name, make in _insert_shapes():
        collection = embedded_db.MongoClient().db.c
        calls.clear()
        try:
            collection.insert_one(make())
        except Exception:
            pass
        if calls:
            slow.add(name)
    assert not slow & _FAST_SHAPES
    expected_slow = {
        "aware overflow", "fixed offset tz", "offset None tz", "int too big", "int too small",
        "dict _id", "datetime _id", "float _id", "bool _id", "top $ key", "nested $ key",
        "dotted key", "nested dotted key", "NUL key", "nested NUL key", "NUL key in a list",
        "empty key", "int key", "nested int key", "surrogate key", "surrogate value", "set",
        "custom object", "date", "bytes", "OrderedDict value", "SON value", "str subclass",
        "int subclass", "deep",
    }
    assert slow == expected_slow


@pytest.mark.parametrize("ordered", [True, False])
def test_insert_many_with_failures_in_the_middle(ordered):
    twin = Twin()
    twin.same(lambda c: c.create_index("u", unique=True))
    twin.same(lambda c: c.create_index([("s", 1), ("k", 1)], unique=True, sparse=True))
    twin.same(lambda c: c.insert_one({"_id": 1, "u": "ann", "s": IDS[0], "k": "x"}))

    def batch():
        return [
            {"u": "bob", "at": _MS},
            {"_id": 1, "u": "cy"},  # duplicate _id
            {"u": "dee", "s": IDS[0], "k": "y", "at": _MS.replace(tzinfo=_IST)},
            {"u": "ann"},  # duplicate u
            {"u": "eve", "s": IDS[0], "k": "x"},  # duplicate (s, k)
            {"u": "fay", "l": [{"a": _MS}]},
            {"u": "bob"},  # duplicate of the first of this batch
            {"_id": "last", "u": "gus"},
        ]

    outcome = _same_inserts(twin, lambda c, d: c.insert_many(d, ordered=ordered), batch)
    assert outcome[0] == "error" and outcome[1] == "BulkWriteError"
    # A document mongomock refuses outright (not a write error) stops the batch either way.
    outcome = _same_inserts(
        twin, lambda c, d: c.insert_many(d, ordered=ordered),
        lambda: [{"u": "hal"}, {"u": "ivy", "bad": {1, 2}}, {"u": "jo"}],
    )
    assert outcome[0] == "error" and outcome[1] == "InvalidDocument"
    _same_inserts(twin, lambda c, d: c.insert_many(d, ordered=ordered),
                  lambda: tuple({"u": f"t{i}", "at": _MS} for i in range(3)))


def test_inserts_on_a_tz_aware_client():
    twin = Twin()
    twin.plain = mongomock.MongoClient(tz_aware=True).db.c
    twin.fast = embedded_db.MongoClient(tz_aware=True).db.c
    for _, make in _insert_shapes()[:4]:
        _same_inserts(twin, lambda c, d: c.insert_one(d), make)
    found = twin.fast.find_one({"a": {"$exists": True}})
    assert found["a"].tzinfo is not None
    assert _typed(list(twin.fast.find())) == _typed(list(twin.plain.find()))


def test_stored_documents_are_independent_of_the_callers():
    collection = embedded_db.MongoClient().db.c
    document = {"a": {"b": [1, {"c": 2}]}, "l": [[1], (2,)], "at": _MS}
    inserted = collection.insert_one(document).inserted_id
    assert document["_id"] == inserted  # the caller's dict gets the `_id`, as with mongomock
    stored = dict.__getitem__(collection._store._documents, inserted)
    assert stored is not document
    document["a"]["b"][1]["c"] = 99
    document["a"]["b"].append(3)
    document["l"][0].append(5)
    document["new"] = 1
    document["a"]["x"] = 1
    expected = {"a": {"b": [1, {"c": 2}]}, "l": [[1], [2]], "at": _MS.replace(microsecond=891000),
                "_id": inserted}
    assert collection.find_one({"_id": inserted}) == expected
    # and the other way: a document read back is a copy too
    found = collection.find_one({"_id": inserted})
    found["a"]["b"][1]["c"] = 100
    found["l"][0].append(6)
    found["a"]["y"] = 2
    assert collection.find_one({"_id": inserted}) == expected
    many = [{"m": [1]}, {"m": {"n": 2}}]
    collection.insert_many(many)
    many[0]["m"].append(2)
    many[1]["m"]["n"] = 3
    assert [d["m"] for d in collection.find({"m": {"$exists": True}})] == [[1], {"n": 2}]


# --- Updates: the filter's and the update's copies with datetimes patched (_patch_datetimes).


def _patch_values():
    values = [make() for _, make in _insert_shapes() if _ not in ("deep",)]
    values += [
        collections.OrderedDict([("a", _MS), ("b", [_MS.replace(tzinfo=_IST)])]),
        bson.SON([("x", (1, _MS)), ("y", {"z": _MS})]),
        {"ts": bson.Timestamp(5, 1), "ts0": [bson.Timestamp(0, 0)]},
        {"$or": [{"at": {"$lt": _MS}}, {"at": {"$exists": False}}], "re": re.compile("^a")},
        [(_MS,), [_MS.replace(tzinfo=datetime.timezone.utc)]],
        _MS, _MS.replace(tzinfo=_IST), 3, "s", None, (), {},
    ]
    return values


@pytest.mark.parametrize("value", _patch_values())
def test_patch_datetimes_is_mongomocks_patch(value):
    def patched(patch):
        try:
            result = patch(copy.deepcopy(value))
        except Exception as error:
            return ("error", type(error).__name__, str(error))
        if "ts0" in repr(value):  # a zero Timestamp becomes "now": compare the rest
            result["ts0"] = None
        return _typed(result)

    theirs = patched(mongomock.helpers.patch_datetime_awareness_in_document)
    assert patched(embedded_db._patch_datetimes) == theirs
    if theirs[0] == "error":
        return
    # new containers all the way down: changing the copy leaves the original alone
    original = copy.deepcopy(value)
    copied = embedded_db._patch_datetimes(value)
    if isinstance(copied, dict):
        copied["new"] = 1
        for item in copied.values():
            if isinstance(item, (dict, list)):
                item.clear() if isinstance(item, list) else item.update(x=1)
    assert _typed(value) == _typed(original) or "ts0" in repr(value)


def test_updates_with_datetimes_and_containers_store_what_mongomock_stores():
    twin = Twin()
    twin.same(lambda c: c.insert_many([{"_id": i, "at": _MS, "l": [1]} for i in range(3)]))
    updates = [
        ({"_id": 0}, {"$set": {"at": _MS.replace(microsecond=999999), "t": (1, (2, _MS))}}),
        ({"_id": 1}, {"$set": {"at": _MS.replace(tzinfo=_IST), "d": {"e": [_MS, {"f": _MS}]}}}),
        ({"_id": 2, "at": {"$lt": datetime.datetime(2030, 1, 1, 0, 0, 0, 999)}},
         {"$inc": {"n.x": 1}, "$set": {"o": collections.OrderedDict(a=_MS)}}),
        ({"_id": 2, "$or": [{"last._id": {"$lt": IDS[3]}}, {"last._id": {"$exists": False}}]},
         {"$inc": {f"unread.{IDS[1]}": 1}, "$set": {"last": {"_id": IDS[2], "at": _MS}}}),
        ({"_id": 2, "$or": [{"last._id": {"$lt": IDS[1]}}, {"last._id": {"$exists": False}}]},
         {"$inc": {f"unread.{IDS[1]}": 1}, "$set": {"last": {"_id": IDS[1], "at": _MS}}}),
        ({"_id": 0}, {"$push": {"l": {"$each": [_MS, (3,)]}}}),
        ({"_id": 5, "at": _MS}, {"$set": {"x": [_MS]}}),  # no match, no upsert
    ]
    for spec, update in updates:
        twin.same(lambda c: c.update_one(copy.deepcopy(spec), copy.deepcopy(update)))
        assert _raw_store(twin.fast) == _raw_store(twin.plain)
    twin.same(lambda c: c.update_one({"_id": 7, "at": _MS}, {"$set": {"x": _MS}}, upsert=True))
    assert _raw_store(twin.fast) == _raw_store(twin.plain)
    # the stored values do not share containers with the update given
    update = {"$set": {"d": {"e": [1]}}}
    twin.fast.update_one({"_id": 0}, update)
    update["$set"]["d"]["e"].append(2)
    assert twin.fast.find_one({"_id": 0})["d"] == {"e": [1]}


# --- The app's guarded update filter, decided without filter_applies (embedded_db._guard).

_GUARD_LOW, _GUARD_MID, _GUARD_HIGH = (ObjectId(b"\x00" * 11 + bytes([n])) for n in (1, 5, 9))
_LAST_MESSAGES = [
    _MISSING := "missing", None, {}, {"x": 1}, {"_id": _GUARD_LOW}, {"_id": _GUARD_MID},
    {"_id": _GUARD_HIGH}, {"_id": None}, {"_id": str(_GUARD_LOW)}, {"_id": 3}, {"_id": 2.5},
    {"_id": True}, {"_id": _MS}, {"_id": {"a": 1}}, {"_id": [_GUARD_LOW]}, {"_id": [_GUARD_HIGH]},
    {"_id": []}, {"_id": b"x"}, {"_id": re.compile("x")}, [{"_id": _GUARD_LOW}], [], "text", 7,
    _GUARD_LOW,
]
# The shapes whose answer `_guard_applies` works out itself (the rest: filter_applies).
_GUARD_DECIDED = 14


def _guard_filter(cid, bound, path="lm._id"):
    return {"_id": cid, "$or": [{path: {"$lt": bound}}, {path: {"$exists": False}}]}


def test_guard_is_recognised_exactly():
    assert embedded_db._guard(_guard_filter(1, _GUARD_MID)) is None  # int _id: not plain
    assert embedded_db._guard(_guard_filter("a", _GUARD_MID)) == ("a", "lm", "_id", _GUARD_MID)
    assert embedded_db._guard(_guard_filter(IDS[0], _GUARD_MID))[1:] == ("lm", "_id", _GUARD_MID)
    near_misses = [
        _guard_filter(IDS[0], str(_GUARD_MID)),
        _guard_filter(IDS[0], _GUARD_MID, "lm"),
        _guard_filter(IDS[0], _GUARD_MID, "lm._id.x"),
        _guard_filter(IDS[0], _GUARD_MID, "$lm._id"),
        _guard_filter(IDS[0], _GUARD_MID, "lm.$id"),
        {**_guard_filter(IDS[0], _GUARD_MID), "x": 1},
        {"_id": IDS[0], "$or": [{"lm._id": {"$lte": _GUARD_MID}}, {"lm._id": {"$exists": False}}]},
        {"_id": IDS[0], "$or": [{"lm._id": {"$lt": _GUARD_MID}}, {"lm._id": {"$exists": 0}}]},
        {"_id": IDS[0], "$or": [{"lm._id": {"$lt": _GUARD_MID}}, {"lm.x": {"$exists": False}}]},
        {"_id": IDS[0], "$or": [{"lm._id": {"$lt": _GUARD_MID, "$gt": _GUARD_LOW}},
                                {"lm._id": {"$exists": False}}]},
        {"_id": IDS[0], "$or": [{"lm._id": {"$lt": _GUARD_MID}}]},
        {"_id": {"$eq": IDS[0]}, "$or": [{"lm._id": {"$lt": _GUARD_MID}},
                                         {"lm._id": {"$exists": False}}]},
    ]
    for spec in near_misses:
        assert embedded_db._guard(spec) is None, spec


@pytest.mark.parametrize("cid", [IDS[0], "conv"])
def test_guarded_updates_match_on_every_last_message_shape(cid, monkeypatch):
    calls = []
    original = embedded_db.filter_applies

    def counting(spec, document):
        calls.append(spec)
        return original(spec, document)

    monkeypatch.setattr(embedded_db, "filter_applies", counting)
    for i, last in enumerate(_LAST_MESSAGES):
        for bound in (_GUARD_LOW, _GUARD_MID, _GUARD_HIGH):
            twin = Twin()
            document = {"_id": cid, "n": 0}
            if last != _MISSING:
                document["lm"] = copy.deepcopy(last)
            twin.same(lambda c: c.insert_one(copy.deepcopy(document)))
            twin.same(lambda c: c.insert_one({"_id": str(cid) + "x", "lm": None}))
            calls.clear()
            twin.same(lambda c: c.find(_guard_filter(cid, bound)))
            twin.same(lambda c: c.count_documents(_guard_filter(cid, bound)))
            twin.same(lambda c: c.find(_guard_filter(ObjectId() if cid == "conv" else "c", bound)))
            twin.same(lambda c: c.find(_guard_filter(str(cid) + "x", bound)))
            twin.same(lambda c: c.update_one(
                _guard_filter(cid, bound),
                {"$inc": {f"unread.{IDS[1]}": 1}, "$set": {"lm": {"_id": bound}}},
            ))
            twin.same(lambda c: c.update_one(_guard_filter(cid, _GUARD_MID), {"$inc": {"n": 1}}))
            assert _raw_store(twin.fast) == _raw_store(twin.plain)
            guard_calls = [spec for spec in calls if "$or" in spec]
            if i < _GUARD_DECIDED and bound is _GUARD_LOW:
                assert not guard_calls, last
            elif i >= _GUARD_DECIDED and bound is _GUARD_LOW:
                assert guard_calls, last


def test_guard_applies_is_filter_applies():
    from mongomock.filtering import filter_applies

    for cid in (IDS[0], "conv"):
        for bound in (_GUARD_LOW, _GUARD_MID, _GUARD_HIGH):
            spec = _guard_filter(cid, bound)
            guard = embedded_db._guard(spec)
            for doc_id in (IDS[0], IDS[1], "conv", "other", str(IDS[0]), 5, None, _MISSING):
                for last in _LAST_MESSAGES:
                    document = {} if doc_id == _MISSING else {"_id": doc_id}
                    if last != _MISSING:
                        document["lm"] = last
                    assert embedded_db._guard_applies(guard, spec, document) == filter_applies(
                        spec, document
                    ), (spec, document)
