"""The conversation list: a user's conversations, most recent first, from their summaries only."""

import re
from datetime import datetime, timedelta

from bson import ObjectId

from chatapp import serializers
from chatapp.errors import InvalidInput
from chatapp.models import Conversation, User
from chatapp.validation import object_id

_EPOCH = datetime(1970, 1, 1)
_CURSOR = re.compile(r"(\d{1,15})_([0-9a-f]{24})")


def list_conversations(user_id, *, limit, before=None):
    """One page of `user_id`'s conversations that have a message, most recently active first.

    Returns `(conversations, next_before)`, `next_before` being the cursor of the next page or
    None at the end. Reads only conversation documents (their `lastMessage` summary and unread
    counters, kept up to date on send and read) through the `participants, updatedAt, _id`
    index, plus one lookup of the page's participants: the cost does not grow with history.
    """
    user = object_id(str(user_id), "user id")
    query = {"participants": user, "lastMessage._id": {"$exists": True}}
    if before is not None:
        updated_at, last_id = parse_cursor(before)
        query["$or"] = [
            {"updatedAt": {"$lt": updated_at}},
            {"updatedAt": updated_at, "_id": {"$lt": last_id}},
        ]
    docs = list(
        Conversation.objects(__raw__=query)
        .order_by("-updated_at", "-id")
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
    millis = (doc["updatedAt"].replace(tzinfo=None) - _EPOCH) // timedelta(milliseconds=1)
    return f"{millis}_{doc['_id']}"


def parse_cursor(raw):
    match = _CURSOR.fullmatch(raw) if isinstance(raw, str) else None
    if match is None:
        raise InvalidInput("Invalid before cursor")
    return _EPOCH + timedelta(milliseconds=int(match[1])), ObjectId(match[2])


def _other(doc, user):
    """The participant who is not `user` (conversations are between two people)."""
    return next((p for p in doc.get("participants", []) if p != user), None)


