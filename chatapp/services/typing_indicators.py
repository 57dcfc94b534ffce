"""Typing indicators: relayed live to one user, never stored."""

from chatapp.realtime import events, visibility
from chatapp.services.users import user_exists
from chatapp.validation import is_object_id


def relay_typing(from_user_id, to_user_id, is_typing, *, expires_in_ms):
    """Tell `to_user_id`'s tabs that `from_user_id` is (or stopped) typing; True if relayed.

    Anything malformed (not an id, not a bool, oneself, no such user) is dropped without a
    word: the sender learns nothing, in particular not whether a user id exists.
    The receiver should hide the indicator after `expires_in_ms` without a refresh, so a tab
    that closes mid-sentence does not leave "typing..." on screen forever.
    """
    if not is_object_id(to_user_id) or not isinstance(is_typing, bool):
        return False
    if to_user_id == str(from_user_id) or not user_exists(to_user_id):
        return False
    if visibility.current().hides(str(from_user_id), to_user_id):  # a block between them (either way)
        return False
    events.emit_typing(
        to_user_id,
        {"from": str(from_user_id), "isTyping": is_typing, "expiresInMs": expires_in_ms},
    )
    return True
