"""The known-users cache behind every authenticated request and socket connection."""

import time

from bson import ObjectId

from chatapp import db
from chatapp.models import User
from chatapp.services import users as service
from chatapp.services.users import KnownUsers


def test_user_exists_is_answered_from_memory_after_the_first_query(api):
    _, me = api.user()
    assert service.user_exists(me["_id"])
    # Removed behind MongoEngine's back (as another process would): still known until the TTL.
    User._get_collection().delete_one({"_id": ObjectId(me["_id"])})
    assert service.user_exists(me["_id"])
    service.known_users.clock = lambda: time.monotonic() + service.known_users.ttl
    try:
        assert not service.user_exists(me["_id"])
    finally:
        service.known_users.clock = time.monotonic


def test_deleting_a_user_through_mongoengine_forgets_it_at_once(api, client):
    _, me = api.user()
    assert service.user_exists(me["_id"])
    User.objects(id=me["_id"]).delete()
    assert not service.user_exists(me["_id"])


def test_an_unknown_user_is_never_remembered(app):
    missing = str(ObjectId())
    assert not service.user_exists(missing)
    assert missing not in service.known_users


def test_emptying_the_database_forgets_every_known_user(api):
    _, me = api.user()
    assert service.user_exists(me["_id"])
    db.drop_all()
    assert me["_id"] not in service.known_users
    assert not service.user_exists(me["_id"])


def test_the_cache_stays_bounded():
    cache = KnownUsers(max_size=3)
    for n in range(10):
        cache.add(str(n))
        assert len(cache._confirmed) <= 3
    assert "9" in cache
