"""/api/v1/messages/search: the caller's messages containing every word of `q`, newest first."""

from flask import Blueprint, current_app, g, jsonify, request

from chatapp import ratelimit
from chatapp.api import NEXT_PAGE_HEADER, parse_limit
from chatapp.api.auth import login_required
from chatapp.services import search

blueprint = Blueprint("search", __name__, url_prefix="/api/v1/messages")


@blueprint.get("/search")
@login_required
def search_messages():
    """`?q=&conversationId=&before=&limit=`: a page of matches; the next page's cursor in
    X-Next-Before (also after a page with no match, when older messages remain to search)."""
    ratelimit.check("SEARCH_RATE_LIMIT", g.user_id, "searches")
    config = current_app.config
    limit = parse_limit(
        request.args.get("limit"),
        default=config["SEARCH_PAGE_SIZE"],
        maximum=config["SEARCH_MAX_PAGE_SIZE"],
    )
    page, next_before = search.search_messages(
        g.user_id,
        request.args.get("q"),
        conversation_id=request.args.get("conversationId") or None,
        before=request.args.get("before") or None,
        limit=limit,
        scan_limit=max(1, config["SEARCH_SCAN_LIMIT"]),
    )
    response = jsonify(page)
    if next_before is not None:
        response.headers[NEXT_PAGE_HEADER] = next_before
    return response
