"""The wire format, one source for HTTP responses and Socket.IO events.

camelCase keys and `_id` as a 24-hex string, exactly as the Node backend's Mongoose documents
serialise. Functions take raw MongoDB documents (dicts keyed by db field names), which is what
both `Document.to_mongo()` and the fast `QuerySet.as_pymongo()` reads give.
"""

from bson import ObjectId

from chatapp.clock import to_iso


def _id(value):
    return str(value) if value is not None else None


def public_user(doc):
    """A user as others may see them: never the password hash."""
    return {
        "_id": _id(doc["_id"]),
        "fullName": doc.get("fullName"),
        "username": doc.get("username"),
        "profilePhoto": doc.get("profilePhoto", ""),
        "gender": doc.get("gender"),
        "createdAt": to_iso(doc.get("createdAt")),
        "updatedAt": to_iso(doc.get("updatedAt")),
    }


def logged_in_user(doc):
    """The login response body the React client stores as `authUser`."""
    user = public_user(doc)
    return {key: user[key] for key in ("_id", "username", "fullName", "profilePhoto")}


def message(doc):
    """A message, as in the send response and the `newMessage` event."""
    body = {
        "_id": _id(doc["_id"]),
        "senderId": _id(doc.get("senderId")),
        "receiverId": _id(doc.get("receiverId")),
        "message": doc.get("message"),
        "createdAt": to_iso(doc.get("createdAt")),
        "updatedAt": to_iso(doc.get("updatedAt")),
    }
    if doc.get("clientMessageId") is not None:
        body["clientMessageId"] = doc["clientMessageId"]
    _edits(doc, body)
    return body


def _edits(doc, body):
    """`editedAt` and `deletedAt` (services.message_edits), present only once set."""
    for key in ("editedAt", "deletedAt"):
        if doc.get(key) is not None:
            body[key] = to_iso(doc[key])


def message_summary(summary):
    """A conversation's `lastMessage` summary: the newest message, text cut at 200 characters."""
    if not summary:
        return None
    body = {
        "_id": _id(summary.get("_id")),
        "senderId": _id(summary.get("senderId")),
        "message": summary.get("message"),
        "createdAt": to_iso(summary.get("createdAt")),
    }
    _edits(summary, body)
    return body


def conversation(doc, participant, viewer_id):
    """A conversation as `viewer_id` sees it in their list: the other person and their counts."""
    return {
        "_id": _id(doc["_id"]),
        "participant": participant,
        "lastMessage": message_summary(doc.get("lastMessage")),
        "unreadCount": int((doc.get("unreadCounts") or {}).get(viewer_id, 0)),
        "updatedAt": to_iso(doc.get("updatedAt")),
    }


def group_message(doc):
    """A message of a group conversation (`groupMessage` event, group history): the message JSON
    without `receiverId`, with `conversationId`, and `system` for a membership change."""
    body = message(doc)
    del body["receiverId"]
    body["conversationId"] = _id(doc.get("conversationId"))
    if doc.get("system"):
        body["system"] = {key: _ids_as_strings(value) for key, value in doc["system"].items()}
    return body


def _ids_as_strings(value):
    """A system message's field: ObjectIds (alone or in a list) as strings, the rest as is."""
    if isinstance(value, list):
        return [_ids_as_strings(item) for item in value]
    return str(value) if isinstance(value, ObjectId) else value


def group_member(user, membership):
    """A group member: the user as others see them, their `role` and `joinedAt`."""
    return {**public_user(user), "role": membership.get("role"), "joinedAt": to_iso(
        membership.get("joinedAt")
    )}


def group(doc, members, viewer_id):
    """A group as one of its members (`viewer_id`) sees it: `GET /api/v1/groups/<id>` and the
    `conversationUpdated` event (`members` already serialized, longest-standing first)."""
    return {
        "_id": _id(doc["_id"]),
        "type": "group",
        "name": doc.get("name"),
        "members": members,
        "lastMessage": message_summary(doc.get("lastMessage")),
        "unreadCount": int((doc.get("unreadCounts") or {}).get(viewer_id, 0)),
        "createdAt": to_iso(doc.get("createdAt")),
        "updatedAt": to_iso(doc.get("updatedAt")),
    }


def group_conversation(doc, viewer_id):
    """A group in the conversation list: as a pair's entry, with `type`, `name` and `memberIds`
    in place of `participant`."""
    return {
        "_id": _id(doc["_id"]),
        "type": "group",
        "name": doc.get("name"),
        "memberIds": [_id(member) for member in doc.get("participants") or []],
        "lastMessage": message_summary(doc.get("lastMessage")),
        "unreadCount": int((doc.get("unreadCounts") or {}).get(viewer_id, 0)),
        "updatedAt": to_iso(doc.get("updatedAt")),
    }
