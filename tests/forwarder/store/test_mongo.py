"""MongoDB-only behaviour of forwarder/store/mongo/ (the shared contract is in test_contract_*).

Tests with the id ``mongomock-standin`` run against mongomock-motor standing in for MongoDB: it
checks our queries and index definitions, not the server's behaviour. Tests with the id
``mongodb`` run against a real server and are skipped unless QUIETMAIL_TEST_MONGODB_URI is set.
The unreachable-server tests use a real closed loopback port, so they always run.
"""

from __future__ import annotations

import asyncio
import gc
import os
import socket
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from mongomock_motor import AsyncMongoMockClient
from pymongo.errors import (
    PyMongoError,
)

from forwarder.store.base import (
    AliasMode,
    AlreadyExists,
    DenyKind,
    InvalidValue,
    NewErrorLogEntry,
    StoreUnavailable,
)
from forwarder.store.mongo import MongoStore

MONGODB_URI = os.environ.get("QUIETMAIL_TEST_MONGODB_URI", "")
NO_SERVER = "QUIETMAIL_TEST_MONGODB_URI is not set: no real MongoDB server to test against"
INJECTION = {"$ne": None}
NOW = datetime.now(UTC).replace(microsecond=0)


def free_port() -> int:
    """A loopback port with nothing listening (bound, read, released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture(
    params=[
        "mongomock-standin",
        pytest.param("mongodb", marks=pytest.mark.skipif(not MONGODB_URI, reason=NO_SERVER)),
    ]
)
async def mongo_store(request: pytest.FixtureRequest) -> AsyncIterator[MongoStore]:
    if request.param == "mongodb":
        name = f"quietmail_test_{uuid.uuid4().hex[:12]}"
        store = MongoStore.from_url(MONGODB_URI, database=name)
    else:
        store = MongoStore(AsyncMongoMockClient(), database="quietmail_test")
    await store.open()
    try:
        yield store
    finally:
        if request.param == "mongodb":
            await store.drop_database()
        await store.close()


async def close_and_collect(store: MongoStore) -> None:
    """Close, then collect the socket PyMongo 4.20 leaks when close() cancels a monitor in the
    middle of connecting (upstream PYTHON-5867, mongodb/mongo-python-driver#2858), inside this
    test, so its ResourceWarning cannot surface as an error in whichever test runs next."""
    await store.close()
    for _ in range(3):
        await asyncio.sleep(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


@pytest.fixture
async def unreachable() -> AsyncIterator[MongoStore]:
    url = f"mongodb://127.0.0.1:{free_port()}/qm?serverSelectionTimeoutMS=300"
    store = MongoStore.from_url(url)
    yield store
    await close_and_collect(store)


# ---------------------------------------------------------------------------- indexes

EXPECTED_INDEXES = [
    ("users", "email_unique", [("email", 1)], True, None),
    ("domains", "owner_name_unique", [("owner_id", 1), ("name", 1)], True, None),
    ("domains", "verified_name_unique", [("name", 1)], True, None),
    ("aliases", "domain_local_part_unique", [("domain_id", 1), ("local_part", 1)], True, None),
    ("recipients", "owner_address_unique", [("owner_id", 1), ("address", 1)], True, None),
    ("api_keys", "prefix_unique", [("prefix", 1)], True, None),
    ("sessions", "absolute_expiry_ttl", [("absolute_expires_at", 1)], None, 0),
    ("errors", "expires_at_ttl", [("expires_at", 1)], None, 0),
    ("denylist", "expires_at_ttl", [("expires_at", 1)], None, 0),
]


@pytest.mark.parametrize(("collection", "name", "keys", "unique", "ttl"), EXPECTED_INDEXES)
async def test_open_creates_index(
    mongo_store: MongoStore,
    collection: str,
    name: str,
    keys: list[tuple[str, int]],
    unique: bool | None,
    ttl: int | None,
) -> None:
    info = await mongo_store.index_information(collection)
    assert name in info, sorted(info)
    assert [(k, int(v)) for k, v in info[name]["key"]] == keys
    assert info[name].get("unique") == unique
    assert info[name].get("expireAfterSeconds") == ttl


async def test_open_twice_is_idempotent(mongo_store: MongoStore) -> None:
    await mongo_store.open()  # a second fleet node starting against the same database
    assert "email_unique" in await mongo_store.index_information("users")


async def test_unique_index_refuses_duplicate_without_naming_the_value(
    mongo_store: MongoStore,
) -> None:
    user = await mongo_store.users.create("dup@example.org", "hash", NOW)
    await mongo_store.domains.create("dup.example", user.id, "token", NOW)
    with pytest.raises(AlreadyExists) as caught:
        await mongo_store.domains.create("DUP.example.", user.id, "token", NOW)
    assert not isinstance(caught.value, PyMongoError)
    assert "dup" not in str(caught.value)  # errors reach logs: no names in them


async def test_index_information_refuses_unknown_collection(mongo_store: MongoStore) -> None:
    with pytest.raises(InvalidValue):
        await mongo_store.index_information("system.users")


# ---------------------------------------------------------------------------- unreachable server


async def test_unreachable_server_open_is_store_unavailable(unreachable: MongoStore) -> None:
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as caught:
        await unreachable.open()
    assert time.monotonic() - started < 5
    assert not isinstance(caught.value, PyMongoError)


async def test_unreachable_server_ping_and_lookup_are_store_unavailable(
    unreachable: MongoStore,
) -> None:
    with pytest.raises(StoreUnavailable):
        await unreachable.ping()
    with pytest.raises(StoreUnavailable):
        await unreachable.domains.get_by_name("example.org")
    with pytest.raises(StoreUnavailable):
        await unreachable.generation()


async def test_default_timeout_fails_fast_without_url_options() -> None:
    """No timeout in the URL: the built-in few-second default applies, not PyMongo's 30 s."""
    store = MongoStore.from_url(f"mongodb://127.0.0.1:{free_port()}/")
    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        await store.ping()
    assert time.monotonic() - started < 8
    await close_and_collect(store)


# ---------------------------------------------------------------------------- injection

Call = Callable[[MongoStore], Awaitable[Any]]
INJECTION_CALLS: dict[str, Call] = {
    "users.get": lambda s: s.users.get(INJECTION),  # type: ignore[arg-type]
    "users.get_by_email": lambda s: s.users.get_by_email(INJECTION),  # type: ignore[arg-type]
    "users.use_recovery_code": lambda s: s.users.use_recovery_code("u", INJECTION),  # type: ignore[arg-type]
    "sessions.get": lambda s: s.sessions.get(INJECTION, NOW),  # type: ignore[arg-type]
    "api_keys.get_by_prefix": lambda s: s.api_keys.get_by_prefix({"$regex": ".*"}),  # type: ignore[arg-type]
    "api_keys.delete": lambda s: s.api_keys.delete(INJECTION, INJECTION),  # type: ignore[arg-type]
    "domains.get_by_name": lambda s: s.domains.get_by_name(INJECTION),  # type: ignore[arg-type]
    "domains.list_for_owner": lambda s: s.domains.list_for_owner(INJECTION),  # type: ignore[arg-type]
    "aliases.get_by_local_part": lambda s: s.aliases.get_by_local_part(
        {"$gt": ""},  # type: ignore[arg-type]
        "postmaster",
    ),
    "aliases.create targets": lambda s: s.aliases.create(
        "d",
        "x",
        [INJECTION],  # type: ignore[list-item]
        AliasMode.ACTIVE,
        "",
        NOW,
    ),
    "aliases.update mode": lambda s: s.aliases.update("a", mode=INJECTION),  # type: ignore[arg-type]
    "recipients.get": lambda s: s.recipients.get("o", INJECTION),  # type: ignore[arg-type]
    "errors.list_for_domain limit": lambda s: s.errors.list_for_domain(
        "d",
        NOW,
        limit={"$gt": 0},  # type: ignore[arg-type]
    ),
    "denylist.add value": lambda s: s.denylist.add(DenyKind.IP, {"$exists": True}, "r", NOW, NOW),  # type: ignore[arg-type]
    "denylist.add kind": lambda s: s.denylist.add({"$ne": "ip"}, "x", "r", NOW, NOW),  # type: ignore[arg-type]
    "delete_account": lambda s: s.delete_account(INJECTION),  # type: ignore[arg-type]
    "export_account": lambda s: s.export_account(INJECTION),  # type: ignore[arg-type]
    "sessions.get now": lambda s: s.sessions.get("h", {"$gt": 0}),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("call", INJECTION_CALLS.values(), ids=INJECTION_CALLS.keys())
async def test_operator_injection_refused_before_any_query(
    unreachable: MongoStore, call: Call
) -> None:
    """The server is unreachable: reaching the driver would raise StoreUnavailable after the
    selection timeout. InvalidValue proves the value was refused before any query."""
    started = time.monotonic()
    with pytest.raises(InvalidValue):
        await call(unreachable)
    assert time.monotonic() - started < 0.2


async def test_operator_injection_does_not_match_existing_user(mongo_store: MongoStore) -> None:
    await mongo_store.users.create("victim@example.org", "hash", NOW)
    with pytest.raises(InvalidValue):
        await mongo_store.users.get_by_email({"$ne": None})  # type: ignore[arg-type]
    with pytest.raises(InvalidValue):
        await mongo_store.users.get(["victim@example.org"])  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- values


async def test_datetimes_come_back_aware_utc(mongo_store: MongoStore) -> None:
    plus_two = timezone(timedelta(hours=2))
    local = datetime(2030, 5, 1, 14, 30, 15, 123456, tzinfo=plus_two)
    user = await mongo_store.users.create("tz@example.org", "hash", local)
    fetched = await mongo_store.users.get(user.id)
    assert fetched is not None
    assert fetched.created_at.utcoffset() == timedelta(0)
    # BSON dates hold milliseconds: the record from create() already says what a read returns.
    assert fetched.created_at == user.created_at == datetime(2030, 5, 1, 12, 30, 15, 123000, UTC)


async def test_naive_datetime_refused(mongo_store: MongoStore) -> None:
    with pytest.raises(InvalidValue):
        await mongo_store.users.create("naive@example.org", "hash", datetime(2030, 1, 1))


async def test_ids_are_plain_strings(mongo_store: MongoStore) -> None:
    user = await mongo_store.users.create("ids@example.org", "hash", NOW)
    assert type(user.id) is str and len(user.id) == 32


# ---------------------------------------------------------------------------- account, fleet


async def test_delete_account_leaves_no_document_of_the_user(mongo_store: MongoStore) -> None:
    user = await mongo_store.users.create("gone@example.org", "hash", NOW)
    other = await mongo_store.users.create("stays@example.org", "hash", NOW)
    domain = await mongo_store.domains.create("gone.example", user.id, "token", NOW)
    kept = await mongo_store.domains.create("stays.example", other.id, "token", NOW)
    await mongo_store.aliases.create(domain.id, "*", ["t@x.org"], AliasMode.ACTIVE, "", NOW)
    await mongo_store.aliases.create(kept.id, "k", ["t@x.org"], AliasMode.ACTIVE, "", NOW)
    later = NOW + timedelta(days=7)
    entry = NewErrorLogEntry(domain.id, NOW, "a", 550, "5.1.1", "no", "x.org", "y.org", later)
    await mongo_store.errors.add(entry)
    await mongo_store.recipients.add(user.id, "t@x.org", NOW)
    await mongo_store.api_keys.create(user.id, "k", "qm_gone", "keyhash", NOW)
    await mongo_store.sessions.create("sid", user.id, NOW, later, later)

    counts = await mongo_store.delete_account(user.id)

    assert counts == {
        "users": 1, "sessions": 1, "api_keys": 1, "domains": 1,
        "aliases": 1, "recipients": 1, "errors": 1,
    }  # fmt: skip
    raw = mongo_store._db  # the raw collections: nothing left that names the user
    for collection in (raw.users, raw.sessions, raw.api_keys, raw.domains, raw.aliases,
                       raw.recipients, raw.errors):  # fmt: skip
        for doc in await collection.find({}):
            assert user.id not in doc.values() and domain.id not in doc.values()
            assert "gone" not in repr(doc)
    assert await mongo_store.aliases.list_for_domain(kept.id)  # the other user is untouched
