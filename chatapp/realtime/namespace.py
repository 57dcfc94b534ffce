"""The Socket.IO namespace: the socket's identity rules, its room, presence and the client's events.

A socket is identified by the same JWT as the HTTP API (chatapp.auth): the `token` cookie sent
with the handshake, `auth: {token}` from socket.io-client, an `Authorization: Bearer` header, or
the cookie of its WebSocket upgrade (`upgrade_login`: how the unmodified React client's socket,
whose polling handshake carries no cookie, proves who it is). The seed's `?userId=` query is never
trusted on its own: when present it must name the token's user.
"""

import logging

from flask import current_app, request
from flask_socketio import ConnectionRefusedError, Namespace

from chatapp import auth, db, metrics, ratelimit, validation
from chatapp.errors import InvalidInput, NotAuthenticated, client_error
from chatapp.realtime import cluster, engineio_server, events, guard, socket_log, websocket
from chatapp.realtime.presence import PresenceBroadcaster
from chatapp.realtime.socket_sessions import socket_sessions
from chatapp.realtime.upgrade_login import UpgradeLogin
from chatapp.realtime.visibility import EXTENSION as VISIBILITY
from chatapp.realtime.visibility import Visibility
from chatapp.services import (
    blocks, conversations, group_messages, message_edits, messages, reactions,
    typing_indicators,
)
from chatapp.services.sessions import SESSIONS
from chatapp.services.users import user_exists
from chatapp.sessions import SESSION_ENDED
from chatapp.validation import is_object_id

log = logging.getLogger(__name__)


def identify(auth_payload):
    """(user id, Claims of its token) a connecting socket may act as, or None when it must wait
    for the cookie of its WebSocket upgrade (no token, but a `userId` query); raises
    ConnectionRefusedError. Claims are None only for the development-only trust of `userId`."""
    config = current_app.config
    claimed = request.args.get("userId") or None
    token = auth.find_token(
        auth=auth_payload,
        cookies=request.cookies,
        authorization=request.headers.get("Authorization"),
    )
    if token is None and claimed and config["SOCKET_TRUST_QUERY_USER_ID"]:
        # Development-only escape hatch for an unmodified React client (warned about at start).
        if is_object_id(claimed) and user_exists(claimed):
            return claimed, None
        raise ConnectionRefusedError("unknown userId")
    if token is None and claimed and is_object_id(claimed):
        return None
    try:
        claims = auth.authenticate_claims(
            token, config["JWT_SECRET_KEY"], sessions=current_app.extensions[SESSIONS]
        )
    except NotAuthenticated as error:
        raise ConnectionRefusedError(f"authentication failed: {error.message}") from None
    if claimed is not None and claimed != claims.user_id:
        raise ConnectionRefusedError("userId does not match the authenticated user")
    return claims.user_id, claims


def socket_error(error):
    """Flask-SocketIO's `on_error_default`: what a handler's exception becomes.

    For an event with an ack, the return value is the ack: `{ok: false, message, retryAfter?}`,
    the message being the one HTTP gives (chatapp.errors.client_error). A connect that fails
    this way is refused (python-socketio accepts a connect unless its handler returns False).
    """
    _, message, _ = client_error(error)
    if request.event["message"] == "connect":
        return False
    ack = {"ok": False, "message": message}
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        ack["retryAfter"] = retry_after  # seconds, as HTTP's Retry-After
    return ack


def payload(args):
    """The one JSON object an event carried; InvalidInput for anything else."""
    if len(args) != 1 or not isinstance(args[0], dict):
        raise InvalidInput("Expected one JSON object as the event payload")
    return validation.storable(args[0])  # the same 400s as HTTP bodies, as negative acks


