"""A user's own profile: full name and photo (live to everyone signed in), and their password."""

import unicodedata
from urllib.parse import urlsplit

from chatapp import security, serializers
from chatapp.clock import utc_now
from chatapp.errors import InvalidInput, NotFoundError
from chatapp.models import User
from chatapp.realtime import events
from chatapp.services import users
from chatapp.validation import object_id, string_field

PROFILE_PHOTO_MAX = 2048  # characters; what browsers and CDNs reliably accept in a URL
WRONG_PASSWORD = "Current password is incorrect"


def update_profile(user_id, changes):
    """Change `user_id`'s `fullName` and/or `profilePhoto` (keys of `changes`, a dict from the
    request body; other keys are ignored); returns the user as the login response shows them.

    `fullName` follows the registration rules; `profilePhoto` must be an `https://` URL of at
    most 2048 characters. Then `userUpdated` (the user as `GET /api/v1/user/` lists them) goes to
    every signed-in socket, since that list, which every client's sidebar shows, is public to
    everyone signed in.
    """
    user = object_id(str(user_id), "user id")
    update = {}
    if "fullName" in changes:
        name = string_field(changes["fullName"], "fullName")
        if not name.strip():
            raise InvalidInput("Full name must not be empty")
        update["fullName"] = users.clean_full_name(name)
    if "profilePhoto" in changes:
        update["profilePhoto"] = checked_photo_url(changes["profilePhoto"])
    if not update:
        raise InvalidInput("Nothing to change: send fullName and/or profilePhoto")
    update["updatedAt"] = utc_now()
    result = User._get_collection().update_one({"_id": user}, {"$set": update})
    if not result.matched_count:
        raise NotFoundError("User not found")
    doc = User._get_collection().find_one({"_id": user}, {"password": 0})
    # Emitted last: only after the write returned.
    events.emit_user_updated(serializers.public_user(doc))
    return serializers.logged_in_user(doc)


def checked_photo_url(value):
    """An absolute `https://` URL with a host, at most 2048 characters, no spaces or controls."""
    url = string_field(value, "profilePhoto")
    if len(url) > PROFILE_PHOTO_MAX:
        raise InvalidInput(f"profilePhoto must be at most {PROFILE_PHOTO_MAX} characters")
    if any(ch.isspace() or unicodedata.category(ch)[0] == "C" for ch in url):
        raise InvalidInput("profilePhoto must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # e.g. a malformed IPv6 host or port
        raise InvalidInput("profilePhoto must be an https:// URL") from None
    if parts.scheme.lower() != "https" or not host or parts.username or parts.password:
        raise InvalidInput("profilePhoto must be an https:// URL")
    return url


def change_password(
    user_id, old_password, new_password, confirm_password, *, bcrypt_rounds,
    password_min_length=users.PASSWORD_MIN_LENGTH,
):
    """Replace `user_id`'s password after checking the current one; the registration rules apply
    to the new one. The caller then ends the user's other sessions (see `api.profiles`)."""
    fields = {
        "oldPassword": old_password,
        "newPassword": new_password,
        "confirmPassword": confirm_password,
    }
    for name, value in fields.items():
        string_field(value, name, required=False)
    if any(not value for value in fields.values()):
        raise InvalidInput(users.ALL_FIELDS_REQUIRED)
    user = object_id(str(user_id), "user id")
    doc = User._get_collection().find_one({"_id": user}, {"password": 1})
    if doc is None:
        raise NotFoundError("User not found")
    if len(old_password.encode()) > security.BCRYPT_MAX_BYTES or not security.check_password(
        old_password, doc["password"]
    ):
        raise InvalidInput(WRONG_PASSWORD)
    users.check_password_strength(new_password, password_min_length)
    if new_password != confirm_password:
        raise InvalidInput(users.PASSWORDS_DIFFER)
    User._get_collection().update_one(
        {"_id": user},
        {
            "$set": {
                "password": security.hash_password(new_password, bcrypt_rounds),
                "updatedAt": utc_now(),
            }
        },
    )
