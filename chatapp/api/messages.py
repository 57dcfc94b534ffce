"""/api/v1/message: send a message, read a conversation's history a page at a time."""

from flask import Blueprint, current_app, g, jsonify, request

from chatapp import ratelimit
from chatapp.api import NEXT_AFTER_HEADER, NEXT_PAGE_HEADER, json_body, parse_limit
from chatapp.api.auth import login_required
from chatapp.services import conversations, messages

blueprint = Blueprint("messages", __name__, url_prefix="/api/v1/message")


@blueprint.post("/send/<receiver_id>")
@login_required
def send(receiver_id):
    """Send a message to `receiver_id` (`{message, clientMessageId?}`)."""
    ratelimit.check("SEND_RATE_LIMIT", g.user_id, "messages")  # 429 with Retry-After
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


@blueprint.post("/<other_id>/read")
@login_required
def mark_read(other_id):
    """Mark the caller's conversation with `other_id` read (up to body `messageId`, or all)."""
    # The body is optional: an empty one means "everything so far".
    body = json_body() if request.content_length or request.get_data(cache=True) else {}
    return jsonify(conversations.mark_read(g.user_id, other_id, body.get("messageId")))


@blueprint.get("/<other_id>")
@login_required
def history(other_id):
    """A page of the caller's conversation with `other_id` (`?before=` or `?after=`, `&limit=`)."""
    config = current_app.config
    limit = parse_limit(
        request.args.get("limit"),
        default=config["HISTORY_PAGE_SIZE"],
        maximum=config["HISTORY_MAX_PAGE_SIZE"],
    )
    after = request.args.get("after")
    page, next_cursor = messages.list_messages(
        g.user_id, other_id, limit=limit, before=request.args.get("before"), after=after
    )
    response = jsonify(page)
    if next_cursor is not None:
        response.headers[NEXT_AFTER_HEADER if after is not None else NEXT_PAGE_HEADER] = next_cursor
    return response
