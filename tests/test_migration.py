"""`flask migrate-node-data`: a database the Node backend wrote, brought into the new shape."""

from datetime import datetime, timedelta

import bcrypt
from bson import ObjectId

from chatapp.models import Conversation, Message, User
from tests.helpers.chat import PASSWORD

# A bcryptjs-form hash ($2a$, as bcryptjs wrote them): OpenWall's test vector for "U*U".
BCRYPTJS_VECTOR = ("U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW")
T0 = datetime(2025, 1, 1, 12, 0, 0)


def node_user(username, hashed):
    _id = ObjectId()
    User._get_collection().insert_one({
        "_id": _id, "fullName": username.title(), "username": username, "password": hashed,
        "profilePhoto": f"https://avatar.iran.liara.run/public/girl?username={username}",
        "gender": "female", "createdAt": T0, "updatedAt": T0, "__v": 0,
    })
    return _id


def node_message(sender, receiver, text, minutes):
    """A message as Mongoose saved it: no conversationId, an __v."""
    _id = ObjectId.from_datetime(T0 + timedelta(minutes=minutes))
    _id = ObjectId(str(_id)[:8] + str(ObjectId())[8:])
    at = T0 + timedelta(minutes=minutes)
    Message._get_collection().insert_one({
        "_id": _id, "senderId": sender, "receiverId": receiver, "message": text,
        "createdAt": at, "updatedAt": at, "__v": 0,
    })
    return _id


def node_conversation(participants, message_ids, minutes):
    at = T0 + timedelta(minutes=minutes)
    return Conversation._get_collection().insert_one({
        "participants": participants, "messages": message_ids,
        "createdAt": at, "updatedAt": at, "__v": len(message_ids),
    }).inserted_id


def build_node_database():
    # Node users: a bcryptjs $2a$ hash, and a $2b$ one (bcryptjs 3 writes $2b$).
    alice = node_user("alice", BCRYPTJS_VECTOR[1])
    bob = node_user("bob", bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4, prefix=b"2b")).decode())
    carol = node_user("carol", bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4, prefix=b"2a")).decode())
    m1 = node_message(alice, bob, "hi bob", 1)
    m2 = node_message(bob, alice, "hi alice", 2)
    m3 = node_message(alice, bob, "how are you", 3)
    node_conversation([alice, bob], [m1, m2, m3], 1)
    # The seed's race: a second conversation for the same pair, participants in the other order.
    m4 = node_message(bob, alice, "fine, and you?", 4)
    node_conversation([bob, alice], [m4], 4)
    # A message whose conversation save failed: listed nowhere.
    m5 = node_message(carol, alice, "unlisted", 5)
    # Bob and carol: a conversation listing a message id that no longer exists.
    m6 = node_message(carol, bob, "hey bob", 6)
    node_conversation([carol, bob], [m6, ObjectId()], 6)
    return {"alice": alice, "bob": bob, "carol": carol}, [m1, m2, m3, m4, m5, m6]


def run(app):
    result = app.test_cli_runner().invoke(args=["migrate-node-data"])
    assert result.exit_code == 0, result.output
    return dict(line.rsplit(": ", 1) for line in result.stdout.splitlines())


