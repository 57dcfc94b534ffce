"""The Socket.IO namespace: authenticate on connect, join the user's room, keep presence.

A socket is identified by the same JWT as the HTTP API: the `token` cookie sent with the
handshake, `auth: {token}` from socket.io-client, an `Authorization: Bearer` header, or the
cookie of its WebSocket upgrade (`upgrade_auth`: how the unmodified React client's socket, whose
polling handshake carries no cookie, proves who it is). The seed's `?userId=` query is never
trusted on its own: when present it must name the token's user.
"""

import logging
from functools import wraps

from flask import current_app, request
from flask_socketio import ConnectionRefusedError, Namespace
from werkzeug.http import parse_cookie

from chatapp import metrics, ratelimit
from chatapp.api.auth import TOKEN_COOKIE, authenticate
from chatapp.errors import ApiError, InvalidInput, NotAuthenticated
from chatapp.realtime import events, socket_log
from chatapp.realtime.presence import PresenceBroadcaster, presence
from chatapp.realtime.upgrade_auth import PENDING_SECONDS, UpgradeAuthenticator, UpgradeMiddleware
from chatapp.services import conversations, messages, typing_indicators
from chatapp.services.users import user_exists
from chatapp.validation import is_object_id

log = logging.getLogger(__name__)


def socket_token(auth):
    """The JWT a connecting socket presented, wherever it put it."""
    if isinstance(auth, dict) and isinstance(auth.get("token"), str) and auth["token"]:
        return auth["token"]
    token = request.cookies.get(TOKEN_COOKIE)
    if token:
        return token
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return None


def identify(auth):
    """The user id a connecting socket may act as, or None when it must wait for the cookie of
    its WebSocket upgrade (no token, but a `userId` query); raises ConnectionRefusedError."""
    config = current_app.config
    claimed = request.args.get("userId") or None
    token = socket_token(auth)
    if token is None and claimed and config["SOCKET_TRUST_QUERY_USER_ID"]:
        # Development-only escape hatch for an unmodified React client (warned about at start).
        if is_object_id(claimed) and user_exists(claimed):
            return claimed
        raise ConnectionRefusedError("unknown userId")
    if token is None and claimed and is_object_id(claimed):
        return None
    try:
        user_id = authenticate(token, config["JWT_SECRET_KEY"])
    except ApiError as error:
        raise ConnectionRefusedError(f"authentication failed: {error.message}") from None
    if claimed is not None and claimed != user_id:
        raise ConnectionRefusedError("userId does not match the authenticated user")
    return user_id


def acknowledged(handler):
    """Turn a handler's result into its ack: `{ok: true, ...result}` or `{ok: false, message}`.

    Never raises out of the handler: the client always hears back, and a bad payload cannot
    reach Flask-SocketIO's default error handling.
    """

    @wraps(handler)
    def wrapped(self, *args):
        metrics.mark_start()
        try:
            return {"ok": True, **handler(self, *args)}
        except ApiError as error:
            ack = {"ok": False, "message": error.message}
            if getattr(error, "retry_after", None) is not None:
                ack["retryAfter"] = error.retry_after  # seconds, as HTTP's Retry-After
            return ack
        except Exception:
            log.exception("Unhandled error in socket event %s", handler.__name__)
            return {"ok": False, "message": "Internal server error."}

    return wrapped


def payload(args):
    """The one JSON object an event carried; InvalidInput for anything else."""
    if len(args) != 1 or not isinstance(args[0], dict):
        raise InvalidInput("Expected one JSON object as the event payload")
    return args[0]


def current_user_id(*, still_exists=False):
    """The user this socket authenticated as; NotAuthenticated while it waits for its upgrade.

    With `still_exists`, also checks the account was not deleted since (as every HTTP call does);
    used before writes, so a deleted user's open tab cannot go on sending.
    """
    user_id = presence.user_of(request.sid)
    if user_id is None or (still_exists and not user_exists(user_id)):
        raise NotAuthenticated("User not authenticated.")
    return user_id


def cookie_token(environ):
    """The `token` cookie of a raw WSGI request."""
    return parse_cookie(environ).get(TOKEN_COOKIE)


