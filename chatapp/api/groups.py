"""/api/v1/groups: group conversations, their members, messages and read markers (docs/groups.md)."""

from flask import Blueprint, current_app, g, jsonify

from chatapp import ratelimit
from chatapp.api import history_page, json_body, optional_json_body, send_response
from chatapp.api.auth import login_required
from chatapp.services import group_messages, groups

blueprint = Blueprint("groups", __name__, url_prefix="/api/v1/groups")


def _limit_changes():
    """Group creation, renames and membership changes share one per-user budget (429 beyond)."""
    ratelimit.check("GROUP_RATE_LIMIT", g.user_id, "group changes")


@blueprint.post("/")
@login_required
def create():
    """Create a group (`{name, memberIds}`); the caller is its admin. 201 with the group."""
    _limit_changes()
    body = json_body()
    group = groups.create_group(
        g.user_id, body.get("name"), body.get("memberIds"),
        max_members=current_app.config["GROUP_MAX_MEMBERS"],
    )
    return jsonify(group), 201


@blueprint.get("/<group_id>")
@login_required
def show(group_id):
    """The group as the caller (a member) sees it."""
    return jsonify(groups.get_group(g.user_id, group_id))


@blueprint.patch("/<group_id>")
@login_required
def rename(group_id):
    """Rename the group (`{name}`; admins only)."""
    _limit_changes()
    return jsonify(groups.rename_group(g.user_id, group_id, json_body().get("name")))


@blueprint.post("/<group_id>/members")
@login_required
def add_members(group_id):
    """Add members (`{userIds}`; admins only)."""
    _limit_changes()
    group = groups.add_members(
        g.user_id, group_id, json_body().get("userIds"),
        max_members=current_app.config["GROUP_MAX_MEMBERS"],
    )
    return jsonify(group)


@blueprint.delete("/<group_id>/members/<user_id>")
@login_required
def remove_member(group_id, user_id):
    """Remove a member (admins only); the caller's own id means leaving (204 then)."""
    _limit_changes()
    group = groups.remove_member(g.user_id, group_id, user_id)
    return ("", 204) if group is None else jsonify(group)


@blueprint.post("/<group_id>/leave")
@login_required
def leave(group_id):
    """Leave the group: 204."""
    _limit_changes()
    groups.leave_group(g.user_id, group_id)
    return "", 204


@blueprint.post("/<group_id>/messages")
@login_required
def send(group_id):
    """Send to the group (`{message, clientMessageId?}`): 201 `{newMessage}`, 200 on a retry."""
    return send_response(group_messages.send_group_message, group_id)


@blueprint.get("/<group_id>/messages")
@login_required
def history(group_id):
    """A page of the group's history (`?before=` or `?after=`, `&limit=`), as pair history."""
    return history_page(group_messages.list_group_messages, group_id)


@blueprint.post("/<group_id>/read")
@login_required
def mark_read(group_id):
    """Mark the group read (up to body `messageId`, or everything)."""
    body = optional_json_body()
    return jsonify(group_messages.mark_group_read(g.user_id, group_id, body.get("messageId")))
