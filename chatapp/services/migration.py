"""Bring a database written by the Node backend into this backend's shape, idempotently.

The Node backend kept, per conversation, an array of all its message ids and no `pairKey`, and
its messages had no `conversationId` and no `seq` (their order in the conversation). Messages it
wrote get seqs of 0 and below, in `_id` order, so they come before every message this backend
stores (which counts up from 1). A race in its send could also make two conversations for
one pair, or store a message no conversation lists. `migrate_node_data` fixes all of that without
losing a message, and running it again changes nothing. Users need nothing: their bcryptjs
`$2a$`/`$2b$` hashes verify as they are.
"""

from collections import Counter

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from chatapp.clock import utc_now
from chatapp.models import Conversation, Message
from chatapp.services.messages import MIN_SEQ

# Field names as stored, from the models (the raw collections are read and written here).
PAIR_KEY = Conversation.pair_key.db_field
PARTICIPANTS = Conversation.participants.db_field
LAST_MESSAGE = Conversation.last_message.db_field
CONVERSATION_ID = Message.conversation_id.db_field
SEQ = Message.seq.db_field
SENDER_ID = Message.sender_id.db_field
RECEIVER_ID = Message.receiver_id.db_field
CREATED_AT = Message.created_at.db_field  # the same name in every collection
UPDATED_AT = Conversation.updated_at.db_field
# The Node backend's array of a conversation's message ids, which Conversation no longer declares.
MESSAGE_IDS = "messages"

BATCH = 1000


def migrate_node_data(report=lambda line: None):
    """Run every step; returns the counts (a Counter). `report` gets a line per notable event."""
    conversations = Conversation._get_collection()
    messages = Message._get_collection()
    counts = Counter()
    touched = set()

    # 1. Give every conversation its pairKey; a second conversation of a pair merges into the first.
    for doc in conversations.find({PAIR_KEY: {"$exists": False}}).sort("_id", 1):
        people = list(dict.fromkeys(doc.get(PARTICIPANTS) or []))
        if len(people) != 2:
            counts["conversations skipped (not two participants)"] += 1
            report(f"skipped conversation {doc['_id']}: participants {people}")
            continue
        key = Conversation.key_for(*people)
        # Looked up first rather than left to the unique index: FerretDB reports a unique
        # violation by an update as an internal error, not as a duplicate key. Should a running
        # app create the pair in between, the update fails and a second run merges it.
        keeper = conversations.find_one({PAIR_KEY: key}, {"_id": 1})
        if keeper is not None:
            _merge(conversations, messages, doc, keeper["_id"], counts)
            touched.add(keeper["_id"])
            continue
        conversations.update_one(
            {"_id": doc["_id"], PAIR_KEY: {"$exists": False}}, {"$set": {PAIR_KEY: key}}
        )
        counts["conversations keyed"] += 1
        touched.add(doc["_id"])

    # 2. Point every listed message at its conversation; drop the list once all of them do.
    # Only messages between the two participants: a listed message of another pair stays out
    # (step 3 gives it to its own pair's conversation), never readable by these two.
    for doc in conversations.find(
        {PAIR_KEY: {"$exists": True}, MESSAGE_IDS: {"$exists": True}},
        {MESSAGE_IDS: 1, PARTICIPANTS: 1},
    ):
        ids = list(doc.get(MESSAGE_IDS) or [])
        between = _between(doc.get(PARTICIPANTS))
        if between is None:
            counts["conversations skipped (not two participants)"] += 1
            report(f"skipped conversation {doc['_id']}: participants {doc.get(PARTICIPANTS)}")
            continue
        counts["messages linked"] += _link(messages, ids, doc["_id"], between)
        foreign = _count(messages, ids, {"$nor": [between]})
        if foreign:
            counts["listed messages skipped (not between the participants)"] += foreign
            report(f"conversation {doc['_id']} lists {foreign} messages of other people")
        if _unlinked(messages, ids, doc["_id"], between) == 0:
            conversations.update_one({"_id": doc["_id"]}, {"$unset": {MESSAGE_IDS: ""}})
            counts["message arrays dropped"] += 1
        touched.add(doc["_id"])

    # 3. Messages no conversation listed (the Node send saved them, then failed): by their pair.
    found = {}
    unlisted_by_conversation = {}
    unlisted = messages.find(
        {CONVERSATION_ID: {"$exists": False}}, {SENDER_ID: 1, RECEIVER_ID: 1, CREATED_AT: 1}
    ).sort("_id", 1)
    for doc in unlisted:
        sender, receiver = doc.get(SENDER_ID), doc.get(RECEIVER_ID)
        if sender is None or receiver is None or sender == receiver:
            counts["messages skipped (no pair)"] += 1
            report(f"skipped message {doc['_id']}: sender {sender}, receiver {receiver}")
            continue
        key = Conversation.key_for(sender, receiver)
        if key not in found:
            found[key] = _conversation_for(
                conversations, key, sender, receiver, doc.get(CREATED_AT)
            )
        unlisted_by_conversation.setdefault(found[key], []).append(doc["_id"])
    for conversation_id, ids in unlisted_by_conversation.items():
        counts["unlisted messages linked"] += _link(messages, ids, conversation_id)
        touched.add(conversation_id)

    # 4. Messages stored before seqs existed (by an older version of this backend): a seq each.
    for conversation_id in messages.distinct(
        CONVERSATION_ID, {CONVERSATION_ID: {"$exists": True}, SEQ: None}
    ):
        ids = [m["_id"] for m in messages.find({CONVERSATION_ID: conversation_id, SEQ: None})]
        counts["messages given a seq"] += _link(messages, ids, conversation_id, relink=True)
        touched.add(conversation_id)
    for conversation_id in touched:
        _order_unsequenced(messages, conversation_id)

    # 5. The summary the conversation list reads, for every conversation touched or lacking one.
    for doc in conversations.find({LAST_MESSAGE: {"$exists": False}}, {"_id": 1}):
        touched.add(doc["_id"])
    for conversation_id in touched:
        if _summarise(conversations, messages, conversation_id):
            counts["summaries updated"] += 1
    return counts


