"""Group conversations: creating, renaming, and changing who belongs (docs/groups.md).

Each change is written first, then recorded as a system message in the group's history (`system:
{type, userIds, ...}`, with a readable `message` text), then announced: `groupMessage` with that
message and `conversationUpdated {conversation, change}` to the members, and to anyone the change
removed. Sending and reading are in services.group_messages.
"""

import unicodedata

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from chatapp import serializers
from chatapp.clock import utc_now
from chatapp.errors import Conflict, InvalidInput, NotFoundError
from chatapp.models import Conversation, Membership, Message, User
from chatapp.realtime import events
from chatapp.services import blocks, memberships, messages
from chatapp.services.memberships import ADMIN, GROUP, MEMBER, membership_key
from chatapp.validation import object_id, string_field

NAME_MAX = 100  # characters


def create_group(creator_id, name, member_ids, *, max_members):
    """A new group named `name` of `creator_id` (its admin) and 2 to `max_members` others.

    Returns the group as its creator sees it. Every member gets `conversationUpdated` and the
    `groupCreated` system message as `groupMessage`; the group is in everyone's conversation list.
    """
    creator = object_id(str(creator_id), "user id")
    name = checked_name(name)
    others = checked_user_ids(member_ids, creator, "memberIds", maximum=max_members)
    if len(others) < 2:
        raise InvalidInput("A group needs at least 2 other members (memberIds)")
    for user in others:
        blocks.check_can_add(creator, user)  # 403 when a block stands between them

    group_id, first = ObjectId(), ObjectId()
    now = utc_now()
    names = _full_names([creator, *others])
    message = _system_message(
        group_id, first, creator, now, "groupCreated", others,
        f"{names[creator]} created the group \u201c{name}\u201d with {_list(others, names)}",
        name=name,
    )
    Conversation._get_collection().insert_one(
        {
            "_id": group_id,
            "type": GROUP,
            "name": name,
            "pairKey": f"group:{group_id}",  # unique like a pair's key; see models.Conversation
            "participants": [creator, *others],
            "createdBy": creator,
            "createdAt": now,
            "updatedAt": now,
        }
    )
    Membership._get_collection().insert_many(
        [
            _membership(group_id, user, ADMIN if user == creator else MEMBER, first, now)
            for user in (creator, *others)
        ]
    )
    return _post(group_id, message, creator, removed=())


def get_group(viewer_id, group_id):
    """The group as member `viewer_id` sees it: name, members (with role and joinedAt), counts."""
    group, membership = memberships.member_of(group_id, viewer_id)
    return group_view(group, str(membership["userId"]))


def rename_group(actor_id, group_id, name):
    """An admin renames the group; returns it. The same name again changes and sends nothing."""
    group, membership = memberships.admin_of(group_id, actor_id, "rename the group")
    name = checked_name(name)
    actor = membership["userId"]
    if name == group.get("name"):
        return group_view(group, str(actor))
    now = utc_now()
    Conversation._get_collection().update_one({"_id": group["_id"]}, {"$set": {"name": name}})
    names = _full_names([actor])
    message = _system_message(
        group["_id"], ObjectId(), actor, now, "groupRenamed", [],
        f"{names[actor]} renamed the group to \u201c{name}\u201d",
        name=name, previousName=group.get("name"),
    )
    return _post(group["_id"], message, actor, removed=())