def current_user_id(*, still_exists=False):
    """The user this socket authenticated as; NotAuthenticated while it waits for its upgrade.

    With `still_exists`, also checks the account was not deleted since (as every HTTP call does);
    used before writes, so a deleted user's open tab cannot go on sending.
    """
    user_id = current_app.extensions[cluster.PRESENCE].user_of(request.sid)
    if user_id is None or (still_exists and not user_exists(user_id)):
        raise NotAuthenticated(auth.NOT_AUTHENTICATED)
    claims = socket_sessions.claims(request.sid)
    if claims is not None and not current_app.extensions[SESSIONS].is_live(claims):
        # Logged out or expired: refused now; the sweep disconnects the socket.
        raise NotAuthenticated(SESSION_ENDED)
    return user_id


class ChatNamespace(Namespace):
    """Default namespace `/`: presence on connect and disconnect, and the client's events.

    Handlers parse the payload and call one service; events go out via `events` only.
    """

    def __init__(self, namespace, presence, broadcaster, app, visibility):
        super().__init__(namespace)
        self.presence = presence
        self.visibility = visibility
        self.broadcaster = broadcaster
        self.app = app
        self.upgrades = UpgradeLogin(self, app)
        self.gate = guard.AddressGate(app.config["SOCKET_PENDING_PER_ADDRESS"])
        self._sweeping = False

    def trigger_event(self, event, *args):
        """Only the lifecycle events the server raises and the documented client events reach a
        handler (`packets.ChatPacket` already renamed any other event a client sent)."""
        if event in ("connect", "disconnect") or event in events.CLIENT_EVENTS:
            return super().trigger_event(event, *args)
        return self.socketio.server.not_handled  # no handler, and no ack

    @socket_log.connect
    def on_connect(self, auth=None):
        sid = request.sid
        identity = identify(auth)
        if identity is None:
            claimed = request.args["userId"]
            claims = self.upgrades.wait(sid, claimed)
            if claims is None:  # pending: nothing to see until the upgrade's cookie proves it
                return
            if claims.user_id != claimed:
                raise ConnectionRefusedError("userId does not match the authenticated user")
            identity = claims.user_id, claims
        self.admit(*identity, sid)

    def admit(self, user_id, claims, sid):
        """Socket `sid` is `user_id`'s (signed in with a token of these Claims): it joins their
        room and is online.

        Raises ConnectionRefusedError when the user already has SOCKETS_PER_USER_MAX sockets
        open or opened SOCKET_CONNECT_LIMIT of them lately: counted here, on sockets that proved
        who they are, never on a pending socket's claim (which would let anyone lock a victim
        out), so one account cannot make everyone's online list churn.
        """
        most = self.app.config["SOCKETS_PER_USER_MAX"]  # 0: no cap
        # Counted in this worker: with several, each holds its own sockets.
        if most and self.presence.socket_count(user_id) >= most:
            raise ConnectionRefusedError("too many open sockets for this user")
        if not ratelimit.allowed("SOCKET_CONNECT_LIMIT", user_id):
            raise ConnectionRefusedError("too many connections for this user; try again later")
        eio_sid = self.socketio.server.manager.eio_sid_from_sid(sid, self.namespace)
        if eio_sid is not None:
            self.gate.signed_in(eio_sid)
        socket_sessions.add(sid, claims)
        self._start_sweep()
        self.socketio.server.enter_room(sid, events.user_room(user_id), namespace=self.namespace)
        self.socketio.server.enter_room(sid, events.SIGNED_IN_ROOM, namespace=self.namespace)
        # Started with the first socket: only a worker with sockets has anyone to tell.
        self.presence.start(self.broadcaster.changed, self.socketio.start_background_task,
                            self.socketio.sleep)
        came_online = self.presence.add(user_id, sid)
        if came_online:  # before their first list: whom their blocks hide
            self.visibility.user_came_online(user_id)
        # The new socket always gets the current list at once, whatever else is coalesced.
        self.visibility.send_online_users(self.presence.online_user_ids(), to=sid)
        if came_online:
            self.broadcaster.changed(skip_sid=sid)

    @socket_log.disconnect
    def on_disconnect(self, reason=None):
        self.upgrades.forget(request.sid)
        socket_sessions.remove(request.sid)
        user_id, went_offline = self.presence.remove(request.sid)
        if went_offline:
            self.visibility.user_went_offline(user_id)
            self.broadcaster.changed()

    def disconnect_ended(self, user_id, session_id=None, keep=None):
        """Sessions of `user_id` ended (chatapp/sessions.py): close their sockets here."""
        for sid in socket_sessions.sids_ended(user_id, session_id, keep):
            self.socketio.server.disconnect(sid, namespace=self.namespace)

    def _start_sweep(self):
        if not self._sweeping:
            self._sweeping = True
            self.socketio.start_background_task(self._sweep)

    def _sweep(self):
        """While signed-in sockets are open: every SESSION_SWEEP_SECONDS, disconnect those whose
        token expired or whose session ended (in another process too, through a shared store)."""
        sessions = self.app.extensions[SESSIONS]
        try:
            while len(socket_sessions):
                self.socketio.sleep(self.app.config["SESSION_SWEEP_SECONDS"])
                with self.app.app_context():
                    for sid in socket_sessions.sids_not_live(sessions.is_live):
                        log.info("Disconnecting socket %s: its session expired or ended", sid)
                        self.socketio.server.disconnect(sid, namespace=self.namespace)
        except Exception:
            log.exception("Session sweep failed; it restarts with the next socket")
        finally:
            self._sweeping = False

    # Handlers with an ack return its body; an exception's ack comes from `socket_error`.
    def on_sendMessage(self, *args):
        """`sendMessage {receiverId, message, clientMessageId?}`: as the HTTP send, acknowledged."""
        metrics.mark_start()  # send-to-delivery latency starts with the event
        return _send(args, messages.send_message, "receiverId")

    def on_typing(self, *args):
        """`typing {to, isTyping}`: relayed to `to`'s tabs; `typing {conversationId, isTyping}`:
        to the group's other members. No ack; excess and bad ones dropped."""
        if len(args) != 1 or not isinstance(args[0], dict):
            return
        user_id = current_user_id()
        # Checked before the user lookup, so a flood costs no database reads.
        if not ratelimit.allowed("TYPING_RATE_LIMIT", user_id):
            return
        if "conversationId" in args[0]:
            group_messages.relay_group_typing(
                user_id,
                args[0]["conversationId"],
                args[0].get("isTyping"),
                expires_in_ms=current_app.config["TYPING_EXPIRES_MS"],
            )
            return
        typing_indicators.relay_typing(
            user_id,
            args[0].get("to"),
            args[0].get("isTyping"),
            expires_in_ms=current_app.config["TYPING_EXPIRES_MS"],
        )

    def on_markRead(self, *args):
        """`markRead {otherUserId, messageId?}`: as `POST /api/v1/message/<otherUserId>/read`."""
        return _mark_read(args, conversations.mark_read, "otherUserId")

    # --- group conversations (docs/groups.md) ------------------------------------------------
    def on_sendGroupMessage(self, *args):
        """`sendGroupMessage {conversationId, message, clientMessageId?}`: as
        `POST /api/v1/groups/<id>/messages`, acknowledged `{ok, newMessage}`."""
        return _send(args, group_messages.send_group_message, "conversationId")

    def on_markGroupRead(self, *args):
        """`markGroupRead {conversationId, messageId?}`: as `POST /api/v1/groups/<id>/read`."""
        return _mark_read(args, group_messages.mark_group_read, "conversationId")


    # --- edits and reactions (docs/api.md): as their HTTP calls, acknowledged -------------------

    def on_editMessage(self, *args):
        """`editMessage {messageId, message}`: as `PATCH /api/v1/message/<messageId>`."""
        db.ensure_ready()
        user_id = current_user_id(still_exists=True)
        ratelimit.check("EDIT_RATE_LIMIT", user_id, "edits")
        data = payload(args)
        config = current_app.config
        edited = message_edits.edit_message(
            user_id, data.get("messageId"), data.get("message"),
            max_length=config["MAX_MESSAGE_LENGTH"],
            edit_window_seconds=config["EDIT_WINDOW_SECONDS"],
        )
        return {"ok": True, "message": edited}

    def on_deleteMessage(self, *args):
        """`deleteMessage {messageId}`: as `DELETE /api/v1/message/<messageId>`."""
        db.ensure_ready()
        user_id = current_user_id(still_exists=True)
        ratelimit.check("EDIT_RATE_LIMIT", user_id, "edits")
        data = payload(args)
        return {"ok": True, "message": message_edits.delete_message(user_id, data.get("messageId"))}

    def on_react(self, *args):
        """`react {messageId, emoji, remove?}`: as `POST`/`DELETE .../<messageId>/reactions`."""
        db.ensure_ready()
        user_id = current_user_id(still_exists=True)
        ratelimit.check("REACTION_RATE_LIMIT", user_id, "reactions")
        data = payload(args)
        if data.get("remove") is True:
            view = reactions.remove_reaction(user_id, data.get("messageId"), data.get("emoji"))
        else:
            view = reactions.add_reaction(
                user_id, data.get("messageId"), data.get("emoji"),
                max_distinct=current_app.config["REACTION_MAX_DISTINCT"],
            )
        return {"ok": True, "messageId": data.get("messageId"), "reactions": view}


