"""/api/v1/message: send a message, read a conversation's history a page at a time."""

from flask import Blueprint, current_app, g, jsonify, request

from chatapp.api import json_body
from chatapp.api.auth import login_required
from chatapp.services import messages

blueprint = Blueprint("messages", __name__, url_prefix="/api/v1/message")

# The cursor of the next (older) page; the body stays the bare array the React client expects.
NEXT_PAGE_HEADER = "X-Next-Before"


@blueprint.post("/send/<receiver_id>")
@login_required
def send(receiver_id):
    """Send a message to `receiver_id` (`{message, clientMessageId?}`)."""
    body = json_body()
    new_message, created = messages.send_message(
        g.user_id,
        receiver_id,
        body.get("message"),
        max_length=current_app.config["MAX_MESSAGE_LENGTH"],
        client_message_id=body.get("clientMessageId"),
    )
    # 201 when stored now; 200 when a retry found the message its first attempt stored.
    return jsonify({"newMessage": new_message}), 201 if created else 200


@blueprint.get("/<other_id>")
@login_required
def history(other_id):
    """The newest page of the caller's conversation with `other_id` (`?before=&limit=`)."""
    config = current_app.config
    limit = messages.parse_limit(
        request.args.get("limit"),
        default=config["HISTORY_PAGE_SIZE"],
        maximum=config["HISTORY_MAX_PAGE_SIZE"],
    )
    page, next_before = messages.list_messages(
        g.user_id, other_id, limit=limit, before=request.args.get("before")
    )
    response = jsonify(page)
    if next_before is not None:
        response.headers[NEXT_PAGE_HEADER] = next_before
    return response
