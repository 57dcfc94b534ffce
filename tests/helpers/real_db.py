"""Which server the suite runs on: the embedded database, a real MongoDB, or FerretDB."""

import functools
import os

import pytest

# Why the explain() tests run on MongoDB only.
EXPLAIN_REASON = "FerretDB's explain has no MongoDB query plan (stages, docs examined) to check"


@functools.lru_cache(maxsize=None)
def server_kind():
    """"embedded" (no TEST_MONGO_URI), "ferretdb" (its buildInfo says so) or "mongodb"."""
    uri = os.environ.get("TEST_MONGO_URI", "").strip()
    if not uri:
        return "embedded"
    import pymongo

    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=10_000)
    try:
        info = client.admin.command("buildInfo")
    finally:
        client.close()
    return "ferretdb" if "ferretdbVersion" in info else "mongodb"


def mongodb_only(ferretdb_reason):
    """Skip unless on a real MongoDB; on FerretDB, with `ferretdb_reason` as the reason."""
    kind = server_kind()
    if kind == "embedded":
        return pytest.mark.skip(reason="needs a real MongoDB in TEST_MONGO_URI")
    return pytest.mark.skipif(kind == "ferretdb", reason=f"MongoDB only: {ferretdb_reason}")
