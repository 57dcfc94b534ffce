"""/api/v1/user: register, login, logout, and the list of other users."""

from flask import Blueprint, current_app, g, jsonify, request

from chatapp import login_throttle, ratelimit, security, serializers
from chatapp.api import NEXT_PAGE_HEADER, json_body, parse_limit
from chatapp.api.auth import login_required
from chatapp.auth import TOKEN_COOKIE, find_token
from chatapp.errors import InvalidInput
from chatapp.services import sessions, users

blueprint = Blueprint("users", __name__, url_prefix="/api/v1/user")


def init_app(app):
    """This app's failed-login counters (chatapp/login_throttle.py), from its settings."""
    config = app.config
    app.extensions["chatapp.login_throttle"] = login_throttle.LoginThrottle(
        ratelimit.storage(app),
        free=config["LOGIN_FREE_FAILURES"],
        free_per_address=config["LOGIN_FREE_FAILURES_PER_ADDRESS"],
        max_delay=config["LOGIN_MAX_DELAY_SECONDS"],
    )


@blueprint.post("/register")
def register():
    """Create an account."""
    # Every attempt counts, per client address (429 with Retry-After beyond REGISTER_LIMIT).
    ratelimit.check("REGISTER_LIMIT", request.remote_addr or "unknown", "registrations")
    body = json_body()
    users.register_user(
        body.get("fullName"),
        body.get("username"),
        body.get("password"),
        body.get("confirmPassword"),
        body.get("gender"),
        bcrypt_rounds=current_app.config["BCRYPT_ROUNDS"],
        password_min_length=current_app.config["PASSWORD_MIN_LENGTH"],
    )
    return jsonify({"message": "Account created successfully.", "success": True}), 201


@blueprint.post("/login")
def login():
    """Check credentials; answer the user and set the `token` cookie."""
    body = json_body()
    # Failures count per (username, this address) and per address, never per username alone:
    # a stranger failing on purpose slows only themselves. Past the free tries even the right
    # password waits (429), which is what stops guessing. The username becomes part of a key
    # only once it is known to be a short, plain string.
    throttle = current_app.extensions["chatapp.login_throttle"]
    address = request.remote_addr or "unknown"
    username = users.login_username(body.get("username"))
    throttle.check(username, address)
    try:
        user = users.log_in(
            body.get("username"),
            body.get("password"),
            bcrypt_rounds=current_app.config["BCRYPT_ROUNDS"],
        )
    except InvalidInput:
        throttle.failed(username, address)
        raise
    throttle.succeeded(username, address)
    config = current_app.config
    token = security.create_token(user.id, config["JWT_SECRET_KEY"], config["TOKEN_MAX_AGE_SECONDS"])
    response = jsonify(serializers.logged_in_user(user.to_mongo()))
    response.set_cookie(
        TOKEN_COOKIE,
        token,
        max_age=config["TOKEN_MAX_AGE_SECONDS"],
        path="/",
        httponly=True,
        samesite="Strict",
        secure=config["COOKIE_SECURE"],
    )
    return response


@blueprint.route("/logout", methods=["GET", "POST"])
def logout():
    """End this session (its token is refused from now on, its sockets closed) and clear the
    `token` cookie."""
    token = find_token(cookies=request.cookies, authorization=request.headers.get("Authorization"))
    if token:
        sessions.log_out(token)
    response = jsonify({"message": "logged out successfully."})
    response.delete_cookie(
        TOKEN_COOKIE,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=current_app.config["COOKIE_SECURE"],
    )
    return response


@blueprint.post("/logout-others")
@login_required
def logout_others():
    """End every other session of the caller (other tabs, devices); this one stays."""
    sessions.end_other_sessions(g.user_id, g.token)
    return jsonify({"message": "Other sessions ended.", "success": True})


@blueprint.get("/")
@login_required
def other_users():
    """Everyone the caller can chat with; a page of them with `?limit=`, `?before=` or `?q=`.

    Without those, the whole list (what the React client reads). With any of them, at most
    `limit` users, newest account first, matching the prefix `q`; the next page's cursor is in
    X-Next-Before, as for history.
    """
    args = request.args
    if not any(name in args for name in ("limit", "before", "q")):
        return jsonify([serializers.public_user(doc) for doc in users.list_other_users(g.user_id)])
    config = current_app.config
    limit = parse_limit(
        args.get("limit"), default=config["USER_PAGE_SIZE"], maximum=config["USER_MAX_PAGE_SIZE"]
    )
    page, next_before = users.find_other_users(
        g.user_id, limit=limit, before=args.get("before"), prefix=args.get("q")
    )
    response = jsonify([serializers.public_user(doc) for doc in page])
    if next_before is not None:
        response.headers[NEXT_PAGE_HEADER] = next_before
    return response
