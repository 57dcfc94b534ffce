"""`login_required`: HTTP's door to chatapp.auth (the seed's isAuthenticated middleware)."""

from functools import wraps

from flask import current_app, g, request

from chatapp import auth
from chatapp.services.sessions import SESSIONS


def login_required(view):
    """Run `view` only for an authenticated caller, whose id is then `g.user_id`."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        token = auth.find_token(
            cookies=request.cookies, authorization=request.headers.get("Authorization")
        )
        g.token_claims = auth.authenticate_claims(
            token, current_app.config["JWT_SECRET_KEY"], sessions=current_app.extensions[SESSIONS]
        )
        g.user_id = g.token_claims.user_id
        g.token = token  # for the calls that name the caller's own session (logout-others)
        return view(*args, **kwargs)

    return wrapped
