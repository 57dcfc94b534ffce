"""The demo web client at `/`: served in development, absent in production."""

import json
import re

import pytest

from chatapp import db
from chatapp.api.web import WEB_ROOT
from chatapp.app import create_app
from config import ProductionConfig, TestConfig
from tests.helpers.chat import assert_json_error
from tests.helpers.missing import skip_unless_ci


class DevelopmentConfig(TestConfig):
    ENV_NAME = "development"


class ProductionWithSecrets(ProductionConfig):
    JWT_SECRET_KEY = "production-secret-key-that-is-long-enough-0123456789"
    MONGO_URI = "mongodb://127.0.0.1:1/chatapp"
    ASYNC_MODE = "threading"


@pytest.fixture
def dev_client():
    return create_app(DevelopmentConfig).test_client()


def test_the_page_is_served_at_the_root_in_development(dev_client):
    with dev_client.get("/") as response:  # `with`: a file response holds the file open
        assert response.status_code == 200
        assert response.mimetype == "text/html"
        page = response.get_data(as_text=True)
    assert '<script src="vendor/socket.io.min.js"></script>' in page
    assert '<script src="app.js"></script>' in page


@pytest.mark.parametrize(
    ("path", "mimetype"),
    [
        ("/app.js", "text/javascript"),
        ("/style.css", "text/css"),
        ("/vendor/socket.io.min.js", "text/javascript"),
    ],
)
def test_the_pages_files_are_served_in_development(dev_client, path, mimetype):
    with dev_client.get(path) as response:
        assert response.status_code == 200
        assert response.mimetype == mimetype


def test_no_catch_all_route_shadows_the_api(dev_client):
    # A GET on a POST-only API path stays a 405, an unknown path a 404, a file outside web/ unseen.
    assert_json_error(dev_client.get("/api/v1/user/login"), 405)
    assert_json_error(dev_client.get("/api/v1/nothing-here"), 404)
    assert_json_error(dev_client.get("/nothing-here.js"), 404)
    assert_json_error(dev_client.get("/vendor/../../config.py"), 404)
    assert_json_error(dev_client.post("/"), 405)


def test_production_serves_no_page(monkeypatch):
    # No database is needed to answer `/`: skip connecting to the configured one.
    monkeypatch.setattr(db, "init_app", lambda app: None)
    client = create_app(ProductionWithSecrets).test_client()
    for path in ("/", "/app.js", "/vendor/socket.io.min.js"):
        assert_json_error(client.get(path), 404)


def test_the_vendored_socket_io_client_is_the_pinned_version():
    # `make vendor-js` copies it from node_modules; a bump in package.json must be copied too.
    pinned = json.loads((WEB_ROOT.parent.parent / "package.json").read_text())["dependencies"]
    header = (WEB_ROOT / "vendor" / "socket.io.min.js").read_text()[:200]
    assert re.search(r"Socket\.IO v(\S+)", header).group(1) == pinned["socket.io-client"]
    assert "MIT License" in header
    assert (WEB_ROOT / "vendor" / "socket.io-client.LICENSE").is_file()



API_BASE_PROBE = """
const fs = require("fs"), vm = require("vm");
const context = { URL, URLSearchParams };
vm.runInNewContext(fs.readFileSync(process.argv[1], "utf8"), context);
const cases = JSON.parse(process.argv[2]);
const bases = cases.map(([search, origin]) => context.chatappApiBase(search, origin));
console.log(JSON.stringify(bases));
"""


def test_the_page_follows_api_only_to_a_loopback_backend():
    """`?api=` must not send the login form's password to a server a link chose."""
    import shutil
    import subprocess

    node = shutil.which("node")
    if node is None:
        skip_unless_ci("no node (apt-get install nodejs)")
    cases = [
        ("?api=http://127.0.0.1:5000", "http://localhost:5173"),  # development: honoured
        ("?api=http://localhost:5000/", "http://127.0.0.1:5173"),
        ("?api=http://[::1]:5000", "http://localhost:5173"),
        ("?api=https://evil.example", "http://localhost:5173"),  # elsewhere: ignored
        ("?api=http://127.0.0.1.evil.example", "http://localhost:5173"),
        ("?api=javascript:alert(1)", "http://localhost:5173"),
        ("?api=not a url", "http://localhost:5173"),
        ("?api=http://127.0.0.1:5000", "https://chat.example.com"),  # a page not on loopback
        ("", "http://localhost:5173"),
    ]
    result = subprocess.run(
        [node, "-e", API_BASE_PROBE, str(WEB_ROOT / "api-base.js"), json.dumps(cases)],
        capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        "http://127.0.0.1:5000",
        "http://localhost:5000",
        "http://[::1]:5000",
        "http://localhost:5173",
        "http://localhost:5173",
        "http://localhost:5173",
        "http://localhost:5173",
        "https://chat.example.com",
        "http://localhost:5173",
    ]
