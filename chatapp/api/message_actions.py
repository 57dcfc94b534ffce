"""/api/v1/message/<messageId>: edit and delete a message, add and remove reactions."""

from flask import Blueprint, current_app, g, jsonify, request

from chatapp import ratelimit
from chatapp.api import json_body
from chatapp.api.auth import login_required
from chatapp.services import message_edits, reactions

blueprint = Blueprint("message_actions", __name__, url_prefix="/api/v1/message")


@blueprint.patch("/<message_id>")
@login_required
def edit(message_id):
    """Replace the text of the caller's message (`{message}`); answers the message."""
    ratelimit.check("EDIT_RATE_LIMIT", g.user_id, "edits")
    config = current_app.config
    return jsonify(
        message_edits.edit_message(
            g.user_id,
            message_id,
            json_body().get("message"),
            max_length=config["MAX_MESSAGE_LENGTH"],
            edit_window_seconds=config["EDIT_WINDOW_SECONDS"],
        )
    )


@blueprint.delete("/<message_id>")
@login_required
def delete(message_id):
    """Delete the caller's message; answers its tombstone (`message: ""`, `deletedAt`)."""
    ratelimit.check("EDIT_RATE_LIMIT", g.user_id, "edits")
    return jsonify(message_edits.delete_message(g.user_id, message_id))


@blueprint.post("/<message_id>/reactions")
@login_required
def add_reaction(message_id):
    """React to a message (`{emoji}`); answers `{messageId, reactions}` as the caller sees them."""
    ratelimit.check("REACTION_RATE_LIMIT", g.user_id, "reactions")
    view = reactions.add_reaction(
        g.user_id,
        message_id,
        json_body().get("emoji"),
        max_distinct=current_app.config["REACTION_MAX_DISTINCT"],
    )
    return jsonify({"messageId": message_id, "reactions": view})


@blueprint.delete("/<message_id>/reactions")
@login_required
def remove_reaction(message_id):
    """Take back a reaction (`{emoji}` in the body, or `?emoji=`); answers as `add_reaction`."""
    ratelimit.check("REACTION_RATE_LIMIT", g.user_id, "reactions")
    view = reactions.remove_reaction(g.user_id, message_id, _emoji_of_delete())
    return jsonify({"messageId": message_id, "reactions": view})


def _emoji_of_delete():
    # Some HTTP clients cannot send a body with DELETE: the query string works too.
    if "emoji" in request.args:
        return request.args["emoji"]
    return json_body().get("emoji")
