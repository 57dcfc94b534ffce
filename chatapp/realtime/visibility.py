"""Who must not see whom online: the block relations of online users, and the presence lists
that honour them.

`getOnlineUsers` stays one broadcast to every signed-in socket, except the sockets of users who
blocked someone or were blocked (the "restricted"): they are skipped by the broadcast and get a
list of their own, without the other side of each of their blocks; the others' lists still name
them (hiding is between the two sides only). A broadcast therefore costs one emit plus one per
online restricted user.

The relations of a user are read from the database when they come online, changed by
`relation_changed` when a block is made or lifted in this process, and forgotten when they go
offline. Like `presence`, this is per process (one worker per server); a block made in another
process reaches this one's lists when the users reconnect.
"""

import threading

from chatapp.realtime import events
from chatapp.realtime.presence import presence


class Visibility:
    """Online user id -> the user ids hidden from them (both directions of their blocks)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._hidden = {}

    def load(self, user_id, hidden_ids):
        with self._lock:
            if hidden_ids:
                self._hidden[user_id] = set(hidden_ids)
            else:
                self._hidden.pop(user_id, None)

    def forget(self, user_id):
        with self._lock:
            self._hidden.pop(user_id, None)

    def hidden_from(self, user_id):
        with self._lock:
            return frozenset(self._hidden.get(user_id, ()))

    def hides(self, a, b):
        """True when a block stands between `a` and `b` (as known for online `a` or `b`)."""
        with self._lock:
            return b in self._hidden.get(a, ()) or a in self._hidden.get(b, ())

    def restricted(self):
        """`{user id: hidden ids}` of every tracked user with at least one block."""
        with self._lock:
            return {user: frozenset(hidden) for user, hidden in self._hidden.items()}

    def set_hidden(self, user_id, other_id, hidden):
        """Hide `other_id` from `user_id` (or show them again)."""
        with self._lock:
            current = self._hidden.get(user_id)
            if hidden:
                self._hidden.setdefault(user_id, set()).add(other_id)
            elif current is not None:
                current.discard(other_id)
                if not current:
                    del self._hidden[user_id]

    def clear(self):
        with self._lock:
            self._hidden.clear()


visibility = Visibility()


def send_online_users(user_ids, to=None, skip_sid=None):
    """`getOnlineUsers` with `user_ids` online: to one socket `to`, or to every signed-in socket
    (but `skip_sid`), each restricted user getting their own filtered list."""
    if to is not None:
        hidden = visibility.hidden_from(presence.user_of(to))
        events.emit_online_users([u for u in user_ids if u not in hidden], to=to)
        return
    restricted = visibility.restricted()
    if not restricted:
        events.emit_online_users(user_ids, skip_sid=skip_sid)
        return
    skip = [sid for user in restricted for sid in presence.sockets_of(user)]
    if skip_sid is not None:
        skip.append(skip_sid)
    events.emit_online_users(user_ids, skip_sid=skip)
    for user, hidden in restricted.items():
        events.emit_online_users_to_user(
            user, [u for u in user_ids if u not in hidden], skip_sid=skip_sid
        )


def user_came_online(user_id, hidden_ids):
    """Called once per user going online, before their first list: their relations."""
    visibility.load(user_id, hidden_ids)


def user_went_offline(user_id):
    visibility.forget(user_id)


def relation_changed(a, b, *, hidden):
    """A block between `a` and `b` was made (`hidden`) or lifted: each of them who is online
    (offline users are not tracked) gets their new list at once."""
    for user, other in ((a, b), (b, a)):
        if presence.is_online(user):
            visibility.set_hidden(user, other, hidden)
    online = presence.online_user_ids()
    for user in (a, b):
        if presence.is_online(user):
            exclude = visibility.hidden_from(user)
            events.emit_online_users_to_user(user, [u for u in online if u not in exclude])
