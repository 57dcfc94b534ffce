"""Direct messages: sending, and reading history a page at a time."""

from mongoengine import signals
from mongoengine.errors import NotUniqueError

from chatapp import db, serializers, validation
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
    message = Message(
        conversation_id=conversation_id,
        sender_id=sender,
        receiver_id=receiver,
        message=text,
        client_message_id=client_message_id,
        created_at=now,
        updated_at=now,
    )
    try:
        message.save(force_insert=True)
    except NotUniqueError:
        if client_message_id is None:
            raise
        return _first_attempt(sender, receiver, text, client_message_id), False
    wire = serializers.message(message.to_mongo())
    try:
        _record_sent(conversation_id, receiver, message)
    except Exception:
        # Undone, so the client's retry stores and delivers it afresh instead of finding a stored
        # message nobody was told about. (At worst the receiver's unread count is one too high
        # until they next read the conversation, which recounts it.)
        Message.objects(id=message.id).delete()
        raise

    # Emitted last: only after every write returned.
    events.emit_new_message(wire)
    events.emit_message_sent(wire, skip_sid=origin_sid)
    return wire, True


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

    An upsert on the unique `pairKey`: two concurrent first messages cannot make two
    conversations. When both upserts try to insert, MongoDB answers one with a duplicate key
    error; that one simply reads the winner's document.
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
    now = utc_now()
    for _ in range(3):
        try:
            conversation = Conversation.objects(pair_key=key).modify(
                upsert=True,
                new=True,
                set_on_insert__participants=[user_a, user_b],
                set_on_insert__created_at=now,
                set_on_insert__updated_at=now,
            )
            return conversation.id
        except NotUniqueError:
            continue
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

    conversation = (
        Conversation.objects(pair_key=pair_key(user, other)).only("id").as_pymongo().first()
    )
    if conversation is None:
        return [], None
    query = Message.objects(conversation_id=conversation["_id"])
    if after is not None:
        oldest_first = list(query.filter(id__gt=after).order_by("id").limit(limit + 1).as_pymongo())
        page = oldest_first[:limit]
        next_after = str(page[-1]["_id"]) if len(oldest_first) > limit else None
        return [serializers.message(doc) for doc in page], next_after
    if before is not None:
        query = query.filter(id__lt=before)
    newest_first = list(query.order_by("-id").limit(limit + 1).as_pymongo())
    page = newest_first[:limit]
    next_before = str(page[-1]["_id"]) if len(newest_first) > limit else None
    page.reverse()
    return [serializers.message(doc) for doc in page], next_before


def _record_sent(conversation_id, receiver, message):
    """One more unread message for `receiver`, and the conversation's summary on its newest message.

    One update in the common case: the `$inc` plus the summary, conditional on ids so that when
    two sends race the older one cannot overwrite the newer's summary. When that condition fails
    (a newer message is already recorded) a second update applies the `$inc` alone: the count
    always grows by exactly one, atomically, whatever the order of concurrent sends.
    """
    count = {f"unreadCounts.{receiver}": 1}
    summary = {
        "_id": message.id,
        "senderId": message.sender_id,
        "message": message.message[:200],
        "createdAt": message.created_at,
    }
    matched = Conversation.objects(
        __raw__={
            "_id": conversation_id,
            "$or": [
                {"lastMessage._id": {"$lt": message.id}},
                {"lastMessage._id": {"$exists": False}},
            ],
        }
    ).update_one(
        __raw__={
            "$inc": count,
            "$set": {"lastMessage": summary, "updatedAt": message.created_at},
        }
    )
    if not matched:
        Conversation.objects(id=conversation_id).update_one(__raw__={"$inc": count})


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


