"""TRUSTED_PROXY_HOPS: limits per address key on the real client behind nginx, never on a header
a client made up."""

import pytest

from chatapp.app import create_app
from config import TestConfig
from tests.helpers.chat import PASSWORD, _counter


def register_from(app, remote_addr, forwarded_for=None):
    """Register a new user as a client at `remote_addr` (nginx, when proxied) would."""
    n = next(_counter)
    body = {"fullName": f"Proxy {n}", "username": f"proxy{n}", "password": PASSWORD,
            "confirmPassword": PASSWORD, "gender": "male"}
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return app.test_client().post(
        "/api/v1/user/register", json=body, headers=headers,
        environ_base={"REMOTE_ADDR": remote_addr},
    )


def test_by_default_an_attackers_x_forwarded_for_is_ignored(make_app):
    app = make_app(TRUSTED_PROXY_HOPS=0, REGISTER_LIMIT="2 per minute")
    # One client inventing a new address per request still has one budget: its own address's.
    statuses = [
        register_from(app, "203.0.113.7", forwarded_for=f"198.51.100.{n}").status_code
        for n in range(3)
    ]
    assert statuses == [201, 201, 429]


def test_behind_one_proxy_each_client_behind_it_has_its_own_budget(make_app):
    app = make_app(TRUSTED_PROXY_HOPS=1, REGISTER_LIMIT="2 per minute")
    # Every request comes from nginx (127.0.0.1); nginx appends the real client's address.
    first = [register_from(app, "127.0.0.1", "198.51.100.1").status_code for _ in range(3)]
    assert first == [201, 201, 429]
    # Another client behind the same proxy is not refused for the first one's attempts.
    assert register_from(app, "127.0.0.1", "198.51.100.2").status_code == 201


def test_behind_one_proxy_only_the_address_the_proxy_added_counts(make_app):
    app = make_app(TRUSTED_PROXY_HOPS=1, REGISTER_LIMIT="2 per minute")
    # The client sent its own X-Forwarded-For; nginx appended the address it really came from.
    statuses = [
        register_from(app, "127.0.0.1", f"10.9.9.{n}, 198.51.100.3").status_code
        for n in range(3)
    ]
    assert statuses == [201, 201, 429]


def test_a_negative_number_of_hops_refuses_to_start():
    with pytest.raises(RuntimeError, match="TRUSTED_PROXY_HOPS"):
        create_app(TestConfig, TRUSTED_PROXY_HOPS=-1)
