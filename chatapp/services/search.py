"""Search: the caller's messages containing every word of a query, newest first, a page at a time.

One matching rule on every database (the embedded one, FerretDB, MongoDB): a message matches when
its text contains each word of the query (words are separated by whitespace) as a substring,
case-insensitively, with no stemming. Each word is one escaped, unanchored `$regex` with the `i`
option, ANDed: no text index, which the databases do not share.

Bounded cost: one request reads at most `scan_limit` of the caller's newest messages older than
`before` (the "window"), in the caller's conversations only. When more messages are older than
the window, the answer's cursor continues below it, so a client paging with `before` still
searches everything, one bounded window per request; a page may then hold fewer than `limit`
results, or none, and still have a next cursor.
"""

import re
import unicodedata

from chatapp import serializers
from chatapp.errors import InvalidInput, NotFoundError
from chatapp.models import Conversation, Message
from chatapp.services import access, reactions
from chatapp.validation import object_id, string_field

QUERY_MAX = 200  # characters
WORDS_MAX = 10


def search_messages(user_id, q, *, conversation_id=None, before=None, limit, scan_limit):
    """Up to `limit` matching messages, newest first, and the next page's `before` cursor (None
    when nothing older is left to search). Each message is in wire format with its
    `conversationId` and its reactions as the caller sees them."""
    user = object_id(str(user_id), "user id")
    words = query_words(q)
    before = object_id(before, "before cursor") if before is not None else None
    if conversation_id is not None:
        conversation = Conversation._get_collection().find_one(
            {"_id": object_id(conversation_id, "conversation id")}, {"participants": 1}
        )
        if conversation is None or not access.is_member(conversation, user):
            raise NotFoundError("Conversation not found")
        conversation_ids = [conversation["_id"]]
    else:
        conversation_ids = access.conversation_ids_of(user)
    if not conversation_ids:
        return [], None

    collection = Message._get_collection()
    window = {"conversationId": {"$in": conversation_ids}}
    if before is not None:
        window["_id"] = {"$lt": before}
    # The oldest message of the window: the scan_limit-th newest. An index range on
    # (conversationId, _id), no document read.
    edge = list(
        collection.find(window, {"_id": 1}, sort=[("_id", -1)], skip=scan_limit - 1, limit=1)
    )
    boundary = edge[0]["_id"] if edge else None
    query = dict(window)
    if boundary is not None:
        query["_id"] = {**query.get("_id", {}), "$gte": boundary}
    query["$and"] = [{"message": {"$regex": re.escape(word), "$options": "i"}} for word in words]
    found = list(collection.find(query, sort=[("_id", -1)], limit=limit + 1))

    page = found[:limit]
    if len(found) > limit:
        next_before = str(page[-1]["_id"])
    elif boundary is not None and collection.find_one(
        {"conversationId": {"$in": conversation_ids}, "_id": {"$lt": boundary}}, {"_id": 1}
    ):
        next_before = str(boundary)  # nothing more in this window; older messages remain
    else:
        next_before = None
    wires = []
    for doc in page:
        wire = serializers.message(doc)
        wire["conversationId"] = str(doc["conversationId"])
        wires.append(wire)
    return reactions.attach(page, wires, user), next_before


def query_words(q):
    """The distinct words of `q` (case-insensitively), at least one and at most 10."""
    q = string_field(q, "q")
    if len(q) > QUERY_MAX:
        raise InvalidInput(f"q must be at most {QUERY_MAX} characters")
    if any(unicodedata.category(ch) == "Cc" and not ch.isspace() for ch in q):
        raise InvalidInput("q must not contain control characters")  # a NUL ends a regex
    words = []
    seen = set()
    for word in q.split():
        if word.casefold() not in seen:
            seen.add(word.casefold())
            words.append(word)
    if not words:
        raise InvalidInput("q must contain at least one word")
    if len(words) > WORDS_MAX:
        raise InvalidInput(f"q may contain at most {WORDS_MAX} words")
    return words
