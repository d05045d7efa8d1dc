"""Deleting one alias, one domain, one target, an error log entry (by its domain) or sweeping
expired rows leaves no byte of them in any SQLite file: main, -wal, -shm (DESIGN promise 5,
issue 8). Account deletion is covered in test_sqlite.py.

Each test writes distinctive names, checks they are on disk (so the test can fail), deletes,
and scans the raw files while the store is still open, as a running server leaves them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from forwarder.store.base import AliasMode, Domain, NewErrorLogEntry
from forwarder.store.sqlite import SqliteStore
from forwarder.sweeper import sweep_once
from tests.store.contract_data import NOW, WEEK, at, make_alias, make_domain, make_user


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "quietmail.sqlite3"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[SqliteStore]:
    opened = SqliteStore(str(db_path))
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


def leaks(db_path: Path, *names: str) -> list[tuple[str, str]]:
    found = []
    for suffix in ("", "-wal", "-shm", "-journal"):
        path = db_path.with_name(db_path.name + suffix)
        if path.exists():
            data = path.read_bytes()
            found += [(suffix or "main", n) for n in names if n.encode() in data]
    return found


async def _bystander(store: SqliteStore) -> Domain:
    """Other data on the same file, kept through every delete below."""
    user = await make_user(store, "bystander@example.org")
    domain = await make_domain(store, user, "bystander.example")
    for i in range(30):
        await make_alias(store, domain, f"keep{i}")
    return domain


def _entry(domain: Domain, alias: str, sender: str, *, expires: bool = False) -> NewErrorLogEntry:
    when = at(days=-8) if expires else NOW
    return NewErrorLogEntry(
        domain_id=domain.id,
        at=when,
        alias=alias,
        code=550,
        enhanced_code="5.1.1",
        reason="no such alias",
        target_domain="",
        sender_domain=sender,
        expires_at=when + WEEK,
    )


async def test_deleted_alias_leaves_no_bytes(store: SqliteStore, db_path: Path) -> None:
    domain = await _bystander(store)
    alias = await store.aliases.create(
        domain.id,
        "zqxjaliasname",
        ["zqxj.target@zqxj-inbox.example"],
        AliasMode.ACTIVE,
        "zqxjnote about my bank",
        NOW,
    )
    await store.recipients.add(domain.owner_id, "zqxj.target@zqxj-inbox.example", NOW)
    names = ("zqxjaliasname", "zqxjnote about my bank", "zqxj.target@zqxj-inbox.example")
    assert leaks(db_path, *names)
    assert await store.aliases.delete(alias.id)
    assert leaks(db_path, *names) == []
    assert len(await store.aliases.list_for_domain(domain.id)) == 30


async def test_deleted_domain_leaves_no_bytes(store: SqliteStore, db_path: Path) -> None:
    await _bystander(store)
    owner = await make_user(store, "zqxjowner@example.org")
    domain = await make_domain(store, owner, "zqxj-private-domain.example")
    for i in range(40):
        await make_alias(store, domain, f"zqxjlocal{i:02d}", ["zqxj.inbox@zqxj-inbox.example"])
    await store.errors.add(_entry(domain, "zqxjprobed", "zqxj-sender.example"))
    names = ("zqxj-private-domain.example", "zqxjlocal07", "zqxjprobed", "zqxj-sender.example")
    assert leaks(db_path, *names)
    assert await store.domains.delete(domain.id)
    assert leaks(db_path, *names) == []


async def test_removed_target_leaves_no_bytes(store: SqliteStore, db_path: Path) -> None:
    domain = await _bystander(store)
    await store.recipients.add(domain.owner_id, "zqxj.confirmed@zqxj-mailbox.example", NOW)
    await store.recipients.set_verified(domain.owner_id, "zqxj.confirmed@zqxj-mailbox.example", NOW)
    assert leaks(db_path, "zqxj.confirmed@zqxj-mailbox.example")
    assert await store.recipients.delete(domain.owner_id, "zqxj.confirmed@zqxj-mailbox.example")
    assert leaks(db_path, "zqxj.confirmed@zqxj-mailbox.example") == []


async def test_swept_error_log_leaves_no_bytes(store: SqliteStore, db_path: Path) -> None:
    domain = await _bystander(store)
    await store.errors.add(_entry(domain, "zqxjexpired", "zqxj-old-sender.example", expires=True))
    await store.errors.add(_entry(domain, "keep0", "current-sender.example"))
    await store.sessions.create(
        "zqxjsessionhash", domain.owner_id, at(days=-2), at(days=-1), at(days=-1)
    )
    assert leaks(db_path, "zqxjexpired", "zqxj-old-sender.example", "zqxjsessionhash")
    counts = await sweep_once(store, NOW)
    assert counts["errors"] == 1 and counts["sessions"] == 1
    assert leaks(db_path, "zqxjexpired", "zqxj-old-sender.example", "zqxjsessionhash") == []
    assert leaks(db_path, "current-sender.example")  # the unexpired entry is still there
