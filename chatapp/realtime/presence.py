"""Who is online: every open socket of every user, in this process (or, with
`shared_presence`, in every worker).

A user is online while any of their sockets is connected, so a second tab, or closing one of
two, changes nothing for the others. Changes to the online set are announced by a
`PresenceBroadcaster`, which coalesces bursts into one `getOnlineUsers` per window: when N users
connect at once, everyone gets a handful of lists instead of N (the seed's O(N²)).

`Presence` keeps this process's sockets in memory; without REDIS_URL that is all there is (one
worker). With REDIS_URL, `shared_presence.SharedPresence` (the same interface) also mirrors this
worker's online users into Redis and answers `online_user_ids` for every worker. Either way the
lists are sent by each worker to its own sockets only (see `PresenceBroadcaster`).
"""

import threading


class Presence:
    """Online users and their sockets. Thread-safe; methods return whether the online set changed."""

    def __init__(self):
        self._lock = threading.Lock()
        self._sockets_by_user = {}
        self._user_by_socket = {}

    def add(self, user_id, sid):
        """Record socket `sid` of `user_id`; True when the user just came online."""
        with self._lock:
            sockets = self._sockets_by_user.setdefault(user_id, set())
            came_online = not sockets
            sockets.add(sid)
            self._user_by_socket[sid] = user_id
            return came_online

    def remove(self, sid):
        """Forget socket `sid`; returns (user_id, went_offline), user_id None if unknown."""
        with self._lock:
            user_id = self._user_by_socket.pop(sid, None)
            if user_id is None:
                return None, False
            sockets = self._sockets_by_user.get(user_id, set())
            sockets.discard(sid)
            if sockets:
                return user_id, False
            self._sockets_by_user.pop(user_id, None)
            return user_id, True

    def user_of(self, sid):
        """The user socket `sid` belongs to, or None (not connected, or not yet authenticated)."""
        with self._lock:
            return self._user_by_socket.get(sid)

    def sockets_of(self, user_id):
        """The sockets of `user_id` in this process (empty when none)."""
        with self._lock:
            return list(self._sockets_by_user.get(user_id, ()))

    def local_user_ids(self):
        """The users with a socket in this process (`online_user_ids` may name more)."""
        with self._lock:
            return list(self._sockets_by_user)

    def socket_count(self, user_id):
        """How many sockets of `user_id` are open (signed in) in this process."""
        with self._lock:
            return len(self._sockets_by_user.get(user_id, ()))

    def online_user_ids(self):
        with self._lock:
            return list(self._sockets_by_user)

    def clear(self):
        with self._lock:
            self._sockets_by_user.clear()
            self._user_by_socket.clear()

    def start(self, on_change, start_task, sleep):
        """Begin telling `on_change()` of changes made elsewhere: none in one process."""

    def stop(self):
        """Stop what `start` began (nothing here)."""


class PresenceBroadcaster:
    """Sends the online list to everyone at most once per window, after the set changed.

    The first change in a quiet period schedules a send `window` seconds later; further changes
    before it fires ride along, since the send reads the set as it is then. A window of 0 sends
    at once (tests). `send` reaches this worker's sockets only: with several workers each one
    broadcasts to its own, after a change anywhere, so every socket gets lists in the order its
    worker read them (a list published by another worker could overtake a newer one).
    """

    def __init__(self, presence, send, start_task, sleep):
        self._presence = presence
        self._send = send
        self._start_task = start_task
        self._sleep = sleep
        self._lock = threading.Lock()
        self._scheduled = False
        self.window = 0.0

    def changed(self, skip_sid=None):
        """The online set changed; `skip_sid` (a socket that already has the list) may be skipped."""
        if self.window <= 0:
            self._send(self._presence.online_user_ids(), skip_sid=skip_sid)
            return
        with self._lock:
            if self._scheduled:
                return
            self._scheduled = True
        self._start_task(self._send_after_window)

    def _send_after_window(self):
        self._sleep(self.window)
        with self._lock:
            self._scheduled = False
        self._send(self._presence.online_user_ids())


presence = Presence()
