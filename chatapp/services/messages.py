"""Direct messages: sending, and reading history a page at a time."""

import hashlib

from bson import ObjectId
from mongoengine.errors import NotUniqueError

from chatapp import metrics, serializers, validation
from chatapp.clock import utc_now
from chatapp.errors import Conflict, InvalidInput, NotFoundError, PayloadTooLarge, Unavailable
from chatapp.models import Conversation, Message, MessageKey
from chatapp.realtime import events
from chatapp.services import blocks, reactions
from chatapp.services.users import user_exists
from chatapp.validation import object_id, string_field


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
    text, client_message_id = checked_text(text, client_message_id, max_length)
    if sender == receiver:
        raise InvalidInput("You cannot send a message to yourself")
    if not user_exists(receiver):
        raise NotFoundError("Receiver not found")
    blocks.check_can_message(sender, receiver)  # 403 when a block stands between them

    conversation_id = get_or_create_conversation(sender, receiver)
    now = utc_now()  # one moment for both: a new message was never updated
    message = Message(
        # Chosen here, so that an idempotency key can name the message before it is stored.
        id=ObjectId(),
        conversation_id=conversation_id,
        sender_id=sender,
        receiver_id=receiver,
        message=text,
        client_message_id=client_message_id,
        created_at=now,
        updated_at=now,
    )
    document, created = store_once(message, receiver_id=receiver)
    if not created:
        return serializers.message(document), False
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


def checked_text(text, client_message_id, max_length):
    """A message's text and clientMessageId as sent: 400 for a bad or empty one, 413 when the
    text is over `max_length` characters."""
    text = string_field(text, "message")
    client_message_id = validation.client_message_id(client_message_id)
    if not text.strip():
        raise InvalidInput("Message must not be empty")
    if len(text) > max_length:
        raise PayloadTooLarge(f"Message is too long (at most {max_length} characters)")
    return text, client_message_id


def store_once(message, *, receiver_id=None, group_id=None):
    """Store the new `message` once per idempotency key; return `(document, created)`.

    With a clientMessageId, the key is claimed first (claim_key: for the pair's receiver or
    the group). When an earlier attempt with that key already stored its message, returns that
    message's document and False, storing nothing.
    """
    if message.client_message_id is not None:
        key = claim_key(
            message.sender_id, message.message, message.client_message_id, message.id,
            receiver_id=receiver_id, group_id=group_id,
        )
        if key.message_id != message.id:
            first = Message.objects(id=key.message_id).first()
            if first is not None:
                return first.to_mongo(), False
            # The attempt that claimed the key has not stored its message: it is still storing
            # it, or it failed. Store it under the id the key names: whichever insert lands
            # first is the message, and the other finds it in _store_in_order.
            message.id = key.message_id
    stored = _store_in_order(message)
    if stored is not message:
        return stored.to_mongo(), False
    return message.to_mongo(), True


# Attempts at a free seq before a send gives up (each failed one means another send in the same
# conversation was stored meanwhile, so this bounds a burst, not a wait).
SEQ_ATTEMPTS = 50
# Seqs stay within these (the migration counts down from 0 for the Node backend's messages).
MIN_SEQ = -(2**62)
MAX_SEQ = 2**62


def _store_in_order(message):
    """Insert `message` as the next message of its conversation; return what is stored.

    The insert itself allocates the message's `seq`: read the conversation's last seq, insert
    with the next one, and let the unique (conversationId, seq) index refuse it when another send
    took that seq first; then read again and retry. So a message is stored only after every
    message with a smaller seq, and "everything after seq n" is exact on any server, MongoDB or
    FerretDB, with no counter, lock or transaction. Returns `message`, or (when an attempt with
    the same idempotency key stored a message under this id first) that message.
    """
    for _ in range(SEQ_ATTEMPTS):
        message.seq = next_seq(message.conversation_id)
        try:
            return message.save(force_insert=True)
        except NotUniqueError:
            existing = Message.objects(id=message.id).first()
            if existing is not None:
                return existing
            # Another send in this conversation was stored with this seq: try the next one.
    raise Unavailable("The conversation is busy, please retry")


store_in_order = _store_in_order  # for services.group_messages and services.groups


def next_seq(conversation_id):
    """The seq after the conversation's last one (1 for a conversation with none)."""
    last = (
        Message.objects(conversation_id=conversation_id, seq__gte=MIN_SEQ)
        .order_by("-seq")
        .only("seq")
        .first()
    )
    return max(last.seq, 0) + 1 if last is not None else 1


def _claim_key(sender, receiver, text, client_message_id, message_id):
    """Claim (sender, client_message_id) for `message_id` sent to `receiver` (see claim_key)."""
    return claim_key(sender, text, client_message_id, message_id, receiver_id=receiver)