def _send(args, send_function, to_field):
    """A send by socket (sendMessage, sendGroupMessage) as by HTTP, acknowledged `{ok, newMessage}`.

    `send_function(sender_id, data[to_field], text, ...)` is the pair's or the group's send.
    """
    db.ensure_ready()  # as every HTTP call: nothing is written before the unique indexes exist
    user_id = current_user_id(still_exists=True)
    ratelimit.check("SEND_RATE_LIMIT", user_id, "messages")  # the same budget as HTTP sends
    data = payload(args)
    new_message, _ = send_function(
        user_id,
        data.get(to_field),
        data.get("message"),
        max_length=current_app.config["MAX_MESSAGE_LENGTH"],
        client_message_id=data.get("clientMessageId"),
        # This tab has the ack; the sender's other tabs get messageSent (or groupMessage).
        origin_sid=request.sid,
    )
    return {"ok": True, "newMessage": new_message}


def _mark_read(args, mark_function, other_field):
    """A read marker by socket (markRead, markGroupRead) as by HTTP: `{ok, ...receipt}`."""
    db.ensure_ready()
    data = payload(args)
    receipt = mark_function(
        current_user_id(still_exists=True), data.get(other_field), data.get("messageId")
    )
    return {"ok": True, **receipt}


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
    presence = cluster.presence_for(app)
    visibility = app.extensions[VISIBILITY] = Visibility(presence, blocks.hidden_ids_for)
    socket_sessions.clear()
    broadcaster = PresenceBroadcaster(
        presence,
        send=visibility.send_online_users,  # one broadcast, filtered lists for users with blocks
        start_task=socketio.start_background_task,
        sleep=socketio.sleep,
    )
    broadcaster.window = app.config["PRESENCE_BROADCAST_WINDOW_MS"] / 1000.0
    # After socketio.init_app: registered earlier, it would bind to a previous app's server.
    namespace = ChatNamespace(events.NAMESPACE, presence, broadcaster, app, visibility)
    socketio.on_namespace(namespace)
    socketio.on_error_default(socket_error)
    namespace.upgrades.origin_allowed = socketio.server.eio.cors_allowed_origins
    guard.install(socketio.server, namespace.gate, events.NAMESPACE,
                  on_closed=namespace.upgrades.session_closed)
    app.extensions[SESSIONS].on_ended(namespace.disconnect_ended)
    # Upgrades are seen once Engine.IO accepted them, never before (`upgrade_login`).
    websocket.install(socketio.server.eio, on_upgraded=namespace.upgrades.accepted)
    engineio_server.install(socketio.server.eio)  # a server-side close never waits on a client
    if app.config["SOCKET_TRUST_QUERY_USER_ID"]:
        log.warning(
            "SOCKET_TRUST_QUERY_USER_ID is on: sockets without a token may connect as any "
            "?userId=. Development only: anyone can read anyone's messages."
        )
