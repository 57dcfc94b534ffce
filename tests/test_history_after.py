"""History `?after=`: catching up on what arrived while a client was away, oldest first."""

import pytest
from bson import ObjectId
from tests.conftest import history, sent as send


def test_after_pages_forward_with_a_cursor_header(api):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    sent = [send(alice, bob_user["_id"], f"m{i}") for i in range(7)]
    seen = sent[1]["_id"]  # what bob had before going away

    first = history(bob, alice_user["_id"], after=seen, limit=3)
    assert first.status_code == 200
    assert [m["message"] for m in first.get_json()] == ["m2", "m3", "m4"]
    assert first.headers["X-Next-After"] == first.get_json()[-1]["_id"]
    assert "X-Next-Before" not in first.headers

    second = history(bob, alice_user["_id"], after=first.headers["X-Next-After"], limit=3)
    assert [m["message"] for m in second.get_json()] == ["m5", "m6"]
    assert "X-Next-After" not in second.headers
    assert second.get_json() == sent[5:]  # the same JSON as when sent


def test_after_the_newest_message_is_empty(api):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    last = send(alice, bob_user["_id"], "latest")
    response = history(bob, alice_user["_id"], after=last["_id"])
    assert response.status_code == 200 and response.get_json() == []
    assert "X-Next-After" not in response.headers


def test_after_is_capped_and_uses_the_default_page_size(app, api):
    app.config["HISTORY_PAGE_SIZE"] = 2
    app.config["HISTORY_MAX_PAGE_SIZE"] = 3
    alice, _ = api.user()
    _, bob_user = api.user()
    sent = [send(alice, bob_user["_id"], f"m{i}") for i in range(5)]
    cursor = sent[0]["_id"]
    assert len(history(alice, bob_user["_id"], after=cursor).get_json()) == 2
    assert len(history(alice, bob_user["_id"], after=cursor, limit=1000).get_json()) == 3


def test_after_only_ever_reads_the_callers_conversation(api):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    carol, _ = api.user()
    first = send(alice, bob_user["_id"], "private")
    # Carol, with a cursor from before alice and bob's messages, sees nothing of them.
    early = str(ObjectId("0" * 24))
    assert history(carol, bob_user["_id"], after=early).get_json() == []
    assert history(carol, alice_user["_id"], after=early).get_json() == []
    assert [m["_id"] for m in history(bob, alice_user["_id"], after=early).get_json()] == [first["_id"]]


def test_before_and_after_together_are_a_400(api):
    alice, _ = api.user()
    _, bob_user = api.user()
    m = send(alice, bob_user["_id"], "x")
    response = history(alice, bob_user["_id"], before=m["_id"], after=m["_id"])
    assert response.status_code == 400
    assert response.get_json() == {"message": "Use either before or after, not both", "success": False}


@pytest.mark.parametrize("after", ["nope", "0" * 23, "g" * 24, "", "{'$ne': null}"])
def test_bad_after_cursor_is_a_400(api, after):
    alice, _ = api.user()
    _, bob_user = api.user()
    response = history(alice, bob_user["_id"], after=after)
    assert response.status_code == 400
    assert response.get_json()["success"] is False


def test_the_next_after_header_is_exposed_to_browsers(api):
    alice, _ = api.user()
    _, bob_user = api.user()
    response = alice.get(f"/api/v1/message/{bob_user['_id']}", headers={"Origin": "http://localhost:5173"})
    exposed = {h.strip() for h in response.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"X-Next-Before", "X-Next-After"} <= exposed
