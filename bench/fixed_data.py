"""A fixed data size for bench.scale: every phase and probe starts from the same database.

On FerretDB every find scans its collection (docs/ferretdb.md), so a send costs more as the
messages pile up: without this, each phase would run on a bigger database than the one before,
and a search probe's result would depend on the probes that came before it. So, once the
warm-up has made the conversations, each is given the same history (copies of its warm-up
message, with the next seqs), the conversations are remembered as they are, and before every
phase the messages stored since are deleted and the conversations put back.
"""

import time
from datetime import datetime, timezone

from bson import ObjectId
from pymongo import MongoClient

from chatapp.models import Conversation, Message

MESSAGES = Message._meta["collection"]
CONVERSATIONS = Conversation._meta["collection"]
ID, SEQ, TEXT = "_id", Message.seq.db_field, Message.message.db_field


class FixedData:
    """The database of one configuration, kept at `per_conversation` messages a conversation."""

    def __init__(self, mongo_uri, database_name, per_conversation, vacuum=None):
        self.vacuum = vacuum  # FerretDB's PostgreSQL: clears the deleted rows (see restore)
        self.client = MongoClient(mongo_uri, serverSelectionTimeoutMS=10_000)
        self.db = self.client[database_name]
        self.per_conversation = per_conversation
        self.boundary = None
        self.conversations = []
        self.messages = 0

    def build(self):
        """Give every conversation its history, then remember the database as it is."""
        messages = self.db[MESSAGES]
        history = []
        for first in messages.find({SEQ: 1}):
            for seq in range(2, self.per_conversation + 1):
                history.append({**first, ID: ObjectId(), SEQ: seq, TEXT: f"history {seq}"})
        for start in range(0, len(history), 1000):
            messages.insert_many(history[start:start + 1000], ordered=False)
        self.messages = messages.count_documents({})
        if self.vacuum is not None:
            self.vacuum()
        self.conversations = list(self.db[CONVERSATIONS].find({}))
        # Every id made from here on is >= the boundary (an ObjectId starts with its second).
        time.sleep(1.05)
        self.boundary = ObjectId.from_datetime(datetime.now(timezone.utc))
        return self.messages

    def restore(self):
        """Delete what was stored since `build`, and put the conversations back as they were."""
        messages = self.db[MESSAGES]
        messages.delete_many({ID: {"$gte": self.boundary}})
        left = messages.count_documents({})
        if left != self.messages:  # some of the history was deleted, or a phase's message kept
            raise RuntimeError(f"fixed data: {left} messages, not the {self.messages} built")
        conversations = self.db[CONVERSATIONS]
        for document in self.conversations:
            conversations.replace_one({ID: document[ID]}, document)
        if self.vacuum is not None:
            # PostgreSQL keeps deleted and replaced rows until a VACUUM: FerretDB's scans would
            # read them, and autovacuum would start during the phase, its CPU counted in it.
            self.vacuum()

    def close(self):
        self.client.close()
