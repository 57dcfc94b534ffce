"""Direct messages: sending, and reading history a page at a time."""

import hashlib

import pymongo.errors
from bson import ObjectId
from mongoengine import signals

from chatapp import db, serializers, validation
from chatapp.clock import utc_now
from chatapp.errors import Conflict, InvalidInput, NotFoundError, PayloadTooLarge, Unavailable
from chatapp.models import Conversation, Message, MessageKey
from chatapp.realtime import events
from chatapp.services.users import user_exists
from chatapp.validation import object_id, string_field


def pair_key(user_a, user_b):
    """The same key for (a, b) and (b, a): the identity of their one conversation."""
    first, second = sorted((str(user_a), str(user_b)))
    return f"{first}:{second}"


def send_message(
    sender_id, receiver_id, text, *, max_length, client_message_id=None, origin_sid=None
):
    """Store a message from `sender_id` to `receiver_id`, then deliver it live.

    Returns `(message, created)`: the message in wire format, and False when `client_message_id`
    names a message this sender already stored (a retry): that first message is returned as it
    was and nothing is written or emitted again, so a retry never shows twice on any screen.
    The key's own document (MessageKey) decides which of two racing attempts wins.
    Nothing is written unless every check passed, and events go out only after the writes
    returned: `newMessage` to the receiver's tabs, `messageSent` to the sender's tabs except the
    socket `origin_sid` the message came from (None for an HTTP send: all of them).
    """
    sender = object_id(str(sender_id), "sender id")
    receiver = object_id(receiver_id, "receiver id")
    text = string_field(text, "message")
    client_message_id = validation.client_message_id(client_message_id)
    if not text.strip():
        raise InvalidInput("Message must not be empty")
    if len(text) > max_length:
        raise PayloadTooLarge(f"Message is too long (at most {max_length} characters)")
    if sender == receiver:
        raise InvalidInput("You cannot send a message to yourself")
    if not user_exists(receiver):
        raise NotFoundError("Receiver not found")

    conversation_id = get_or_create_conversation(sender, receiver)
    now = utc_now()
    # The document `Message(...).save(force_insert=True)` writes (every field checked above:
    # ids are ObjectIds, the text a non-empty string, the key a string or None, which to_mongo
    # leaves out), inserted directly: MongoEngine's construction, validation and to_mongo were a
    # fifth of a send. Its id is chosen here so an idempotency key can name it before it exists.
    document = {
        "_id": ObjectId(),
        "conversationId": conversation_id,
        "senderId": sender,
        "receiverId": receiver,
        "message": text,
    }
    if client_message_id is not None:
        document["clientMessageId"] = client_message_id
        key = _claim_key(sender, receiver, text, client_message_id, document["_id"])
        if key["messageId"] != document["_id"]:
            first = Message._get_collection().find_one({"_id": key["messageId"]})
            if first is not None:
                return serializers.message(first), False
            # The attempt that claimed the key has not stored its message: it is still storing
            # it, or it failed. Store it under the id the key names: whichever insert lands
            # first is the message, and the other finds it below.
            document["_id"] = key["messageId"]
    document["createdAt"] = now
    document["updatedAt"] = now
    stored = _insert_in_order(document)
    if stored is not document:
        return serializers.message(stored), False
    wire = serializers.message(document)
    try:
        _record_sent(conversation_id, receiver, document)
    except Exception:
        # Undone, so the client's retry stores and delivers it afresh instead of finding a stored
        # message nobody was told about. (At worst the receiver's unread count is one too high
        # until they next read the conversation, which recounts it.)
        Message.objects(id=document["_id"]).delete()
        raise

    # Emitted last: only after every write returned.
    events.emit_new_message(wire)
    events.emit_message_sent(wire, skip_sid=origin_sid)
    return wire, True


# Attempts at a free seq before a send gives up (each failed one means another send in the same
# conversation was stored meanwhile, so this bounds a burst, not a wait).
SEQ_ATTEMPTS = 50
# Seqs are never below this (the migration counts down from 0 for the Node backend's messages).
MIN_SEQ = -(2**62)
MAX_SEQ = 2**62


def _insert_in_order(document):
    """Insert `document` as the next message of its conversation; return what is stored.

    The insert itself allocates the message's `seq`: read the conversation's last seq, insert
    with the next one, and let the unique (conversationId, seq) index refuse it when another send
    took that seq first; then read again and retry. So a message is stored only after every
    message with a smaller seq, and "everything after seq n" is exact on any server, MongoDB or
    FerretDB, with no counter, lock or transaction. Returns `document`, or (when an attempt with
    the same idempotency key stored a message under this `_id` first) that message.
    """
    collection = Message._get_collection()
    for _ in range(SEQ_ATTEMPTS):
        document["seq"] = next_seq(collection, document["conversationId"])
        try:
            collection.insert_one(document)
            return document
        except pymongo.errors.DuplicateKeyError:
            existing = collection.find_one({"_id": document["_id"]})
            if existing is not None:
                return existing
            # Another send in this conversation was stored with this seq: try the next one.
    raise Unavailable("The conversation is busy, please retry")


