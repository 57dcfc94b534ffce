"""Who belongs to a conversation: the one membership check edits, reactions and search use.

A pair conversation's members are its two `participants`; a group's are its current members (its
`participants` mirror its memberships, services.memberships), who read it from their joining on
(`unreadable`).
"""

from chatapp.errors import NotFoundError
from chatapp.models import Conversation, Membership, Message
from chatapp.services.memberships import GROUP, membership_key
from chatapp.validation import object_id

MESSAGE_NOT_FOUND = "Message not found"


def members(conversation):
    """The user ids (ObjectIds) who receive the conversation's events."""
    return list(conversation.get("participants") or [])


def is_member(conversation, user):
    """True when `user` (an ObjectId) belongs to `conversation` (a raw document)."""
    return user in members(conversation)


def conversation_ids_of(user):
    """The ids of every conversation `user` belongs to (for search)."""
    return [
        doc["_id"]
        for doc in Conversation._get_collection().find({"participants": user}, {"_id": 1})
    ]


def unreadable(user, conversation_ids):
    """Raw filters (for `$nor`) of the messages `user` may not read in `conversation_ids`: in each
    group, those from before their joining (services.groups); none in a pair."""
    keys = [membership_key(conversation_id, user) for conversation_id in conversation_ids]
    return [
        {"conversationId": doc["conversationId"], "_id": {"$lt": doc["visibleFrom"]}}
        for doc in Membership._get_collection().find(
            {"_id": {"$in": keys}}, {"conversationId": 1, "visibleFrom": 1}
        )
    ]


def message_for_member(user_id, message_id):
    """`(message, conversation)` raw documents, when `user_id` belongs to the message's
    conversation.

    Anything else (malformed id, no such message, someone else's conversation) is the same 404,
    so nobody learns which message ids exist elsewhere.
    """
    user = object_id(str(user_id), "user id")
    message_id = object_id(message_id, "message id")
    message = Message._get_collection().find_one({"_id": message_id})
    if message is None:
        raise NotFoundError(MESSAGE_NOT_FOUND)
    conversation = None
    if message.get("conversationId") is not None:
        conversation = Conversation._get_collection().find_one(
            {"_id": message["conversationId"]}, {"lastMessage": 0, "readMarkers": 0}
        )
    if conversation is None:
        # A message the Node backend wrote before `migrate-node-data` gave it a conversation:
        # its sender and receiver are its members.
        participants = [message["senderId"], message["receiverId"]]
        conversation = {"_id": None, "pairKey": "legacy", "participants": participants}
    if not is_member(conversation, user):
        raise NotFoundError(MESSAGE_NOT_FOUND)
    if conversation.get("type") == GROUP:
        for hidden in unreadable(user, [conversation["_id"]]):
            if message["_id"] < hidden["_id"]["$lt"]:
                raise NotFoundError(MESSAGE_NOT_FOUND)  # from before they joined the group
    return message, conversation
