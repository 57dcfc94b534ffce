"""Socket event `typing`: relayed to the named user's tabs only, never stored, rate-limited."""

import pytest
from bson import ObjectId

from chatapp import db
from tests.helpers.chat import received


def test_typing_reaches_every_tab_of_that_user_and_nobody_else(api, connect):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    carol, _ = api.user()
    alice_tabs = [connect(alice), connect(alice)]
    bob_tabs = [connect(bob), connect(bob)]
    carol_tab = connect(carol)
    for tab in (*alice_tabs, *bob_tabs, carol_tab):
        tab.get_received()
    alice_tabs[0].emit("typing", {"to": bob_user["_id"], "isTyping": True})
    alice_tabs[0].emit("typing", {"to": bob_user["_id"], "isTyping": False})
    for tab in bob_tabs:
        assert received(tab, "typing") == [
            {"from": alice_user["_id"], "isTyping": True, "expiresInMs": 5000},
            {"from": alice_user["_id"], "isTyping": False, "expiresInMs": 5000},
        ]
    for tab in (*alice_tabs, carol_tab):
        assert tab.get_received() == []


def test_typing_is_never_stored(api, connect):
    alice, _ = api.user()
    _, bob_user = api.user()
    tab = connect(alice)
    tab.emit("typing", {"to": bob_user["_id"], "isTyping": True})
    database = db.mongoengine.get_db()
    assert database["messages"].count_documents({}) == 0
    assert database["conversations"].count_documents({}) == 0


@pytest.mark.parametrize(
    "data",
    [
        None, "x", 1, [], {},
        {"to": "BOB"}, {"to": "BOB", "isTyping": "yes"}, {"to": "BOB", "isTyping": 1},
        {"to": None, "isTyping": True}, {"to": 42, "isTyping": True}, {"to": {"$ne": None}, "isTyping": True},
        {"to": "nope", "isTyping": True}, {"to": "UNKNOWN", "isTyping": True}, {"to": "SELF", "isTyping": True},
    ],
)
def test_bad_typing_events_are_dropped_silently(api, connect, data):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    alice_tab, bob_tab = connect(alice), connect(bob)
    for tab in (alice_tab, bob_tab):
        tab.get_received()
    if isinstance(data, dict):
        subs = {"BOB": bob_user["_id"], "UNKNOWN": str(ObjectId()), "SELF": alice_user["_id"]}
        data = {k: subs.get(v, v) if isinstance(v, str) else v for k, v in data.items()}
    alice_tab.emit("typing", data)
    assert alice_tab.is_connected()
    assert alice_tab.get_received() == [] and bob_tab.get_received() == []


def test_an_unknown_user_and_a_known_one_get_the_same_answer(api, connect):
    """No ack either way: a sender cannot probe which ids exist."""
    alice, _ = api.user()
    _, bob_user = api.user()
    tab = connect(alice)
    known = tab.emit("typing", {"to": bob_user["_id"], "isTyping": True}, callback=True)
    unknown = tab.emit("typing", {"to": str(ObjectId()), "isTyping": True}, callback=True)
    assert known == unknown


def test_typing_beyond_the_rate_limit_is_dropped(app, api, connect):
    app.config["TYPING_RATE_LIMIT"] = "3 per minute"
    alice, _ = api.user()
    bob, bob_user = api.user()
    alice_tab, bob_tab = connect(alice), connect(bob)
    bob_tab.get_received()
    for _ in range(10):
        alice_tab.emit("typing", {"to": bob_user["_id"], "isTyping": True})
    assert len(received(bob_tab, "typing")) == 3
    assert alice_tab.is_connected()


def test_the_typing_limit_is_per_user(app, api, connect):
    app.config["TYPING_RATE_LIMIT"] = "1 per minute"
    alice, _ = api.user()
    carol, _ = api.user()
    bob, bob_user = api.user()
    alice_tab, carol_tab, bob_tab = connect(alice), connect(carol), connect(bob)
    bob_tab.get_received()
    for tab in (alice_tab, alice_tab, carol_tab):
        tab.emit("typing", {"to": bob_user["_id"], "isTyping": True})
    assert len(received(bob_tab, "typing")) == 2


def test_the_default_typing_limit_is_five_per_second(app):
    assert app.config["TYPING_RATE_LIMIT"] == "5 per second"
