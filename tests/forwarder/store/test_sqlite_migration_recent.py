"""SQLite schema migrations from version 3 on, each on a database holding data: version 4
counts the error log (one row per key and hour; the rows a version 3 database holds are
merged), 5 the domain owner's spam policy, 6 the delivered-target records, 7 the account's
preferences, 8 the aliases' reply key and display name, 9 private replies. The older ones
and the helpers that write an old database are in test_sqlite_migration.py."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

from forwarder.store.base import Domain, SpamPolicy
from forwarder.store.sqlite import SqliteStore
from forwarder.store.sqlite.db import Db, py_time
from forwarder.store.sqlite.schema import MIGRATIONS, PRAGMAS, SCHEMA_VERSION, migrate
from tests.forwarder.store.contract_data import NOW, error_entry
from tests.forwarder.store.test_sqlite_migration import _V1_ROWS, US, V2, _write_v1


async def test_version_2_database_migrates_with_spam_filtering_on(tmp_path: Path) -> None:
    """Domains written before issue 10 keep routing, with filtering on and rspamd deciding."""
    path = tmp_path / "v3.sqlite3"
    await _write_v1(path, V2)
    store = SqliteStore(str(path))
    await store.open()  # v2 -> v3 -> v4 -> v5
    try:
        assert await store.pragma("user_version") == SCHEMA_VERSION >= 5
        domains = await store.domains.list_for_owner("u1")
        assert domains and all(d.spam == SpamPolicy() for d in domains)
        await store.domains.set_spam_policy(domains[0].id, SpamPolicy(False, 8.0, 5.0))
        found = await store.domains.get(domains[0].id)
        assert found is not None and found.spam == SpamPolicy(False, 8.0, 5.0)
    finally:
        await store.close()


HOUR = 3_600_000_000  # microseconds
V3 = MIGRATIONS[:3]
_ERROR_V3 = (
    "INSERT INTO error_log (id, domain_id, at, alias, code, enhanced_code, reason, "
    "target_domain, sender_domain, expires_at) VALUES (?, 'd1', ?, ?, ?, ?, ?, '', ?, ?)"
)


async def test_version_3_error_log_rows_merge_into_counted_rows(tmp_path: Path) -> None:
    path = tmp_path / "v3.sqlite3"
    await _write_v1(path, V3)
    start = 1_900_000_800 * 1_000_000 // HOUR * HOUR  # the start of an hour
    rows = [  # e1 (in _V1_ROWS) is at US: its own hour
        *((f"p{i}", start + i * 1000, "probe", 550, "5.1.1", "no such alias", f"s{i}.example")
          for i in range(5)),
        ("q1", start + HOUR + 5, "probe", 550, "5.1.1", "no such alias", "later.example"),
        ("t1", start + 7, "probe", 451, "4.3.0", "store down", "s.example"),
    ]  # fmt: skip
    with sqlite3.connect(path) as raw:
        for id_, when, alias, code, enhanced, reason, sender in rows:
            raw.execute(
                _ERROR_V3, (id_, when, alias, code, enhanced, reason, sender, when + 7 * 24 * HOUR)
            )
    store = SqliteStore(str(path))
    await store.open()
    try:
        assert await store.pragma("user_version") == SCHEMA_VERSION >= 4
        entries = await store.errors.list_for_domain("d1", NOW.replace(year=2029))
        counted = {(e.code, e.count, e.at, e.last_at, e.sender_domain) for e in entries}
        assert counted == {
            (550, 5, py_time(start), py_time(start + 4000), "s0.example"),
            (550, 1, py_time(start + HOUR + 5), py_time(start + HOUR + 5), "later.example"),
            (451, 1, py_time(start + 7), py_time(start + 7), "s.example"),
            (550, 1, py_time(US), py_time(US), "s.example"),
        }
        merged = next(e for e in entries if e.count == 5)
        assert merged.id == "p0" and merged.expires_at == py_time(start + 7 * 24 * HOUR)
        # The unique key holds on the migrated table: a new entry counts into the merged row.
        again = replace(
            error_entry(Domain("d1", "ann.example", "u1", "t", NOW), when=py_time(start + 9000)),
            alias="probe",
            target_domain="",
        )
        assert (await store.errors.add(again)).count == 6
        assert len(await store.errors.list_for_domain("d1", NOW.replace(year=2029))) == 4
    finally:
        await store.close()


V5 = MIGRATIONS[:5]


async def test_version_5_database_gains_the_delivered_records_with_data_intact(
    tmp_path: Path,
) -> None:
    """Version 6 (issue 14): a database holding data at version 5 gains the delivered-target
    table; its rows are untouched and the generation does not move (no routing change)."""
    path = tmp_path / "v5.sqlite3"
    db = Db()
    await db.connect(str(path), PRAGMAS)
    try:
        assert await migrate(db, V5) == 5
        for sql, params in _V1_ROWS:
            if "error_log" not in sql:  # version 4 rebuilt it; a counted row instead
                await db.fetch(sql, params)
        await db.fetch(
            "INSERT INTO error_log (id, domain_id, at, last_at, hour, count, alias, code, "
            "enhanced_code, reason, target_domain, sender_domain, expires_at) "
            "VALUES ('e1', 'd1', ?, ?, ?, 1, 'hello', 550, '5.1.1', 'r', '', 's.example', ?)",
            (US, US, US // HOUR, US * 2),
        )
        row = await db.fetch_one("SELECT value FROM meta WHERE key = 'generation'")
        assert row is not None
        generation = int(row[0])
    finally:
        await db.close()
    store = SqliteStore(str(path))
    await store.open()
    try:
        assert await store.pragma("user_version") == SCHEMA_VERSION >= 6
        assert await store.generation() == generation
        user = await store.users.get("u1")
        assert user is not None and user.email == "ann@example.org"
        assert [a.local_part for a in await store.aliases.list_for_domain("d1")] == ["hello"]
        assert len(await store.errors.list_for_domain("d1", NOW.replace(year=2029))) == 1
        key = "c" * 64
        await store.delivered.remember([key], NOW.replace(year=2031))
        assert await store.delivered.seen([key], NOW) == {key}
        assert await store.generation() == generation
    finally:
        await store.close()


async def test_users_written_before_version_7_get_the_default_preferences(tmp_path: Path) -> None:
    """Issue 13: an account from before keeps its own address as the default target of new
    aliases (stored as "") and "off" rejects."""
    path = tmp_path / "v2.sqlite3"
    await _write_v1(path, V2)
    store = SqliteStore(str(path))
    await store.open()
    try:
        assert await store.pragma("user_version") == SCHEMA_VERSION >= 7
        user = await store.users.get("u1")
        assert user is not None and (user.default_target, user.off_mode) == ("", "reject")
        await store.users.set_preferences("u1", "", "drop")
        user = await store.users.get("u1")
        assert user is not None and user.off_mode == "drop"
    finally:
        await store.close()


V8 = MIGRATIONS[:8]


async def test_version_8_database_gains_private_replies_off_with_data_intact(
    tmp_path: Path,
) -> None:
    """Version 9 (issue 11): domains and aliases written at version 8 read as "off" and "not
    chosen"; their other fields (reply key, display name) are untouched, and both can be set."""
    path = tmp_path / "v8.sqlite3"
    db = Db()
    await db.connect(str(path), PRAGMAS)
    try:
        assert await migrate(db, V8) == 8
        for sql, params in _V1_ROWS:
            if "error_log" not in sql:  # version 4 rebuilt it
                await db.fetch(sql, params)
        await db.fetch("UPDATE aliases SET reply_key_version = 3, display_name = 'Shop'")
    finally:
        await db.close()
    store = SqliteStore(str(path))
    await store.open()
    try:
        assert await store.pragma("user_version") == SCHEMA_VERSION >= 9
        [alias] = await store.aliases.list_for_domain("d1")
        domain = await store.domains.get("d1")
        assert domain is not None and domain.private_replies is False
        assert (alias.local_part, alias.reply_key_version, alias.display_name) == (
            "hello",
            3,
            "Shop",
        )
        assert alias.private_replies is None and not alias.replies_private(domain)
        await store.domains.set_private_replies("d1", True)
        assert (await store.aliases.set_private_replies(alias.id, False)).private_replies is False
        domain = await store.domains.get("d1")
        assert domain is not None and domain.private_replies is True
    finally:
        await store.close()
