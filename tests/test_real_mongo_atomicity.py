"""On a real MongoDB, one document's updates are atomic: concurrent sends lose no unread count.

The unread counter is an `$inc` on the conversation document, and MongoDB applies each update
to a document atomically. FerretDB v1 reads, changes and writes a document back without a
transaction, so concurrent `$inc`s on one document can lose one there: skipped on it (see
docs/ferretdb.md). The embedded database is one Python process, not a server: skipped too.
"""

import threading

from chatapp.models import Conversation
from tests.helpers.real_db import mongodb_only

pytestmark = mongodb_only(
    "FerretDB v1 does not apply concurrent updates of one document atomically"
)


def test_concurrent_sends_to_one_receiver_count_every_message_unread(app, api):
    from chatapp.services import messages

    _, alice = api.user()
    _, bob = api.user()
    threads_count, per_thread = 8, 25
    start = threading.Barrier(threads_count)
    errors = []

    def send_many():
        start.wait(10)
        with app.app_context():
            try:
                for i in range(per_thread):
                    messages.send_message(alice["_id"], bob["_id"], f"m{i}", max_length=100)
            except Exception as error:
                errors.append(error)

    threads = [threading.Thread(target=send_many) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors
    conversation = Conversation._get_collection().find_one()
    assert conversation["unreadCounts"][bob["_id"]] == threads_count * per_thread
    assert conversation["lastMessage"]["seq"] == threads_count * per_thread
