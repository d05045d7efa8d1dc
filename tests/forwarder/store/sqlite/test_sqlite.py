"""SQLite-only behaviour: schema versioning, pragmas, file modes, errors as StoreUnavailable,
generation across connections (the privacy promise on the raw database bytes is in
test_deletion_leaves_no_bytes.py)."""

from __future__ import annotations

import asyncio
import sqlite3
import stat
from pathlib import Path

import pytest

from forwarder.store.base import (
    InvalidValue,
    NotFound,
    StoreError,
    StoreUnavailable,
)
from forwarder.store.sqlite import SqliteStore
from forwarder.store.sqlite.db import Db
from forwarder.store.sqlite.schema import MIGRATIONS, PRAGMAS, SCHEMA_VERSION, migrate
from tests.forwarder.store.contract_data import (
    NOW,
    at,
    make_alias,
    make_domain,
    make_user,
)


def raw_user_version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


# ---------------------------------------------------------------------------- schema


async def test_schema_version_recorded_and_reopen_is_idempotent(
    store: SqliteStore, db_path: Path
) -> None:
    user = await make_user(store)
    generation = await store.generation()
    await store.close()
    assert SCHEMA_VERSION == len(MIGRATIONS) >= 1
    assert raw_user_version(db_path) == SCHEMA_VERSION
    for _ in range(2):
        await store.open()
        assert await store.pragma("user_version") == SCHEMA_VERSION
        assert await store.users.get(user.id) == user
        assert await store.generation() == generation
        await store.close()


async def test_forward_migration_keeps_data(store: SqliteStore, db_path: Path) -> None:
    user = await make_user(store)
    await store.close()
    upgraded = (*MIGRATIONS, ("ALTER TABLE users ADD COLUMN locale TEXT",))
    db = Db()
    await db.connect(str(db_path), PRAGMAS)
    try:
        assert await migrate(db, upgraded) == SCHEMA_VERSION + 1
        assert await migrate(db, upgraded) == SCHEMA_VERSION + 1  # nothing left to apply
        row = await db.fetch_one("SELECT email, locale FROM users WHERE id = ?", (user.id,))
        assert row is not None and tuple(row) == (user.email, None)
    finally:
        await db.close()
    # This code knows one version less than the file now has: it refuses to open it.
    with pytest.raises(StoreError, match="newer"):
        await store.open()


async def test_newer_schema_refuses_to_open(store: SqliteStore, db_path: Path) -> None:
    await store.close()
    with sqlite3.connect(db_path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    again = SqliteStore(str(db_path))
    with pytest.raises(StoreError, match="newer than this quietmail"):
        await again.open()
    with pytest.raises(StoreUnavailable):  # not left half-open
        await again.ping()
    assert raw_user_version(db_path) == SCHEMA_VERSION + 5


async def test_pragmas_are_on(store: SqliteStore, db_path: Path) -> None:
    assert str(await store.pragma("journal_mode")).lower() == "wal"
    assert await store.pragma("foreign_keys") == 1
    assert await store.pragma("secure_delete") == 1
    assert int(await store.pragma("busy_timeout")) >= 1000
    assert await store.pragma("trusted_schema") == 0
    with pytest.raises(InvalidValue):
        await store.pragma("writable_schema = ON")
    with sqlite3.connect(db_path) as conn:  # WAL is recorded in the file itself
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_foreign_keys_are_enforced_by_the_database(store: SqliteStore) -> None:
    with pytest.raises(NotFound):
        await store.domains.create("example.net", "no-such-user", "t", NOW)
    assert await store.domains.list_all() == []


async def test_files_are_private(store: SqliteStore, db_path: Path) -> None:
    await make_user(store)
    assert stat.S_IMODE(db_path.parent.stat().st_mode) == 0o700
    for path in (db_path, db_path.with_name(db_path.name + "-wal")):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


# ---------------------------------------------------------------------------- unavailable


async def test_path_that_is_a_directory_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable):
        await SqliteStore(str(tmp_path)).open()


async def test_parent_that_is_a_file_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(StoreUnavailable):
        await SqliteStore(str(tmp_path / "file" / "db.sqlite3")).open()


async def test_file_that_is_not_a_database_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "garbage.sqlite3"
    path.write_bytes(b"this is not an SQLite database, just some bytes " * 100)
    with pytest.raises(StoreUnavailable):
        await SqliteStore(str(path)).open()


async def test_closed_store_is_unavailable(store: SqliteStore) -> None:
    user = await make_user(store)
    await store.close()
    with pytest.raises(StoreUnavailable):
        await store.ping()
    with pytest.raises(StoreUnavailable):
        await store.users.get(user.id)
    with pytest.raises(StoreUnavailable):
        await store.aliases.get_by_local_part("d", "hello")
    await store.close()  # closing twice is harmless


# ---------------------------------------------------------------------------- behaviour


async def test_generation_is_visible_to_another_connection(
    store: SqliteStore, db_path: Path
) -> None:
    other = SqliteStore(str(db_path))
    await other.open()
    try:
        user = await make_user(store)
        before = await other.generation()
        domain = await make_domain(store, user)
        assert await other.generation() > before
        seen = await other.generation()
        await make_alias(store, domain)
        assert await other.generation() > seen
        assert await store.generation() == await other.generation()
    finally:
        await other.close()


async def test_concurrent_writers_on_two_connections(store: SqliteStore, db_path: Path) -> None:
    other = SqliteStore(str(db_path))
    await other.open()
    try:
        await asyncio.gather(
            *(make_user(store, f"user{i}@example.org") for i in range(20)),
            *(make_user(other, f"other{i}@example.org") for i in range(20)),
            *(store.generation() for _ in range(10)),
        )
        assert len(await other.users.list_all()) == 40
    finally:
        await other.close()


async def test_sql_metacharacters_are_plain_data(store: SqliteStore) -> None:
    user = await make_user(store)
    domain = await make_domain(store, user)
    await make_alias(store, domain, "hello")
    for probe in ("x'OR'1'='1", "hello'--", "%", "_ello"):
        assert await store.aliases.get_by_local_part(domain.id, probe) is None
    odd = await make_alias(store, domain, "o'brien")
    assert await store.aliases.get_by_local_part(domain.id, "O'Brien") == odd


async def test_naive_datetime_is_refused(store: SqliteStore) -> None:
    with pytest.raises(InvalidValue):
        await store.users.create("a@example.org", "h", NOW.replace(tzinfo=None))
    assert await store.users.list_all() == []


async def test_times_keep_microseconds_and_offsets_compare_in_utc(store: SqliteStore) -> None:
    from datetime import timedelta, timezone

    user = await make_user(store)
    plus_two = timezone(timedelta(hours=2))
    exact = NOW.replace(microsecond=123456)
    session = await store.sessions.create("s", user.id, exact, at(hours=1), at(days=1))
    assert session.created_at == exact
    # 13:30 at +02:00 is 11:30 UTC: before the idle expiry at 13:00 UTC.
    assert await store.sessions.get("s", NOW.astimezone(plus_two).replace(hour=13, minute=30))