class ChatNamespace(Namespace):
    """Default namespace `/`: presence on connect and disconnect, and the client's events.

    Handlers parse the payload and call one service; events go out via `events` only.
    """

    def __init__(self, namespace, broadcaster, app):
        super().__init__(namespace)
        self.broadcaster = broadcaster
        self.app = app
        self.upgrades = UpgradeAuthenticator()

    @socket_log.connect
    def on_connect(self, auth=None):
        sid = request.sid
        user_id = identify(auth)
        if user_id is None:
            claimed = request.args["userId"]
            eio_sid = self._eio_sid(sid)
            user_id = self.upgrades.wait_for_upgrade(eio_sid, sid, claimed)
            if user_id is None:  # pending: nothing to see until the upgrade's cookie proves it
                self.socketio.start_background_task(self._expire, eio_sid, sid)
                return
            if user_id != claimed:
                raise ConnectionRefusedError("userId does not match the authenticated user")
        self.admit(user_id, sid)

    def admit(self, user_id, sid):
        """Socket `sid` is `user_id`'s: it joins their room and is online."""
        self.socketio.server.enter_room(sid, events.user_room(user_id), namespace=self.namespace)
        self.socketio.server.enter_room(sid, events.SIGNED_IN_ROOM, namespace=self.namespace)
        came_online = presence.add(user_id, sid)
        # The new socket always gets the current list at once, whatever else is coalesced.
        events.emit_online_users(presence.online_user_ids(), to=sid)
        if came_online:
            self.broadcaster.changed(skip_sid=sid)

    def on_upgrade(self, eio_sid, token):
        """A WebSocket upgrade of session `eio_sid` carried `token` (see `upgrade_auth`)."""
        with self.app.app_context():
            user_id = authenticate(token, self.app.config["JWT_SECRET_KEY"])  # or ApiError
        waiting = self.upgrades.upgraded(
            eio_sid, user_id,
            connected=lambda: self.socketio.server.manager.sid_from_eio_sid(eio_sid, self.namespace),
        )
        if waiting is None:
            return
        sid, claimed = waiting
        if claimed != user_id:
            socket_log.refused_later(sid, "upgraded with another user's token")
            self.socketio.server.disconnect(sid, namespace=self.namespace)
            return
        self.admit(user_id, sid)

    def _expire(self, eio_sid, sid):
        self.socketio.sleep(PENDING_SECONDS)
        if self.upgrades.give_up(eio_sid, sid):
            socket_log.refused_later(sid, f"no WebSocket upgrade within {PENDING_SECONDS:g} s")
            self.socketio.server.disconnect(sid, namespace=self.namespace)

    def _eio_sid(self, sid):
        return self.socketio.server.manager.eio_sid_from_sid(sid, self.namespace)

    @socket_log.disconnect
    def on_disconnect(self, reason=None):
        eio_sid = self._eio_sid(request.sid)
        if eio_sid is not None:
            self.upgrades.forget(eio_sid)
        _, went_offline = presence.remove(request.sid)
        if went_offline:
            self.broadcaster.changed()

    @acknowledged
    def on_sendMessage(self, *args):
        """`sendMessage {receiverId, message, clientMessageId?}`: as the HTTP send, acknowledged."""
        user_id = current_user_id(still_exists=True)
        ratelimit.check("SEND_RATE_LIMIT", user_id, "messages")  # the same budget as HTTP sends
        data = payload(args)
        new_message, _ = messages.send_message(
            user_id,
            data.get("receiverId"),
            data.get("message"),
            max_length=current_app.config["MAX_MESSAGE_LENGTH"],
            client_message_id=data.get("clientMessageId"),
            origin_sid=request.sid,  # this tab has the ack; the sender's other tabs get messageSent
        )
        return {"newMessage": new_message}

    def on_typing(self, *args):
        """`typing {to, isTyping}`: relayed to `to`'s tabs. No ack; excess and bad ones dropped."""
        try:
            if len(args) != 1 or not isinstance(args[0], dict):
                return
            user_id = current_user_id()
            # Checked before the user lookup, so a flood costs no database reads.
            if not ratelimit.allowed("TYPING_RATE_LIMIT", user_id):
                return
            typing_indicators.relay_typing(
                user_id,
                args[0].get("to"),
                args[0].get("isTyping"),
                expires_in_ms=current_app.config["TYPING_EXPIRES_MS"],
            )
        except Exception:
            log.exception("Unhandled error in socket event typing")

    @acknowledged
    def on_markRead(self, *args):
        """`markRead {otherUserId, messageId?}`: as `POST /api/v1/message/<otherUserId>/read`."""
        data = payload(args)
        return conversations.mark_read(
            current_user_id(still_exists=True), data.get("otherUserId"), data.get("messageId")
        )


def origin_checker(allowed_origins):
    """Engine.IO's origin check: the configured origins, or the page's own origin.

    A browser always sends Origin on a cross-site WebSocket; a page of another site can therefore
    never ride on a user's cookie (cross-site WebSocket hijacking). Pages the server itself serves
    are same-origin and welcome.
    """
    allowed = frozenset(allowed_origins)

    def is_allowed(origin, environ):
        if origin in allowed:
            return True
        host = environ.get("HTTP_HOST")
        return bool(host) and origin == f"{environ.get('wsgi.url_scheme', 'http')}://{host}"

    return is_allowed


def init_app(app, socketio):
    """Register the namespace and wire presence broadcasts to this app's Socket.IO server."""
    presence.clear()
    broadcaster = PresenceBroadcaster(
        presence,
        send=events.emit_online_users,
        start_task=socketio.start_background_task,
        sleep=socketio.sleep,
    )
    broadcaster.window = app.config["PRESENCE_BROADCAST_WINDOW_MS"] / 1000.0
    # After socketio.init_app: registered earlier, it would bind to a previous app's server.
    namespace = ChatNamespace(events.NAMESPACE, broadcaster, app)
    socketio.on_namespace(namespace)
    # Outside Flask-SocketIO's middleware, so it sees each upgrade before Engine.IO handles it.
    app.wsgi_app = UpgradeMiddleware(app.wsgi_app, cookie_token, namespace.on_upgrade)
    if app.config["SOCKET_TRUST_QUERY_USER_ID"]:
        log.warning(
            "SOCKET_TRUST_QUERY_USER_ID is on: sockets without a token may connect as any "
            "?userId=. Development only: anyone can read anyone's messages."
        )
