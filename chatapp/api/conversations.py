"""/api/v1/conversations: the caller's conversation list, most recent first."""

from flask import Blueprint, current_app, g, jsonify, request

from chatapp.api import NEXT_PAGE_HEADER, parse_limit
from chatapp.api.auth import login_required
from chatapp.services import conversations

blueprint = Blueprint("conversations", __name__, url_prefix="/api/v1/conversations")


@blueprint.get("/")
@login_required
def list_conversations():
    """A page of the caller's conversations (`?before=<cursor>&limit=`); cursor in X-Next-Before."""
    config = current_app.config
    limit = parse_limit(
        request.args.get("limit"),
        default=config["CONVERSATION_PAGE_SIZE"],
        maximum=config["CONVERSATION_MAX_PAGE_SIZE"],
    )
    page, next_before = conversations.list_conversations(
        g.user_id, limit=limit, before=request.args.get("before")
    )
    response = jsonify(page)
    if next_before is not None:
        response.headers[NEXT_PAGE_HEADER] = next_before
    return response
