"""Who belongs to a group conversation: the membership checks and writes the group services share.

The truth is the `memberships` collection (models.Membership, one document per member, `_id`
"<conversationId>:<userId>": inserts and deletes by `_id` are exact under concurrency on every
server). The group's `participants` list mirrors it, for the conversation list's index and as the
recipients of the group's events; `sync_participants` keeps the mirror exact without atomic
read-modify-write updates (which FerretDB lacks).
"""

from chatapp.errors import Forbidden, NotFoundError
from chatapp.models import Conversation, Membership, Message
from chatapp.validation import object_id

GROUP = "group"
ADMIN = "admin"
MEMBER = "member"
GROUP_NOT_FOUND = "Group not found"
# A few rounds always suffice unless membership changes keep racing; see `sync_participants`.
SYNC_ROUNDS = 5


def membership_key(conversation_id, user_id):
    return f"{conversation_id}:{user_id}"


def member_of(conversation_id, user_id):
    """`(group, membership)` raw documents when `user_id` is a current member of the group.

    Anything else (malformed id, no such group, a pair conversation, not or no longer a member)
    is the same 404, so nobody learns which groups exist.
    """
    user = object_id(str(user_id), "user id")
    group_id = object_id(conversation_id, "group id")
    membership = Membership._get_collection().find_one({"_id": membership_key(group_id, user)})
    if membership is None:
        raise NotFoundError(GROUP_NOT_FOUND)
    group = Conversation._get_collection().find_one({"_id": group_id})
    if group is None or group.get("type") != GROUP:
        raise NotFoundError(GROUP_NOT_FOUND)
    return group, membership


def admin_of(conversation_id, user_id, action):
    """As `member_of`, for a group admin; Forbidden (403) for a member who is not one."""
    group, membership = member_of(conversation_id, user_id)
    if membership.get("role") != ADMIN:
        raise Forbidden(f"Only a group admin can {action}")
    return group, membership


def memberships(group_id):
    """The group's membership documents, longest-standing first."""
    return list(
        Membership._get_collection().find({"conversationId": group_id}, sort=[("joinedSeq", 1)])
    )


def member_ids(group_id):
    return [doc["userId"] for doc in memberships(group_id)]


def sync_participants(group_id):
    """Make the group's `participants` its current members (longest-standing first); returns them.

    Set, then re-read: when the memberships changed meanwhile (a concurrent change), set again.
    The last writer's re-read comes after every membership write whose own re-read came earlier,
    so the list ends equal to the memberships once the changes stop racing.
    """
    conversations = Conversation._get_collection()
    members = member_ids(group_id)
    for _ in range(SYNC_ROUNDS):
        conversations.update_one({"_id": group_id}, {"$set": {"participants": members}})
        current = member_ids(group_id)
        if current == members:
            break
        members = current
    return members


def forget_member(group_id, user):
    """A former member's read marker and unread count go with them (a return starts afresh)."""
    Conversation._get_collection().update_one(
        {"_id": group_id},
        {"$unset": {f"readMarkers.{user}": "", f"unreadCounts.{user}": ""}},
    )


def record_newest(group_id, message, unread_for=()):
    """The group's `lastMessage` summary on `message` (a raw stored document), when it is the
    newest, and one more unread message for each member in `unread_for`.

    As for a pair (services.messages): one update, conditional on seqs so an older message racing
    a newer one cannot overwrite its summary, and the `$inc` alone when that condition fails.
    """
    count = {"$inc": {f"unreadCounts.{member}": 1 for member in unread_for}}
    summary = {
        Conversation.last_message.db_field: Conversation.summary_of(message),
        Conversation.updated_at.db_field: message[Message.created_at.db_field],
    }
    conversations = Conversation._get_collection()
    newest = {"_id": group_id, **Conversation.older_than(message[Message.seq.db_field])}
    update = {"$set": summary, **(count if unread_for else {})}
    if not conversations.update_one(newest, update).matched_count and unread_for:
        conversations.update_one({"_id": group_id}, count)
