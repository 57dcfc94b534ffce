"""Who is online: everyone hears when a user comes or goes, across all of their tabs."""

from chatapp.realtime.presence import Presence, PresenceBroadcaster
from tests.helpers.chat import received


def online_lists(socket):
    """The online lists `socket` received since last asked, each sorted."""
    return [sorted(ids) for ids in received(socket, "getOnlineUsers")]


def test_everyone_hears_when_a_user_comes_online_and_goes_offline(api, connect):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    alice_socket = connect(alice)
    assert online_lists(alice_socket) == [[alice_user["_id"]]]
    bob_socket = connect(bob)
    both = sorted([alice_user["_id"], bob_user["_id"]])
    assert online_lists(bob_socket)[-1] == both
    assert online_lists(alice_socket) == [both]
    bob_socket.disconnect()
    assert online_lists(alice_socket) == [[alice_user["_id"]]]


def test_a_second_tab_keeps_the_user_online_when_the_first_closes(api, connect):
    alice, alice_user = api.user()
    bob, bob_user = api.user()
    watcher = connect(alice)
    bob_tab_1 = connect(bob)
    bob_tab_2 = connect(bob)
    watcher.get_received()
    # The second tab got the list at once...
    assert sorted(received(bob_tab_2, "getOnlineUsers")[-1]) == sorted([alice_user["_id"], bob_user["_id"]])
    bob_tab_1.disconnect()
    # ...and closing the first changes nothing for anyone: no new list, bob still online.
    assert online_lists(watcher) == []
    bob_tab_2.disconnect()
    assert online_lists(watcher) == [[alice_user["_id"]]]


def test_a_refused_socket_changes_nobodys_presence(api, connect):
    alice, alice_user = api.user()
    watcher = connect(alice)
    watcher.get_received()
    connect(auth={"token": "forged"})
    assert online_lists(watcher) == []


def test_presence_counts_sockets_per_user():
    presence = Presence()
    assert presence.add("u1", "s1") is True
    assert presence.add("u1", "s2") is False
    assert presence.add("u2", "s3") is True
    assert sorted(presence.online_user_ids()) == ["u1", "u2"]
    assert presence.remove("s1") == ("u1", False)
    assert presence.remove("s2") == ("u1", True)
    assert presence.remove("s2") == (None, False)  # a second disconnect is harmless
    assert presence.online_user_ids() == ["u2"]


def test_broadcasts_within_a_window_are_coalesced_into_one():
    presence = Presence()
    sent, tasks = [], []
    broadcaster = PresenceBroadcaster(
        presence,
        send=lambda ids, skip_sid=None: sent.append(ids),
        start_task=tasks.append,
        sleep=lambda seconds: None,
    )
    broadcaster.window = 0.05
    for n in range(100):
        presence.add(f"u{n}", f"s{n}")
        broadcaster.changed()
    assert len(tasks) == 1 and sent == []  # one send scheduled for the whole burst
    tasks.pop()()
    assert len(sent) == 1 and len(sent[0]) == 100  # and it carries the final set
    presence.remove("s0")
    broadcaster.changed()
    assert len(tasks) == 1  # the next change schedules the next send
