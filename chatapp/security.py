"""Password hashing and JWTs. Knows nothing of Flask's request."""

import time
from datetime import datetime, timedelta, timezone

import bcrypt
import jwt

from chatapp import caches
from chatapp.concurrency import run_off_loop

# bcrypt reads at most 72 bytes; longer passwords are refused rather than silently truncated.
BCRYPT_MAX_BYTES = 72
JWT_ALGORITHM = "HS256"


class InvalidToken(Exception):
    """The token is missing a claim, tampered with, expired or otherwise unusable."""


def hash_password(password, rounds):
    return run_off_loop(_hash, password.encode(), rounds)


def check_password(password, hashed):
    """True when `password` matches the bcrypt hash (also the `$2a$`/`$2b$` hashes of bcryptjs)."""
    # bcryptjs hashed only the first 72 bytes of a longer password, and compares the same way;
    # Python's bcrypt refuses longer input instead. Registration here refuses them, so only
    # accounts made on the Node backend can have one.
    try:
        return run_off_loop(
            bcrypt.checkpw, password.encode()[:BCRYPT_MAX_BYTES], hashed.encode()
        )
    except ValueError:  # not a bcrypt hash at all
        return False


def _hash(password_bytes, rounds):
    return bcrypt.hashpw(password_bytes, bcrypt.gensalt(rounds)).decode()


def create_token(user_id, secret, max_age_seconds):
    """A token with the Node backend's claim (`userId`), so either backend accepts the other's."""
    now = datetime.now(timezone.utc)
    claims = {"userId": str(user_id), "iat": now, "exp": now + timedelta(seconds=max_age_seconds)}
    return jwt.encode(claims, secret, algorithm=JWT_ALGORITHM)


def decode_token(token, secret):
    """The `userId` of a valid token; raises InvalidToken otherwise.

    Tokens that verified are remembered (chatapp.caches); once a token verified, the only check
    whose answer can change is expiry (a not-yet-valid `nbf` or `iat` fails and is never
    remembered), so a remembered token has its `exp` checked again.
    """
    if not isinstance(token, str) or not token:
        raise InvalidToken("missing token")
    key = (secret, token)
    with caches.lock:
        known = caches.verified_tokens.get(key)
    if known is not None and time.time() < known[1]:
        return known[0]
    user_id, expires_at = _verify(token, secret)
    with caches.lock:
        caches.verified_tokens[key] = (user_id, expires_at)
    return user_id


def _verify(token, secret):
    """PyJWT's full check: the token's (userId, exp); raises InvalidToken."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=[JWT_ALGORITHM], options={"require": ["exp", "userId"]}
        )
    except jwt.PyJWTError as error:
        raise InvalidToken(str(error)) from None
    user_id = claims["userId"]
    if not isinstance(user_id, str):
        raise InvalidToken("userId claim is not a string")
    return user_id, int(claims["exp"])  # as PyJWT reads it
