"""/api/v1/user/me and /api/v1/user/blocks: the caller's profile, password and blocked users."""

from flask import Blueprint, current_app, g, jsonify, request

from chatapp import auth, ratelimit, serializers
from chatapp.api import json_body
from chatapp.api.auth import login_required
from chatapp.errors import InvalidInput, NotFoundError
from chatapp.models import User
from chatapp.services import blocks, profiles, sessions
from chatapp.validation import object_id

blueprint = Blueprint("profiles", __name__, url_prefix="/api/v1/user")


@blueprint.get("/me")
@login_required
def me():
    """The caller, as `GET /api/v1/user/` lists users."""
    doc = User._get_collection().find_one({"_id": object_id(g.user_id)}, {"password": 0})
    if doc is None:
        raise NotFoundError("User not found")
    return jsonify(serializers.public_user(doc))


@blueprint.patch("/me")
@login_required
def update_profile():
    """Change `fullName` and/or `profilePhoto`; answers the user as the login response does."""
    ratelimit.check("PROFILE_RATE_LIMIT", g.user_id, "profile changes")
    return jsonify(profiles.update_profile(g.user_id, json_body()))


@blueprint.post("/me/password")
@login_required
def change_password():
    """`{oldPassword, newPassword, confirmPassword}`; ends the caller's other sessions."""
    ratelimit.check("PROFILE_RATE_LIMIT", g.user_id, "profile changes")
    body = json_body()
    # Wrong current passwords are counted per user: a stolen session cannot guess it. Past the
    # limit even the right one waits (429).
    limit_key = f"password:{g.user_id}"
    ratelimit.check_not_exhausted("PASSWORD_FAILURE_LIMIT", limit_key, "failed attempts")
    try:
        profiles.change_password(
            g.user_id,
            body.get("oldPassword"),
            body.get("newPassword"),
            body.get("confirmPassword"),
            bcrypt_rounds=current_app.config["BCRYPT_ROUNDS"],
            password_min_length=current_app.config["PASSWORD_MIN_LENGTH"],
        )
    except InvalidInput as error:
        if error.message == profiles.WRONG_PASSWORD:
            ratelimit.count("PASSWORD_FAILURE_LIMIT", limit_key)
        raise
    token = auth.find_token(
        cookies=request.cookies, authorization=request.headers.get("Authorization")
    )
    ended = end_other_sessions(g.user_id, token)
    return jsonify(
        {"message": "Password changed.", "success": True, "otherSessionsEnded": ended}
    )


def end_other_sessions(user_id, keep_token):
    """Every session of `user_id` but the one of `keep_token` stops working (their other tabs and
    devices are signed out, their sockets closed: chatapp.services.sessions)."""
    sessions.end_other_sessions(user_id, keep_token)
    return True


@blueprint.get("/blocks")
@login_required
def blocked_users():
    """Whom the caller blocked, newest first (users plus `blockedAt`)."""
    return jsonify(blocks.list_blocked(g.user_id))


@blueprint.post("/blocks/<user_id>")
@login_required
def block(user_id):
    """Block `user_id`: 201 with them, or 200 when they already were."""
    ratelimit.check("PROFILE_RATE_LIMIT", g.user_id, "profile changes")
    blocked, created = blocks.block_user(
        g.user_id, user_id, max_blocks=current_app.config["BLOCK_MAX"]
    )
    return jsonify(blocked), 201 if created else 200


@blueprint.delete("/blocks/<user_id>")
@login_required
def unblock(user_id):
    """Lift the caller's block of `user_id` (200 whether or not there was one)."""
    ratelimit.check("PROFILE_RATE_LIMIT", g.user_id, "profile changes")
    was_blocked = blocks.unblock_user(g.user_id, user_id)
    return jsonify({"userId": user_id, "blocked": False, "wasBlocked": was_blocked})
