"""SQLite schema migrations. Version 2: a database written at version 1 (domain names unique
across accounts, no TOTP step) migrates with its data intact, and the database itself then
enforces the new rules (one verified domain per name, one claim per account). Version 3: user
writes other than deletion no longer bump the generation. Version 4: error log entries are
counted, one row per key and hour; the rows a version 3 database holds are merged."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from forwarder.store.base import AlreadyExists, StoreError
from forwarder.store.sqlite import SqliteStore
from forwarder.store.sqlite.db import Db
from forwarder.store.sqlite.schema import MIGRATIONS, PRAGMAS, SCHEMA_VERSION, migrate
from tests.forwarder.store.contract_data import NOW, make_domain, make_user

V1 = MIGRATIONS[:1]
V2 = MIGRATIONS[:2]
US = 1_900_000_000_000_000  # a time in microseconds, as version 1 stores it

_V1_ROWS: tuple[tuple[str, tuple[object, ...]], ...] = (
    ("INSERT INTO users (id, email, password_hash, created_at, verified_at, totp_secret_sealed, "
     "recovery_code_hashes) VALUES (?, ?, ?, ?, ?, ?, ?)",
     ("u1", "ann@example.org", "hash", US, US, b"\x00sealed", '["rc1"]')),
    ("INSERT INTO users (id, email, password_hash, created_at) VALUES (?, ?, ?, ?)",
     ("u2", "bob@example.org", "hash", US)),
    ("INSERT INTO domains (id, name, owner_id, verification_token, created_at, verified_at, "
     "dkim_selector, dkim_key_sealed) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
     ("d1", "ann.example", "u1", "tok1", US, US + 1, "qm1", b"\x02key")),
    ("INSERT INTO domains (id, name, owner_id, verification_token, created_at) "
     "VALUES (?, ?, ?, ?, ?)", ("d2", "pending.example", "u1", "tok2", US)),
    ("INSERT INTO aliases (id, domain_id, local_part, targets, mode, description, created_at) "
     "VALUES (?, ?, ?, ?, ?, ?, ?)", ("a1", "d1", "hello", '["x@example.org"]', "active", "", US)),
    ("INSERT INTO aliases (id, domain_id, local_part, targets, mode, description, created_at) "
     "VALUES (?, ?, ?, ?, ?, ?, ?)", ("a2", "d2", "*", '["x@example.org"]', "drop", "n", US)),
    ("INSERT INTO error_log (id, domain_id, at, alias, code, enhanced_code, reason, "
     "target_domain, sender_domain, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
     ("e1", "d1", US, "hello", 550, "5.1.1", "refused", "", "s.example", US * 2)),
    ("INSERT INTO recipients (id, owner_id, address, created_at, verified_at) "
     "VALUES (?, ?, ?, ?, ?)", ("r1", "u1", "x@example.org", US, US)),
)  # fmt: skip


async def _write_v1(path: Path, migrations: tuple[tuple[str, ...], ...] = V1) -> int:
    """A database file exactly as an older quietmail left it (version 1 unless ``migrations``
    says otherwise), with the rows above; its generation."""
    db = Db()
    await db.connect(str(path), PRAGMAS)
    try:
        assert await migrate(db, migrations) == len(migrations)
        for sql, params in _V1_ROWS:
            await db.fetch(sql, params)
        row = await db.fetch_one("SELECT value FROM meta WHERE key = 'generation'")
        assert row is not None
        return int(row[0])
    finally:
        await db.close()


@pytest.fixture
async def migrated(tmp_path: Path) -> tuple[SqliteStore, int]:
    path = tmp_path / "old.sqlite3"
    generation = await _write_v1(path)
    store = SqliteStore(str(path))
    await store.open()
    return store, generation


async def test_version_1_database_migrates_with_data_intact(
    migrated: tuple[SqliteStore, int],
) -> None:
    store, generation = migrated
    try:
        # Pinned to 2 until version 3 existed; the file now migrates to the latest version.
        assert SCHEMA_VERSION >= 2 and await store.pragma("user_version") == SCHEMA_VERSION
        assert await store.pragma("foreign_keys") == 1  # back on after the rebuild
        assert await store.generation() > generation
        ann = await store.users.get("u1")
        assert ann is not None and ann.totp_last_step == 0
        assert ann.totp_secret_sealed == b"\x00sealed" and ann.recovery_code_hashes == ("rc1",)
        verified = await store.domains.get_by_name("ann.example")
        assert verified is not None and verified.id == "d1" and verified.dkim_selector == "qm1"
        assert verified.dkim_key_sealed == b"\x02key"
        assert await store.domains.get_by_name("pending.example") is None
        assert [d.id for d in await store.domains.list_by_name("pending.example")] == ["d2"]
        # Rebuilding the domains table did not cascade to its children.
        assert [a.id for a in await store.aliases.list_for_domain("d1")] == ["a1"]
        assert [a.id for a in await store.aliases.list_for_domain("d2")] == ["a2"]
        entries = await store.errors.list_for_domain("d1", NOW.replace(year=2029))
        assert [e.reason for e in entries] == ["refused"]
        assert len(await store.recipients.list_for_owner("u1")) == 1
        # The new rules hold on the migrated data.
        with pytest.raises(AlreadyExists):
            await store.domains.create("ann.example", "u2", "t", NOW)
        claim = await store.domains.create("pending.example", "u2", "t", NOW)
        assert await store.users.use_totp_step("u1", 7) is True
        # Foreign keys and generation triggers work on the rebuilt table.
        before = await store.generation()
        assert await store.domains.delete("d2") is True
        assert await store.generation() > before
        assert await store.aliases.get("a2") is None
        assert await store.domains.list_by_name("pending.example") == [claim]
    finally:
        await store.close()


async def test_the_database_itself_allows_one_verified_domain_per_name(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    store = SqliteStore(str(path))
    await store.open()
    try:
        ann, bob = await make_user(store, "ann@example.org"), await make_user(store, "b@x.org")
        mine = await make_domain(store, ann)
        theirs = await make_domain(store, bob)
        await store.domains.set_verified(mine.id, NOW)
        assert await store.domains.get(theirs.id) is None
        # A claim that survived (as a writer of an older version could leave one) can still
        # not be verified: the store answers AlreadyExists and the index backs it up.
        with sqlite3.connect(path) as raw:
            raw.execute(
                "INSERT INTO domains (id, name, owner_id, verification_token, created_at) "
                "VALUES ('left', 'example.net', ?, 't', 0)",
                (bob.id,),
            )
        with pytest.raises(AlreadyExists):
            await store.domains.set_verified("left", NOW)
        assert (await store.domains.get_by_name("example.net")).id == mine.id  # type: ignore[union-attr]
        with sqlite3.connect(path) as raw, pytest.raises(sqlite3.IntegrityError):
            raw.execute("UPDATE domains SET verified_at = 1 WHERE id = 'left'")
        with sqlite3.connect(path) as raw, pytest.raises(sqlite3.IntegrityError):
            raw.execute(
                "INSERT INTO domains (id, name, owner_id, verification_token, created_at) "
                "VALUES ('twice', 'example.net', ?, 't', 0)",
                (bob.id,),
            )
    finally:
        await store.close()


async def test_a_migration_that_breaks_a_foreign_key_is_rolled_back(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    await _write_v1(path)
    broken = (*V1, ("INSERT INTO sessions VALUES ('s', 'no-such-user', 0, 1, 1)",))
    db = Db()
    await db.connect(str(path), PRAGMAS)
    try:
        with pytest.raises(StoreError, match="foreign key"):
            await migrate(db, broken)
        assert await db.fetch("SELECT * FROM sessions") == []
        row = await db.fetch_one("PRAGMA user_version")
        assert row is not None and row[0] == 1
        row = await db.fetch_one("PRAGMA foreign_keys")
        assert row is not None and row[0] == 1
    finally:
        await db.close()


def _triggers(path: Path) -> set[str]:
    with sqlite3.connect(path) as raw:
        rows = raw.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall()
    return {name for (name,) in rows}


ROUTING_TRIGGERS = {
    f"{table}_{event}_generation"
    for table in ("domains", "aliases", "recipients")
    for event in ("insert", "update", "delete")
}


async def test_version_2_database_migrates_to_3_and_user_writes_stop_bumping(
    tmp_path: Path,
) -> None:
    path = tmp_path / "v2.sqlite3"
    await _write_v1(path, V2)
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE users SET totp_last_step = 5 WHERE id = 'u1'")
    assert "users_update_generation" in _triggers(path)
    store = SqliteStore(str(path))
    await store.open()
    try:
        # Pinned to 3 until version 4 existed; the file now migrates to the latest version.
        assert SCHEMA_VERSION >= 3 and await store.pragma("user_version") == SCHEMA_VERSION
        assert _triggers(path) == ROUTING_TRIGGERS | {"users_delete_generation"}
        ann = await store.users.get("u1")
        assert ann is not None and ann.totp_last_step == 5 and ann.recovery_code_hashes == ("rc1",)
        assert [a.id for a in await store.aliases.list_for_domain("d1")] == ["a1"]
        assert len(await store.recipients.list_for_owner("u1")) == 1
        # User writes no longer move the generation...
        generation = await store.generation()
        assert await store.users.use_totp_step("u1", 6) is True
        await store.users.set_password("u1", "new-hash")
        await store.users.set_email("u2", "robert@example.org")
        await make_user(store, "new@example.org")
        assert await store.generation() == generation
        # ...deleting one does, even with nothing else to delete...
        await store.delete_account("u2")
        assert await store.generation() > generation
        # ...and routing writes still do, on the migrated tables.
        generation = await store.generation()
        await store.aliases.delete("a2")
        assert await store.generation() == generation + 1
    finally:
        await store.close()


async def test_cascading_deletes_fire_the_child_rows_generation_triggers(
    tmp_path: Path,
) -> None:
    """A domain deleted by the cascade from its user bumps the generation like a direct
    delete (SQLite runs the child table's triggers for ON DELETE CASCADE)."""
    path = tmp_path / "q.sqlite3"
    await _write_v1(path)
    store = SqliteStore(str(path))
    await store.open()
    before = await store.generation()
    await store.close()
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA foreign_keys = ON")
        raw.execute("DELETE FROM users WHERE id = 'u1'")  # no application code involved
    await store.open()
    try:
        # 1 user + 2 domains + 2 aliases + 1 recipient (the error log has no trigger).
        assert await store.generation() == before + 6
        assert await store.domains.list_for_owner("u1") == []
        assert await store.aliases.get("a1") is None
    finally:
        await store.close()
