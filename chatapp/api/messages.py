"""/api/v1/message: send a message, read a conversation's history a page at a time."""

from flask import Blueprint, g, jsonify

from chatapp.api import history_page, optional_json_body, send_response
from chatapp.api.auth import login_required
from chatapp.services import conversations, messages

blueprint = Blueprint("messages", __name__, url_prefix="/api/v1/message")


@blueprint.post("/send/<receiver_id>")
@login_required
def send(receiver_id):
    """Send a message to `receiver_id` (`{message, clientMessageId?}`)."""
    return send_response(messages.send_message, receiver_id)


@blueprint.post("/<other_id>/read")
@login_required
def mark_read(other_id):
    """Mark the caller's conversation with `other_id` read (up to body `messageId`, or all)."""
    body = optional_json_body()
    return jsonify(conversations.mark_read(g.user_id, other_id, body.get("messageId")))


@blueprint.get("/<other_id>")
@login_required
def history(other_id):
    """A page of the caller's conversation with `other_id` (`?before=` or `?after=`, `&limit=`)."""
    return history_page(messages.list_messages, other_id)