def _conversation_for(conversations, key, sender, receiver, since):
    """The pair's conversation; a new one dates from its first message, not from the migration."""
    since = since or utc_now()
    return conversations.find_one_and_update(
        {PAIR_KEY: key},
        {
            "$setOnInsert": {
                PARTICIPANTS: [sender, receiver], CREATED_AT: since, UPDATED_AT: since
            }
        },
        upsert=True,  # no projection: FerretDB's findAndModify has none
        return_document=ReturnDocument.AFTER,
    )["_id"]


def _merge(conversations, messages, duplicate, keeper, counts):
    """Move a duplicate conversation's messages to `keeper`, then delete it once none is left."""
    ids = list(duplicate.get(MESSAGE_IDS) or [])
    between = _between(duplicate.get(PARTICIPANTS))
    ids += [
        m["_id"]
        for m in messages.find({CONVERSATION_ID: duplicate["_id"], **between}, {"_id": 1})
    ]
    counts["messages linked"] += _link(messages, ids, keeper, between)
    if _unlinked(messages, ids, keeper, between) == 0 and not messages.count_documents(
        {CONVERSATION_ID: duplicate["_id"]}, limit=1
    ):
        conversations.delete_one({"_id": duplicate["_id"]})
        counts["duplicate conversations merged"] += 1


def _between(participants):
    """A message filter: sent by one of two `participants` to the other (None unless two)."""
    people = list(dict.fromkeys(participants or []))
    if len(people) != 2:
        return None
    first, second = people
    return {
        "$or": [
            {SENDER_ID: first, RECEIVER_ID: second},
            {SENDER_ID: second, RECEIVER_ID: first},
        ]
    }


