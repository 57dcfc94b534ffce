"""Direct messages: sending, and reading history a page at a time."""

from mongoengine.errors import NotUniqueError

from chatapp import metrics, serializers, validation
from chatapp.clock import utc_now
from chatapp.errors import Conflict, InvalidInput, NotFoundError, PayloadTooLarge
from chatapp.models import Conversation, Message
from chatapp.realtime import events
from chatapp.services.users import user_exists
from chatapp.validation import object_id, string_field


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
    now = utc_now()  # one moment for both: a new message was never updated
    try:
        message = Message(
            conversation_id=conversation_id,
            sender_id=sender,
            receiver_id=receiver,
            message=text,
            client_message_id=client_message_id,
            created_at=now,
            updated_at=now,
        ).save(force_insert=True)
    except NotUniqueError:
        if client_message_id is None:
            raise
        return _first_attempt(sender, receiver, text, client_message_id), False
    document = message.to_mongo()
    wire = serializers.message(document)
    try:
        _record_sent(conversation_id, receiver, document)
    except Exception:
        # Undone, so the client's retry stores and delivers it afresh instead of finding a stored
        # message nobody was told about. (At worst the receiver's unread count is one too high
        # until they next read the conversation, which recounts it.)
        message.delete()
        raise

    metrics.count_message_stored()
    # Emitted last: only after every write returned.
    events.emit_new_message(wire)
    events.emit_message_sent(wire, skip_sid=origin_sid)
    return wire, True


def _first_attempt(sender, receiver, text, client_message_id):
    """The message an earlier attempt with this idempotency key stored, in wire format.

    A key reused for a different message is the client's bug, answered with 409 rather than
    with a message that is not the one it just asked to send.
    """
    first = Message.objects(sender_id=sender, client_message_id=client_message_id).first()
    if first is None:  # the unique index said it exists; it was deleted since
        raise Conflict("clientMessageId was already used")
    if first.receiver_id != receiver or first.message != text:
        raise Conflict("clientMessageId was already used for a different message")
    return serializers.message(first.to_mongo())


def get_or_create_conversation(user_a, user_b):
    """The id of the one conversation between two users, created if needed, without a race.

    The unique `pairKey` index decides: two concurrent first messages cannot make two
    conversations, and the one that loses reads the winner's document.
    """
    key = Conversation.key_for(user_a, user_b)
    for _ in range(3):
        existing = Conversation.objects(pair_key=key).only("id").first()
        if existing is not None:
            return existing.id
        try:
            return Conversation(pair_key=key, participants=[user_a, user_b]).save(
                force_insert=True
            ).id
        except NotUniqueError:
            pass  # a concurrent send created it first: read it on the next round
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

    key = Conversation.key_for(user, other)
    conversation = Conversation.objects(pair_key=key).only("id").first()
    if conversation is None:
        return [], None
    # The pair as well as the conversation: a message linked to the wrong conversation (by a bug,
    # a bad migration or a hand edit) never shows to someone it was not between.
    pair = [user, other]
    history = Message.objects(
        conversation_id=conversation.id, sender_id__in=pair, receiver_id__in=pair
    )
    if after is not None:
        newer = history.filter(id__gt=after).order_by("id")
        oldest_first = list(newer.limit(limit + 1).as_pymongo())
        page = oldest_first[:limit]
        next_after = str(page[-1]["_id"]) if len(oldest_first) > limit else None
        return [serializers.message(doc) for doc in page], next_after
    if before is not None:
        history = history.filter(id__lt=before)
    newest_first = list(history.order_by("-id").limit(limit + 1).as_pymongo())
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
    whatever the order of concurrent sends.
    """
    count = {"$inc": {f"{Conversation.unread_counts.db_field}.{receiver}": 1}}
    summary = {
        Conversation.last_message.db_field: Conversation.summary_of(message),
        Conversation.updated_at.db_field: message[Message.created_at.db_field],
    }
    conversation = Conversation.objects(id=conversation_id)
    newest = conversation.filter(__raw__=Conversation.older_than(message["_id"]))
    if not newest.update_one(__raw__={**count, "$set": summary}):
        conversation.update_one(__raw__=count)