def claim_key(sender, text, client_message_id, message_id, *, receiver_id=None, group_id=None):
    """Claim (sender, client_message_id) for `message_id`; return the MessageKey that wins.

    A pair message's key names its receiver, a group message's key its group: one key space per
    sender, so a pair's key reused in a group (or the reverse) is a 409 too. A key reused for a
    different message is the client's bug, answered with 409 rather than with a message that is
    not the one it just asked to send.
    """
    key = MessageKey(
        id=f"{sender}:{client_message_id}",
        message_id=message_id,
        receiver_id=receiver_id,
        conversation_id=group_id,
        digest=hashlib.sha256(text.encode()).hexdigest(),
    )
    try:
        return key.save(force_insert=True)
    except NotUniqueError:
        first = MessageKey.objects(id=key.id).first()
    if first is None:  # keys are never deleted; only an operator could have
        raise Conflict("clientMessageId was already used")
    if (
        first.receiver_id != receiver_id
        or first.conversation_id != group_id
        or first.digest != key.digest
    ):
        raise Conflict("clientMessageId was already used for a different message")
    return first


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
    before, after = parse_cursors(before, after)
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
        seq, message_id = _position(history, after, newer=True)
        page, next_after = cut_page(_newer(history, seq, message_id, limit + 1), limit)
        return _page(page, user), next_after
    seq, message_id = (
        _position(history, before, newer=False) if before is not None else (MAX_SEQ, None)
    )
    page, next_before = cut_page(_older(history, seq, message_id, limit + 1), limit)
    page.reverse()
    return _page(page, user), next_before


def parse_cursors(before, after):
    """A history page's `before` and `after` cursors as ids (400 for a bad one, or for both)."""
    before = object_id(before, "before cursor") if before is not None else None
    after = object_id(after, "after cursor") if after is not None else None
    if before is not None and after is not None:
        raise InvalidInput("Use either before or after, not both")
    return before, after


def cut_page(found, limit):
    """`(page, next_cursor)` from up to `limit + 1` messages read in paging order: the extra
    one only tells that another page follows, whose cursor is the page's last message."""
    page = found[:limit]
    return page, str(page[-1]["_id"]) if len(found) > limit else None


def _page(documents, viewer):
    """History messages in wire format, with their reactions as `viewer` sees them."""
    return reactions.attach(documents, [serializers.message(doc) for doc in documents], viewer)


# A position in a conversation is `(seq, _id)`. Messages without a seq (stored before seqs
# existed, and not yet given one by `migrate-node-data`) have seq None and come before every
# message that has one, in `_id` order.


def _position(history, cursor, *, newer):
    """The position of message `cursor` in the conversation `history`.

    A cursor that is not one of its messages (from another conversation, or deleted since) is
    placed by its id, as cursors were before seqs: after the newest message with a smaller id
    (`newer`), or before the oldest one with a larger id.
    """
    doc = history.filter(id=cursor).only("seq").as_pymongo().first()
    if doc is None:
        nearest = history.filter(**{"id__lt" if newer else "id__gt": cursor})
        doc = nearest.order_by("-id" if newer else "id").only("seq").as_pymongo().first()
        if doc is None:  # nothing on that side: the very start, or the very end
            return (None, ObjectId(b"\0" * 12)) if newer else (MAX_SEQ, None)
    return doc.get(Message.seq.db_field), doc["_id"]


def _newer(history, seq, message_id, n):
    """At most `n` raw messages after position (seq, message_id), oldest first."""
    found = []
    if seq is None:
        ids = {"id__gt": message_id}
        first = history.filter(seq__gte=MIN_SEQ).order_by("seq").only("id").first()
        if first is not None:
            ids["id__lt"] = first.id  # older than every message that has a seq
        found = list(history.filter(seq=None, **ids).order_by("id").limit(n).as_pymongo())
        seq = MIN_SEQ - 1
    if len(found) < n:
        found += history.filter(seq__gt=seq).order_by("seq").limit(n - len(found)).as_pymongo()
    return found


def _older(history, seq, message_id, n):
    """At most `n` raw messages before position (seq, message_id), newest first."""
    found = []
    if seq is not None:
        found = list(
            history.filter(seq__lt=seq, seq__gte=MIN_SEQ).order_by("-seq").limit(n).as_pymongo()
        )
        if found:
            message_id = found[-1]["_id"]
    if len(found) < n:
        ids = {"id__lt": message_id} if message_id is not None else {}
        found += history.filter(seq=None, **ids).order_by("-id").limit(n - len(found)).as_pymongo()
    return found


def _record_sent(conversation_id, receiver, message):
    """One more unread message for `receiver`, and the conversation's summary on its newest message.

    `message` is the stored message document. One update in the common case: the `$inc` plus
    the summary, conditional on seqs so that when two sends race the older one cannot overwrite
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
    newest = conversation.filter(__raw__=Conversation.older_than(message[Message.seq.db_field]))
    if not newest.update_one(__raw__={**count, "$set": summary}):
        conversation.update_one(__raw__=count)
