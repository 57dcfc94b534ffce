"""Configuration, read once from the environment.

Every setting has a documented default (see README's configuration table and `.env.example`), so
`make run` works with no setup. `ProductionConfig` refuses to start without a real secret and a
real database instead of silently falling back to development defaults.
"""

import ipaddress
import os
import re
import secrets


def _env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _env_int(name, default):
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise RuntimeError(f"{name} must be an integer, got {value!r}") from None


def _env_list(name, default):
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


DEFAULT_CORS_ORIGINS = (
    "http://localhost:5173",
    "http://localhost:3000",
    "http://127.0.0.1:5173",
    "http://127.0.0.1:3000",
)


class Config:
    ENV_NAME = "development"

    # Empty MONGO_URI means the embedded in-memory database (mongomock).
    MONGO_URI = os.environ.get("MONGO_URI", "").strip()
    MONGO_DB_NAME = os.environ.get("MONGO_DB_NAME", "chatapp").strip() or "chatapp"
    MONGO_TIMEOUT_MS = _env_int("MONGO_TIMEOUT_MS", 5000)

    # Empty means "generate one for this process" (development only: tokens die with the process).
    JWT_SECRET_KEY = os.environ.get("JWT_SECRET_KEY", "").strip()
    TOKEN_MAX_AGE_SECONDS = _env_int("TOKEN_MAX_AGE_SECONDS", 24 * 60 * 60)
    COOKIE_SECURE = _env_bool("COOKIE_SECURE", False)
    # Tokens issued by the Node backend (no `jti`) keep working until they expire; false refuses
    # them (everyone logs in again). Logout revokes them by digest either way.
    ACCEPT_LEGACY_TOKENS = _env_bool("ACCEPT_LEGACY_TOKENS", True)
    # How often open sockets are checked for an expired token or an ended session (seconds).
    SESSION_SWEEP_SECONDS = _env_int("SESSION_SWEEP_SECONDS", 5)

    BCRYPT_ROUNDS = _env_int("BCRYPT_ROUNDS", 10)

    CORS_ORIGINS = _env_list("CORS_ORIGINS", DEFAULT_CORS_ORIGINS)

    MAX_CONTENT_LENGTH = _env_int("MAX_CONTENT_LENGTH", 64 * 1024)
    MAX_MESSAGE_LENGTH = _env_int("MAX_MESSAGE_LENGTH", 5000)
    HISTORY_PAGE_SIZE = _env_int("HISTORY_PAGE_SIZE", 50)
    HISTORY_MAX_PAGE_SIZE = _env_int("HISTORY_MAX_PAGE_SIZE", 200)
    CONVERSATION_PAGE_SIZE = _env_int("CONVERSATION_PAGE_SIZE", 30)
    CONVERSATION_MAX_PAGE_SIZE = _env_int("CONVERSATION_MAX_PAGE_SIZE", 100)

    # Failed logins (chatapp/login_throttle.py): free tries per (username, client address) and
    # per client address, after which each failure doubles the wait (1 s, 2 s, ... up to
    # LOGIN_MAX_DELAY_SECONDS; 429 with Retry-After). Never a lockout of the username.
    LOGIN_FREE_FAILURES = _env_int("LOGIN_FREE_FAILURES", 5)
    LOGIN_FREE_FAILURES_PER_ADDRESS = _env_int("LOGIN_FREE_FAILURES_PER_ADDRESS", 30)
    LOGIN_MAX_DELAY_SECONDS = _env_int("LOGIN_MAX_DELAY_SECONDS", 900)
    # bcrypt calls that may wait for a free core (beyond those running); beyond it logins and
    # registrations answer 503 with Retry-After at once instead of queueing without bound.
    BCRYPT_QUEUE_MAX = _env_int("BCRYPT_QUEUE_MAX", 64)
    # Rate limits in the `limits` notation ("10 per minute"); an empty value disables one.
    REGISTER_LIMIT = os.environ.get("REGISTER_LIMIT", "")
    # Empty: REDIS_URL when that is set (counters shared by every worker), else memory://.
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "").strip()
    # Messages a user may send, over HTTP and Socket.IO together; beyond it a send is refused
    # (429 / negative ack), never dropped silently.
    SEND_RATE_LIMIT = os.environ.get("SEND_RATE_LIMIT", "20 per second")
    # Typing indicators a user may send (per user; the excess is dropped silently), and how long
    # a receiver should show one without a refresh.
    TYPING_RATE_LIMIT = os.environ.get("TYPING_RATE_LIMIT", "5 per second")
    TYPING_EXPIRES_MS = _env_int("TYPING_EXPIRES_MS", 5000)

    ASYNC_MODE = os.environ.get("ASYNC_MODE", "eventlet").strip() or "eventlet"
    # Presence changes within this window reach everyone as one getOnlineUsers list.
    PRESENCE_BROADCAST_WINDOW_MS = _env_int("PRESENCE_BROADCAST_WINDOW_MS", 100)
    # Largest Socket.IO packet a client may send, bytes.
    SOCKET_MAX_PAYLOAD = _env_int("SOCKET_MAX_PAYLOAD", 64 * 1024)
    # Development only: let a socket with no token connect as its ?userId= at once (the Node
    # backend's way; the React client needs it only when its socket cannot upgrade to a
    # WebSocket, whose cookie otherwise proves the user). Refused in production.
    SOCKET_TRUST_QUERY_USER_ID = _env_bool("SOCKET_TRUST_QUERY_USER_ID", False)
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
    # Shortest password a new account may choose (existing accounts still log in).
    PASSWORD_MIN_LENGTH = _env_int("PASSWORD_MIN_LENGTH", 8)
    # Users per page of GET /api/v1/user/?limit=&before=&q= (without them: the whole list).
    USER_PAGE_SIZE = _env_int("USER_PAGE_SIZE", 50)
    USER_MAX_PAGE_SIZE = _env_int("USER_MAX_PAGE_SIZE", 200)
    # "human" (one readable line) or "json" (one JSON object per line, for log collectors).
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "human")
    # Who may read /metrics: networks, comma-separated, matched against the remote address
    # (after ProxyFix); everyone else gets a 404.
    METRICS_ALLOWED_NETWORKS = _env_list("METRICS_ALLOWED_NETWORKS", ("127.0.0.0/8", "::1"))

    # Edits, deletions, reactions, blocks, profiles and search (docs/api.md).
    # How long after sending a message its sender may edit it, seconds; 0: no limit.
    EDIT_WINDOW_SECONDS = _env_int("EDIT_WINDOW_SECONDS", 0)
    # Edits and deletions together, reactions added or removed, searches, profile and password
    # changes with blocks and unblocks: per user, over HTTP and Socket.IO.
    EDIT_RATE_LIMIT = os.environ.get("EDIT_RATE_LIMIT", "5 per second;60 per minute")
    REACTION_RATE_LIMIT = os.environ.get("REACTION_RATE_LIMIT", "10 per second;120 per minute")
    SEARCH_RATE_LIMIT = os.environ.get("SEARCH_RATE_LIMIT", "2 per second;30 per minute")
    PROFILE_RATE_LIMIT = os.environ.get("PROFILE_RATE_LIMIT", "10 per minute")
    # Wrong current passwords in password changes, per user; beyond it even the right one waits.
    PASSWORD_FAILURE_LIMIT = os.environ.get("PASSWORD_FAILURE_LIMIT", "5 per 15 minutes")
    # Different emojis one message may carry (each from any number of people).
    REACTION_MAX_DISTINCT = _env_int("REACTION_MAX_DISTINCT", 20)
    # Users one person may block.
    BLOCK_MAX = _env_int("BLOCK_MAX", 1000)
    # One search request reads at most this many of the caller's newest messages (older than
    # `before`); beyond them it answers with a cursor to continue from.
    SEARCH_SCAN_LIMIT = _env_int("SEARCH_SCAN_LIMIT", 5000)
    SEARCH_PAGE_SIZE = _env_int("SEARCH_PAGE_SIZE", 20)
    SEARCH_MAX_PAGE_SIZE = _env_int("SEARCH_MAX_PAGE_SIZE", 50)

    # Sockets (docs/security.md): Engine.IO sessions from one client address that have
    # not signed in yet (beyond it, new ones are refused); sockets one user may have open at
    # once, and open per minute (signed-in sockets only; 0 and "" disable them).
    SOCKET_PENDING_PER_ADDRESS = _env_int("SOCKET_PENDING_PER_ADDRESS", 32)
    SOCKETS_PER_USER_MAX = _env_int("SOCKETS_PER_USER_MAX", 20)
    SOCKET_CONNECT_LIMIT = os.environ.get("SOCKET_CONNECT_LIMIT", "30 per minute")

    # Several workers (docs/scaling.md). Empty REDIS_URL: one process, nothing else to run. Set
    # (redis://host:6379/0): emits, presence and rate limits are shared through that Redis.
    REDIS_URL = os.environ.get("REDIS_URL", "").strip()
    # How long one Redis command may take before it counts as failed, milliseconds.
    REDIS_TIMEOUT_MS = _env_int("REDIS_TIMEOUT_MS", 1000)
    # A worker refreshes its presence in Redis this often; one that stops (SIGKILL) has its users
    # counted offline within 4x this (its key lives 3x, then the next heartbeat cleans up).
    PRESENCE_HEARTBEAT_SECONDS = float(os.environ.get("PRESENCE_HEARTBEAT_SECONDS", "3") or 3)
    # How many proxies (nginx: 1) stand in front of the app and set X-Forwarded-For/-Proto/-Host.
    # 0: those headers are ignored (a client could send any address it likes).
    TRUSTED_PROXY_HOPS = _env_int("TRUSTED_PROXY_HOPS", 0)

    # Group conversations (docs/groups.md): the most members a group holds besides its creator
    # (a new group names 2 to this many), and how many group creations, renames and membership
    # changes one user may make (empty disables).
    GROUP_MAX_MEMBERS = _env_int("GROUP_MAX_MEMBERS", 100)
    GROUP_RATE_LIMIT = os.environ.get("GROUP_RATE_LIMIT", "2 per second;30 per minute")

