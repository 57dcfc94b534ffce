"""Messages in group conversations: sending, history, catch-up, read markers and typing.

A group message is stored once (`conversationId`, `senderId`, no `receiverId`) and delivered to
every member's tabs as `groupMessage`, never as `newMessage` (services.messages' pair event, which
the React client appends to whatever chat is open). A member reads the history from the message
that announced their joining (`visibleFrom`) on; a former member reads nothing.
"""

from bson import ObjectId
from pymongo import ReturnDocument

from chatapp import metrics, serializers
from chatapp.clock import to_iso, utc_now
from chatapp.errors import NotFoundError
from chatapp.models import Conversation, Membership, Message
from chatapp.realtime import events, visibility
from chatapp.services import memberships, messages, reactions
from chatapp.validation import is_object_id, object_id

SEEN_FIELDS = ("conversationId", "readerId", "messageId", "seenAt")


def send_group_message(
    sender_id, group_id, text, *, max_length, client_message_id=None, origin_sid=None
):
    """Store a message from member `sender_id` to the group, then deliver it live.

    Returns `(message, created)` as services.messages.send_message does: a retry with the same
    `clientMessageId` returns the first attempt's message, stores and sends nothing (`created`
    False); the key used for another message or conversation is a 409. The message gets the
    group's next `seq` as a pair message does. Every other member's unread count grows by one.
    `groupMessage` goes to every member's tabs but the socket `origin_sid` the message came from
    (None for an HTTP send).
    """
    text, client_message_id = messages.checked_text(text, client_message_id, max_length)
    group, membership = memberships.member_of(group_id, sender_id)
    sender = membership["userId"]

    now = utc_now()  # one moment for both: a new message was never updated
    message = Message(
        id=ObjectId(),  # chosen here, so that an idempotency key can name it before it is stored
        conversation_id=group["_id"],
        sender_id=sender,
        message=text,
        client_message_id=client_message_id,
        created_at=now,
        updated_at=now,
    )
    document, created = messages.store_once(message, group_id=group["_id"])
    if not created:
        return serializers.group_message(document), False
    members = group.get("participants") or []
    try:
        memberships.record_newest(
            group["_id"], document, unread_for=[m for m in members if m != sender]
        )
    except Exception:
        message.delete()  # so a retry stores and delivers it afresh
        raise
    metrics.count_message_stored()
    wire = serializers.group_message(document)
    # Emitted last: only after every write returned.
    events.emit_group_message([str(m) for m in members], wire, skip_sid=origin_sid)
    return wire, True


def _first_visible_seq(group_id, membership):
    """The seq of the first message the member may read (their joining's system message); past
    every seq while that message is still being stored."""
    doc = Message._get_collection().find_one(
        {"_id": membership["visibleFrom"], "conversationId": group_id}, {"seq": 1}
    )
    return doc["seq"] if doc is not None and doc.get("seq") is not None else messages.MAX_SEQ


def _seq_of(group_id, message_id):
    """The seq of message `message_id` of the group; 404 when it is not one of its messages."""
    doc = Message._get_collection().find_one(
        {"_id": message_id, "conversationId": group_id}, {"seq": 1}
    )
    if doc is None or doc.get("seq") is None:
        raise NotFoundError("Message not found")
    return doc["seq"]


def list_group_messages(user_id, group_id, *, limit, before=None, after=None):
    """One page of the group's history as member `user_id` may read it, oldest first.

    Paged like a pair's history (services.messages.list_messages), in `seq` order: `before`
    pages back, `after` catches up (exactly: a message is stored only after every smaller seq);
    returns `(messages, next_cursor)`. Only messages from the member's joining on (a cursor from
    before that reads as the start); a cursor that is not a message of the group is a 404.
    """
    before, after = messages.parse_cursors(before, after)
    group, membership = memberships.member_of(group_id, user_id)
    low = _first_visible_seq(group["_id"], membership)
    collection = Message._get_collection()
    if after is not None:
        seqs = {"$gt": _seq_of(group["_id"], after), "$gte": low}
        query = {"conversationId": group["_id"], "seq": seqs}
        oldest_first = list(collection.find(query, sort=[("seq", 1)], limit=limit + 1))
        page, next_after = messages.cut_page(oldest_first, limit)
        return _page(page, user_id), next_after
    seqs = {"$gte": low}
    if before is not None:
        seqs["$lt"] = _seq_of(group["_id"], before)
    query = {"conversationId": group["_id"], "seq": seqs}
    newest_first = list(collection.find(query, sort=[("seq", -1)], limit=limit + 1))
    page, next_before = messages.cut_page(newest_first, limit)
    page.reverse()
    return _page(page, user_id), next_before


