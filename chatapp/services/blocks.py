"""Blocking: a user blocks, unblocks and lists others; the checks every door asks of blocks.

Between two users with a block (either way): no messages (`check_can_message`), no new
conversation, no adding to a group (`check_can_add`, for group conversations), no typing
indicators, and neither sees the other online (realtime.visibility). Blocks are stored one
document per (blocker, blocked), `_id` "<blockerId>:<blockedId>", so the question "is there a
block between a and b" is one lookup by `_id`.
"""

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from chatapp import serializers
from chatapp.clock import to_iso, utc_now
from chatapp.errors import Conflict, Forbidden, InvalidInput, NotFoundError
from chatapp.models import Block, User
from chatapp.realtime import visibility
from chatapp.services.users import user_exists
from chatapp.validation import object_id

# Neutral: the blocked user does not learn that they were blocked rather than, say, refused.
CANNOT_MESSAGE = "You cannot send messages to this user."
CANNOT_ADD = "You cannot add this user."
YOU_BLOCKED = "You blocked this user: unblock them to send messages."


def block_key(blocker, blocked):
    return f"{blocker}:{blocked}"


def block_user(blocker_id, blocked_id, *, max_blocks):
    """`blocker_id` blocks `blocked_id`; returns `(blocked user, created)`. Blocking twice is a
    no-op (`created` False)."""
    blocker = object_id(str(blocker_id), "user id")
    blocked = object_id(blocked_id, "user id")
    if blocker == blocked:
        raise InvalidInput("You cannot block yourself")
    if not user_exists(blocked):
        raise NotFoundError("User not found")
    collection = Block._get_collection()
    key = block_key(blocker, blocked)
    existing = collection.find_one({"_id": key}, {"createdAt": 1})
    if existing is not None:
        return _listed(blocked, existing.get("createdAt")), False
    if collection.count_documents({"blockerId": blocker}) >= max_blocks:
        raise Conflict(f"You can block at most {max_blocks} users")
    now = utc_now()
    try:
        collection.insert_one(
            {
                "_id": key,
                "blockerId": blocker,
                "blockedId": blocked,
                "createdAt": now,
                "seq": ObjectId(),
            }
        )
    except DuplicateKeyError:  # a concurrent request blocked them first
        return _listed(blocked, now), False
    # After the write: both sides' presence lists lose the other.
    _announce(blocker, blocked)
    return _listed(blocked, now), True


def unblock_user(blocker_id, blocked_id):
    """`blocker_id` lifts their block of `blocked_id`; True when there was one. A block the other
    way, if any, stays: both sides stay hidden from each other until both are lifted."""
    blocker = object_id(str(blocker_id), "user id")
    blocked = object_id(blocked_id, "user id")
    result = Block._get_collection().delete_one({"_id": block_key(blocker, blocked)})
    if not result.deleted_count:
        return False
    _announce(blocker, blocked)  # a block the other way, if any, still hides them
    return True


def _announce(a, b):
    visibility.current().relation_changed({str(a): hidden_ids(a), str(b): hidden_ids(b)})


def list_blocked(blocker_id):
    """Whom `blocker_id` blocked, newest first: users as `GET /api/v1/user/` lists them, plus
    `blockedAt`."""
    blocker = object_id(str(blocker_id), "user id")
    blocks = list(
        Block._get_collection().find(
            {"blockerId": blocker}, {"blockedId": 1, "createdAt": 1}, sort=[("seq", -1)]
        )
    )
    users = {
        doc["_id"]: doc
        for doc in User._get_collection().find(
            {"_id": {"$in": [b["blockedId"] for b in blocks]}}, {"password": 0}
        )
    }
    return [
        {**serializers.public_user(users[b["blockedId"]]), "blockedAt": to_iso(b.get("createdAt"))}
        for b in blocks
        if b["blockedId"] in users  # a deleted account is no longer listed
    ]


def _listed(blocked, blocked_at):
    doc = User._get_collection().find_one({"_id": blocked}, {"password": 0})
    body = serializers.public_user(doc)
    body["blockedAt"] = to_iso(blocked_at)
    return body


def blocked_between(a, b):
    """The block document between users `a` and `b` (either way, ObjectIds or strings), or None."""
    return Block._get_collection().find_one(
        {"_id": {"$in": [block_key(a, b), block_key(b, a)]}}, {"blockerId": 1}
    )


def check_can_message(sender, receiver):
    """Raise Forbidden (403) when a block stands between `sender` and `receiver`."""
    block = blocked_between(sender, receiver)
    if block is None:
        return
    if str(block["blockerId"]) == str(sender):
        raise Forbidden(YOU_BLOCKED)
    raise Forbidden(CANNOT_MESSAGE)


def check_can_reach(user, conversation):
    """For edits and reactions, which notify the other side: in a pair conversation, raise
    Forbidden as `check_can_message` does when a block stands between the two. (Deleting one's
    own message stays allowed: it only takes something away.) Group conversations decide their
    own rule."""
    if not conversation.get("pairKey"):
        return
    members = conversation.get("participants") or []
    others = [member for member in members if str(member) != str(user)]
    if len(others) == 1:
        check_can_message(user, others[0])


def check_can_add(adder, user):
    """For group conversations: raise Forbidden when a block stands between `adder` and `user`."""
    if blocked_between(adder, user) is not None:
        raise Forbidden(CANNOT_ADD)


def hidden_ids(user_id):
    """Everyone on the other side of `user_id`'s blocks, either way (id strings)."""
    return hidden_ids_for([user_id]).get(str(user_id), set())


def hidden_ids_for(user_ids):
    """`{user id: everyone on the other side of their blocks}` for many users, in one query (the
    presence lists' `load_hidden`)."""
    users = [object_id(str(user_id), "user id") for user_id in user_ids]
    hidden = {}
    for block in Block._get_collection().find(
        {"$or": [{"blockerId": {"$in": users}}, {"blockedId": {"$in": users}}]},
        {"blockerId": 1, "blockedId": 1},
    ):
        blocker, blocked = str(block["blockerId"]), str(block["blockedId"])
        hidden.setdefault(blocker, set()).add(blocked)
        hidden.setdefault(blocked, set()).add(blocker)
    wanted = {str(user) for user in users}
    return {user: ids for user, ids in hidden.items() if user in wanted}