def add_members(actor_id, group_id, user_ids, *, max_members):
    """An admin adds `user_ids` (those not yet members); returns the group.

    New members see the history from the `memberAdded` message on. A group holds its creator and
    at most `max_members` others: an addition past that is refused (409), even when two admins
    add at once (each checks the count after its own inserts and undoes them when over).
    """
    group, membership = memberships.admin_of(group_id, actor_id, "add members")
    actor = membership["userId"]
    users = checked_user_ids(user_ids, actor, "userIds", maximum=max_members)
    current = set(group.get("participants") or [])
    new = [user for user in users if user not in current]
    if not new:
        raise Conflict("They are already members of this group")
    capacity = max_members + 1
    if len(current) + len(new) > capacity:
        raise Conflict(f"A group has at most {capacity} members")
    for user in new:
        blocks.check_can_add(actor, user)

    message_id, now = ObjectId(), utc_now()
    added = []
    collection = Membership._get_collection()
    for user in new:
        try:
            collection.insert_one(_membership(group["_id"], user, MEMBER, message_id, now))
        except DuplicateKeyError:  # added by a concurrent request
            continue
        added.append(user)
    if added and collection.count_documents({"conversationId": group["_id"]}) > capacity:
        collection.delete_many({"_id": {"$in": [membership_key(group["_id"], u) for u in added]}})
        memberships.sync_participants(group["_id"])
        raise Conflict(f"A group has at most {capacity} members")
    if not added:
        raise Conflict("They are already members of this group")
    memberships.sync_participants(group["_id"])
    names = _full_names([actor, *added])
    message = _system_message(
        group["_id"], message_id, actor, now, "memberAdded", added,
        f"{names[actor]} added {_list(added, names)}",
    )
    return _post(group["_id"], message, actor, removed=())


def remove_member(actor_id, group_id, user_id):
    """An admin removes member `user_id`; `user_id` being the caller means leaving. Returns the
    group as the caller now sees it (None after leaving)."""
    if str(user_id) == str(actor_id):
        return leave_group(actor_id, group_id)
    group, membership = memberships.admin_of(group_id, actor_id, "remove members")
    actor = membership["userId"]
    user = object_id(user_id, "user id")
    key = membership_key(group["_id"], user)
    if not Membership._get_collection().delete_one({"_id": key}).deleted_count:
        raise NotFoundError("Member not found")
    names = _full_names([actor, user])
    return _after_departure(
        group, actor, user, "memberRemoved", f"{names[actor]} removed {names[user]}"
    )


def leave_group(user_id, group_id):
    """Member `user_id` leaves: they stop receiving the group's messages and can no longer read
    it. When the last admin leaves, the longest-standing member becomes admin. Returns None."""
    group, membership = memberships.member_of(group_id, user_id)
    user = membership["userId"]
    if not Membership._get_collection().delete_one({"_id": membership["_id"]}).deleted_count:
        raise NotFoundError(memberships.GROUP_NOT_FOUND)  # a concurrent request left first
    names = _full_names([user])
    _after_departure(group, user, user, "memberLeft", f"{names[user]} left")
    return None


def _after_departure(group, actor, user, kind, text):
    """After `user`'s membership was deleted: the mirror, their counters, an admin still there,
    the system message and the events (which `user` gets too, to learn they are out)."""
    members = memberships.sync_participants(group["_id"])
    memberships.forget_member(group["_id"], user)
    extra = {}
    successor = _hand_on_admin(group["_id"])
    if successor is not None:
        extra["adminIds"] = [successor]
        text += f"; {_full_names([successor])[successor]} is now an admin"
    message = _system_message(
        group["_id"], ObjectId(), actor, utc_now(), kind, [user], text, **extra
    )
    if not members:  # nobody left to tell but the one who went
        message = _store(message)
        events.emit_conversation_updated(
            [str(user)], {"conversation": group_view(group, None), "change": _change(message)}
        )
        return None
    result = _post(group["_id"], message, actor, removed=[user])
    return result if actor != user else None


def _hand_on_admin(group_id):
    """When no admin is left, the longest-standing member becomes one; returns them, or None.

    Two last admins leaving at once both find no admin and promote the same member (the first by
    `joinedSeq`): the outcome is one new admin either way.
    """
    collection = Membership._get_collection()
    if collection.find_one({"conversationId": group_id, "role": ADMIN}, {"_id": 1}):
        return None
    oldest = collection.find_one({"conversationId": group_id}, sort=[("joinedSeq", 1)])
    if oldest is None:
        return None
    collection.update_one({"_id": oldest["_id"]}, {"$set": {"role": ADMIN}})
    return oldest["userId"]


def _post(group_id, message, actor, removed):
    """Store the system message, make it the group's newest, announce; the actor's view."""
    message = _store(message)
    memberships.record_newest(group_id, message)
    group = Conversation._get_collection().find_one({"_id": group_id})
    return _announce(group, message, actor, removed)


