"""Conversations: the list (most recent first, from summaries only) and read receipts."""

import re
from datetime import datetime, timedelta

from bson import ObjectId

from chatapp import serializers
from chatapp.clock import to_iso, utc_now
from chatapp.errors import InvalidInput, NotFoundError
from chatapp.models import Conversation, Message, User
from chatapp.realtime import events
from chatapp.services.users import user_exists
from chatapp.validation import object_id

_EPOCH = datetime(1970, 1, 1)
_CURSOR = re.compile(r"(\d{1,13})_([0-9a-f]{24})")  # 13 digits of ms: until the year 2286


def list_conversations(user_id, *, limit, before=None):
    """One page of `user_id`'s conversations that have a message, most recently active first.

    Returns `(conversations, next_before)`, `next_before` being the cursor of the next page or
    None at the end. Reads only conversation documents (their `lastMessage` summary and unread
    counters, kept up to date on send and read) through the `participants, updatedAt, _id`
    index, plus one lookup of the page's participants: the cost does not grow with history.
    """
    user = object_id(str(user_id), "user id")
    has_message = {f"{Conversation.last_message.db_field}._id": {"$exists": True}}
    listed = Conversation.objects(participants=user, __raw__=has_message)
    if before is not None:
        updated_at, last_id = parse_cursor(before)
        # (updatedAt, _id) < the cursor's, written as one range on the index's updatedAt plus a
        # check of the ties on its _id: no $or, whose plan could need an in-memory sort.
        ties = {Conversation.updated_at.db_field: updated_at, "_id": {"$gte": last_id}}
        listed = Conversation.objects(
            participants=user, updated_at__lte=updated_at, __raw__={**has_message, "$nor": [ties]}
        )
    docs = list(
        listed.order_by("-updated_at", "-id")
        .limit(limit + 1)
        .as_pymongo()
    )
    page = docs[:limit]
    next_before = make_cursor(page[-1]) if len(docs) > limit else None

    others = {_other(doc, user) for doc in page} - {None}
    users = {
        doc["_id"]: serializers.public_user(doc)
        for doc in User.objects(id__in=list(others)).exclude("password").as_pymongo()
    }
    return [
        serializers.conversation(doc, users.get(_other(doc, user)), str(user)) for doc in page
    ], next_before


def make_cursor(doc):
    """`<updatedAt in ms since the epoch>_<conversation id>`: a position in the list's order."""
    updated_at = (doc.get(Conversation.updated_at.db_field) or _EPOCH).replace(tzinfo=None)
    millis = (updated_at - _EPOCH) // timedelta(milliseconds=1)
    return f"{millis}_{doc['_id']}"


def parse_cursor(raw):
    match = _CURSOR.fullmatch(raw) if isinstance(raw, str) else None
    if match is None:
        raise InvalidInput("Invalid before cursor")
    return _EPOCH + timedelta(milliseconds=int(match[1])), ObjectId(match[2])


def _other(doc, user):
    """The participant who is not `user` (conversations are between two people)."""
    return next((p for p in doc.get(Conversation.participants.db_field, []) if p != user), None)


def mark_read(reader_id, other_id, message_id=None):
    """Move `reader_id`'s read marker in their conversation with `other_id` up to `message_id`.

    `message_id` defaults to the conversation's newest message and must belong to that
    conversation. The marker never moves backwards (`$max`). The reader's unread count becomes the
    number of messages from `other_id` after the marker. When the marker moved, the other
    participant's tabs get `messagesSeen`, after the write. Returns the receipt:
    `{conversationId, readerId, messageId, seenAt, unreadCount}` (ids None when there is no
    message to read yet).
    """
    reader = object_id(str(reader_id), "user id")
    other = object_id(other_id, "user id")
    target = object_id(message_id, "message id") if message_id is not None else None
    if reader == other:
        raise InvalidInput("You have no conversation with yourself")
    conversation = (
        Conversation.objects(pair_key=Conversation.key_for(reader, other))
        .only("id", "last_message")
        .as_pymongo()
        .first()
    )
    if conversation is None:
        if not user_exists(other):
            raise NotFoundError("User not found")
        if target is not None:  # whatever it is, it is not a message of this (empty) conversation
            raise NotFoundError("Message not found")
        return _receipt(None, reader, None, unread=0)
    conversation_id = conversation["_id"]
    if target is None:
        target = (conversation.get(Conversation.last_message.db_field) or {}).get("_id")
        if target is None:
            return _receipt(conversation_id, reader, None, unread=0)
    elif not Message.objects(id=target, conversation_id=conversation_id).only("id").first():
        raise NotFoundError("Message not found")

    # The whole (small) document comes back, no `.only()`: FerretDB's findAndModify has no
    # projection.
    previous = (
        Conversation.objects(id=conversation_id)
        .modify(**{f"max__read_markers__{reader}": target})
    )
    previous_marker = (previous.read_markers or {}).get(str(reader)) if previous else None
    marker = max(previous_marker, target) if previous_marker is not None else target
    # Recounted, not zeroed: reading up to an older message leaves the later ones unread. "Later"
    # by seq, the order messages were stored in (by id only for a marker stored before seqs).
    marker_seq = (
        Message.objects(id=marker, conversation_id=conversation_id).only("seq").first() or Message()
    ).seq
    later = {"seq__gt": marker_seq} if marker_seq is not None else {"id__gt": marker}
    # Deleted messages (services.message_edits) are not unread.
    unread = Message.objects(
        conversation_id=conversation_id, sender_id=other, deleted_at=None, **later
    ).count()
    Conversation.objects(id=conversation_id).update_one(**{f"set__unread_counts__{reader}": unread})
    receipt = _receipt(conversation_id, reader, marker, unread=unread)
    if previous_marker is None or marker > previous_marker:
        # Emitted last, and only when the marker moved.
        events.emit_messages_seen(str(other), {k: receipt[k] for k in SEEN_FIELDS})
    return receipt


SEEN_FIELDS = ("conversationId", "readerId", "messageId", "seenAt")


def _receipt(conversation_id, reader, marker, *, unread):
    return {
        "conversationId": str(conversation_id) if conversation_id is not None else None,
        "readerId": str(reader),
        "messageId": str(marker) if marker is not None else None,
        "seenAt": to_iso(utc_now()),
        "unreadCount": unread,
    }
