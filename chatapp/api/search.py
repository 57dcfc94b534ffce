"""/api/v1/messages/search: the caller's messages containing every word of `q`, newest first."""

from flask import Blueprint, current_app, g, request

from chatapp import ratelimit
from chatapp.api import page_limit, paged_response
from chatapp.api.auth import login_required
from chatapp.services import search

blueprint = Blueprint("search", __name__, url_prefix="/api/v1/messages")


@blueprint.get("/search")
@login_required
def search_messages():
    """`?q=&conversationId=&before=&limit=`: a page of matches; the next page's cursor in
    X-Next-Before (also after a page with no match, when older messages remain to search)."""
    ratelimit.check("SEARCH_RATE_LIMIT", g.user_id, "searches")
    page, next_before = search.search_messages(
        g.user_id,
        request.args.get("q"),
        conversation_id=request.args.get("conversationId") or None,
        before=request.args.get("before") or None,
        limit=page_limit("SEARCH"),
        scan_limit=max(1, current_app.config["SEARCH_SCAN_LIMIT"]),
    )
    return paged_response(page, next_before)
