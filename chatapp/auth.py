"""Who is calling: a token from a cookie, a Bearer header or a socket's `auth`, and its user.

Used alike by HTTP (`api.auth.login_required`), by sockets (`realtime.namespace`) and by the
WebSocket-upgrade login (`realtime.upgrade_login`); knows nothing of Flask's request or of
Socket.IO: callers pass the plain values they have.
"""

from chatapp import security
from chatapp.errors import NotAuthenticated
from chatapp.services.users import user_exists
from chatapp.validation import is_object_id

TOKEN_COOKIE = "token"
# What a caller without a token hears (the seed's text, which the React client shows).
NOT_AUTHENTICATED = "User not authenticated."
INVALID_TOKEN = "Invalid token"


def bearer_token(authorization):
    """The credentials of an `Authorization: Bearer <token>` header value, or None."""
    scheme, _, credentials = (authorization or "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return None


def find_token(*, auth=None, cookies=None, authorization=None):
    """The JWT a caller presented, wherever it put it, or None.

    In order: a socket's `auth: {token}` (socket.io-client), the `token` cookie (browsers), an
    `Authorization: Bearer` header value (other clients).
    """
    if isinstance(auth, dict) and isinstance(auth.get("token"), str) and auth["token"]:
        return auth["token"]
    token = (cookies or {}).get(TOKEN_COOKIE)
    if token:
        return token
    return bearer_token(authorization)


def authenticate(token, secret, *, sessions):
    """The id of the existing user `token` belongs to; raises NotAuthenticated otherwise."""
    return authenticate_claims(token, secret, sessions=sessions).user_id


def authenticate_claims(token, secret, *, sessions):
    """The Claims (chatapp.security) of `token`, a valid token of an existing user whose session
    has not ended; raises NotAuthenticated otherwise.

    `sessions` (chatapp.sessions.Sessions, the app's) answers whether the session ended: its
    user logged out, or ended their other sessions. Every door passes it: HTTP, socket connects,
    upgrades; socket events re-check the Claims their socket signed in with.
    """
    if not token:
        raise NotAuthenticated(NOT_AUTHENTICATED)
    try:
        claims = security.decode_claims(token, secret)
    except security.InvalidToken:
        raise NotAuthenticated(INVALID_TOKEN) from None
    # Asked of the database every time: a deleted account's token stops working at once.
    if not is_object_id(claims.user_id) or not user_exists(claims.user_id):
        raise NotAuthenticated(INVALID_TOKEN)
    sessions.check(claims)
    return claims
