"""Hypothesis against the edit, delete and reaction socket events: whatever a client emits, no
handler raises and every ack has its documented shape (chatapp/openapi.json)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers.chat import sent
from tests.test_fuzz_sockets import (  # noqa: F401 (fixtures)
    FUZZ_SETTINGS, assert_acknowledged, chat, errors, json_values, optional_fields, texts,
)

pytestmark = pytest.mark.fuzz


@pytest.fixture
def messages(app, api, chat):
    """Ids of a message of Alice's (hers to edit) and one of Bob's (only to react to)."""
    app.config.update(EDIT_RATE_LIMIT="", REACTION_RATE_LIMIT="")
    socket, (bob_id, alice_id) = chat
    mine = socket.emit("sendMessage", {"receiverId": bob_id, "message": "hi"}, callback=True)
    other_client, other = api.user()
    theirs = sent(other_client, alice_id, "hello")
    return [mine["newMessage"]["_id"], theirs["_id"], other["_id"]]


def message_ids(real):
    return st.sampled_from(real) | json_values


@pytest.mark.parametrize("event", ["editMessage", "deleteMessage", "react"])
def test_edit_delete_and_react_payloads(chat, messages, errors, event):
    socket, _ = chat

    @FUZZ_SETTINGS
    @given(
        st.one_of(
            optional_fields(
                messageId=message_ids(messages),
                message=texts | json_values,
                emoji=texts | json_values | st.sampled_from(["👍", "❤️", ":+1:"]),
                remove=json_values | st.booleans(),
            ),
            json_values,
        )
    )
    def emit(payload):
        assert_acknowledged(event, socket.emit(event, payload, callback=True), errors)

    emit()