def _page(documents, viewer_id):
    """History messages in wire format, with their reactions as the viewer sees them."""
    wires = [serializers.group_message(doc) for doc in documents]
    return reactions.attach(documents, wires, object_id(str(viewer_id), "user id"))


def mark_group_read(reader_id, group_id, message_id=None):
    """Move member `reader_id`'s read marker in the group up to `message_id` (default: the newest).

    As a pair's (services.conversations.mark_read): the marker never moves back, the unread count
    becomes the number of other members' messages after it (membership changes do not count),
    and when it moved the other members' tabs get `messagesSeen`. Returns the receipt
    `{conversationId, readerId, messageId, seenAt, unreadCount}`.
    """
    target = object_id(message_id, "message id") if message_id is not None else None
    group, membership = memberships.member_of(group_id, reader_id)
    reader, group_id = membership["userId"], group["_id"]
    low = _first_visible_seq(group_id, membership)
    if target is None:
        target = (group.get("lastMessage") or {}).get("_id")
        if target is None or (group["lastMessage"].get("seq") or messages.MIN_SEQ) < low:
            return _receipt(group_id, reader, None, unread=0)
    elif _seq_of(group_id, target) < low:
        raise NotFoundError("Message not found")  # not one the reader may read

    conversations = Conversation._get_collection()
    previous = conversations.find_one_and_update(
        {"_id": group_id},
        {"$max": {f"readMarkers.{reader}": target}},
        return_document=ReturnDocument.BEFORE,  # no projection: FerretDB has none here
    )
    previous_marker = ((previous or {}).get("readMarkers") or {}).get(str(reader))
    marker = max(previous_marker, target) if previous_marker is not None else target
    # Recounted, not zeroed: reading up to an older message leaves the later ones unread.
    # "Later" by seq, the order messages were stored in.
    marker_doc = Message._get_collection().find_one({"_id": marker}, {"seq": 1}) or {}
    after = max(marker_doc.get("seq") or low, low - 1)
    unread = Message._get_collection().count_documents(
        {
            "conversationId": group_id,
            "seq": {"$gt": after},
            "senderId": {"$ne": reader},
            "system": {"$exists": False},
            "deletedAt": None,  # a deleted message is not unread (services.message_edits)
        }
    )
    conversations.update_one({"_id": group_id}, {"$set": {f"unreadCounts.{reader}": unread}})
    receipt = _receipt(group_id, reader, marker, unread=unread)
    if previous_marker is None or marker > previous_marker:
        others = [str(m) for m in group.get("participants") or [] if m != reader]
        events.emit_group_messages_seen(others, {k: receipt[k] for k in SEEN_FIELDS})
    return receipt


def _receipt(group_id, reader, marker, *, unread):
    return {
        "conversationId": str(group_id),
        "readerId": str(reader),
        "messageId": str(marker) if marker is not None else None,
        "seenAt": to_iso(utc_now()),
        "unreadCount": unread,
    }


def relay_group_typing(from_user_id, group_id, is_typing, *, expires_in_ms):
    """Tell the group's other members that `from_user_id` is (or stopped) typing; True if relayed.

    Dropped without a word, as a pair's indicator is, when anything is off: a malformed id or
    flag, no such group, or the sender not a member.
    """
    if not is_object_id(group_id) or not isinstance(is_typing, bool):
        return False
    user = object_id(str(from_user_id), "user id")
    key = memberships.membership_key(group_id, user)
    if Membership._get_collection().find_one({"_id": key}, {"_id": 1}) is None:
        return False
    group = Conversation._get_collection().find_one(
        {"_id": object_id(group_id)}, {"participants": 1}
    )
    hidden = visibility.current()
    others = [
        str(m) for m in (group or {}).get("participants") or []
        # Not relayed across a block (realtime.visibility), as for a pair.
        if m != user and not hidden.hides(str(user), str(m))
    ]
    events.emit_group_typing(
        others,
        {
            "from": str(user),
            "conversationId": group_id,
            "isTyping": is_typing,
            "expiresInMs": expires_in_ms,
        },
    )
    return True
