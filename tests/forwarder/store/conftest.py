"""The contract suite runs on every backend available.

- ``sqlite``: always.
- ``mongodb``: a real server, when QUIETMAIL_TEST_MONGODB_URI is set.
- ``mongomock-standin``: mongomock-motor standing in for MongoDB when no server is available.
  It is a stand-in, not MongoDB: it checks our queries and indexes, not the server's behaviour.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from forwarder.store.base import Store

_BACKENDS = ["sqlite", "mongomock-standin"]
if os.environ.get("QUIETMAIL_TEST_MONGODB_URI"):
    _BACKENDS.insert(1, "mongodb")


async def open_backend(kind: str, tmp_path: Path) -> Store:
    if kind == "sqlite":
        from forwarder.store.sqlite import SqliteStore

        store: Store = SqliteStore(str(tmp_path / "quietmail.sqlite3"))
    elif kind == "mongodb":
        from forwarder.store.mongo import MongoStore

        url = os.environ["QUIETMAIL_TEST_MONGODB_URI"]
        store = MongoStore.from_url(url, database=f"quietmail_test_{uuid.uuid4().hex[:12]}")
    else:
        from mongomock_motor import AsyncMongoMockClient

        from forwarder.store.mongo import MongoStore

        store = MongoStore(AsyncMongoMockClient(), database="quietmail_test")
    await store.open()
    return store


@pytest.fixture(params=_BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    backend = await open_backend(request.param, tmp_path)
    try:
        yield backend
    finally:
        if request.param == "mongodb":
            await backend.drop_database()  # type: ignore[attr-defined]
        await backend.close()
