"""Direct messages: sending, and reading history a page at a time."""

import re

import pymongo.errors
from mongoengine import signals
from mongoengine.errors import NotUniqueError, OperationError

from chatapp import db, metrics, serializers, validation
from chatapp.clock import utc_now
from chatapp.errors import Conflict, InvalidInput, NotFoundError, PayloadTooLarge
from chatapp.models import Conversation, Message
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
    The unique index on (senderId, clientMessageId) decides which of two racing attempts wins.
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
    # fifth of a send.
    document = {
        "conversationId": conversation_id,
        "senderId": sender,
        "receiverId": receiver,
        "message": text,
    }
    if client_message_id is not None:
        document["clientMessageId"] = client_message_id
    document["createdAt"] = now
    document["updatedAt"] = now
    try:
        message_id = _insert_message(document)
    except NotUniqueError:
        if client_message_id is None:
            raise
        return _first_attempt(sender, receiver, text, client_message_id), False
    document["_id"] = message_id
    wire = serializers.message(document)
    try:
        _record_sent(conversation_id, receiver, document)
    except Exception:
        # Undone, so the client's retry stores and delivers it afresh instead of finding a stored
        # message nobody was told about. (At worst the receiver's unread count is one too high
        # until they next read the conversation, which recounts it.)
        Message.objects(id=message_id).delete()
        raise

    metrics.count_message_stored()
    # Emitted last: only after every write returned.
    events.emit_new_message(wire)
    events.emit_message_sent(wire, skip_sid=origin_sid)
    return wire, True


def _insert_message(document):
    """Insert a message document; its new id. Errors as `Document.save` raises them."""
    try:
        return Message._get_collection().insert_one(document).inserted_id
    except pymongo.errors.DuplicateKeyError as err:
        raise NotUniqueError(f"Tried to save duplicate unique keys ({err})") from err
    except pymongo.errors.OperationFailure as err:
        if re.match("^E1100[01] duplicate key", str(err)):
            raise NotUniqueError(f"Tried to save duplicate unique keys ({err})") from err
        raise OperationError(f"Could not save document ({err})") from err


def _first_attempt(sender, receiver, text, client_message_id):
    """The message an earlier attempt with this idempotency key stored, in wire format.

    A key reused for a different message is the client's bug, answered with 409 rather than
    with a message that is not the one it just asked to send.
    """
    first = (
        Message.objects(sender_id=sender, client_message_id=client_message_id)
        .as_pymongo()
        .first()
    )
    if first is None:  # the unique index said it exists; it was deleted since
        raise Conflict("clientMessageId was already used")
    if first.get("receiverId") != receiver or first.get("message") != text:
        raise Conflict("clientMessageId was already used for a different message")
    return serializers.message(first)


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
    newest). Costs one indexed lookup and one index range of `limit + 1` entries, whatever the
    length of the history.
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
    query = {"conversationId": conversation["_id"]}
    if after is not None:
        query["_id"] = {"$gt": after}
        oldest_first = list(messages.find(query, sort=[("_id", 1)], limit=limit + 1))
        page = oldest_first[:limit]
        next_after = str(page[-1]["_id"]) if len(oldest_first) > limit else None
        return [serializers.message(doc) for doc in page], next_after
    if before is not None:
        query["_id"] = {"$lt": before}
    newest_first = list(messages.find(query, sort=[("_id", -1)], limit=limit + 1))
    page = newest_first[:limit]
    next_before = str(page[-1]["_id"]) if len(newest_first) > limit else None
    page.reverse()
    return [serializers.message(doc) for doc in page], next_before


def _record_sent(conversation_id, receiver, message):
    """One more unread message for `receiver`, and the conversation's summary on its newest message.

    `message` is the stored message document. One update in the common case: the `$inc` plus
    the summary, conditional on ids so that when two sends race the older one cannot overwrite
    the newer's summary. When that condition fails (a newer message is already recorded) a
    second update applies the `$inc` alone: the count always grows by exactly one, atomically,
    whatever the order of concurrent sends. Both are raw updates on the collection (what
    MongoEngine's `update_one(__raw__=...)` sends, without its query cloning and transforms).
    """
    message_id = message["_id"]
    count = {f"unreadCounts.{receiver}": 1}
    summary = {
        "_id": message_id,
        "senderId": message["senderId"],
        "message": message["message"][:200],
        "createdAt": message["createdAt"],
    }
    collection = Conversation._get_collection()
    result = collection.update_one(
        {
            "_id": conversation_id,
            "$or": [
                {"lastMessage._id": {"$lt": message_id}},
                {"lastMessage._id": {"$exists": False}},
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


