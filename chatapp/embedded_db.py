"""A faster mongomock for the embedded database: the same results, fewer full scans.

mongomock has no indexes: every find, update, delete and count runs its generic
`filter_applies(filter, document)` on every document of the collection (even for `{"_id": x}`),
and every insert and update re-scans the whole collection the same way once per unique index.
With a few thousand messages and conversations that is most of the server's CPU per message
(even pre-filtered as below, the scans for a new conversation's unique `pairKey` were a quarter
of the server's CPU at 400 msg/s, and a history page scanned every message).

`MongoClient` here is a `mongomock.MongoClient` whose databases hand out `Collection`, a
subclass of mongomock's that overrides two internal methods (plus the small hooks that feed
them), with shortcuts whose answer is the one mongomock's own code gives:

- `_iter_documents(filter)` (every find, count, update and delete goes through it):
  * `_id` pinned to an ObjectId or a string (`v`, `{"$eq": v}` or `{"$in": [v, ...]}`): the
    store is a dict keyed by `_id`, so the candidates are fetched by key and mongomock's
    `filter_applies` still decides on the whole filter for each of them. Several `$in` hits are
    returned in the store's order, as mongomock returns them.
    For the send's guard, `{"_id": id, "$or": [{"f.g": {"$lt": oid}}, {"f.g": {"$exists":
    False}}]}` (`_guard`), the answer `filter_applies` gives is worked out directly when the
    document's `f` is missing, None or a dict whose `g` is missing, an ObjectId or a value that
    never compares with one (`_guard_applies`, which says why); any other shape still goes to
    `filter_applies`.
  * otherwise, top-level `field: value` equalities with a string or ObjectId value (no dots, no
    operators) give the candidates: from the hash index (below) when one of those fields is
    hashed and its candidates are at most a quarter of the collection, else from a scan where a
    document is dropped only when that field is missing, None, or a string/ObjectId different
    from the value (where mongomock's equality is plain `==` and says no). Everything else
    (arrays, sub-documents, other types) stays a candidate either way, and every candidate
    still goes through `filter_applies` with the full filter, unless the filter is made only of
    such equalities and all of them held with `==` on a string/ObjectId, which is what
    `filter_applies` computes for those.
  Anything else (no usable equality, TTL indexes) is mongomock's own scan. All stay lazy over a
  snapshot of the documents, in the store's order, like mongomock's. (The snapshot is taken as
  `dict.values(store)`: the store is an OrderedDict only ever written by `store[k] = v` and
  `del store[k]`, so its plain-dict order is the same, and iterating an OrderedDict's values
  costs a Python-level `ObjectId.__hash__` per document, which was a third of a scan.)
- `_ensure_uniques(new_data)` (after every insert, and every update that changed a document):
  per unique index, when the new document's indexed values are strings, ObjectIds or None in
  top-level fields, the documents that may collide (from the hash index of the key field with
  the fewest, or one pass over the store) are compared by value (a document with another type
  there, e.g. an array, is checked with `filter_applies` as mongomock does). Any other index is
  checked by mongomock's code. Two checks are skipped, both only while every document
  the collection ever held had nothing but strings, ObjectIds, None or nothing in the fields its
  unique indexes depend on (so equality there is plain `==` and mongomock's own checks kept
  each index free of collisions; one other value and the collection is checked in full from
  then on):
  * a partial index whose `partialFilterExpression` the new document does not match: the
    document is not in that index and cannot collide;
  * an update that left the index's fields (key and partial filter fields) with the same
    values: the document sits where it was in the index, checked when it got there.

The hash index (`_HashIndex`, one per collection store, built on first use): for each hashed
field (every key of a unique index, the first key of any other index; top-level, not `_id`),
value -> the store keys of the documents holding it, with a sequence number per key that follows
the store's order (an OrderedDict: a new key goes last, `store[k] = v` on an existing key keeps
its place), so candidates are sorted back into the order a scan gives. A document sits in one
slot per field: its string or ObjectId value, None (None or missing), or "other" (an array, a
sub-document, a number...: mongomock matches those its own way, e.g. arrays element-wise, so
they are a candidate for every lookup and `filter_applies` decides). It stays exact because it
sees every write: the store (turned into `_IndexedStore` by `Collection._store`) re-indexes a key
on every `store[k] = v` (insert, an update's rollback) and `del store[k]` (delete, TTL expiry),
and forgets the index on `drop()`, on a new index needing another field, and whenever its
OrderedDict is not the one the index was built on; mongomock's update code changes stored
documents in place, so `_apply_update_document` / `_apply_update_pipeline` re-read the document
right after (before the unique checks look it up). Readers still check each candidate: it must
be in the store, and it goes through the same per-field comparison and `filter_applies` as a
scanned one, so an extra entry can cost time but not change an answer; a missing entry would,
hence the hooks on every write (the tests compare the index with a fresh one after each step).

Three more, for reads and updates:

- `find` hands out `Cursor`, which, iterated or indexed with a positive limit, lists (and
  copies) only the first `skip + limit` documents of mongomock's lazy dataset instead of all of
  them (anything else is mongomock's code); and a sort on `_id` alone, when every matched `_id`
  is an ObjectId, sorts by the ObjectIds' bytes (their order) instead of mongomock's generic
  comparison. A history page of 50 copies 51 documents, not the whole conversation.
- `_update` is mongomock's own, except that the snapshot of each document it takes before an
  update (to tell whether it changed, and to roll back) shares the document's immutable leaves
  (strings, numbers, ObjectIds, datetimes) instead of deep-copying them, and the copies it
  makes of the filter and the update (datetimes truncated and made naive) are
  `_patch_datetimes`'s, the same as mongomock's helper gives, for less work on plain values.

And one for inserts:

- `_insert` of one plain dict (insert_one, each document of insert_many, an upsert's new
  document) skips mongomock's validation and builds the stored copy in one pass
  (`_insert_copy`) when the document certainly passes that validation: keys non-empty strings
  with no NUL, no dot, no leading `$` (at any level, stricter than mongomock), encodable as
  UTF-8; values dicts, lists, tuples, strings (UTF-8 encodable), ObjectIds, 8-byte ints,
  floats, bools, None and datetimes, naive or with a `datetime.timezone`; `_id` absent, or an
  ObjectId, string, int or None. mongomock's validation (`_validate_data_fields`,
  `BSON.encode`) accepts all of those, and its `patch_datetime_awareness_in_document` copies
  them as `_insert_copy` does (new dicts and lists, tuples become lists, datetimes truncated
  to milliseconds and made naive UTC, every other value the same object). The rest (the `_id`
  given to the caller's dict, the duplicate `_id` check, the store write, `_ensure_uniques`
  and its rollback, the return value) is mongomock's, in its order. Anything else, including
  every document mongomock might refuse, goes through mongomock's own `_insert`.

Only `chatapp.db` uses it, and only for the embedded database; with `MONGO_URI` nothing here is
imported. `tests/test_embedded_db.py` runs the same operations on plain mongomock and on this
and compares the results.
"""

