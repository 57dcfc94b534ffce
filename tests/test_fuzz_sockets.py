"""Hypothesis against the Socket.IO events: whatever a client emits, no handler raises and every
ack has its documented shape (chatapp/openapi.json, components SendMessageAck and MarkReadAck).

Through Flask-SocketIO's test client, whose emits are encoded and decoded as real packets.
"""

import json
import logging
import os

import jsonschema_rs
import pytest
from bson import ObjectId
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatapp.api.openapi import DOCUMENT
from chatapp.realtime.packets import UNPARSABLE_EVENT

pytestmark = pytest.mark.fuzz

EXAMPLES = 6 * int(os.environ.get("FUZZ_EXAMPLES", "25"))  # cheap: no network, no server
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES, deadline=None, database=None,
    # One app and two users serve every example: nothing an example does can break the next.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Names the namespace answers to that are not client events: a separate rule covers them.
INTERNAL_NAMES = {"connect", "disconnect", "upgrade"}


def ack_validator(name):
    document = json.loads(DOCUMENT.read_text(encoding="utf-8"))
    return jsonschema_rs.Draft202012Validator(
        {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    )


ACKS = {"sendMessage": ack_validator("SendMessageAck"), "markRead": ack_validator("MarkReadAck")}
# Edits and reactions (docs/api.md; fuzzed in tests/test_fuzz_feature_sockets.py).
ACKS.update(
    editMessage=ack_validator("EditMessageAck"),
    deleteMessage=ack_validator("DeleteMessageAck"),
    react=ack_validator("ReactAck"),
)

# Text as clients may send it, lone surrogates and NUL included.
texts = st.text(st.characters(codec=None, exclude_categories=()), max_size=30) | st.sampled_from(
    ["", " ", "\ud800", "a\udfffb", "\x00", "$ne", "x" * 6000]
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(texts, children, max_size=3),
    max_leaves=12,
)


def ids(real):
    """An id field's value: a real user's id, another valid id, or anything at all."""
    return st.sampled_from(real) | st.just(str(ObjectId())) | json_values


def optional_fields(**fields):
    return st.fixed_dictionaries({}, optional=fields)


@pytest.fixture
def chat(app, api, connect):
    """Alice's socket and the ids worth aiming at (Bob's and her own)."""
    # No rate limits: every example reaches the handler's real work, not a 429.
    app.config.update(SEND_RATE_LIMIT="", TYPING_RATE_LIMIT="")
    alice, alice_user = api.user()
    _, bob_user = api.user()
    socket = connect(alice)
    return socket, [bob_user["_id"], alice_user["_id"]]


@pytest.fixture
def errors(caplog):
    caplog.set_level(logging.WARNING)
    yield lambda: [r for r in caplog.records if r.levelno >= logging.ERROR]


def assert_acknowledged(event, ack, errors):
    assert not errors(), [r.getMessage() for r in errors()]
    ACKS[event].validate(ack)


def test_send_message_payloads(chat, errors):
    socket, real = chat

    @FUZZ_SETTINGS
    @given(
        st.one_of(
            optional_fields(
                receiverId=ids(real), message=texts | json_values, clientMessageId=texts
            ),
            json_values,
        )
    )
    def send(payload):
        ack = socket.emit("sendMessage", payload, callback=True)
        assert_acknowledged("sendMessage", ack, errors)

    send()


def test_mark_read_payloads(chat, errors):
    socket, real = chat

    @FUZZ_SETTINGS
    @given(
        st.one_of(optional_fields(otherUserId=ids(real), messageId=ids(real)), json_values)
    )
    def mark_read(payload):
        assert_acknowledged("markRead", socket.emit("markRead", payload, callback=True), errors)

    mark_read()


@pytest.mark.parametrize("event", ["sendMessage", "markRead"])
def test_no_payload_or_several_are_a_clean_negative_ack(chat, errors, event):
    socket, real = chat

    @FUZZ_SETTINGS
    @given(st.lists(json_values, max_size=3).filter(lambda args: len(args) != 1))
    def emit(args):
        ack = socket.emit(event, *args, callback=True)
        assert_acknowledged(event, ack, errors)
        assert ack["ok"] is False

    emit()


def test_typing_and_unknown_events_never_raise(chat, errors):
    socket, real = chat
    names = st.sampled_from(["typing", UNPARSABLE_EVENT]) | st.text(max_size=20).filter(
        lambda name: name not in INTERNAL_NAMES and name not in ACKS
    )

    @FUZZ_SETTINGS
    @given(
        names,
        st.lists(optional_fields(to=ids(real), isTyping=json_values) | json_values, max_size=2),
    )
    def emit(name, args):
        socket.emit(name, *args)
        assert not errors(), [r.getMessage() for r in errors()]
        assert socket.is_connected()

    emit()


def test_a_payload_nested_too_deeply_to_parse_is_dropped_quietly(chat, errors):
    socket, _ = chat
    deep = "[" * 20000 + "]" * 20000  # 40 kB: within SOCKET_MAX_PAYLOAD
    socket.socketio.server._handle_eio_message(socket.eio_sid, f'27["sendMessage",{deep}]')
    assert not errors()
    assert socket.emit("markRead", {}, callback=True)["ok"] is False  # still connected, answering
