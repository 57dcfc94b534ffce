"""Editing and deleting a message: by its sender, live to every member of its conversation."""

from datetime import timedelta

from chatapp import serializers
from chatapp.clock import utc_now
from chatapp.errors import Conflict, Forbidden, InvalidInput, PayloadTooLarge
from chatapp.models import Conversation, Message, Reaction
from chatapp.realtime import events
from chatapp.services import access, blocks
from chatapp.validation import string_field

SUMMARY_LENGTH = 200  # as services.messages cuts a conversation's lastMessage
DELETED = "This message was deleted"


def edit_message(user_id, message_id, text, *, max_length, edit_window_seconds=0):
    """Replace the text of `user_id`'s message `message_id`; returns it in wire format.

    The same checks as a send (a non-empty string of at most `max_length` characters). Only the
    sender may edit, only until the message is deleted, and (when `edit_window_seconds` > 0) only
    that long after sending. When the message is its conversation's newest, the conversation
    list's summary follows. `messageUpdated` goes to every member's tabs after the writes; an
    edit that changes nothing writes and sends nothing.
    """
    message, conversation = access.message_for_member(user_id, message_id)
    text = _checked_text(text, max_length)
    _check_sender(message, user_id, "edit")
    if message.get("deletedAt") is not None:
        raise Conflict(DELETED)
    blocks.check_can_reach(message["senderId"], conversation)
    if edit_window_seconds > 0 and utc_now() - message["createdAt"] > timedelta(
        seconds=edit_window_seconds
    ):
        raise Forbidden("This message can no longer be edited")
    if text == message.get("message"):
        return _wire(message)

    now = utc_now()
    # Conditional on the message not being deleted meanwhile: a deletion always wins.
    result = Message._get_collection().update_one(
        {"_id": message["_id"], "deletedAt": None},
        {"$set": {"message": text, "editedAt": now, "updatedAt": now}},
    )
    if not result.matched_count:
        raise Conflict(DELETED)
    message.update(message=text, editedAt=now, updatedAt=now)
    summary = {"message": text[:SUMMARY_LENGTH], "editedAt": now}
    _update_summary(conversation, message["_id"], summary)
    wire = _wire(message)
    # Emitted last: only after every write returned.
    events.emit_message_updated(_member_ids(conversation), wire)
    return wire


def delete_message(user_id, message_id):
    """Delete `user_id`'s message `message_id`, leaving a tombstone; returns it in wire format.

    The text is removed from the database (`message: ""`), `deletedAt` is set and the message
    keeps its place in history. Its reactions go with it. If a member had not read it yet, it no
    longer counts as unread for them. Deleting a deleted message changes and sends nothing.
    `messageDeleted` goes to every member's tabs after the writes.
    """
    message, conversation = access.message_for_member(user_id, message_id)
    _check_sender(message, user_id, "delete")
    if message.get("deletedAt") is not None:
        return _wire(message)

    now = utc_now()
    result = Message._get_collection().update_one(
        {"_id": message["_id"], "deletedAt": None},
        {
            "$set": {"message": "", "deletedAt": now, "updatedAt": now},
            "$unset": {"hasReactions": ""},
        },
    )
    if not result.matched_count:  # a concurrent deletion won; it sends the event
        message.update(message="", deletedAt=now)
        return _wire(message)
    message.update(message="", deletedAt=now, updatedAt=now)
    message.pop("hasReactions", None)
    Reaction.objects(message_id=message["_id"]).delete()
    _uncount_unread(conversation, message)
    _update_summary(conversation, message["_id"], {"message": "", "deletedAt": now})
    wire = _wire(message)
    events.emit_message_deleted(_member_ids(conversation), wire)
    return wire


def _checked_text(text, max_length):
    text = string_field(text, "message")
    if not text.strip():
        raise InvalidInput("Message must not be empty")
    if len(text) > max_length:
        raise PayloadTooLarge(f"Message is too long (at most {max_length} characters)")
    return text


def _check_sender(message, user_id, verb):
    if str(message["senderId"]) != str(user_id):
        raise Forbidden(f"You can only {verb} your own messages")


def _wire(message):
    """The message JSON, plus the id of its conversation (the events' recipients need it)."""
    body = serializers.message(message)
    conversation_id = message.get("conversationId")
    body["conversationId"] = str(conversation_id) if conversation_id is not None else None
    return body


def _member_ids(conversation):
    return [str(member) for member in access.members(conversation)]


def _update_summary(conversation, message_id, fields):
    """The conversation list's `lastMessage` follows, when `message_id` is still the newest."""
    if conversation.get("_id") is None:
        return
    Conversation._get_collection().update_one(
        {"_id": conversation["_id"], "lastMessage._id": message_id},
        {"$set": {f"lastMessage.{key}": value for key, value in fields.items()}},
    )


def _uncount_unread(conversation, message):
    """One unread message less for each member who had it unread (after their read marker, in
    the conversation's order: by seq, or by id for messages stored before seqs).

    Each is one `$inc` conditional on the count being positive and the member's marker being the
    one just read, so a count never goes below zero and a member reading at that moment (whose
    read recounts from the messages, skipping deleted ones) is left alone.
    """
    if conversation.get("_id") is None:
        return
    collection = Conversation._get_collection()
    stored = collection.find_one({"_id": conversation["_id"]}, {"readMarkers": 1}) or {}
    markers = stored.get("readMarkers") or {}
    for member in access.members(conversation):
        if member == message["senderId"]:
            continue
        marker = markers.get(str(member))
        if marker is not None and not _comes_after(message, marker):
            continue  # they had read it
        collection.update_one(
            {
                "_id": conversation["_id"],
                f"unreadCounts.{member}": {"$gt": 0},
                f"readMarkers.{member}": marker if marker is not None else {"$exists": False},
            },
            {"$inc": {f"unreadCounts.{member}": -1}},
        )


def _comes_after(message, marker_id):
    """True when `message` comes after the message `marker_id` in their conversation."""
    marker = Message._get_collection().find_one({"_id": marker_id}, {"seq": 1}) or {}
    if message.get("seq") is not None and marker.get("seq") is not None:
        return message["seq"] > marker["seq"]
    return message["_id"] > marker_id
