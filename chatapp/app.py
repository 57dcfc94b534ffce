"""The application factory."""

import logging

from flask import Flask

from chatapp import caches, cli, concurrency, db, logs, metrics, ratelimit
from chatapp.errors import register_error_handlers
from chatapp.extensions import cors, socketio
from chatapp.services import sessions
from config import check_config, config_from_env

log = logging.getLogger(__name__)


def create_app(config_class=None, **overrides):
    """Build the app: config → logging → database → extensions → blueprints → errors → Socket.IO."""
    app = Flask(__name__, static_folder=None)  # no /static route: the API serves no files
    app.config.from_object(config_class or config_from_env())
    app.config.update(overrides)
    app.json.sort_keys = False  # keep the seed's key order on the wire
    app.json.mimetype = "application/json; charset=utf-8"  # Express's header, byte for byte
    warnings = check_config(app.config)

    configure_logger(app)
    for warning in warnings:
        log.warning(warning)

    caches.clear_all()  # nothing cached for another app (tests build many) carries over
    db.init_app(app)
    register_extensions(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_realtime(app)
    trust_proxies(app)
    cli.init_app(app)
    return app


def configure_logger(app):
    logs.init_app(app)  # LOG_FORMAT, request ids, one access line per request


def register_extensions(app):
    # Express matches "/login/" like "/login"; so do we, instead of redirecting.
    app.url_map.strict_slashes = False
    cors.init_app(
        app,
        resources={r"/api/*": {"origins": app.config["CORS_ORIGINS"]}},
        supports_credentials=True,
        always_send=False,  # no Origin, no CORS headers: never name an origin unasked
        expose_headers=["X-Next-Before", "X-Next-After", "Retry-After", "X-Request-ID"],
        # Browsers may reuse a preflight for 10 minutes instead of sending one before every
        # JSON POST (each message the React client sends).
        max_age=600,
    )
    ratelimit.init_app(app)
    metrics.init_app(app)  # /metrics, and each request counted and timed
    concurrency.configure(app.config["BCRYPT_QUEUE_MAX"])
    sessions.init_app(app)


def register_blueprints(app):
    from chatapp.api import (
        conversations, health, messages, openapi, refuse_non_json_bodies, refuse_unstorable_query,
        users, web,
    )
    from chatapp.api import message_actions, profiles, search
    from chatapp.api import groups

    app.before_request(refuse_non_json_bodies)  # 415: no form can change state cross-site
    app.before_request(refuse_unstorable_query)  # 400: a NUL in ?q= is no database error
    app.register_blueprint(users.blueprint)
    users.init_app(app)
    app.register_blueprint(messages.blueprint)
    app.register_blueprint(conversations.blueprint)
    app.register_blueprint(health.blueprint)
    app.register_blueprint(openapi.blueprint)
    for feature in (message_actions, search, profiles):  # docs/api.md
        app.register_blueprint(feature.blueprint)
    app.register_blueprint(groups.blueprint)  # docs/groups.md
    if app.config["ENV_NAME"] != "production":
        app.register_blueprint(web.blueprint)  # the demo client at `/`: development only


def register_realtime(app):
    from chatapp.realtime import cluster, namespace
    from chatapp.realtime.packets import ChatPacket

    socketio.init_app(
        app,
        # Always explicit: left unset, Flask-SocketIO picks eventlet whenever it is installed.
        async_mode=app.config["ASYNC_MODE"],
        # The same origins as the API, plus the server's own: no cross-site WebSocket hijacking.
        cors_allowed_origins=namespace.origin_checker(app.config["CORS_ORIGINS"]),
        max_http_buffer_size=app.config["SOCKET_MAX_PAYLOAD"],
        serializer=ChatPacket,
        # Always explicit: Flask-SocketIO keeps init_app's options, so an app without REDIS_URL
        # would otherwise inherit the previous app's queue (tests build many apps).
        client_manager=cluster.client_manager(app),
    )
    namespace.init_app(app, socketio)


def trust_proxies(app):
    """Behind TRUSTED_PROXY_HOPS proxies (nginx: 1), take the client's address, scheme and host
    from their X-Forwarded-* headers, so limits key on the real client. At 0 (the default) those
    headers are ignored: anyone can send them."""
    hops = app.config["TRUSTED_PROXY_HOPS"]
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