import copy
import datetime
import itertools
from itertools import islice
from operator import itemgetter

from bson import ObjectId
from mongomock import (
    DuplicateKeyError,
    OperationFailure,
    WriteError,
    helpers,
    read_preferences,
)
from mongomock import collection as _mongomock_collection
from mongomock import codec_options as mongomock_codec_options
from mongomock.collection import Collection as _MockCollection
from mongomock.collection import Cursor as _MockCursor
from mongomock.collection import (
    _updaters,
    _validate_document_stages,
    validate_is_mapping,
    validate_list_or_mapping,
)
from mongomock.not_implemented import raise_for_feature as raise_not_implemented
from mongomock.helpers import make_datetime_timezone_aware_in_document
from mongomock.database import Database as _MockDatabase
from mongomock.filtering import filter_applies
from mongomock.mongo_client import MongoClient as _MockClient
from mongomock.store import CollectionStore as _MockCollectionStore

# Filter values whose equality in mongomock's `filter_applies` is plain `==` when the document's
# value is of one of these types too (ObjectId == str is False both ways).
_PLAIN_TYPES = frozenset((str, ObjectId))
# Document values for which `filter_applies({k: plain}, doc)` is exactly `doc_value == plain`
# (None and a missing field never equal a string or an ObjectId).
_EXACT_DOC_TYPES = frozenset((str, ObjectId, type(None)))
_MISSING = object()
# Set on a mongomock CollectionStore once one of its documents had, in a field a unique index
# depends on, a value other than a string, an ObjectId or None (see `_ensure_uniques`).
_UNPLAIN = "_chatapp_unplain_unique_values"
_UNCHANGED_TYPES = frozenset((str, ObjectId, type(None), object))


def _candidates(documents, key, value):
    """The documents whose `key` may equal `value` (a string, ObjectId or None) for mongomock:
    all but those holding there a string, ObjectId or None (or nothing) that is not `value`."""
    exact_types = _EXACT_DOC_TYPES
    if type(value) is ObjectId:
        # ObjectId.__eq__ is Python code; comparing the 12 bytes it compares is not.
        binary = value.binary
        return [
            document
            for document in documents
            if type(found := document.get(key)) not in exact_types
            or (type(found) is ObjectId and found._ObjectId__id == binary)
        ]
    return [
        document
        for document in documents
        if (found := document.get(key)) == value or type(found) not in exact_types
    ]


def _index_fields(index):
    """The top-level fields a unique index depends on (key and partial filter), or None when
    one of them is dotted or the partial filter has a top-level operator."""
    fields = [key for key, _ in index.get("key")]
    partial = index.get("partialFilterExpression")
    if partial is not None:
        if type(partial) is not dict:
            return None
        fields += list(partial)
    if any(type(f) is not str or "." in f or f.startswith("$") for f in fields):
        return None
    return fields


def _store_key(document):
    """The key mongomock stores `document` under."""
    key = document.get("_id")
    return helpers.hashdict(key) if isinstance(key, dict) else key


def _plain(value):
    return type(value) in _PLAIN_TYPES


def _id_keys(spec):
    """The store keys a filter's `_id` condition allows, or None if it is not that simple."""
    if "_id" not in spec:
        return None
    value = spec["_id"]
    if _plain(value):
        return (value,)
    if type(value) is dict and len(value) == 1:
        if "$eq" in value and _plain(value["$eq"]):
            return (value["$eq"],)
        if "$in" in value:
            values = value["$in"]
            if type(values) in (list, tuple) and all(_plain(v) for v in values):
                return tuple(values)
    return None


def _equalities(spec):
    """(field, value) for the filter's top-level plain equalities, and whether that is all."""
    pairs = []
    for key, value in spec.items():
        if _plain(value) and type(key) is str and "." not in key and not key.startswith("$"):
            pairs.append((key, value))
    return pairs, len(pairs) == len(spec)


# The slot, in a hash index, of a document whose field holds neither a string, an ObjectId, None
# nor nothing (an array, a sub-document, a number...): such a document stays a candidate for
# every lookup on that field, and mongomock's `filter_applies` decides.
_OTHER = object()

