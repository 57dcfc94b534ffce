"""Search: every word, as a substring, case-insensitively; only the caller's conversations; newest
first, paged, one bounded window of messages per request."""

import pytest
from bson import ObjectId

from tests.helpers.chat import sent


def search(client, **params):
    return client.get("/api/v1/messages/search", query_string=params)


def texts(response):
    assert response.status_code == 200, response.get_json()
    return [m["message"] for m in response.get_json()]


@pytest.fixture
def chats(api):
    """Alice talks with Bob and with Carol; Bob and Carol also talk, without Alice."""
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    carol, carol_user = api.user()
    sent(alice, bob_user["_id"], "Lunch at noon?")
    sent(bob, alice_user["_id"], "lunch sounds GREAT")
    sent(alice, carol_user["_id"], "the launch is at noon")
    sent(bob, carol_user["_id"], "secret lunch plans without alice")
    return alice, alice_user, bob, bob_user, carol, carol_user


def test_every_word_case_insensitively_as_a_substring_newest_first(chats):
    alice, *_ = chats
    assert texts(search(alice, q="lunch")) == ["lunch sounds GREAT", "Lunch at noon?"]
    assert texts(search(alice, q="NOON")) == ["the launch is at noon", "Lunch at noon?"]
    assert texts(search(alice, q="noon LUNCH")) == ["Lunch at noon?"]
    assert texts(search(alice, q="OUND")) == ["lunch sounds GREAT"]  # inside a word
    assert texts(search(alice, q="lunches")) == []  # no stemming
    assert texts(search(alice, q="lunch  lunch\tLUNCH")) == ["lunch sounds GREAT", "Lunch at noon?"]


def test_only_the_callers_conversations(chats):
    alice, _, bob, _, carol, _ = chats
    assert "secret" not in " ".join(texts(search(alice, q="lunch")))
    assert texts(search(bob, q="secret")) == ["secret lunch plans without alice"]
    assert texts(search(carol, q="lunch")) == ["secret lunch plans without alice"]


def test_results_say_where_they_are_and_carry_reactions(chats):
    alice, _, bob, bob_user, *_ = chats
    [found] = search(alice, q="great").get_json()
    assert found["conversationId"] and found["senderId"] == bob_user["_id"]
    alice.post(f"/api/v1/message/{found['_id']}/reactions", json={"emoji": "👍"})
    [found] = search(alice, q="great").get_json()
    assert found["reactions"][0]["reacted"] is True


def test_within_one_conversation(chats):
    alice, _, _, _, _, carol_user = chats
    [in_carols] = search(alice, q="noon").get_json()[:1]
    conversation_id = in_carols["conversationId"]
    assert texts(search(alice, q="noon", conversationId=conversation_id)) == ["the launch is at noon"]


def test_someone_elses_conversation_is_not_found(chats):
    alice, _, bob, _, _, carol_user = chats
    [theirs] = search(bob, q="secret").get_json()
    for conversation_id in (theirs["conversationId"], str(ObjectId())):
        response = search(alice, q="secret", conversationId=conversation_id)
        assert response.status_code == 404 and response.get_json()["success"] is False


def test_regex_characters_are_plain_text(api):
    alice, _ = api.user()
    _, bob_user = api.user()
    for text in ("a.b", "axb", "(x)", "1+1=2", "C:\\path", "[ok]", "$5 ^top*"):
        sent(alice, bob_user["_id"], text)
    assert texts(search(alice, q="a.b")) == ["a.b"]
    assert texts(search(alice, q="(x")) == ["(x)"]
    assert texts(search(alice, q="1+1")) == ["1+1=2"]
    assert texts(search(alice, q="C:\\")) == ["C:\\path"]
    assert texts(search(alice, q="[ok]")) == ["[ok]"]
    assert texts(search(alice, q="$5 ^top*")) == ["$5 ^top*"]
    assert texts(search(alice, q=".*")) == []


def test_edits_and_deletions_are_what_search_sees(chats):
    alice, _, _, bob_user, *_ = chats
    [mine] = search(alice, q="Lunch at noon").get_json()
    alice.patch(f"/api/v1/message/{mine['_id']}", json={"message": "Brunch at ten?"})
    assert texts(search(alice, q="brunch")) == ["Brunch at ten?"]
    assert texts(search(alice, q="noon")) == ["the launch is at noon"]
    alice.delete(f"/api/v1/message/{mine['_id']}")
    assert texts(search(alice, q="brunch")) == []


def test_pages_with_before_and_the_next_cursor(api):
    alice, _ = api.user()
    _, bob_user = api.user()
    ids = [sent(alice, bob_user["_id"], f"note {n}")["_id"] for n in range(5)]
    first = search(alice, q="note", limit=2)
    assert texts(first) == ["note 4", "note 3"]
    assert first.headers["X-Next-Before"] == ids[3]
    second = search(alice, q="note", limit=2, before=first.headers["X-Next-Before"])
    assert texts(second) == ["note 2", "note 1"]
    last = search(alice, q="note", limit=2, before=second.headers["X-Next-Before"])
    assert texts(last) == ["note 0"] and "X-Next-Before" not in last.headers


def test_one_request_reads_a_bounded_window_and_paging_still_finds_everything(app, api):
    app.config["SEARCH_SCAN_LIMIT"] = 3
    alice, _ = api.user()
    _, bob_user = api.user()
    for n in range(8):
        sent(alice, bob_user["_id"], f"needle {n}" if n in (0, 1, 6) else f"hay {n}")
    seen, pages, before = [], 0, None
    while pages < 10:
        params = {"q": "needle", "limit": 5}
        if before:
            params["before"] = before
        response = search(alice, **params)
        seen += texts(response)
        pages += 1
        assert len(response.get_json()) <= 3  # never more than the window holds
        before = response.headers.get("X-Next-Before")
        if before is None:
            break
    assert seen == ["needle 6", "needle 1", "needle 0"]
    assert pages == 3  # windows of 3 over 8 messages


@pytest.mark.parametrize(
    "params, status",
    [
        ({}, 400),
        ({"q": ""}, 400),
        ({"q": "   "}, 400),
        ({"q": "x" * 201}, 400),
        ({"q": " ".join(f"w{n}" for n in range(11))}, 400),
        ({"q": "a\x00b"}, 400),
        ({"q": "a", "limit": "0"}, 400),
        ({"q": "a", "limit": "many"}, 400),
        ({"q": "a", "before": "nope"}, 400),
        ({"q": "a", "conversationId": "nope"}, 400),
    ],
)
def test_bad_searches_are_json_400s(chats, params, status):
    alice, *_ = chats
    response = search(alice, **params)
    assert response.status_code == status and response.get_json()["success"] is False


def test_no_conversations_no_results(api):
    loner, _ = api.user()
    response = search(loner, q="anything")
    assert response.status_code == 200 and response.get_json() == []


def test_search_needs_a_login_and_is_rate_limited(app, client, chats):
    assert search(client, q="lunch").status_code == 401
    alice, *_ = chats
    app.config["SEARCH_RATE_LIMIT"] = "2 per minute"
    assert search(alice, q="lunch").status_code == 200
    assert search(alice, q="lunch").status_code == 200
    response = search(alice, q="lunch")
    assert response.status_code == 429 and response.headers["Retry-After"]