def _link(messages, ids, conversation_id, between=None, relink=False):
    """Point the messages `ids` at `conversation_id`, each with a seq below all of its others.

    Only those that exist, are `between` the pair (a filter from `_between`) and point elsewhere
    (or, with `relink`, have no seq yet) move; returns
    how many did. One message at a time: conversationId and seq change together, since on MongoDB
    two messages of one conversation without a seq collide in the unique (conversationId, seq)
    index. Newest first, so that seqs count down in `_id` order.
    """
    moving = set()
    for start in range(0, len(ids), BATCH):
        query = {"_id": {"$in": ids[start:start + BATCH]}, **(between or {})}
        if relink:
            query[SEQ] = None
        else:
            query[CONVERSATION_ID] = {"$ne": conversation_id}
        moving.update(m["_id"] for m in messages.find(query, {"_id": 1}))
    for message_id in sorted(moving, reverse=True):
        for _ in range(10):  # a concurrent writer took the same low seq: take the next one
            try:
                messages.update_one(
                    {"_id": message_id},
                    {"$set": {CONVERSATION_ID: conversation_id,
                              SEQ: _lowest_seq(messages, conversation_id) - 1}},
                )
                break
            except DuplicateKeyError:
                continue
        else:
            raise RuntimeError(f"could not give message {message_id} a seq")
    return len(moving)


def _lowest_seq(messages, conversation_id):
    """The conversation's smallest seq, or 1 (the first this backend gives) if none is lower."""
    lowest = messages.find_one(
        {CONVERSATION_ID: conversation_id, SEQ: {"$gte": MIN_SEQ}}, {SEQ: 1}, sort=[(SEQ, 1)]
    )
    return min(lowest[SEQ], 1) if lowest is not None else 1


def _order_unsequenced(messages, conversation_id):
    """Make the migrated messages' seqs (0 and below) follow their `_id` order.

    Messages linked by different steps (listed, unlisted, merged) got their seqs batch by batch;
    when that order differs from the order they were written in, they are renumbered into fresh
    seqs below the lowest, so no two ever hold the same seq, and a second run changes nothing.
    """
    docs = list(
        messages.find(
            {CONVERSATION_ID: conversation_id, SEQ: {"$gte": MIN_SEQ, "$lte": 0}},
            {SEQ: 1},
            sort=[(SEQ, 1)],
        )
    )
    ids = [doc["_id"] for doc in docs]
    if ids == sorted(ids):
        return
    lowest = docs[0][SEQ]
    for offset, message_id in enumerate(sorted(ids)):
        messages.update_one({"_id": message_id}, {"$set": {SEQ: lowest - len(ids) + offset}})


def _count(messages, ids, condition):
    """How many of `ids` (those that exist) also match `condition`."""
    return sum(
        messages.count_documents({"_id": {"$in": ids[start:start + BATCH]}, **condition})
        for start in range(0, len(ids), BATCH)
    )


def _unlinked(messages, ids, conversation_id, between):
    """How many of `ids` between the pair (those that exist) do not point at `conversation_id`."""
    return _count(messages, ids, {CONVERSATION_ID: {"$ne": conversation_id}, **between})


def _summarise(conversations, messages, conversation_id):
    """Set `lastMessage` (and `updatedAt`) from the newest message, unless a newer one is there."""
    newest = next(
        messages.find({CONVERSATION_ID: conversation_id}).sort([(SEQ, -1), ("_id", -1)]).limit(1),
        None,
    )
    if newest is None:
        return False
    update = {"$set": {LAST_MESSAGE: Conversation.summary_of(newest)}}
    if newest.get(CREATED_AT) is not None:
        update["$max"] = {UPDATED_AT: newest[CREATED_AT]}
    result = conversations.update_one(
        {"_id": conversation_id, **Conversation.older_than(newest.get(SEQ))}, update
    )
    return result.modified_count > 0