# A lookup uses the hash index only when its candidates are at most this share of the
# collection; above it, the plain scan (a comprehension) is cheaper than fetching each by key.
_HASH_SHARE = 0.25


def _slot(value):
    kind = type(value)
    if kind is str or kind is ObjectId:
        return value
    return None if value is None else _OTHER


def _hash_fields(indexes):
    """The top-level fields to hash: every key of a unique index, the first key of any other."""
    fields = []
    for index in indexes.values():
        keys = [key for key, _ in index.get("key", ())]
        for key in keys if index.get("unique") else keys[:1]:
            if (type(key) is str and key != "_id" and "." not in key
                    and not key.startswith("$") and key not in fields):
                fields.append(key)
    return tuple(fields)


class _HashIndex:
    """value -> the store keys of the documents holding it, per hashed field, for one store.

    `buckets[field][slot]` maps store key -> sequence number, where the slot is the value (a
    string or an ObjectId), None (None or missing) or `_OTHER`; a document sits in exactly one
    slot per field. Sequence numbers grow with each key's arrival in the store (an OrderedDict
    whose `store[k] = v` on an existing key keeps its place), so sorting candidates by them
    gives the store's order. Maintained by `_IndexedStore` (every store write) and
    `Collection._apply_update_document` (mongomock's in-place updates); readers still check
    each candidate against the document itself.
    """

    __slots__ = ("documents", "fields", "buckets", "rows", "sequence")

    def __init__(self, documents, fields):
        self.documents = documents  # the store's OrderedDict it describes
        self.fields = fields
        self.buckets = {field: {} for field in fields}
        self.rows = {}  # store key -> (sequence number, slots per field)
        self.sequence = itertools.count(1)  # next() is one C call: no two keys get one number
        for key, document in list(dict.items(documents)):
            self.put(key, document, True)

    def put(self, key, document, new):
        """Index `document`, now stored at `key` (`new`: the key just arrived in the store).
        False when that is impossible (a replaced key the index never saw)."""
        old = self.rows.get(key)
        if new:
            if old is not None:
                self.remove(key)
                old = None
            seq = next(self.sequence)
        elif old is None:
            return False
        else:
            seq = old[0]
        row = tuple(_slot(document.get(field)) for field in self.fields)
        if old is not None and old[1] == row:
            return True
        self.rows[key] = (seq, row)
        buckets = self.buckets
        for i, field in enumerate(self.fields):
            slot = row[i]
            if old is not None:
                before = old[1][i]
                if before is slot or (type(before) is type(slot) and before == slot):
                    continue
                self._discard(buckets[field], before, key)
            bucket = buckets[field].get(slot)
            if bucket is None:
                bucket = buckets[field][slot] = {}
            bucket[key] = seq
        return True

    def remove(self, key):
        old = self.rows.pop(key, None)
        if old is not None:
            for field, slot in zip(self.fields, old[1]):
                self._discard(self.buckets[field], slot, key)

    @staticmethod
    def _discard(slots, slot, key):
        bucket = slots.get(slot)
        if bucket is not None:
            bucket.pop(key, None)
            if not bucket:
                del slots[slot]

    def refresh(self, key):
        """Re-read the document stored at `key` (after an in-place update). False when the
        index cannot follow (see `put`)."""
        document = self.documents.get(key)
        if document is None:
            self.remove(key)
            return True
        return self.put(key, document, False)

    def count(self, field, value):
        """How many candidates a lookup of `value` (string, ObjectId or None) in `field` has;
        None when `field` is not hashed."""
        slots = self.buckets.get(field)
        if slots is None:
            return None
        hit, other = slots.get(value), slots.get(_OTHER)
        return (len(hit) if hit else 0) + (len(other) if other else 0)

    def items(self, field, value):
        """(store key, sequence number) of the documents whose `field` may equal `value`."""
        slots = self.buckets[field]
        hit, other = slots.get(value), slots.get(_OTHER)
        # list() first: a C-level copy, before anything that runs Python code (ObjectId hashes).
        items = list(hit.items()) if hit else []
        if other:
            items += list(other.items())
        return items


class _IndexedStore(_MockCollectionStore):
    """mongomock's CollectionStore, keeping a `_HashIndex` in step with every write to it.

    `Collection._store` turns a plain store into this one (`__class__` assignment: the store is
    shared by every Collection object of that name, and created by mongomock's DatabaseStore).
    The index is built lazily on first use and dropped whenever it may not describe the store.
    """

    _hash = None

    def hash_index(self):
        index = self._hash
        documents = self._documents
        if index is None or index.documents is not documents:
            index = self._hash = _HashIndex(documents, _hash_fields(self.indexes))
        return index

    def __setitem__(self, key, val):
        documents = self._documents
        size = len(documents)
        super().__setitem__(key, val)
        index = self._hash
        if index is not None and not (
            index.documents is documents and index.put(key, val, len(documents) != size)
        ):
            self._hash = None

    def __delitem__(self, key):
        super().__delitem__(key)
        index = self._hash
        if index is not None:
            index.remove(key)

    def drop(self):
        super().drop()
        self._hash = None

    def create_index(self, index_name, index_dict):
        super().create_index(index_name, index_dict)
        index = self._hash
        if index is not None and not set(_hash_fields(self.indexes)) <= set(index.fields):
            self._hash = None

    def refresh(self, key):
        index = self._hash
        if index is not None and not (index.documents is self._documents and index.refresh(key)):
            self._hash = None


