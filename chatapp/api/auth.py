"""`login_required`: HTTP's door to chatapp.auth (the seed's isAuthenticated middleware)."""

from functools import wraps

from flask import current_app, g, request

from chatapp import auth


def login_required(view):
    """Run `view` only for an authenticated caller, whose id is then `g.user_id`."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        token = auth.find_token(
            cookies=request.cookies, authorization=request.headers.get("Authorization")
        )
        g.user_id = auth.authenticate(token, current_app.config["JWT_SECRET_KEY"])
        return view(*args, **kwargs)

    return wrapped
