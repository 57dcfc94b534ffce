"""MongoEngine documents: storage and indexes only.

Collection and field names are the ones the Node backend's Mongoose models write (`users`,
`messages`, `conversations`; `fullName`, `senderId`, ...), so a database it wrote stays readable.
Documents are not strict: Mongoose's `__v` and the old `messages` array of a conversation load
without error.
"""

from mongoengine import (
    DateTimeField,
    DictField,
    Document,
    ListField,
    ObjectIdField,
    StringField,
)

from chatapp.clock import utc_now

GENDERS = ("male", "female")
# Characters of a message kept in its conversation's `lastMessage` summary.
SUMMARY_LENGTH = 200


class User(Document):
    full_name = StringField(db_field="fullName", required=True)
    username = StringField(required=True, unique=True)
    password = StringField(required=True)  # a bcrypt hash, never the password
    profile_photo = StringField(db_field="profilePhoto", default="")
    gender = StringField(required=True, choices=GENDERS)
    created_at = DateTimeField(db_field="createdAt", default=utc_now)
    updated_at = DateTimeField(db_field="updatedAt", default=utc_now)

    meta = {"collection": "users", "strict": False}


class Conversation(Document):
    """One per pair of users.

    `pairKey` (the two ids, sorted) carries a unique index, so the database itself guarantees one
    conversation per pair even when two first messages race. It is sparse so conversations written
    by the Node backend (which have none until `migrate-node-data` runs) do not collide.
    Messages are not listed here: they point at their conversation instead, so no document grows
    without bound.
    """

    participants = ListField(ObjectIdField(), required=True)
    pair_key = StringField(db_field="pairKey")
    # What the conversation list shows without scanning messages; kept by services.messages.
    last_message = DictField(db_field="lastMessage")
    # Per participant (user id string): id of the last message they have read.
    read_markers = DictField(db_field="readMarkers")
    # Per participant (user id string): messages to them not yet read; `$inc` on send, reset on
    # read.
    unread_counts = DictField(db_field="unreadCounts")
    created_at = DateTimeField(db_field="createdAt", default=utc_now)
    updated_at = DateTimeField(db_field="updatedAt", default=utc_now)

    meta = {
        "collection": "conversations",
        "strict": False,
        "indexes": [
            {"fields": ["pair_key"], "unique": True, "sparse": True},
            # The caller's conversations, most recent first; `_id` breaks ties, so a page is one
            # index range with no in-memory sort.
            {"fields": ["participants", "-updated_at", "-id"]},
        ],
    }

    @staticmethod
    def key_for(user_a, user_b):
        """The `pairKey` of two users' conversation: the same for (a, b) and (b, a)."""
        first, second = sorted((str(user_a), str(user_b)))
        return f"{first}:{second}"

    @staticmethod
    def summary_of(message):
        """The `lastMessage` summary of a stored message (a raw document): its text cut at 200."""
        return {
            "_id": message["_id"],
            "senderId": message.get(Message.sender_id.db_field),
            "message": (message.get(Message.message.db_field) or "")[:SUMMARY_LENGTH],
            "createdAt": message.get(Message.created_at.db_field),
        }

    @staticmethod
    def older_than(message_id):
        """A raw filter: conversations whose `lastMessage` is older than `message_id`, or absent."""
        last_id = f"{Conversation.last_message.db_field}._id"
        return {"$or": [{last_id: {"$lt": message_id}}, {last_id: {"$exists": False}}]}


class Message(Document):
    conversation_id = ObjectIdField(db_field="conversationId")
    sender_id = ObjectIdField(db_field="senderId", required=True)
    receiver_id = ObjectIdField(db_field="receiverId", required=True)
    message = StringField(required=True)
    # Set by a client that retries sends; unique per sender so a retry never duplicates.
    client_message_id = StringField(db_field="clientMessageId")
    created_at = DateTimeField(db_field="createdAt", default=utc_now)
    updated_at = DateTimeField(db_field="updatedAt", default=utc_now)

    meta = {
        "collection": "messages",
        "strict": False,
        "indexes": [
            # History pages: a conversation's messages by _id, which grows with creation time.
            {"fields": ["conversation_id", "-id"]},
            {
                "fields": ["sender_id", "client_message_id"],
                "unique": True,
                "partialFilterExpression": {"clientMessageId": {"$type": "string"}},
            },
        ],
    }
