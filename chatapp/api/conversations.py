"""/api/v1/conversations: the caller's conversation list, most recent first."""

from flask import Blueprint, g, request

from chatapp.api import page_limit, paged_response
from chatapp.api.auth import login_required
from chatapp.services import conversations

blueprint = Blueprint("conversations", __name__, url_prefix="/api/v1/conversations")


@blueprint.get("/")
@login_required
def list_conversations():
    """A page of the caller's conversations (`?before=<cursor>&limit=`); cursor in X-Next-Before."""
    page, next_before = conversations.list_conversations(
        g.user_id, limit=page_limit("CONVERSATION"), before=request.args.get("before")
    )
    return paged_response(page, next_before)
