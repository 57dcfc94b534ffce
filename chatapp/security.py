"""Password hashing and JWTs. Knows nothing of Flask's request."""

import hashlib
import secrets
import time
from typing import NamedTuple

import bcrypt
import jwt

from chatapp import caches
from chatapp.concurrency import Busy, run_off_loop
from chatapp.errors import ServiceUnavailable

# bcrypt reads at most 72 bytes; longer passwords are refused rather than silently truncated.
BCRYPT_MAX_BYTES = 72
JWT_ALGORITHM = "HS256"


class InvalidToken(Exception):
    """The token is missing a claim, tampered with, expired or otherwise unusable."""


def hash_password(password, rounds):
    return _off_loop(_hash, password.encode(), rounds)


def check_password(password, hashed):
    """True when `password` matches the bcrypt hash (also the `$2a$`/`$2b$` hashes of bcryptjs)."""
    # bcryptjs hashed only the first 72 bytes of a longer password, and compares the same way;
    # Python's bcrypt refuses longer input instead. Registration here refuses them, so only
    # accounts made on the Node backend can have one.
    try:
        return _off_loop(bcrypt.checkpw, password.encode()[:BCRYPT_MAX_BYTES], hashed.encode())
    except ValueError:  # not a bcrypt hash at all
        return False


def _off_loop(function, *args):
    """bcrypt work, refused at once (503, Retry-After) when its queue is full."""
    try:
        return run_off_loop(function, *args)
    except Busy:
        raise ServiceUnavailable(
            "The server is busy. Try again in a moment.", retry_after=1
        ) from None


def _hash(password_bytes, rounds):
    return bcrypt.hashpw(password_bytes, bcrypt.gensalt(rounds)).decode()


class Claims(NamedTuple):
    """What a verified token says: whose it is, which session, issued and expiring when."""

    user_id: str
    session_id: str  # the `jti`; for a Node-issued token (none), a digest of the token itself
    issued_at: float  # seconds since the epoch (0 when the token has no `iat`)
    expires_at: int
    legacy: bool  # issued without a `jti` (by the Node backend)


def create_token(user_id, secret, max_age_seconds):
    """A token with the Node backend's claim (`userId`), so either backend accepts the other's,
    plus a `jti` naming this login's session (what logout revokes).

    `iat` and `exp` are whole seconds, `exp - iat` the lifetime, as jsonwebtoken writes them;
    `iatMs` is the issue time in milliseconds, so "tokens issued before now" (a user ending
    their other sessions) is exact within the second too.
    """
    now = time.time()
    claims = {
        "userId": str(user_id),
        "iat": int(now),
        "exp": int(now) + max_age_seconds,
        "jti": secrets.token_urlsafe(16),
        "iatMs": int(now * 1000),
    }
    return jwt.encode(claims, secret, algorithm=JWT_ALGORITHM)


def legacy_session_id(token):
    """The session id of a token without `jti`: a digest, so revoking it stores no token."""
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def decode_token(token, secret):
    """The `userId` of a valid token; raises InvalidToken otherwise."""
    return decode_claims(token, secret).user_id


def decode_claims(token, secret):
    """The Claims of a valid token; raises InvalidToken otherwise. (Whether its session was
    ended since is `chatapp.sessions`' question.)

    Tokens that verified are remembered (chatapp.caches); once a token verified, the only check
    whose answer can change is expiry (a not-yet-valid `nbf` or `iat` fails and is never
    remembered), so a remembered token has its `exp` checked again.
    """
    if not isinstance(token, str) or not token:
        raise InvalidToken("missing token")
    key = (secret, token)
    with caches.lock:
        known = caches.verified_tokens.get(key)
    if known is not None and time.time() < known.expires_at:
        return known
    claims = _verify(token, secret)
    with caches.lock:
        caches.verified_tokens[key] = claims
    return claims


def _verify(token, secret):
    """PyJWT's full check: the token's Claims; raises InvalidToken."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=[JWT_ALGORITHM], options={"require": ["exp", "userId"]}
        )
    except jwt.PyJWTError as error:
        raise InvalidToken(str(error)) from None
    user_id = claims["userId"]
    if not isinstance(user_id, str):
        raise InvalidToken("userId claim is not a string")
    jti = claims.get("jti")
    if jti is not None and (not isinstance(jti, str) or not 8 <= len(jti) <= 64):
        raise InvalidToken("jti claim is not a short string")
    issued_at = claims.get("iat", 0)
    if isinstance(issued_at, bool) or not isinstance(issued_at, (int, float)):
        raise InvalidToken("iat claim is not a number")
    issued_ms = claims.get("iatMs")
    if type(issued_ms) is int and int(issued_at) == issued_ms // 1000:
        issued_at = issued_ms / 1000  # ours: the same second, to the millisecond
    return Claims(
        user_id=user_id,
        session_id=jti if jti is not None else legacy_session_id(token),
        issued_at=float(issued_at),
        expires_at=int(claims["exp"]),  # as PyJWT reads it
        legacy=jti is None,
    )