def next_seq(collection, conversation_id):
    """The seq after the conversation's last one (1 for a conversation with none)."""
    last = collection.find_one(
        {"conversationId": conversation_id, "seq": {"$gte": MIN_SEQ}},
        {"seq": 1},
        sort=[("seq", -1)],
    )
    return max(last["seq"], 0) + 1 if last is not None else 1


def _claim_key(sender, receiver, text, client_message_id, message_id):
    """Claim (sender, client_message_id) for `message_id`; return the key document that wins.

    A key reused for a different message is the client's bug, answered with 409 rather than
    with a message that is not the one it just asked to send.
    """
    keys = MessageKey._get_collection()
    key = {
        "_id": f"{sender}:{client_message_id}",
        "messageId": message_id,
        "receiverId": receiver,
        "digest": hashlib.sha256(text.encode()).hexdigest(),
        "createdAt": utc_now(),
    }
    try:
        keys.insert_one(key)
        return key
    except pymongo.errors.DuplicateKeyError:
        first = keys.find_one({"_id": key["_id"]})
    if first is None:  # keys are never deleted; only an operator could have
        raise Conflict("clientMessageId was already used")
    if first.get("receiverId") != receiver or first.get("digest") != key["digest"]:
        raise Conflict("clientMessageId was already used for a different message")
    return first


# pairKey -> conversation id. A pair's conversation never changes once made, so after the first
# message of a pair no send needs the upsert below (on the embedded database, two scans of all
# conversations). Bounded; forgotten with the database (db.on_reset) or when a conversation is
# deleted through MongoEngine.
_conversation_ids = {}
CONVERSATION_CACHE_SIZE = 100_000
db.on_reset(_conversation_ids.clear)


def _forget_conversation(sender, document, **kwargs):
    if document.pair_key:
        _conversation_ids.pop(document.pair_key, None)


signals.post_delete.connect(_forget_conversation, sender=Conversation, weak=False)


def get_or_create_conversation(user_a, user_b):
    """The id of the one conversation between two users, created if needed, without a race.

    The unique `pairKey` index decides: two concurrent first messages cannot make two
    conversations, and the one that loses reads the winner's document.
    """
    key = pair_key(user_a, user_b)
    known = _conversation_ids.get(key)
    if known is not None:
        return known
    conversation_id = _upsert_conversation(key, user_a, user_b)
    if len(_conversation_ids) >= CONVERSATION_CACHE_SIZE:
        _conversation_ids.clear()
    _conversation_ids[key] = conversation_id
    return conversation_id


def _upsert_conversation(key, user_a, user_b):
    """Insert the pair's conversation, or read it when the unique index says it exists.

    Insert first, not an upsert: a pair this process has not cached is usually a new pair, and a
    plain insert is one write (an upsert is a lookup plus a write: on the embedded database, two
    scans of every conversation instead of one). An existing pair costs a failed insert and a
    read, once per process, since its id is cached after.
    """
    collection = Conversation._get_collection()
    now = utc_now()
    document = {"pairKey": key, "participants": [user_a, user_b], "createdAt": now, "updatedAt": now}
    for _ in range(3):
        try:
            return collection.insert_one(dict(document)).inserted_id
        except pymongo.errors.DuplicateKeyError:
            existing = collection.find_one({"pairKey": key}, {"_id": 1})
            if existing is not None:
                return existing["_id"]
            # Deleted between our insert and our read: try again.
    raise RuntimeError(f"could not get or create conversation {key}")


def list_messages(user_id, other_id, *, limit, before=None, after=None):
    """One page of the conversation between `user_id` and `other_id`, oldest first.

    Returns `(messages, next_cursor)`. Without `after`: at most `limit` of the newest messages
    older than `before` (a message id), and the cursor of the next older page (None at the
    start). With `after` (catch-up after a reconnect): at most `limit` of the oldest messages
    newer than `after`, and the cursor of the next newer page (None when this page reaches the
    newest). "Older" and "newer" are by `seq`, the order the database stored them in, so a
    catch-up never skips a message stored late. Cursors stay message ids (what clients hold).
    Costs one indexed lookup and one index range of `limit + 1` entries, whatever the length of
    the history.
    """
    user = object_id(str(user_id), "user id")
    other = object_id(other_id, "user id")
    before = object_id(before, "before cursor") if before is not None else None
    after = object_id(after, "after cursor") if after is not None else None
    if before is not None and after is not None:
        raise InvalidInput("Use either before or after, not both")
    if user == other:
        raise InvalidInput("You have no conversation with yourself")

    # Raw reads: the queries MongoEngine's querysets send, without building and cloning them.
    conversation = Conversation._get_collection().find_one(
        {"pairKey": pair_key(user, other)}, {"_id": 1}
    )
    if conversation is None:
        return [], None
    messages = Message._get_collection()
    conversation_id = conversation["_id"]
    if after is not None:
        seq, message_id = _position(messages, conversation_id, after, newer=True)
        found = _newer(messages, conversation_id, seq, message_id, limit + 1)
        page = found[:limit]
        next_after = str(page[-1]["_id"]) if len(found) > limit else None
        return [serializers.message(doc) for doc in page], next_after
    seq, message_id = (
        _position(messages, conversation_id, before, newer=False)
        if before is not None
        else (MAX_SEQ, None)
    )
    found = _older(messages, conversation_id, seq, message_id, limit + 1)
    page = found[:limit]
    next_before = str(page[-1]["_id"]) if len(found) > limit else None
    page.reverse()
    return [serializers.message(doc) for doc in page], next_before


