"""Reading a conversation: pages back with `?before=`, catching up with `?after=`, oldest first."""

import pytest
from bson import ObjectId

from chatapp.models import Conversation
from tests.helpers.chat import history, received, send, sent


def test_after_pages_forward_with_a_cursor_header(api):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    stored = [sent(alice, bob_user["_id"], f"m{i}") for i in range(7)]
    seen = stored[1]["_id"]  # what bob had before going away

    first = history(bob, alice_user["_id"], after=seen, limit=3)
    assert first.status_code == 200
    assert [m["message"] for m in first.get_json()] == ["m2", "m3", "m4"]
    assert first.headers["X-Next-After"] == first.get_json()[-1]["_id"]
    assert "X-Next-Before" not in first.headers

    second = history(bob, alice_user["_id"], after=first.headers["X-Next-After"], limit=3)
    assert [m["message"] for m in second.get_json()] == ["m5", "m6"]
    assert "X-Next-After" not in second.headers
    assert second.get_json() == stored[5:]  # the same JSON the sends answered


def test_after_the_newest_message_is_empty(api):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    last = sent(alice, bob_user["_id"], "latest")
    response = history(bob, alice_user["_id"], after=last["_id"])
    assert response.status_code == 200 and response.get_json() == []
    assert "X-Next-After" not in response.headers


def test_after_is_capped_and_uses_the_default_page_size(app, api):
    app.config["HISTORY_PAGE_SIZE"] = 2
    app.config["HISTORY_MAX_PAGE_SIZE"] = 3
    alice, _ = api.user()
    _, bob_user = api.user()
    stored = [sent(alice, bob_user["_id"], f"m{i}") for i in range(5)]
    cursor = stored[0]["_id"]
    assert len(history(alice, bob_user["_id"], after=cursor).get_json()) == 2
    assert len(history(alice, bob_user["_id"], after=cursor, limit=1000).get_json()) == 3


def test_after_only_ever_reads_the_callers_conversation(api):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    carol, _ = api.user()
    first = sent(alice, bob_user["_id"], "private")
    # Carol, with a cursor from before alice and bob's messages, sees nothing of them.
    early = str(ObjectId("0" * 24))
    assert history(carol, bob_user["_id"], after=early).get_json() == []
    assert history(carol, alice_user["_id"], after=early).get_json() == []
    assert [m["_id"] for m in history(bob, alice_user["_id"], after=early).get_json()] == [first["_id"]]


def test_before_and_after_together_are_a_400(api):
    alice, _ = api.user()
    _, bob_user = api.user()
    m = sent(alice, bob_user["_id"], "x")
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


def test_both_sides_read_the_same_history_oldest_first(api):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    sent = [
        send(alice, bob_user["_id"], "one").get_json()["newMessage"],
        send(bob, alice_user["_id"], "two").get_json()["newMessage"],
        send(alice, bob_user["_id"], "three").get_json()["newMessage"],
    ]
    for client, other in ((alice, bob_user), (bob, alice_user)):
        response = history(client, other["_id"])
        assert response.status_code == 200
        assert response.get_json() == sent  # identical JSON, times included
    assert Conversation.objects.count() == 1


def test_history_is_an_empty_array_before_any_message(api):
    alice, _ = api.user()
    _, bob_user = api.user()
    response = history(alice, bob_user["_id"])
    assert response.status_code == 200 and response.get_json() == []
    assert "X-Next-Before" not in response.headers


def test_history_is_only_ever_the_callers_own_conversation(api):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    carol, carol_user = api.user()
    send(alice, bob_user["_id"], "for bob only")
    send(carol, alice_user["_id"], "for alice only")
    # Carol asking for "her conversation with bob" sees nothing of alice and bob's.
    assert history(carol, bob_user["_id"]).get_json() == []
    assert [m["message"] for m in history(bob, alice_user["_id"]).get_json()] == ["for bob only"]
    assert [m["message"] for m in history(alice, carol_user["_id"]).get_json()] == ["for alice only"]


def test_history_pages_backwards_with_a_cursor_header(app, api):
    alice, alice_user = api.user()
    _, bob_user = api.user()
    texts = [f"m{i}" for i in range(7)]
    for text in texts:
        send(alice, bob_user["_id"], text)

    first = history(alice, bob_user["_id"], limit=3)
    assert [m["message"] for m in first.get_json()] == ["m4", "m5", "m6"]
    cursor = first.headers["X-Next-Before"]
    assert cursor == first.get_json()[0]["_id"]

    second = history(alice, bob_user["_id"], limit=3, before=cursor)
    assert [m["message"] for m in second.get_json()] == ["m1", "m2", "m3"]
    third = history(alice, bob_user["_id"], limit=3, before=second.headers["X-Next-Before"])
    assert [m["message"] for m in third.get_json()] == ["m0"]
    assert "X-Next-Before" not in third.headers


def test_history_returns_the_newest_page_by_default(app, api):
    app.config["HISTORY_PAGE_SIZE"] = 4
    alice, _ = api.user()
    _, bob_user = api.user()
    for i in range(6):
        send(alice, bob_user["_id"], f"m{i}")
    assert [m["message"] for m in history(alice, bob_user["_id"]).get_json()] == ["m2", "m3", "m4", "m5"]


def test_history_limit_is_capped(app, api):
    app.config["HISTORY_MAX_PAGE_SIZE"] = 3
    alice, _ = api.user()
    _, bob_user = api.user()
    for i in range(5):
        send(alice, bob_user["_id"], f"m{i}")
    assert len(history(alice, bob_user["_id"], limit=1000).get_json()) == 3


@pytest.mark.parametrize("limit", ["0", "-1", "ten", "1.5"])
def test_bad_limit_is_a_400(api, limit):
    alice, _ = api.user()
    _, bob_user = api.user()
    response = history(alice, bob_user["_id"], limit=limit)
    assert response.status_code == 400
    assert response.get_json()["success"] is False


@pytest.mark.parametrize("before", ["nope", "0" * 23, "g" * 24])
def test_bad_cursor_is_a_400(api, before):
    alice, _ = api.user()
    _, bob_user = api.user()
    assert history(alice, bob_user["_id"], before=before).status_code == 400


def test_an_offline_receiver_finds_the_message_in_history(api, connect):
    alice, _ = api.user()
    bob, bob_user = api.user()
    send(alice, bob_user["_id"], "while you were out")
    bob_tab = connect(bob)
    assert received(bob_tab, "newMessage") == []  # nothing is replayed over the socket...
    alice_id = next(u["_id"] for u in bob.get("/api/v1/user/").get_json())
    page = bob.get(f"/api/v1/message/{alice_id}").get_json()
    assert [m["message"] for m in page] == ["while you were out"]  # ...history has it
