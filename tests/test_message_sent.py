"""`messageSent`: the sender's other tabs see what the sender sent; `newMessage` stays the receiver's."""

from tests.conftest import received


def test_an_http_send_reaches_all_the_senders_tabs_as_message_sent(api, connect):
    alice, _ = api.user()
    bob, bob_user = api.user()
    carol, _ = api.user()
    alice_tabs = [connect(alice), connect(alice)]
    bob_tab = connect(bob)
    carol_tab = connect(carol)
    for tab in (*alice_tabs, bob_tab, carol_tab):
        tab.get_received()
    new_message = alice.post(f"/api/v1/message/send/{bob_user['_id']}", json={"message": "hi"}).get_json()["newMessage"]
    for tab in alice_tabs:
        packets = tab.get_received()
        assert [(p["name"], p["args"][0]) for p in packets] == [("messageSent", new_message)]
    bob_packets = bob_tab.get_received()
    assert [(p["name"], p["args"][0]) for p in bob_packets] == [("newMessage", new_message)]
    assert carol_tab.get_received() == []


def test_a_socket_send_skips_the_sending_tab(api, connect):
    alice, _ = api.user()
    bob, bob_user = api.user()
    sending_tab, other_tab = connect(alice), connect(alice)
    bob_tab = connect(bob)
    for tab in (sending_tab, other_tab, bob_tab):
        tab.get_received()
    ack = sending_tab.emit("sendMessage", {"receiverId": bob_user["_id"], "message": "hi"}, callback=True)
    assert sending_tab.get_received() == []  # it has the ack
    assert received(other_tab, "messageSent") == [ack["newMessage"]]
    assert received(bob_tab, "newMessage") == [ack["newMessage"]]
    assert received(bob_tab, "messageSent") == []


def test_a_failed_or_repeated_send_emits_no_message_sent(api, connect):
    alice, _ = api.user()
    _, bob_user = api.user()
    tab = connect(alice)
    tab.get_received()
    alice.post(f"/api/v1/message/send/{bob_user['_id']}", json={"message": " "})
    assert received(tab, "messageSent") == []
    body = {"message": "x", "clientMessageId": "k"}
    alice.post(f"/api/v1/message/send/{bob_user['_id']}", json=body)
    alice.post(f"/api/v1/message/send/{bob_user['_id']}", json=body)
    assert len(received(tab, "messageSent")) == 1
