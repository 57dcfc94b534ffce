"""Who is calling: replaces the seed's isAuthenticated middleware."""

from functools import wraps

from flask import current_app, g, request

from chatapp import security
from chatapp.errors import NotAuthenticated
from chatapp.services.sessions import SESSIONS
from chatapp.services.users import user_exists
from chatapp.validation import is_object_id

TOKEN_COOKIE = "token"


def token_from_request():
    """The JWT from the `token` cookie, or from `Authorization: Bearer` for non-browser clients."""
    token = request.cookies.get(TOKEN_COOKIE)
    if token:
        return token
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return None


def authenticate(token, secret):
    """The id of the existing user this token belongs to; raises NotAuthenticated otherwise."""
    return authenticate_claims(token, secret).user_id


def authenticate_claims(token, secret):
    """The Claims of a valid token of an existing user whose session has not ended (logout,
    ended by the user elsewhere: chatapp/sessions.py); raises NotAuthenticated otherwise."""
    if not token:
        raise NotAuthenticated("User not authenticated.")
    try:
        claims = security.decode_claims(token, secret)
    except security.InvalidToken:
        raise NotAuthenticated("Invalid token") from None
    if not is_object_id(claims.user_id) or not user_exists(claims.user_id):
        raise NotAuthenticated("Invalid token")
    current_app.extensions[SESSIONS].check(claims)
    return claims


def login_required(view):
    """Run `view` only for an authenticated caller, whose id is then `g.user_id`."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        token = token_from_request()
        g.token_claims = authenticate_claims(token, current_app.config["JWT_SECRET_KEY"])
        g.user_id = g.token_claims.user_id
        g.token = token
        return view(*args, **kwargs)

    return wrapped
