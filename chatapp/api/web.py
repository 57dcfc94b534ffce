"""The demo web client (chatapp/web/) at `/`, so `make run` can be tried in a browser.

Registered in development only (see `register_blueprints`): production serves the API alone.
Each file gets its own exact rule rather than one `/<path:...>` catch-all, which would also match
every API path and turn a wrong method there (a GET on a POST-only path) from 405 into 404.
"""

from pathlib import Path

from flask import Blueprint, send_from_directory

WEB_ROOT = Path(__file__).resolve().parent.parent / "web"

blueprint = Blueprint("web", __name__)


def web_files():
    """The client's files, as URL paths relative to `/` (index.html is served at `/` itself)."""
    return sorted(
        path.relative_to(WEB_ROOT).as_posix()
        for path in WEB_ROOT.rglob("*")
        if path.is_file() and path.name != "index.html" and not path.name.startswith(".")
    )


@blueprint.get("/")
def index():
    """The client's page."""
    return send_from_directory(WEB_ROOT, "index.html")


def asset(name):
    """One of the client's scripts, styles or vendored files."""
    return send_from_directory(WEB_ROOT, name)


for _name in web_files():
    blueprint.add_url_rule(f"/{_name}", view_func=asset, defaults={"name": _name})