class Cursor(_MockCursor):
    """mongomock's Cursor, which copies only the documents a positive limit lets through.

    mongomock lists (and deep-copies) every matching document before applying skip and limit.
    Iterating or indexing a cursor with a positive limit here takes only the first
    `skip + limit` documents of the same (lazy, sorted) dataset, so a history page of 50 out of
    thousands copies 51. Everything else (no limit, `alive`, a cursor whose full results
    mongomock already computed) is mongomock's own code.
    """

    _limited = None
    _limited_key = None

    def _compute_results(self, with_limit_and_skip=False):
        limit = self._limit
        if (
            not with_limit_and_skip
            or not limit
            or limit < 0
            or (self._results and self._factory_last_generated_results == self._factory)
        ):
            return super()._compute_results(with_limit_and_skip)
        key = (self._factory, self._skip, limit)
        if self._limited_key != key:
            results = list(islice(self._factory(), self._skip + limit))
            if self.collection.codec_options.tz_aware:
                results = [make_datetime_timezone_aware_in_document(x) for x in results]
            self._limited, self._limited_key = results, key
        return self._limited[self._skip:][:limit]


# Values no update operator changes in place: a snapshot may share them with the document.
_IMMUTABLE = frozenset((str, int, float, bool, type(None), bytes, ObjectId, datetime.datetime))


def _snapshot(value):
    """`copy.deepcopy(value)` for a stored document: new dicts and lists, the same immutable
    leaves (an update replaces a string or an ObjectId, it never changes one); anything else is
    deep-copied. Equal to the deep copy, and as independent of later in-place updates."""
    kind = type(value)
    if kind is dict:
        return {key: _snapshot(item) for key, item in value.items()}
    if kind is list:
        return [_snapshot(item) for item in value]
    if kind in _IMMUTABLE:
        return value
    return copy.deepcopy(value)


# What `_insert_copy` hands back when a document must go through mongomock's own `_insert`.
_SLOW = object()
# Document values `_insert_copy` stores as they are: immutable, and nothing BSON refuses (ints
# and strings are checked apart: an int must fit in 8 bytes, a string must encode as UTF-8).
_INSERT_LEAVES = frozenset((ObjectId, float, bool, type(None)))
_INT64 = (-(1 << 63), (1 << 63) - 1)
# Deeper than this, mongomock's path (and its errors, e.g. for a dict that contains itself).
_INSERT_DEPTH = 20
_UTC_TYPE = datetime.timezone
# A given `_id` of these types is its own store key (others, e.g. a dict, are mongomock's path);
# NoneType: no `_id`, one is generated (an explicit `_id: None` is stored as such, like
# mongomock: `"_id" in data`).
_INSERT_ID_TYPES = frozenset((ObjectId, str, int, type(None)))


def _insert_key_ok(key):
    """A key every check of mongomock's insert (and BSON's) accepts, whatever its level: a
    non-empty str without NUL, not starting with `$`, no dot, encodable as UTF-8."""
    if type(key) is not str or not key or key[0] == "$" or "." in key or "\0" in key:
        return False
    if not key.isascii():
        try:
            key.encode("utf-8")
        except UnicodeEncodeError:
            return False
    return True


