"""Emoji reactions: any member adds or removes theirs, live to every member of the conversation.

Stored one document per (message, user, emoji) whose `_id` says so (models.Reaction): adding is
an insert the database refuses to duplicate and removing a delete by `_id`, so counts stay exact
under concurrency on every server, FerretDB included, with no read-modify-write.

A message's reactions, as history and events carry them, seen by one viewer:
`[{emoji, count, reacted, userIds}]`, in the order each emoji was first used; `reacted` says
whether the viewer is among `userIds`. Events are therefore sent to each member separately.
"""

import unicodedata

import pymongo.errors
from bson import ObjectId

from chatapp.clock import utc_now
from chatapp.errors import Conflict, InvalidInput
from chatapp.models import Message, Reaction
from chatapp.realtime import events
from chatapp.services import access, blocks
from chatapp.services.message_edits import DELETED
from chatapp.validation import object_id

EMOJI_MAX_CHARACTERS = 16  # a family emoji with skin tones is 11 code points
ZERO_WIDTH_JOINER = "\u200d"


def add_reaction(user_id, message_id, emoji, *, max_distinct):
    """`user_id` reacts with `emoji` to `message_id`; returns the message's reactions as they see
    them. Reacting twice with one emoji changes nothing. A message carries at most
    `max_distinct` different emojis (a soft bound: racing first uses of new emojis may pass it)."""
    message, conversation = access.message_for_member(user_id, message_id)
    emoji = checked_emoji(emoji)
    if message.get("deletedAt") is not None:
        raise Conflict(DELETED)
    user = message_user(user_id)
    blocks.check_can_reach(user, conversation)
    current = _reactions_of(message["_id"])
    if any(r["userId"] == user and r["emoji"] == emoji for r in current):
        return view(current, user)
    emojis = {r["emoji"] for r in current}
    if emoji not in emojis and len(emojis) >= max_distinct:
        raise Conflict(f"A message can carry at most {max_distinct} different reactions")
    try:
        Reaction._get_collection().insert_one(
            {
                "_id": reaction_key(message["_id"], user, emoji),
                "messageId": message["_id"],
                "conversationId": message.get("conversationId"),
                "userId": user,
                "emoji": emoji,
                "createdAt": utc_now(),
                "seq": ObjectId(),
            }
        )
    except pymongo.errors.DuplicateKeyError:  # the same reaction from a concurrent request
        return view(_reactions_of(message["_id"]), user)
    if not message.get("hasReactions"):
        Message._get_collection().update_one(
            {"_id": message["_id"]}, {"$set": {"hasReactions": True}}
        )
    return _announce(message, conversation, user)


def remove_reaction(user_id, message_id, emoji):
    """`user_id` takes back their `emoji` on `message_id`; returns the reactions as they see
    them. Removing a reaction that is not there changes nothing."""
    message, conversation = access.message_for_member(user_id, message_id)
    emoji = checked_emoji(emoji)
    user = message_user(user_id)
    result = Reaction._get_collection().delete_one(
        {"_id": reaction_key(message["_id"], user, emoji)}
    )
    if not result.deleted_count:
        return view(_reactions_of(message["_id"]), user)
    return _announce(message, conversation, user)


def _announce(message, conversation, user):
    """`reactionsUpdated` to each member (their own view), after the write; the caller's view."""
    current = _reactions_of(message["_id"])
    conversation_id = str(message["conversationId"]) if message.get("conversationId") else None
    for member in access.members(conversation):
        events.emit_reactions_updated(
            str(member),
            {
                "messageId": str(message["_id"]),
                "conversationId": conversation_id,
                "reactions": view(current, member),
            },
        )
    return view(current, user)


def checked_emoji(value):
    """A reaction: 1 to 16 characters, no spaces, control or invisible characters (but the
    zero-width joiner of composed emojis). Any such short string passes, so clients may also
    use short names like `:+1:`."""
    if not isinstance(value, str) or not value:
        raise InvalidInput("emoji must be a non-empty string")
    if len(value) > EMOJI_MAX_CHARACTERS:
        raise InvalidInput(f"emoji must be at most {EMOJI_MAX_CHARACTERS} characters")
    for ch in value:
        category = unicodedata.category(ch)
        if category[0] in "CZ" and ch != ZERO_WIDTH_JOINER:
            raise InvalidInput("emoji must not contain spaces or control characters")
    return value


def message_user(user_id):
    return object_id(str(user_id), "user id")


def reaction_key(message_id, user, emoji):
    return f"{message_id}:{user}:{emoji}"


def _reactions_of(message_id):
    return list(
        Reaction._get_collection().find(
            {"messageId": message_id},
            {"userId": 1, "emoji": 1},
            sort=[("seq", 1)],
        )
    )


def view(reactions, viewer):
    """Reaction documents (oldest first) as `viewer` sees them:
    `[{emoji, count, reacted, userIds}]`."""
    by_emoji = {}
    for reaction in reactions:
        by_emoji.setdefault(reaction["emoji"], []).append(reaction["userId"])
    return [
        {
            "emoji": emoji,
            "count": len(users),
            "reacted": viewer in users,
            "userIds": [str(user) for user in users],
        }
        for emoji, users in by_emoji.items()
    ]


def attach(documents, wires, viewer):
    """Add `reactions` to the wire messages of raw `documents` that have any, as `viewer` sees
    them: one query for the whole page, none when no message on it was ever reacted to."""
    reacted = [doc["_id"] for doc in documents if doc.get("hasReactions")]
    if not reacted:
        return wires
    by_message = {}
    for reaction in Reaction._get_collection().find(
        {"messageId": {"$in": reacted}},
        {"messageId": 1, "userId": 1, "emoji": 1},
        sort=[("seq", 1)],
    ):
        by_message.setdefault(reaction["messageId"], []).append(reaction)
    for doc, wire in zip(documents, wires):
        if doc["_id"] in by_message:
            wire["reactions"] = view(by_message[doc["_id"]], viewer)
    return wires