class ProductionConfig(Config):
    ENV_NAME = "production"
    # No development origins by default: only the server's own origin (a client served beside it).
    CORS_ORIGINS = _env_list("CORS_ORIGINS", ())
    COOKIE_SECURE = _env_bool("COOKIE_SECURE", True)
    REGISTER_LIMIT = os.environ.get("REGISTER_LIMIT", "20 per hour")

class TestConfig(Config):
    ENV_NAME = "testing"
    TESTING = True
    # A real MongoDB for the suite when TEST_MONGO_URI is set; the embedded one otherwise.
    MONGO_URI = os.environ.get("TEST_MONGO_URI", "").strip()
    MONGO_DB_NAME = "chatapp_test"
    JWT_SECRET_KEY = "test-secret-key-that-is-long-enough-for-hs256-0123456789"
    BCRYPT_ROUNDS = 4  # the minimum bcrypt allows: for faster tests
    LOGIN_FREE_FAILURES = 5
    REGISTER_LIMIT = ""
    ASYNC_MODE = "threading"
    PRESENCE_BROADCAST_WINDOW_MS = 0
    # Tests that exercise these limits set their own.
    EDIT_RATE_LIMIT = REACTION_RATE_LIMIT = SEARCH_RATE_LIMIT = PROFILE_RATE_LIMIT = ""

    # The suite runs a second time on a real Redis when TEST_REDIS_URL is set (CI does).
    REDIS_URL = os.environ.get("TEST_REDIS_URL", "").strip()
    RATELIMIT_STORAGE_URI = ""
    GROUP_RATE_LIMIT = ""  # tests of the limit set their own