def login(app, username, password):
    client = app.test_client()
    response = client.post("/api/v1/user/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.get_json()
    return client


def test_migration_keeps_every_message_reachable_and_is_idempotent(app):
    users, message_ids = build_node_database()

    first = run(app)
    assert first["conversations keyed"] == "2"
    assert first["duplicate conversations merged"] == "1"
    assert first["messages linked"] == "5"
    assert first["unlisted messages linked"] == "1"
    assert first["message arrays dropped"] == "2"
    assert first["summaries updated"] == "3"

    second = run(app)
    assert set(second.values()) == {"0"}  # nothing left to do

    raw_conversations = list(Conversation._get_collection().find())
    assert len(raw_conversations) == 3  # alice-bob (merged), alice-carol, bob-carol
    assert all("messages" not in c and c.get("pairKey") for c in raw_conversations)
    assert Message._get_collection().count_documents({"conversationId": {"$exists": False}}) == 0
    assert Message.objects.count() == len(message_ids)

    alice = login(app, "alice", BCRYPTJS_VECTOR[0])  # the bcryptjs $2a$ hash verifies
    bob = login(app, "bob", PASSWORD)  # and a $2b$ one
    carol = login(app, "carol", PASSWORD)

    ids = {k: str(v) for k, v in users.items()}
    history = alice.get(f"/api/v1/message/{ids['bob']}").get_json()
    assert [m["message"] for m in history] == ["hi bob", "hi alice", "how are you", "fine, and you?"]
    assert history[0]["createdAt"] == "2025-01-01T12:01:00.000Z"
    assert [m["message"] for m in alice.get(f"/api/v1/message/{ids['carol']}").get_json()] == ["unlisted"]
    assert [m["message"] for m in bob.get(f"/api/v1/message/{ids['carol']}").get_json()] == ["hey bob"]

    listed = alice.get("/api/v1/conversations").get_json()
    assert [(c["participant"]["username"], c["lastMessage"]["message"]) for c in listed] == [
        ("carol", "unlisted"),
        ("bob", "fine, and you?"),
    ]
    assert listed[0]["updatedAt"] == "2025-01-01T12:05:00.000Z"
    assert [c["participant"]["username"] for c in carol.get("/api/v1/conversations").get_json()] == ["bob", "alice"]

    # And the migrated data works on: a new message lands in the merged conversation.
    sent = alice.post(f"/api/v1/message/send/{ids['bob']}", json={"message": "new"})
    assert sent.status_code == 201
    assert Conversation.objects(pair_key__exists=True).count() == 3
    assert bob.get("/api/v1/conversations").get_json()[0]["lastMessage"]["message"] == "new"


def test_a_conversation_the_new_backend_already_made_absorbs_the_old_one(app, api):
    users, _ = build_node_database()
    alice = login(app, "alice", BCRYPTJS_VECTOR[0])
    # Before the migration runs, the new backend already made its own alice-bob conversation.
    assert alice.post(f"/api/v1/message/send/{users['bob']}", json={"message": "after the switch"}).status_code == 201
    run(app)
    history = alice.get(f"/api/v1/message/{users['bob']}").get_json()
    assert [m["message"] for m in history] == [
        "hi bob", "hi alice", "how are you", "fine, and you?", "after the switch"
    ]
    listed = alice.get("/api/v1/conversations").get_json()
    assert listed[0]["lastMessage"]["message"] == "after the switch"
    assert len(Conversation._get_collection().distinct("pairKey")) == Conversation.objects.count()


def test_migrating_an_empty_or_new_database_changes_nothing(app, api):
    alice, _ = api.user()
    _, bob_user = api.user()
    alice.post(f"/api/v1/message/send/{bob_user['_id']}", json={"message": "hi"})
    before = list(Conversation._get_collection().find())
    assert set(run(app).values()) == {"0"}
    assert list(Conversation._get_collection().find()) == before


def test_a_bcryptjs_hash_logs_in_and_a_wrong_password_does_not(app):
    node_user("legacy", BCRYPTJS_VECTOR[1])
    client = app.test_client()
    wrong = client.post("/api/v1/user/login", json={"username": "legacy", "password": "U*U*"})
    assert wrong.status_code == 400
    login(app, "legacy", BCRYPTJS_VECTOR[0])


# OpenWall's vector for bcrypt's 72-byte limit: the hash of a 98-byte password's first 72.
LONG_PASSWORD_VECTOR = (
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    "chars after 72 are ignored",
    "$2a$05$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui",
)


def test_a_node_account_with_a_password_over_72_bytes_logs_in_with_it(app):
    # bcryptjs hashed only its first 72 bytes and never complained; the user types all 98.
    password, hashed = LONG_PASSWORD_VECTOR
    node_user("longpass", hashed)
    login(app, "longpass", password)
    client = app.test_client()
    wrong = client.post(
        "/api/v1/user/login", json={"username": "longpass", "password": "X" + password[1:]}
    )
    assert wrong.status_code == 400


def test_a_node_username_with_outer_spaces_logs_in_as_typed(app):
    # The Node backend stored usernames as typed, a phone keyboard's trailing space included.
    node_user("sam ", BCRYPTJS_VECTOR[1])
    node_user("sam", LONG_PASSWORD_VECTOR[1])
    client = app.test_client()
    # The exact name wins over the one without spaces, each with its own password.
    for username, password in (("sam ", BCRYPTJS_VECTOR[0]), ("sam", LONG_PASSWORD_VECTOR[0])):
        response = client.post(
            "/api/v1/user/login", json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["username"] == username


def test_migration_links_only_messages_between_the_participants(app):
    hashed = BCRYPTJS_VECTOR[1]
    alice, bob, carol = (node_user(name, hashed) for name in ("alice", "bob", "carol"))
    ours = node_message(alice, bob, "hi bob", 1)
    theirs = node_message(carol, bob, "carol to bob", 2)
    # alice and bob's conversation lists carol's message too.
    node_conversation([alice, bob], [ours, theirs], 1)
    run(app)
    messages = {doc["_id"]: doc for doc in Message._get_collection().find()}
    pair = Conversation.objects.get(pair_key=Conversation.key_for(alice, bob))
    assert messages[ours]["conversationId"] == pair.id
    # Carol's message went to carol and bob's conversation, never to alice's.
    carols = Conversation.objects.get(pair_key=Conversation.key_for(carol, bob))
    assert messages[theirs]["conversationId"] == carols.id
    run(app)  # and again: nothing moves
    assert Message._get_collection().find_one({"_id": theirs})["conversationId"] == carols.id
