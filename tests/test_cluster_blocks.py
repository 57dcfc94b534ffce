"""Blocks across servers: a block made through one server hides each side from the other on
every server (real gunicorn processes sharing Redis and a MongoDB-protocol database)."""

import time
import uuid

import pytest

from chatapp.realtime.visibility import REFRESH_SECONDS
from tests.helpers.live import register_and_log_in
from tests.test_cluster import (  # noqa: F401 (fixtures)
    servers, shared_database, tabs, wait_for_online,
)

pytestmark = pytest.mark.integration


def test_a_block_made_on_one_server_hides_both_sides_on_the_other(servers, tabs, shared_database):
    database = {"MONGO_URI": shared_database, "MONGO_DB_NAME": f"cluster_{uuid.uuid4().hex[:8]}"}
    one, two = servers("one", **database), servers("two", **database)
    alice, bob, carol = (register_and_log_in(one.url), register_and_log_in(two.url),
                         register_and_log_in(one.url))
    alice_tab, bob_tab = tabs(one, alice), tabs(two, bob)
    wait_for_online(alice_tab, includes=[alice, bob])
    wait_for_online(bob_tab, includes=[alice, bob])

    response = bob.session.post(f"{two.url}/api/v1/user/blocks/{alice.id}", timeout=10)
    assert response.status_code == 201, response.text
    # Server two sends both their new lists at once, Alice's through the queue to server one.
    wait_for_online(alice_tab, includes=[alice], excludes=[bob])
    wait_for_online(bob_tab, includes=[bob], excludes=[alice])
    # Server one's own later broadcasts honour the block too, once it re-read the blocks.
    time.sleep(REFRESH_SECONDS + 0.5)
    tabs(one, carol)
    wait_for_online(alice_tab, includes=[alice, carol], excludes=[bob])
    assert alice.session.post(
        f"{one.url}/api/v1/message/send/{bob.id}", json={"message": "hi"}, timeout=10
    ).status_code == 403

    response = bob.session.delete(f"{two.url}/api/v1/user/blocks/{alice.id}", timeout=10)
    assert response.status_code == 200, response.text
    wait_for_online(alice_tab, includes=[alice, bob, carol])
    wait_for_online(bob_tab, includes=[alice, bob, carol])