def config_from_env():
    """The configuration class named by APP_ENV (development by default).

    TestConfig is not among them: its secret is in this file, so a server started with it would
    accept tokens anyone can forge. Tests pass it to `create_app` themselves.
    """
    name = os.environ.get("APP_ENV", "development").strip().lower()
    classes = {"development": Config, "production": ProductionConfig}
    if name == "testing":
        raise RuntimeError(
            "APP_ENV=testing is refused: the test configuration signs tokens with a secret "
            "published in config.py. Tests pass TestConfig to create_app; servers use "
            "development or production."
        )
    if name not in classes:
        raise RuntimeError(f"APP_ENV must be one of {', '.join(classes)}, got {name!r}")
    return classes[name]


# An exact browser origin: scheme, host, optional port; nothing else (no path, no wildcard).
_ORIGIN = re.compile(r"https://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?")


def production_origin_errors(origins):
    """Why each of `origins` is unfit for production (an empty list when all are fit).

    Only exact https origins: `*` or a pattern would let any matching site call the API with the
    user's cookie, and a page served over http can be rewritten by anyone on the network path.
    """
    errors = []
    for origin in origins:
        if origin == "*" or any(ch in origin for ch in "*?()^$|\\+{}"):
            errors.append(f"{origin!r} is a wildcard or pattern")
        elif not origin.startswith("https://"):
            errors.append(f"{origin!r} is not https")
        elif not _ORIGIN.fullmatch(origin):
            errors.append(f"{origin!r} is not a bare origin (https://host[:port], no path)")
    return errors


