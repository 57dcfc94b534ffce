"""MongoEngine documents: storage and indexes only.

Collection and field names are the ones the Node backend's Mongoose models write (`users`,
`messages`, `conversations`; `fullName`, `senderId`, ...), so a database it wrote stays readable.
Documents are not strict: Mongoose's `__v` and the old `messages` array of a conversation load
without error.
"""

from mongoengine import (
    BooleanField,
    DateTimeField,
    DictField,
    Document,
    FloatField,
    IntField,
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
    # Set when the user ended their other sessions (chatapp/sessions.py): tokens issued before
    # this time (seconds since the epoch) are refused, except the session named `keptSession`.
    sessions_ended_at = FloatField(db_field="sessionsEndedAt")
    kept_session = StringField(db_field="keptSession")

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
            "seq": message.get(Message.seq.db_field),
            "senderId": message.get(Message.sender_id.db_field),
            "message": (message.get(Message.message.db_field) or "")[:SUMMARY_LENGTH],
            "createdAt": message.get(Message.created_at.db_field),
        }

    @staticmethod
    def older_than(seq):
        """A raw filter: conversations whose `lastMessage` comes before seq `seq`, or has none.

        By seq, the order messages were stored in: by id, a message stored late with a smaller
        id would never become the summary. A summary without a seq (stored before seqs existed)
        is older than any message that has one.
        """
        last_seq = f"{Conversation.last_message.db_field}.seq"
        return {"$or": [{last_seq: {"$lt": seq}}, {last_seq: {"$exists": False}}]}


class Message(Document):
    conversation_id = ObjectIdField(db_field="conversationId")
    sender_id = ObjectIdField(db_field="senderId", required=True)
    receiver_id = ObjectIdField(db_field="receiverId", required=True)
    message = StringField(required=True)
    # The message's place in its conversation, assigned by the insert itself (see
    # services/messages.py): a message is stored only after every smaller seq, so "everything
    # after seq n" never misses one. Messages written by the Node backend have none until
    # `migrate-node-data` gives them seqs of 0 and below, before every message of this backend.
    seq = IntField()
    # Set by a client that retries sends; MessageKey makes it unique per sender.
    client_message_id = StringField(db_field="clientMessageId")
    created_at = DateTimeField(db_field="createdAt", default=utc_now)
    updated_at = DateTimeField(db_field="updatedAt", default=utc_now)
    # Set by services.message_edits: the last edit, and the deletion (text emptied: a tombstone).
    edited_at = DateTimeField(db_field="editedAt")
    deleted_at = DateTimeField(db_field="deletedAt")
    # True once anyone reacted (never unset): history looks up reactions only for these.
    has_reactions = BooleanField(db_field="hasReactions")

    meta = {
        "collection": "messages",
        "strict": False,
        "indexes": [
            # The order of a conversation, and what makes two sends that read the same last seq
            # collide instead of sharing it. Sparse (on MongoDB) so that messages the Node backend
            # wrote, which have neither field until migrated, do not collide on (null, null).
            {"fields": ["conversation_id", "seq"], "unique": True, "sparse": True},
            # Read receipts count a conversation's messages after a marker by _id.
            {"fields": ["conversation_id", "-id"]},
        ],
    }


class MessageKey(Document):
    """One per (sender, clientMessageId): the message that key stored.

    A key in its own collection, `_id` = "<sender id>:<key>", rather than a unique index on the
    messages: MongoDB would need a partial index there (most messages have no key, and missing
    counts as null), which FerretDB cannot create; an `_id` is unique on every server. It is
    written before the message, with the message's id chosen up front, so a retry finds it
    even while the first attempt is still storing the message.
    """

    id = StringField(primary_key=True)
    message_id = ObjectIdField(db_field="messageId", required=True)
    receiver_id = ObjectIdField(db_field="receiverId", required=True)
    # sha256 of the text: a key reused for a different message is refused without keeping the
    # text twice.
    digest = StringField(required=True)
    created_at = DateTimeField(db_field="createdAt", default=utc_now)

    meta = {"collection": "message_keys", "strict": False}


class Reaction(Document):
    """One user's one emoji on one message (services.reactions).

    The `_id` is "<messageId>:<userId>:<emoji>", so the database itself refuses a second copy,
    even from two racing requests, on every server (FerretDB's updates are not atomic; an insert
    with a duplicate `_id` always fails).
    """

    id = StringField(primary_key=True)
    message_id = ObjectIdField(db_field="messageId", required=True)
    conversation_id = ObjectIdField(db_field="conversationId")
    user_id = ObjectIdField(db_field="userId", required=True)
    emoji = StringField(required=True)
    created_at = DateTimeField(db_field="createdAt", default=utc_now)
    # An ObjectId made when reacting: the order of reactions, even within one millisecond.
    seq = ObjectIdField(required=True)

    meta = {
        "collection": "reactions",
        "strict": False,
        "indexes": [{"fields": ["message_id", "seq"]}],
    }


class Block(Document):
    """`blocker_id` blocked `blocked_id` (services.blocks); `_id` is "<blockerId>:<blockedId>"."""

    id = StringField(primary_key=True)
    blocker_id = ObjectIdField(db_field="blockerId", required=True)
    blocked_id = ObjectIdField(db_field="blockedId", required=True)
    created_at = DateTimeField(db_field="createdAt", default=utc_now)
    # An ObjectId made at blocking: orders the list newest first, even within one millisecond.
    seq = ObjectIdField(required=True)

    meta = {
        "collection": "blocks",
        "strict": False,
        "indexes": [
            {"fields": ["blocker_id", "-seq"]},  # the blocker's list, newest first
            {"fields": ["blocked_id"]},  # who blocked this user (presence filtering)
        ],
    }