def _insert_copy(value, depth=0):
    """What mongomock stores for `value` inside an inserted document, when the document is
    certainly fine: `helpers.patch_datetime_awareness_in_document(value)` (a new dict or list
    for each dict, list or tuple; datetimes truncated to milliseconds, aware ones turned into
    naive UTC; everything else the same object), for dicts, lists, tuples, strings, ObjectIds,
    ints, floats, bools, None and datetimes (naive, or aware with a `datetime.timezone`).
    `_SLOW` for anything else, or anything mongomock's validation (`_validate_data_fields`,
    `BSON.encode`) might refuse: that document goes through mongomock's own code."""
    kind = type(value)
    if kind in _INSERT_LEAVES:
        return value
    if kind is str:
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return _SLOW
        return value
    if kind is int:
        return value if _INT64[0] <= value <= _INT64[1] else _SLOW
    if kind is datetime.datetime:
        tzinfo = value.tzinfo
        mongo_us = (value.microsecond // 1000) * 1000
        if tzinfo is None:
            return value if mongo_us == value.microsecond else value.replace(microsecond=mongo_us)
        if type(tzinfo) is not _UTC_TYPE:
            return _SLOW
        try:
            return (value - value.utcoffset()).replace(tzinfo=None, microsecond=mongo_us)
        except OverflowError:
            return _SLOW
    if depth >= _INSERT_DEPTH:
        return _SLOW
    if kind is dict:
        copied = {}
        for key, item in value.items():
            if not _insert_key_ok(key):
                return _SLOW
            item = _insert_copy(item, depth + 1)
            if item is _SLOW:
                return _SLOW
            copied[key] = item
        return copied
    if kind is list or kind is tuple:
        copied = []
        for item in value:
            item = _insert_copy(item, depth + 1)
            if item is _SLOW:
                return _SLOW
            copied.append(item)
        return copied
    return _SLOW


# Values `helpers.patch_datetime_awareness_in_document` returns as they are.
_PATCH_LEAVES = frozenset((str, int, float, bool, type(None), ObjectId))


def _patch_datetimes(value):
    """`helpers.patch_datetime_awareness_in_document(value)`, the same result (new dicts for
    dicts, lists for lists and tuples, datetimes truncated to milliseconds, aware ones made naive
    UTC, every other value itself), with less work on plain values: exact dicts, lists, tuples,
    naive datetimes and the immutable leaves above are handled here, any other value (an
    OrderedDict, a subclass, an aware datetime, a Timestamp...) by mongomock's function itself.
    (Two frames per level of nesting, as mongomock's: a RecursionError where it raises one.)"""
    kind = type(value)
    if kind in _PATCH_LEAVES:
        return value
    if kind is dict:
        return {key: _patch_datetimes(item) for key, item in value.items()}
    if kind is list or kind is tuple:
        return [_patch_datetimes(item) for item in value]
    if kind is datetime.datetime and value.tzinfo is None:
        return value.replace(microsecond=(value.microsecond // 1000) * 1000)
    return helpers.patch_datetime_awareness_in_document(value)


# Values whose BSON compare type, in mongomock's `_get_compare_type`, is known not to be an
# ObjectId's (so `$lt` an ObjectId is False for them, without error).
_NOT_OID_COMPARABLE = frozenset((type(None), bool, int, float, str, dict, datetime.datetime))


def _guard(spec):
    """(id, field, subfield, bound) when `spec` is exactly the app's guard
    `{"_id": id, "$or": [{"field.subfield": {"$lt": bound}},
    {"field.subfield": {"$exists": False}}]}` (id a string or ObjectId, bound an ObjectId);
    else None."""
    if len(spec) != 2:
        return None
    value, either = spec.get("_id", _MISSING), spec.get("$or")
    if not _plain(value) or type(either) is not list or len(either) != 2:
        return None
    lower, absent = either
    if type(lower) is not dict or type(absent) is not dict or len(lower) != 1 or len(absent) != 1:
        return None
    (path, below), = lower.items()
    if absent.get(path, _MISSING) != {"$exists": False} or absent[path]["$exists"] is not False:
        return None
    if type(below) is not dict or len(below) != 1 or type(below.get("$lt")) is not ObjectId:
        return None
    if type(path) is not str or path.count(".") != 1:
        return None
    field, subfield = path.split(".")
    if not field or not subfield or field[0] == "$" or subfield[0] == "$":
        return None
    return value, field, subfield, below["$lt"]


def _guard_applies(guard, spec, document):
    """`filter_applies(spec, document)` for a `spec` `_guard` described: worked out here for
    the document shapes whose answer is certain (the id's type is the document's `_id`'s;
    `field` missing, None or a dict whose `subfield` is missing, an ObjectId or a value of a
    type that never compares with one), else mongomock's `filter_applies` itself.

    mongomock (filtering.py) gives: `_id` matches iff `document["_id"] == id`; the `$or` holds
    iff `field.subfield` has no candidates (`field` None: `$exists: False` holds) or its one
    candidate (`field` a dict, or missing: `{}`) is NOTHING (`$exists: False` holds, `$lt` is
    False on NOTHING) or an ObjectId below `bound` (`$lt` is `bson_compare`, the same compare
    type: `<`); any other value of a type in `_NOT_OID_COMPARABLE` is a different compare type
    for `$lt` (False, as type bracketing has it) and exists (False).
    """
    value, field, subfield, bound = guard
    found = document.get("_id", _MISSING)
    if type(found) is not type(value):
        return filter_applies(spec, document)
    if found != value:
        return False
    outer = document.get(field, _MISSING)
    if outer is _MISSING or outer is None:
        return True
    if type(outer) is not dict:
        return filter_applies(spec, document)
    inner = outer.get(subfield, _MISSING)
    if inner is _MISSING:
        return True
    kind = type(inner)
    if kind is ObjectId:
        return inner < bound
    if kind in _NOT_OID_COMPARABLE:
        return False
    return filter_applies(spec, document)


def _id_sort_direction(sort):
    """1 or -1 when `sort` is exactly one key, `_id`; else None."""
    if isinstance(sort, dict):
        sort = list(sort.items())
    if type(sort) not in (list, tuple) or len(sort) != 1:
        return None
    key, direction = sort[0]
    if key != "_id" or direction not in (1, -1):
        return None
    return direction


class Collection(_MockCollection):
    """mongomock's Collection with shortcuts in `_iter_documents`, `_ensure_uniques` and
    `_insert`."""

    @property
    def _store(self):
        store = self._db_store[self._name]
        if store.__class__ is _MockCollectionStore:
            store.__class__ = _IndexedStore
        return store

    def _hashed(self, store, pairs, ordered):
        """The stored documents whose fields may equal the values of `pairs` (top-level field,
        string/ObjectId/None value), from the hash index of the pair with the fewest
        candidates, in the store's order if `ordered`; None if no pair is hashed or the
        candidates are too many (a scan is cheaper). A superset of the matches: the caller
        checks every pair on each document, and mongomock's `filter_applies` when not exact."""
        if store.__class__ is not _IndexedStore:
            return None
        index = store.hash_index()
        best = None
        for field, value in pairs:
            count = index.count(field, value)
            if count is not None and (best is None or count < best[0]):
                best = (count, field, value)
        documents = store._documents
        if best is None or best[0] > len(documents) * _HASH_SHARE:
            return None
        items = index.items(best[1], best[2])
        if ordered and len(items) > 1:
            items.sort(key=itemgetter(1))
        get = documents.get
        return [document for key, _ in items if (document := get(key)) is not None]

    def find(self, filter=None, projection=None, skip=0, limit=0,  # noqa: A002
             no_cursor_timeout=False, cursor_type=None, sort=None,
             allow_partial_results=False, oplog_replay=False, modifiers=None,
             batch_size=0, manipulate=True, collation=None, session=None,
             max_time_ms=None, allow_disk_use=False, **kwargs):
        # mongomock's own method, but for the Cursor it instantiates.
        spec = filter
        if spec is None:
            spec = {}
        validate_is_mapping("filter", spec)
        for kwarg, value in kwargs.items():
            if value:
                raise OperationFailure("Unrecognized field '%s'" % kwarg)
        return Cursor(self, spec, sort, projection, skip, limit,
                      collation=collation).max_time_ms(max_time_ms).allow_disk_use(allow_disk_use)

    def _get_dataset(self, spec, sort, fields, as_class):
        # Sorted by `_id` alone, and every `_id` an ObjectId: ObjectIds order as their 12 bytes
        # (mongomock compares them with ObjectId.__lt__, the same order), and `_id`s are unique,
        # so no tie leaves the order to the sort's stability.
        direction = _id_sort_direction(sort) if sort else None
        if direction is None:
            yield from super()._get_dataset(spec, sort, fields, as_class)
            return
        documents = list(self._matching(spec, False))  # any order: sorted below
        if not all(type(d.get("_id")) is ObjectId for d in documents):
            yield from super()._get_dataset(spec, sort, fields, as_class)
            return
        documents.sort(key=lambda d: d["_id"].binary, reverse=direction < 0)
        for document in documents:
            yield self._copy_only_fields(document, fields, as_class)

    def _iter_documents(self, filter):  # noqa: A002 (mongomock's name)
        return self._matching(filter, True)

    def _matching(self, filter, ordered):  # noqa: A002
        """`_iter_documents(filter)`, in any order unless `ordered`."""
        store = self._store
        if store._ttl_indexes or type(filter) is not dict:
            return super()._iter_documents(filter)
        documents = store._documents
        if not documents:
            return super()._iter_documents(filter)

        keys = _id_keys(filter)
        if keys is not None:
            found = []
            for key in keys:
                document = documents.get(key)
                if document is not None and all(d is not document for d in found):
                    found.append(document)
            if len(found) > 1:  # in the store's order, as a scan would return them
                wanted = {id(d) for d in found}
                found = [d for d in dict.values(documents) if id(d) in wanted]
            guard = _guard(filter)
            if guard is not None:
                return (d for d in found if _guard_applies(guard, filter, d))
            return (d for d in found if filter_applies(filter, d))

        pairs, only_equalities = _equalities(filter)
        if not pairs:
            return super()._iter_documents(filter)
        hashed = self._hashed(store, pairs, ordered)
        if hashed is not None:
            return self._scan(hashed, filter, pairs, only_equalities, False)
        return self._scan(list(dict.values(documents)), filter, pairs, only_equalities, True)

    @staticmethod
    def _scan(snapshot, filter, pairs, only_equalities, prefilter):  # noqa: A002
        exact_types = _EXACT_DOC_TYPES
        # `snapshot`: the hash index's candidates, or (`prefilter`) the whole store, whose first
        # equality goes in a comprehension over all of it at once. Either is taken before any
        # document is yielded: a document only changes under this generator when an update is
        # applied to the document it just yielded (mongomock's Cursor lists its results before
        # returning any).
        if prefilter:
            key, value = pairs[0]
            snapshot = _candidates(snapshot, key, value)
        for document in snapshot:
            exact = True
            for key, value in pairs:
                found = document.get(key)
                if type(found) in exact_types:
                    if found != value:
                        break
                else:
                    exact = False
            else:
                if (only_equalities and exact) or filter_applies(filter, document):
                    yield document

    def _insert(self, data, session=None, ordered=True):
        # mongomock's `_insert` for one plain dict that `_insert_copy` vouches for, minus the
        # validation it passes for sure (`_validate_data_fields`, `BSON.encode`) and with the
        # copy it stores made in the same pass; anything else is mongomock's code.
        if (
            type(data) is not dict
            or session
            or type(data.get("_id")) not in _INSERT_ID_TYPES
            or (stored := _insert_copy(data)) is _SLOW
        ):
            return super()._insert(data, session, ordered)
        # As mongomock: the caller's dict gets the new `_id` (last), and so does the copy.
        if "_id" not in data:
            stored["_id"] = data["_id"] = _mongomock_collection.ObjectId()
        object_id = data["_id"]
        store = self._store
        if object_id in store:
            raise DuplicateKeyError("E11000 Duplicate Key Error", 11000)
        store[object_id] = stored
        try:
            self._ensure_uniques(stored)
        except DuplicateKeyError:
            del store[object_id]
            raise
        return stored["_id"]

    # The document an update is being applied to, and the values its unique indexes depend on
    # before the update (see `_ensure_uniques`); None outside an update.
    _before = None

    def _update(self, *args, **kwargs):
        self._before = None
        try:
            return self._mongomock_update(*args, **kwargs)
        finally:
            self._before = None

    # mongomock 4.3's `Collection._update`, verbatim but for three names: the snapshot it takes
    # of each document before updating it (to compare and to roll back) is `_snapshot` rather
    # than `copy.deepcopy` (a conversation's deep copy was the largest single cost of a send),
    # the copies of the filter and the update with datetimes patched are `_patch_datetimes`'s
    # (the same result as mongomock's helper, a fifth of an update's time less), and `ObjectId`
    # is looked up in mongomock.collection as mongomock's own code does.
    def _mongomock_update(self, spec, document, upsert=False, manipulate=False,
                multi=False, check_keys=False, hint=None, session=None,
                collation=None, let=None, array_filters=None, **kwargs):
        if session:
            raise_not_implemented('session', 'Mongomock does not handle sessions yet')
        if hint:
            raise NotImplementedError(
                'The hint argument of update is valid but has not been implemented in '
                'mongomock yet')
        if collation:
            raise_not_implemented(
                'collation',
                'The collation argument of update is valid but has not been implemented in '
                'mongomock yet')
        if array_filters:
            raise_not_implemented(
                'array_filters', 'Array filters are not implemented in mongomock yet.')
        if let:
            raise_not_implemented(
                'let',
                'The let argument of update is valid but has not been implemented in mongomock '
                'yet')
        spec = _patch_datetimes(spec)
        document = _patch_datetimes(document)
        validate_is_mapping('spec', spec)
        validate_list_or_mapping('document', document)

        if isinstance(document, list):
            _validate_document_stages(document)

        if self.database.client.server_info()['versionArray'] < [5]:
            for operator in _updaters:
                if not document.get(operator, True):
                    raise WriteError(
                        "'%s' is empty. You must specify a field like so: {%s: {<field>: ...}}"
                        % (operator, operator),
                    )

        updated_existing = False
        upserted_id = None
        num_updated = 0
        num_matched = 0
        for existing_document in itertools.chain(self._iter_documents(spec), [None]):
            # we need was_insert for the setOnInsert update operation
            was_insert = False
            # the sentinel document means we should do an upsert
            if existing_document is None:
                if not upsert or num_matched:
                    continue
                # For upsert operation we have first to create a fake existing_document,
                # update it like a regular one, then finally insert it
                if spec.get('_id') is not None:
                    _id = spec['_id']
                elif not isinstance(document, list) and document.get('_id') is not None:
                    _id = document['_id']
                else:
                    _id = _mongomock_collection.ObjectId()
                to_insert = dict(spec, _id=_id)
                to_insert = self._expand_dots(to_insert)
                to_insert, _ = self._discard_operators(to_insert)
                existing_document = to_insert
                was_insert = True
            else:
                original_document_snapshot = _snapshot(existing_document)
                updated_existing = True
            num_matched += 1

            if isinstance(document, list):
                self._apply_update_pipeline(existing_document, document, session)
            else:
                self._apply_update_document(existing_document, spec, document, was_insert)

            if was_insert:
                upserted_id = self._insert(existing_document)
                num_updated += 1
            elif existing_document != original_document_snapshot:
                # Document has been modified in-place.

                # Make sure the ID was not change.
                if original_document_snapshot.get('_id') != existing_document.get('_id'):
                    # Rollback.
                    self._store[original_document_snapshot['_id']] = original_document_snapshot
                    raise WriteError(
                        "After applying the update, the (immutable) field '_id' was found to have "
                        'been altered to _id: {}'.format(existing_document.get('_id')))

                # Make sure it still respect the unique indexes and, if not, to
                # revert modifications
                try:
                    self._ensure_uniques(existing_document)
                    num_updated += 1
                except DuplicateKeyError:
                    # Rollback.
                    self._store[original_document_snapshot['_id']] = original_document_snapshot
                    raise

            if not multi:
                break

        return {
            'connectionId': self.database.client._id,
            'err': None,
            'n': num_matched,
            'nModified': num_updated if updated_existing else 0,
            'ok': 1,
            'upserted': upserted_id,
            'updatedExisting': updated_existing,
        }

    # mongomock's update code changes the stored document in place, behind the store's back:
    # the hash index re-reads it right after (before `_ensure_uniques` looks it up), whether the
    # update succeeded or not. (An upsert's document is not stored yet: `_insert` stores it.)
    def _apply_update_document(self, existing_document, spec, document, was_insert):
        self._before = None if was_insert else (existing_document, self._unique_values(existing_document))
        if was_insert:
            return super()._apply_update_document(existing_document, spec, document, was_insert)
        key = _store_key(existing_document)
        try:
            return super()._apply_update_document(existing_document, spec, document, was_insert)
        finally:
            self._refresh(key)

    def _apply_update_pipeline(self, existing_document, *args, **kwargs):
        self._before = None
        # (Also called on an upsert's new document, not stored yet: a refresh of its key finds
        # nothing, or the stored document it will collide with, unchanged.)
        key = _store_key(existing_document)
        try:
            hash(key)
        except TypeError:  # not a key anything is stored under
            return super()._apply_update_pipeline(existing_document, *args, **kwargs)
        try:
            return super()._apply_update_pipeline(existing_document, *args, **kwargs)
        finally:
            self._refresh(key)

    def _refresh(self, key):
        store = self._store
        if store.__class__ is _IndexedStore:
            store.refresh(key)

    def _unique_values(self, document):
        """Per unique index name: the values of the top-level fields its key and partial filter
        use, when they are all plain (string, ObjectId, None or missing), else None."""
        values = {}
        for name, index in self._store.indexes.items():
            if not index.get("unique"):
                continue
            fields = _index_fields(index)
            if fields is None:
                values[name] = None
                continue
            row = tuple(document.get(field, _MISSING) for field in fields)
            values[name] = row if all(type(v) in _UNCHANGED_TYPES for v in row) else None
        return values

    def _ensure_uniques(self, new_data):
        # Note (as in mongomock) new_data is already in the store.
        store = self._store
        before, self._before = self._before, None
        after = self._unique_values(new_data)
        if any(row is None for row in after.values()):
            setattr(store, _UNPLAIN, True)
        # The two skips below rely on equality of the indexed values being plain `==`, so that
        # mongomock's own checks kept every index free of collisions: true while no document of
        # the collection ever had anything but strings, ObjectIds, None or nothing there.
        plain = not getattr(store, _UNPLAIN, False)
        unchanged = {}
        if plain and before is not None and before[0] is new_data:
            # An update in place: an index whose fields (key and partial filter) kept the same
            # plain values still holds this document where it was, and was checked when it got
            # there.
            unchanged = {
                name for name, row in before[1].items() if row is not None and after.get(name) == row
            }
        for name, index in store.indexes.items():
            if not index.get("unique") or name in unchanged:
                continue
            fields = [key for key, _ in index.get("key")]
            values = []
            for key in fields:
                try:
                    values.append(helpers.get_value_by_dot(new_data, key))
                except KeyError:
                    values.append(None)
            if index.get("sparse") and set(values) == {None}:
                continue
            partial = index.get("partialFilterExpression")
            simple = (
                not store._ttl_indexes
                and all("." not in key and not key.startswith("$") for key in fields)
                and all(type(v) in _EXACT_DOC_TYPES for v in values)
            )
            if not simple:
                self._ensure_unique_generic(fields, values, partial)
                continue
            if plain and partial is not None and not filter_applies(partial, new_data):
                continue  # not in the index: cannot collide
            self._ensure_unique_simple(fields, values, partial)

    def create_index(self, key_or_list, cache_for=300, session=None, **kwargs):
        name = super().create_index(key_or_list, cache_for=cache_for, session=session, **kwargs)
        store = self._store
        if store.indexes.get(name, {}).get("unique") and not getattr(store, _UNPLAIN, False):
            for document in list(dict.values(store._documents)):
                if self._unique_values(document).get(name) is None:
                    setattr(store, _UNPLAIN, True)
                    break
        return name

    def _ensure_unique_generic(self, fields, values, partial):
        """mongomock's own check for one index."""
        find_kwargs = dict(zip(fields, values))
        if partial is not None:
            find_kwargs = {"$and": [partial, find_kwargs]}
        if len(list(self._iter_documents(find_kwargs))) > 1:
            raise DuplicateKeyError("E11000 Duplicate Key Error", 11000)

    def _ensure_unique_simple(self, fields, values, partial):
        find_kwargs = dict(zip(fields, values))
        exact_types = _EXACT_DOC_TYPES
        # The candidates from the hash index when a key field is hashed (any order: only
        # counted); else one field first, in a comprehension: the key's most selective-looking
        # field (a value that is not None, the last such: in a compound key usually the finer).
        store = self._store
        candidates = self._hashed(store, list(zip(fields, values)), False)
        if candidates is None:
            first = max(range(len(fields)), key=lambda i: (values[i] is not None, i))
            key, value = fields[first], values[first]
            candidates = _candidates(dict.values(store._documents), key, value)
        count = 0
        for document in candidates:
            exact = True
            for key, value in zip(fields, values):
                found = document.get(key)
                if type(found) in exact_types:
                    if found != value:
                        break
                else:
                    exact = False
            else:
                if not exact and not filter_applies(find_kwargs, document):
                    continue
                if partial is not None and not filter_applies(partial, document):
                    continue
                count += 1
                if count > 1:
                    raise DuplicateKeyError("E11000 Duplicate Key Error", 11000)

    def with_options(self, codec_options=None, read_preference=None, write_concern=None,
                     read_concern=None):
        other = super().with_options(
            codec_options=codec_options, read_preference=read_preference,
            write_concern=write_concern, read_concern=read_concern,
        )
        if other is self or type(other) is type(self):
            return other
        return Collection(
            other.database, other.name, write_concern=other._write_concern,
            read_concern=other._read_concern, read_preference=other._read_preference,
            codec_options=other._codec_options, _db_store=other._db_store,
        )


class Database(_MockDatabase):
    """mongomock's Database, handing out the Collection above."""

    def get_collection(self, name, codec_options=None, read_preference=None,
                       write_concern=None, read_concern=None):
        # mongomock's own method, but for the class it instantiates.
        if read_preference is not None:
            read_preferences.ensure_read_preference_type("read_preference", read_preference)
        mongomock_codec_options.is_supported(codec_options)
        try:
            return self._collection_accesses[name].with_options(
                codec_options=codec_options or self._codec_options,
                read_preference=read_preference or self.read_preference,
                read_concern=read_concern, write_concern=write_concern)
        except KeyError:
            self._ensure_valid_collection_name(name)
            collection = self._collection_accesses[name] = Collection(
                self, name=name, read_concern=read_concern, write_concern=write_concern,
                read_preference=read_preference or self.read_preference,
                codec_options=codec_options or self._codec_options, _db_store=self._store)
            return collection

    def with_options(self, codec_options=None, read_preference=None, write_concern=None,
                     read_concern=None):
        other = super().with_options(
            codec_options=codec_options, read_preference=read_preference,
            write_concern=write_concern, read_concern=read_concern,
        )
        if other is self or type(other) is type(self):
            return other
        return Database(
            other._client, other.name, other._store, read_preference=other._read_preference,
            codec_options=other._codec_options, read_concern=other._read_concern,
        )


class MongoClient(_MockClient):
    """mongomock's MongoClient whose databases are the Database above."""

    def get_database(self, name=None, codec_options=None, read_preference=None,
                     write_concern=None, read_concern=None):
        if name is None:
            return self.get_default_database(
                codec_options=codec_options, read_preference=read_preference,
                write_concern=write_concern, read_concern=read_concern,
            )
        db = self._database_accesses.get(name)
        if db is None:
            db = self._database_accesses[name] = Database(
                self, name, read_preference=read_preference or self.read_preference,
                codec_options=codec_options or self._codec_options, _store=self._store[name],
                read_concern=read_concern)
        return db
