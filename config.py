"""Configuration, read once from the environment.

Every setting has a documented default (see README's configuration table and `.env.example`), so
`make run` works with no setup. `ProductionConfig` refuses to start without a real secret and a
real database instead of silently falling back to development defaults.
"""

import os
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

    BCRYPT_ROUNDS = _env_int("BCRYPT_ROUNDS", 10)

    CORS_ORIGINS = _env_list("CORS_ORIGINS", DEFAULT_CORS_ORIGINS)

    MAX_CONTENT_LENGTH = _env_int("MAX_CONTENT_LENGTH", 64 * 1024)
    MAX_MESSAGE_LENGTH = _env_int("MAX_MESSAGE_LENGTH", 5000)
    HISTORY_PAGE_SIZE = _env_int("HISTORY_PAGE_SIZE", 50)
    HISTORY_MAX_PAGE_SIZE = _env_int("HISTORY_MAX_PAGE_SIZE", 200)
    CONVERSATION_PAGE_SIZE = _env_int("CONVERSATION_PAGE_SIZE", 30)
    CONVERSATION_MAX_PAGE_SIZE = _env_int("CONVERSATION_MAX_PAGE_SIZE", 100)

    # Rate limits in the `limits` notation ("10 per minute"); an empty value disables one.
    LOGIN_FAILURE_LIMIT = os.environ.get("LOGIN_FAILURE_LIMIT", "10 per minute")
    REGISTER_LIMIT = os.environ.get("REGISTER_LIMIT", "")
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
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
    # "human" (one readable line) or "json" (one JSON object per line, for log collectors).
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "human")
    # Who may read /metrics: networks, comma-separated, matched against the remote address
    # (after ProxyFix); everyone else gets a 404.
    METRICS_ALLOWED_NETWORKS = _env_list("METRICS_ALLOWED_NETWORKS", ("127.0.0.0/8", "::1"))

class ProductionConfig(Config):
    ENV_NAME = "production"
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
    LOGIN_FAILURE_LIMIT = "5 per minute"
    REGISTER_LIMIT = ""
    ASYNC_MODE = "threading"
    PRESENCE_BROADCAST_WINDOW_MS = 0


def config_from_env():
    """The configuration class named by APP_ENV (development by default)."""
    name = os.environ.get("APP_ENV", "development").strip().lower()
    classes = {"development": Config, "production": ProductionConfig, "testing": TestConfig}
    if name not in classes:
        raise RuntimeError(f"APP_ENV must be one of {', '.join(classes)}, got {name!r}")
    return classes[name]


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
                "Refusing to start in production without " + " and ".join(missing)
                + ": set them in the environment (see .env.example)."
            )
        if len(settings["JWT_SECRET_KEY"].encode()) < 32:
            raise RuntimeError("JWT_SECRET_KEY must be at least 32 bytes in production.")
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
    if settings["ASYNC_MODE"] not in ("eventlet", "gevent", "threading"):
        raise RuntimeError(
            f"ASYNC_MODE must be eventlet, gevent or threading, got {settings['ASYNC_MODE']!r}"
        )
    return warnings
