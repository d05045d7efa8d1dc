"""What the MongoDB backend makes of the driver (the rest is in test_mongo.py): transactions
and their fallback, the generation seen across nodes, database URLs, and driver errors turned
into the store's exceptions in one place.

Tests that need a real server are skipped unless QUIETMAIL_TEST_MONGODB_URI is set.
"""

from __future__ import annotations

import uuid
from typing import Any

import bson
import pytest
from mongomock_motor import AsyncMongoMockClient
from pymongo.errors import (
    AutoReconnect,
    DuplicateKeyError,
    NetworkTimeout,
    NotPrimaryError,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
)

from forwarder.store.base import (
    AlreadyExists,
    InvalidValue,
    StoreUnavailable,
)
from forwarder.store.mongo import MongoStore, database_from_url
from forwarder.store.mongo.core import translate_errors
from tests.forwarder.store.test_mongo import MONGODB_URI, NO_SERVER, NOW


async def test_standin_has_no_transactions_and_falls_back() -> None:
    store = MongoStore(AsyncMongoMockClient(), database="quietmail_test")
    await store.open()
    assert store.supports_transactions is False
    user = await store.users.create("fallback@example.org", "hash", NOW)
    assert (await store.delete_account(user.id))["users"] == 1
    await store.close()


async def test_generation_sees_writes_of_another_node() -> None:
    client: Any = AsyncMongoMockClient()
    node_a = MongoStore(client, database="fleet")
    node_b = MongoStore(client, database="fleet")
    await node_a.open()
    await node_b.open()
    user = await node_a.users.create("fleet@example.org", "hash", NOW)
    before = await node_b.generation()
    await node_a.domains.create("fleet.example", user.id, "token", NOW)
    assert await node_b.generation() > before


# ---------------------------------------------------------------------------- URLs


def test_database_from_url() -> None:
    assert database_from_url("mongodb://db1:27017,db2:27017/mail?replicaSet=rs0") == "mail"
    assert database_from_url("mongodb://user:pw@db1/") == "quietmail"
    assert database_from_url("mongodb://db1") == "quietmail"


def test_from_url_refuses_other_schemes() -> None:
    with pytest.raises(InvalidValue):
        MongoStore.from_url("postgres://db1/mail")


@pytest.mark.skipif(not MONGODB_URI, reason=NO_SERVER)
async def test_real_server_reports_transaction_support() -> None:
    store = MongoStore.from_url(MONGODB_URI, database=f"quietmail_test_{uuid.uuid4().hex[:12]}")
    await store.open()
    try:
        hello = await store._client.admin.command("hello")
        expected = "setName" in hello or hello.get("msg") == "isdbgrid"
        assert store.supports_transactions is expected
    finally:
        await store.drop_database()
        await store.close()


# ---------------------------------------------------------------------------- translation

DRIVER_ERRORS: dict[str, tuple[BaseException, type[Exception]]] = {
    "DuplicateKeyError": (
        DuplicateKeyError("E11000 dup key: { email: 'a@b.org' }", 11000),
        AlreadyExists,
    ),
    "AutoReconnect": (AutoReconnect("primary stepped down"), StoreUnavailable),
    "NetworkTimeout": (NetworkTimeout("timed out"), StoreUnavailable),
    "ServerSelectionTimeoutError": (ServerSelectionTimeoutError("no servers"), StoreUnavailable),
    "OperationFailure": (OperationFailure("not authorized", 13), StoreUnavailable),
    "NotPrimaryError": (NotPrimaryError("not primary"), StoreUnavailable),
}


@pytest.mark.parametrize(("raised", "expected"), DRIVER_ERRORS.values(), ids=DRIVER_ERRORS.keys())
def test_driver_errors_translated_in_one_place(
    raised: BaseException, expected: type[Exception]
) -> None:
    with pytest.raises(expected) as caught, translate_errors():
        raise raised
    assert not isinstance(caught.value, PyMongoError)
    assert "a@b.org" not in str(caught.value)


def test_value_bson_cannot_hold_is_invalid_value() -> None:
    with pytest.raises(InvalidValue), translate_errors():
        bson.encode({"local_part": "\ud800"})  # a lone surrogate has no UTF-8 form


@pytest.mark.parametrize("name", ["", "a.b", "a/b", "a$b", "a b"])
def test_bad_database_name_refused(name: str) -> None:
    with pytest.raises(InvalidValue):
        MongoStore(AsyncMongoMockClient(), database=name)


def test_bad_database_name_in_url_refused() -> None:
    with pytest.raises(InvalidValue):
        MongoStore.from_url("mongodb://127.0.0.1:1/bad.name")
