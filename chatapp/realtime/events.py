"""The only module that emits Socket.IO events: their names, payloads and recipients.

Every event goes to a user's own room (all of that user's open tabs), never as a broadcast of
private data. Callers emit only after the write the event announces has succeeded.
"""

from chatapp import metrics
from chatapp.extensions import socketio

NAMESPACE = "/"

# The events a client may send; any other name (connect, disconnect, a handler's internals, a
# number) never reaches a handler (`packets.ChatPacket` renames it to IGNORED_EVENT).
CLIENT_EVENTS = frozenset({"sendMessage", "typing", "markRead"})
IGNORED_EVENT = "\x00ignored"


# The room of every authenticated socket: presence lists go to it, not to sockets still waiting
# to prove who they are (`upgrade_login`).
SIGNED_IN_ROOM = "signed-in"


def _emit(event, data, **kwargs):
    """`socketio.emit`, counted by event name (chatapp_socketio_events_emitted)."""
    metrics.count_event(event)
    socketio.emit(event, data, namespace=NAMESPACE, **kwargs)


def user_room(user_id):
    """The room every socket of one user joins."""
    return f"user:{user_id}"


def emit_new_message(message):
    """`newMessage` to every tab of the receiver, with the send response's `newMessage` JSON."""
    metrics.observe_delivery()
    _emit("newMessage", message, to=user_room(message["receiverId"]))


def emit_message_sent(message, skip_sid=None):
    """`messageSent` (the `newMessage` JSON) to the sender's other tabs, so they show it too.

    `skip_sid` is the socket the message was sent from (it has the ack); None for HTTP sends,
    whose caller is not a socket.
    """
    _emit("messageSent", message, to=user_room(message["senderId"]), skip_sid=skip_sid)


def emit_messages_seen(user_id, receipt):
    """`messagesSeen {conversationId, readerId, messageId, seenAt}` to every tab of `user_id`,
    the other participant of the conversation the reader read."""
    _emit("messagesSeen", receipt, to=user_room(user_id))


def emit_typing(user_id, indicator):
    """`typing {from, isTyping, expiresInMs}` to every tab of `user_id`, the one being typed to."""
    _emit("typing", indicator, to=user_room(user_id))


def emit_online_users(user_ids, to=None, skip_sid=None):
    """`getOnlineUsers`: the ids of everyone online, to one socket (`to`) or to every
    authenticated socket of this worker.

    Never through the message queue: each worker sends the lists to its own sockets (see
    `presence.PresenceBroadcaster`), and a socket named by `to` is always this worker's.
    """
    _emit(
        "getOnlineUsers", list(user_ids), to=to or SIGNED_IN_ROOM, skip_sid=skip_sid,
        ignore_queue=True,
    )
