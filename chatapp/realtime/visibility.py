"""Who must not see whom online: the block relations of this worker's online users, and the
presence lists that honour them.

`getOnlineUsers` stays one broadcast to every signed-in socket, except the sockets of users who
blocked someone or were blocked (the "restricted"): they are skipped by the broadcast and get a
list of their own, without the other side of each of their blocks; the others' lists still name
them (hiding is between the two sides only). A broadcast therefore costs one emit plus one per
online restricted user, and nothing more while nobody has blocked anyone.

Each worker keeps the relations of the users with sockets on it: read when they come online,
replaced when a block is made or lifted through this worker, and read again for all of them at
most every `refresh_seconds` before a broadcast, so a block made through another worker (with
REDIS_URL) or straight in the database reaches this worker's lists within that time. The worker
that makes or lifts a block sends both sides their new list at once, through the message queue,
wherever their sockets are.
"""

import threading
import time

from flask import current_app

from chatapp.realtime import events

EXTENSION = "chatapp.visibility"
REFRESH_SECONDS = 5.0


class Visibility:
    """Local online user id -> the user ids hidden from them (both directions of their blocks).

    `load_hidden(user_ids)` reads the relations from the database: `{user id: set of ids}`.
    """

    def __init__(self, presence, load_hidden, refresh_seconds=REFRESH_SECONDS,
                 clock=time.monotonic):
        self.presence = presence
        self.load_hidden = load_hidden
        self.refresh_seconds = refresh_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._hidden = {}
        self._loaded_at = clock()

    # -- what is known ---------------------------------------------------------------------------

    def hidden_from(self, user_id):
        with self._lock:
            return frozenset(self._hidden.get(user_id, ()))

    def hides(self, a, b):
        """True when a block stands between `a` and `b` (as known for local online `a` or `b`)."""
        with self._lock:
            return b in self._hidden.get(a, ()) or a in self._hidden.get(b, ())

    def _set(self, user_id, hidden):
        with self._lock:
            if hidden:
                self._hidden[user_id] = set(hidden)
            else:
                self._hidden.pop(user_id, None)

    # -- keeping it up to date -------------------------------------------------------------------

    def user_came_online(self, user_id):
        """Called when `user_id`'s first socket on this worker connects, before their first list."""
        self._set(user_id, self.load_hidden([user_id]).get(user_id))

    def user_went_offline(self, user_id):
        self._set(user_id, None)

    def _refresh_if_stale(self):
        if self.clock() - self._loaded_at < self.refresh_seconds:
            return
        self._loaded_at = self.clock()
        local = self.presence.local_user_ids()
        hidden = self.load_hidden(local) if local else {}
        with self._lock:
            self._hidden = {user: set(ids) for user, ids in hidden.items() if ids}

    def relation_changed(self, hidden_by_user):
        """A block was made or lifted between the users of `hidden_by_user` ({user id: whom
        their blocks hide now, read after the write}): each gets their new list at once, on every
        worker (through the message queue)."""
        local = set(self.presence.local_user_ids())
        for user, hidden in hidden_by_user.items():
            if user in local:
                self._set(user, hidden)
        online = self.presence.online_user_ids()
        for user, hidden in hidden_by_user.items():
            events.emit_online_users_to_user(user, [u for u in online if u not in hidden])

    # -- sending the lists -----------------------------------------------------------------------

    def send_online_users(self, user_ids, to=None, skip_sid=None):
        """`getOnlineUsers` with `user_ids` online: to one socket `to`, or to every signed-in
        socket of this worker (but `skip_sid`), each restricted user getting their own list."""
        if to is not None:
            hidden = self.hidden_from(self.presence.user_of(to))
            events.emit_online_users([u for u in user_ids if u not in hidden], to=to)
            return
        self._refresh_if_stale()
        with self._lock:
            restricted = {user: frozenset(hidden) for user, hidden in self._hidden.items()}
        if not restricted:
            events.emit_online_users(user_ids, skip_sid=skip_sid)
            return
        skip = [sid for user in restricted for sid in self.presence.sockets_of(user)]
        if skip_sid is not None:
            skip.append(skip_sid)
        events.emit_online_users(user_ids, skip_sid=skip)
        for user, hidden in restricted.items():
            events.emit_online_users_to_user(
                user, [u for u in user_ids if u not in hidden], skip_sid=skip_sid, local=True
            )


def current():
    """This app's Visibility (set up by realtime.namespace.init_app)."""
    return current_app.extensions[EXTENSION]
