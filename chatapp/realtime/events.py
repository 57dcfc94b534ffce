"""The only module that emits Socket.IO events: their names, payloads and recipients.

Every event goes to a user's own room (all of that user's open tabs), never as a broadcast of
private data. Callers emit only after the write the event announces has succeeded.
"""

from chatapp import metrics
from chatapp.extensions import socketio

NAMESPACE = "/"

# The events a client may send; any other name (connect, disconnect, a handler's internals, a
# number) never reaches a handler (`packets.ChatPacket` renames it to IGNORED_EVENT).
CLIENT_EVENTS = frozenset({
    "sendMessage", "typing", "markRead",
    "editMessage", "deleteMessage", "react",  # docs/api.md
})
CLIENT_EVENTS |= {"sendGroupMessage", "markGroupRead"}  # group conversations (docs/groups.md)
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


# --- edits, reactions, blocks, profiles (docs/api.md) -------------------------------------------

def _rooms(user_ids):
    return [user_room(user_id) for user_id in user_ids]


def emit_message_updated(user_ids, message):
    """`messageUpdated` (the message JSON with `editedAt`, plus `conversationId`) to every tab of
    every member of the message's conversation, after an edit."""
    _emit("messageUpdated", message, to=_rooms(user_ids))


def emit_message_deleted(user_ids, message):
    """`messageDeleted` (the tombstone: `message: ""`, `deletedAt`, plus `conversationId`) to every
    tab of every member of the message's conversation."""
    _emit("messageDeleted", message, to=_rooms(user_ids))


def emit_reactions_updated(user_id, update):
    """`reactionsUpdated {messageId, conversationId, reactions}` to every tab of `user_id`.

    One per member: each gets their own view (`reacted` says whether that member reacted)."""
    _emit("reactionsUpdated", update, to=user_room(user_id))


def emit_user_updated(user):
    """`userUpdated` (the user as `GET /api/v1/user/` lists them) to every signed-in socket: the
    user list is public to every signed-in user, so everyone's sidebar may show the change."""
    _emit("userUpdated", user, to=SIGNED_IN_ROOM)


def emit_online_users_to_user(user_id, user_ids, skip_sid=None, local=False):
    """`getOnlineUsers` to every tab of one user: their own list, filtered by blocks.

    `local`: to this worker's sockets only (each worker's broadcast, as `emit_online_users`);
    otherwise through the message queue to their sockets on every worker (a block just made).
    """
    _emit(
        "getOnlineUsers", list(user_ids), to=user_room(user_id), skip_sid=skip_sid,
        ignore_queue=local,
    )


# --- group conversations (services.groups, services.group_messages; docs/groups.md) -----------
# Never `newMessage`: the unmodified React client appends every newMessage to the open chat.


def emit_group_message(member_ids, message, skip_sid=None):
    """`groupMessage` (the group message JSON, with `conversationId`) to every tab of every member
    in `member_ids` but the socket `skip_sid` it was sent from (which has the ack)."""
    if member_ids:
        _emit("groupMessage", message, to=_rooms(member_ids), skip_sid=skip_sid)


def emit_conversation_updated(user_ids, update):
    """`conversationUpdated {conversation, change}` to every tab of `user_ids`: the members after
    a group's change plus anyone it removed (who learn they are out)."""
    if user_ids:
        _emit("conversationUpdated", update, to=_rooms(user_ids))


def emit_group_messages_seen(user_ids, receipt):
    """`messagesSeen {conversationId, readerId, messageId, seenAt}` to the other members of a
    group after one of them read it."""
    if user_ids:
        _emit("messagesSeen", receipt, to=_rooms(user_ids))


def emit_group_typing(user_ids, indicator):
    """`typing {from, conversationId, isTyping, expiresInMs}` to the other members of a group."""
    if user_ids:
        _emit("typing", indicator, to=_rooms(user_ids))
