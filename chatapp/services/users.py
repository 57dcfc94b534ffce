"""Accounts: registration, login, and the list of people one can chat with."""

import re
import unicodedata
from functools import lru_cache
from urllib.parse import quote

from mongoengine.errors import NotUniqueError

from chatapp import security
from chatapp.clock import utc_now
from chatapp.errors import InvalidInput
from chatapp.models import GENDERS, User
from chatapp.validation import object_id, string_field

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9_.@+-]{3,64}$")
# What a login may name: up to the same length, no control characters (see login_username).
LOGIN_USERNAME_PATTERN = re.compile(r"[^\x00-\x1f\x7f]{1,64}")
FULL_NAME_MAX = 100
PASSWORD_MIN_LENGTH = 8  # for new passwords; accounts made with shorter ones still log in
SEARCH_MAX_LENGTH = 64  # a prefix longer than any username or full name finds nothing anyway

# The seed's texts, which the React client shows in toasts.
ALL_FIELDS_REQUIRED = "All fields are required"
PASSWORDS_DIFFER = "Password do not match"
USERNAME_TAKEN = "Username already exit try different"
BAD_CREDENTIALS = "Incorrect username or password"

AVATAR_URLS = {
    "male": "https://avatar.iran.liara.run/public/boy?username={}",
    "female": "https://avatar.iran.liara.run/public/girl?username={}",
}


def register_user(
    full_name, username, password, confirm_password, gender, *, bcrypt_rounds,
    password_min_length=PASSWORD_MIN_LENGTH,
):
    """Create an account; returns the new User. Raises InvalidInput on any bad field."""
    fields = {
        "fullName": full_name,
        "username": username,
        "password": password,
        "confirmPassword": confirm_password,
        "gender": gender,
    }
    for name, value in fields.items():
        string_field(value, name, required=False)
    if any(value is None or not value.strip() for value in fields.values()):
        raise InvalidInput(ALL_FIELDS_REQUIRED)

    full_name = _clean_full_name(full_name)
    username = username.strip()
    if not USERNAME_PATTERN.match(username):
        raise InvalidInput(
            "Username must be 3 to 64 characters: letters, digits and _ . @ + - only"
        )
    _check_password_strength(password, password_min_length)
    if password != confirm_password:
        raise InvalidInput(PASSWORDS_DIFFER)
    if gender not in GENDERS:
        raise InvalidInput("Gender must be male or female")

    # Cheap early answer; the unique index below is what really guarantees it under races.
    if User.objects(username=username).only("id").first() is not None:
        raise InvalidInput(USERNAME_TAKEN)

    now = utc_now()
    user = User(
        full_name=full_name,
        username=username,
        password=security.hash_password(password, bcrypt_rounds),
        profile_photo=AVATAR_URLS[gender].format(quote(username, safe="")),
        gender=gender,
        created_at=now,
        updated_at=now,
    )
    try:
        user.save(force_insert=True)
    except NotUniqueError:
        raise InvalidInput(USERNAME_TAKEN) from None
    return user


def login_username(username):
    """`username` as a login may name it (stripped), or None when no account can have it.

    Accounts made here match USERNAME_PATTERN; the Node backend's may hold other characters, so
    a login accepts any printable text up to the same length. Checked before the name is used
    as a key anywhere (failed-login counters), so a 60 kB name costs nothing to remember.
    """
    if not isinstance(username, str):
        return None
    username = username.strip()
    if not LOGIN_USERNAME_PATTERN.fullmatch(username):
        return None
    return username


def log_in(username, password, *, bcrypt_rounds):
    """The User whose credentials these are; one message for unknown user and wrong password."""
    string_field(username, "username", required=False)
    string_field(password, "password", required=False)
    if not username or not password:
        raise InvalidInput(ALL_FIELDS_REQUIRED)
    # Checked before anything else sees the name (failed-login counters key on it).
    if login_username(username) is None:
        raise InvalidInput(BAD_CREDENTIALS)
    # No length check here: an account the Node backend made with a password over 72 bytes
    # logs in with it (security.check_password compares the first 72 bytes, as bcryptjs did).
    user = _find_by_username(username)
    # Check a password even when the user does not exist, so timing does not reveal which
    # usernames are registered.
    hashed = user.password if user is not None else _dummy_hash(bcrypt_rounds)
    matches = security.check_password(password, hashed)
    if user is None or not matches:
        raise InvalidInput(BAD_CREDENTIALS)
    return user


def _find_by_username(username):
    """The user named exactly `username`, else the one named `username` without outer spaces.

    Registration strips the name, but the Node backend stored it as typed: an account it made
    as "bob " (a phone keyboard's trailing space) is found by what that user types.
    """
    user = User.objects(username=username).first()
    if user is None and username.strip() != username:
        user = User.objects(username=username.strip()).first()
    return user


def list_other_users(user_id):
    """Every user but `user_id`, as raw documents without the password field."""
    return list(User.objects(id__ne=user_id).exclude("password").order_by("id").as_pymongo())


def find_other_users(user_id, *, limit, before=None, prefix=None):
    """A page of users other than `user_id`, newest account first; `(documents, next_before)`.

    `before` (a user id) continues after a previous page; `prefix` keeps users whose username or
    full name starts with it, ignoring case (matched literally: escaped, so it is never a
    pattern). `next_before` is the cursor of the next page, None on the last one.
    """
    users = User.objects(id__ne=object_id(str(user_id), "user id"))
    if before is not None:
        users = users.filter(id__lt=object_id(before, "before cursor"))
    if prefix:  # an empty search box filters nothing
        prefix = string_field(prefix, "q")
        if len(prefix) > SEARCH_MAX_LENGTH:
            raise InvalidInput(f"q must be at most {SEARCH_MAX_LENGTH} characters")
        # `$regex` with "i" alone, not MongoEngine's istartswith: that sends a Python pattern
        # whose implicit re.UNICODE becomes the option "u", which FerretDB refuses. Escaped, so
        # the prefix is never a pattern.
        starts = {"$regex": "^" + re.escape(prefix), "$options": "i"}
        users = users.filter(
            __raw__={"$or": [{User.username.db_field: starts}, {User.full_name.db_field: starts}]}
        )
    docs = list(users.exclude("password").order_by("-id").limit(limit + 1).as_pymongo())
    page = docs[:limit]
    return page, (str(page[-1]["_id"]) if len(docs) > limit else None)


def user_exists(user_id):
    """True when a user with this id exists."""
    return User.objects(id=user_id).only("id").first() is not None


def _clean_full_name(full_name):
    full_name = " ".join(full_name.split())
    if len(full_name) > FULL_NAME_MAX:
        raise InvalidInput(f"Full name must be at most {FULL_NAME_MAX} characters")
    if any(unicodedata.category(ch) == "Cc" for ch in full_name):
        raise InvalidInput("Full name must not contain control characters")
    return full_name


def _check_password_strength(password, min_length):
    if len(password) < min_length:
        raise InvalidInput(f"Password must be at least {min_length} characters")
    if len(password.encode()) > security.BCRYPT_MAX_BYTES:
        raise InvalidInput(
            f"Password must be at most {security.BCRYPT_MAX_BYTES} bytes "
            "(bcrypt ignores anything longer)"
        )


@lru_cache(maxsize=4)
def _dummy_hash(bcrypt_rounds):
    # Same cost as real hashes: an unknown username takes as long as a wrong password.
    return security.hash_password("not-a-real-password", bcrypt_rounds)


# The registration rules, for services.profiles.
clean_full_name = _clean_full_name
check_password_strength = _check_password_strength
