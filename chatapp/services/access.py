"""Who belongs to a conversation: the one membership check edits, reactions and search use.

A pair conversation's members are its two `participants`. Group conversations plug in here:
`members` and `is_member` are the only places that decide, so a group's rules (members who
joined later, members who left) change these two functions and nothing else.
"""

from chatapp.errors import NotFoundError
from chatapp.models import Conversation, Message
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
    return message, conversation