LOOPBACK_NAMES = ("localhost", "ip6-localhost")


def is_loopback(host):
    """True for an address (or `localhost`) that only this machine can reach."""
    host = (host or "").strip().strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_listen_address(settings, host):
    """Refuse to serve the development configuration on an address other machines can reach.

    Development serves the demo page, may trust `?userId=` (SOCKET_TRUST_QUERY_USER_ID) and runs
    on a database that forgets everything: not something to expose on a network.
    """
    if settings["ENV_NAME"] != "production" and not is_loopback(host):
        raise RuntimeError(
            f"Refusing to serve the {settings['ENV_NAME']} configuration on {host}: it listens "
            "on loopback only (HOST=127.0.0.1). To serve other machines, run the production "
            "configuration (APP_ENV=production, `make serve`)."
        )


def check_config(settings):
    """Check a loaded configuration (a Flask ``app.config``); return warnings worth logging.

    Production refuses to start without a real secret and database. Development fills in a
    random secret so `make run` needs no setup, and says so.
    """
    warnings = []
    if settings["ENV_NAME"] == "production":
        missing = [name for name in ("JWT_SECRET_KEY", "MONGO_URI") if not settings.get(name)]
        if missing:
            raise RuntimeError(
                "Refusing to start in production (APP_ENV=production, as `make serve` runs) "
                "without " + " and ".join(missing)
                + ": set them in the environment or in .env (see .env.example)."
            )
        if len(settings["JWT_SECRET_KEY"].encode()) < 32:
            raise RuntimeError("JWT_SECRET_KEY must be at least 32 bytes in production.")
        bad_origins = production_origin_errors(settings["CORS_ORIGINS"])
        if bad_origins:
            raise RuntimeError(
                "CORS_ORIGINS must list exact https origins in production: "
                + "; ".join(bad_origins) + "."
            )
        if not settings["COOKIE_SECURE"]:
            raise RuntimeError(
                "COOKIE_SECURE=false is refused in production: the login cookie would travel "
                "over plain http. Serve over https (a TLS-terminating proxy is fine)."
            )
        if settings["SOCKET_TRUST_QUERY_USER_ID"]:
            raise RuntimeError(
                "SOCKET_TRUST_QUERY_USER_ID lets anyone connect as anyone; "
                "it is refused in production."
            )
    elif not settings.get("JWT_SECRET_KEY"):
        settings["JWT_SECRET_KEY"] = secrets.token_urlsafe(48)
        warnings.append(
            "JWT_SECRET_KEY is not set: generated a random one for this process "
            "(logins will not survive a restart). Set JWT_SECRET_KEY in production."
        )
    if settings["TRUSTED_PROXY_HOPS"] < 0:
        raise RuntimeError("TRUSTED_PROXY_HOPS must be 0 or more (0: no proxy is trusted)")
    if settings["REDIS_URL"] and not settings["REDIS_URL"].startswith(("redis://", "rediss://")):
        raise RuntimeError(
            f"REDIS_URL must start with redis:// or rediss://, got {settings['REDIS_URL']!r}"
        )
    if settings["ASYNC_MODE"] not in ("eventlet", "gevent", "threading"):
        raise RuntimeError(
            f"ASYNC_MODE must be eventlet, gevent or threading, got {settings['ASYNC_MODE']!r}"
        )
    return warnings
