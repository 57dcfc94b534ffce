"""Timestamps as MongoDB stores them and JavaScript prints them."""

from datetime import datetime, timezone


def utc_now():
    """Now, in UTC, truncated to milliseconds.

    MongoDB keeps milliseconds only; truncating up front makes the time a client gets in the send
    response identical to the one it later reads from history.
    """
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def to_iso(moment):
    """ISO 8601 with milliseconds and `Z`, as JavaScript's Date.prototype.toISOString."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
