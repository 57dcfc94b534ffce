"""/api/v1/user: register, login, logout, and the list of other users."""

from flask import Blueprint, current_app, g, jsonify, request

from chatapp import security, serializers
from chatapp.api import json_body
from chatapp.api.auth import TOKEN_COOKIE, login_required
from chatapp.extensions import limiter
from chatapp.services import users

blueprint = Blueprint("users", __name__, url_prefix="/api/v1/user")


# An empty limit setting disables that limit through `exempt_when`; the "1 per second" after `or`
# is never applied, it only keeps Flask-Limiter from parsing an empty string.


def _login_limit_key():
    """Failed logins are counted per username, whatever address they come from."""
    body = request.get_json(silent=True) if request.is_json else None
    username = body.get("username") if isinstance(body, dict) else None
    if isinstance(username, str) and username.strip():
        return "login:" + username.strip().lower()
    return "login-addr:" + (request.remote_addr or "unknown")


@blueprint.post("/register")
@limiter.limit(
    lambda: current_app.config["REGISTER_LIMIT"] or "1 per second",
    exempt_when=lambda: not current_app.config["REGISTER_LIMIT"],
)
def register():
    """Create an account."""
    body = json_body()
    users.register_user(
        body.get("fullName"),
        body.get("username"),
        body.get("password"),
        body.get("confirmPassword"),
        body.get("gender"),
        bcrypt_rounds=current_app.config["BCRYPT_ROUNDS"],
    )
    return jsonify({"message": "Account created successfully.", "success": True}), 201


@blueprint.post("/login")
@limiter.limit(
    lambda: current_app.config["LOGIN_FAILURE_LIMIT"] or "1 per second",
    key_func=_login_limit_key,
    deduct_when=lambda response: response.status_code == 400,
    exempt_when=lambda: not current_app.config["LOGIN_FAILURE_LIMIT"],
)
def login():
    """Check credentials; answer the user and set the `token` cookie."""
    body = json_body()
    user = users.log_in(
        body.get("username"),
        body.get("password"),
        bcrypt_rounds=current_app.config["BCRYPT_ROUNDS"],
    )
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
    """Clear the `token` cookie."""
    response = jsonify({"message": "logged out successfully."})
    response.delete_cookie(
        TOKEN_COOKIE,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=current_app.config["COOKIE_SECURE"],
    )
    return response


@blueprint.get("/")
@login_required
def other_users():
    """Everyone the caller can chat with."""
    return jsonify([serializers.public_user(doc) for doc in users.list_other_users(g.user_id)])