# Messages without a seq (stored before seqs existed, and not yet given one by
# `migrate-node-data`) come before every message that has one, in `_id` order. A position in a
# conversation is `(seq, _id)`, seq None for those.


def _position(messages, conversation_id, cursor, *, newer):
    """The position of message `cursor` in the conversation.

    A cursor that is not one of its messages (from another conversation, or deleted since) is
    placed by its id, as cursors were before seqs: after the newest message with a smaller id
    (`newer`), or before the oldest one with a larger id.
    """
    doc = messages.find_one({"_id": cursor, "conversationId": conversation_id}, {"seq": 1})
    if doc is None:
        doc = messages.find_one(
            {"conversationId": conversation_id, "_id": {"$lt" if newer else "$gt": cursor}},
            {"seq": 1},
            sort=[("_id", -1 if newer else 1)],
        )
        if doc is None:  # nothing on that side: the very start, or the very end
            return (None, ObjectId(b"\0" * 12)) if newer else (MAX_SEQ, None)
    return doc.get("seq"), doc["_id"]


def _newer(messages, conversation_id, seq, message_id, n):
    """At most `n` messages after position (seq, message_id), oldest first."""
    found = []
    if seq is None:
        first = messages.find_one(
            {"conversationId": conversation_id, "seq": {"$gte": MIN_SEQ}},
            {"_id": 1},
            sort=[("seq", 1)],
        )
        ids = {"$gt": message_id}
        if first is not None:
            ids["$lt"] = first["_id"]  # older than every message that has a seq
        found = list(
            messages.find(
                {"conversationId": conversation_id, "seq": None, "_id": ids},
                sort=[("_id", 1)],
                limit=n,
            )
        )
        seq = MIN_SEQ - 1
    if len(found) < n:
        found += messages.find(
            {"conversationId": conversation_id, "seq": {"$gt": seq}},
            sort=[("seq", 1)],
            limit=n - len(found),
        )
    return found


def _older(messages, conversation_id, seq, message_id, n):
    """At most `n` messages before position (seq, message_id), newest first."""
    found = []
    if seq is not None:
        found = list(
            messages.find(
                {"conversationId": conversation_id, "seq": {"$lt": seq, "$gte": MIN_SEQ}},
                sort=[("seq", -1)],
                limit=n,
            )
        )
        if found:
            message_id = found[-1]["_id"]
    if len(found) < n:
        query = {"conversationId": conversation_id, "seq": None}
        if message_id is not None:
            query["_id"] = {"$lt": message_id}
        found += messages.find(query, sort=[("_id", -1)], limit=n - len(found))
    return found


def _record_sent(conversation_id, receiver, message):
    """One more unread message for `receiver`, and the conversation's summary on its newest message.

    `message` is the stored message document. One update in the common case: the `$inc` plus
    the summary, conditional on seqs so that when two sends race the older one cannot overwrite
    the newer's summary. When that condition fails (a newer message is already recorded) a
    second update applies the `$inc` alone: the count always grows by exactly one, atomically,
    whatever the order of concurrent sends. Both are raw updates on the collection (what
    MongoEngine's `update_one(__raw__=...)` sends, without its query cloning and transforms).
    """
    count = {f"unreadCounts.{receiver}": 1}
    summary = {
        "_id": message["_id"],
        "seq": message["seq"],
        "senderId": message["senderId"],
        "message": message["message"][:200],
        "createdAt": message["createdAt"],
    }
    collection = Conversation._get_collection()
    result = collection.update_one(
        {
            "_id": conversation_id,
            "$or": [
                {"lastMessage.seq": {"$lt": message["seq"]}},
                {"lastMessage.seq": {"$exists": False}},
            ],
        },
        {
            "$inc": count,
            "$set": {"lastMessage": summary, "updatedAt": message["createdAt"]},
        },
    )
    if not result.matched_count:
        collection.update_one({"_id": conversation_id}, {"$inc": count})


def parse_limit(raw, *, default, maximum):
    """A page size from a query string: default when absent, capped at `maximum`."""
    if raw is None or raw == "":
        return default
    try:
        limit = int(raw)
    except (TypeError, ValueError):
        raise InvalidInput("limit must be a positive integer") from None
    if limit < 1:
        raise InvalidInput("limit must be a positive integer")
    return min(limit, maximum)