def _announce(group, message, actor, removed):
    """`groupMessage` (the system message) to the members and `conversationUpdated` to them and
    to `removed`; emitted last, after every write. Returns the group as `actor` sees it."""
    members = [str(member) for member in group.get("participants") or []]
    view = group_view(group, None)
    events.emit_group_message(members, serializers.group_message(message))
    events.emit_conversation_updated(
        members + [str(user) for user in removed],
        {"conversation": view, "change": _change(message)},
    )
    view["unreadCount"] = int((group.get("unreadCounts") or {}).get(str(actor), 0))
    return view


def _change(message):
    """What changed, for `conversationUpdated`: the system message's `system` plus who did it."""
    system = serializers.group_message(message)["system"]
    return {**system, "actorId": str(message["senderId"]), "messageId": str(message["_id"])}


def group_view(group, viewer_id):
    """The group in wire format (serializers.group), its members looked up in one query;
    `unreadCount` is the viewer's (absent when `viewer_id` is None: an event for everyone)."""
    docs = memberships.memberships(group["_id"])
    users = {
        user["_id"]: user
        for user in User._get_collection().find(
            {"_id": {"$in": [doc["userId"] for doc in docs]}}, {"password": 0}
        )
    }
    members = [
        serializers.group_member(users[doc["userId"]], doc) for doc in docs if doc["userId"] in users
    ]
    view = serializers.group(group, members, viewer_id)
    if viewer_id is None:
        del view["unreadCount"]
    return view


def _membership(group_id, user, role, visible_from, now):
    return {
        "_id": membership_key(group_id, user),
        "conversationId": group_id,
        "userId": user,
        "role": role,
        "joinedAt": now,
        "joinedSeq": ObjectId(),
        "visibleFrom": visible_from,
    }


def _store(message):
    """Store a system message (a raw document) as the group's next message, its `seq` assigned
    by the insert as for any message (services.messages); returns the stored document."""
    document = Message(
        id=message["_id"],
        conversation_id=message["conversationId"],
        sender_id=message["senderId"],
        message=message["message"],
        system=message["system"],
        created_at=message["createdAt"],
        updated_at=message["updatedAt"],
    )
    messages.store_in_order(document)
    return document.to_mongo().to_dict()


def _system_message(group_id, message_id, actor, now, kind, user_ids, text, **extra):
    return {
        "_id": message_id,
        "conversationId": group_id,
        "senderId": actor,
        "message": text,
        "system": {"type": kind, "userIds": list(user_ids), **extra},
        "createdAt": now,
        "updatedAt": now,
    }


def checked_name(value):
    """A group name: 1 to 100 characters once trimmed, no control characters."""
    name = string_field(value, "name").strip()
    if not name:
        raise InvalidInput("name must not be empty")
    if len(name) > NAME_MAX:
        raise InvalidInput(f"name must be at most {NAME_MAX} characters")
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise InvalidInput("name must not contain control characters")
    return name


def checked_user_ids(value, actor, field, *, maximum):
    """Distinct ids of existing users other than `actor`, at most `maximum`; 400/404 otherwise."""
    if not isinstance(value, list) or not value:
        raise InvalidInput(f"{field} must be a non-empty list of user ids")
    if len(value) > maximum:
        raise InvalidInput(f"{field} may list at most {maximum} users")
    users = []
    for raw in value:
        user = object_id(raw, "user id")
        if user == actor:
            raise InvalidInput(f"{field} must not include yourself")
        if user not in users:
            users.append(user)
    found = {doc["_id"] for doc in User._get_collection().find({"_id": {"$in": users}}, {"_id": 1})}
    if len(found) != len(users):
        raise NotFoundError("User not found")
    return users


def _full_names(user_ids):
    names = {
        doc["_id"]: doc.get("fullName") or doc.get("username") or "Someone"
        for doc in User._get_collection().find(
            {"_id": {"$in": list(user_ids)}}, {"fullName": 1, "username": 1}
        )
    }
    return {user: names.get(user, "Someone") for user in user_ids}


def _list(user_ids, names):
    """"A", "A and B", "A, B and C"."""
    shown = [names[user] for user in user_ids]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]
