"""``quietmail deny add|list|remove``: the abuse denylist from the command line, checked in
the store it writes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from forwarder.store.base import DenyEntry, DenyKind
from forwarder.store.sqlite import SqliteStore
from tests.forwarder.cli.runner import make_cli, ok


async def _deny_entries(data_dir: Path) -> list[DenyEntry]:
    store = SqliteStore(str(data_dir / "quietmail.sqlite3"))
    await store.open()
    try:
        return await store.denylist.list_active(datetime.now(UTC))
    finally:
        await store.close()


def test_deny_add_list_remove(tmp_path: Path) -> None:
    """The operator's denylist commands write what the relay compares (forwarder/rcpt/denylist.py):
    a canonical IP, an A-label host, a lower-case sender address or domain."""
    cli = make_cli(tmp_path / "data")
    assert ok(cli("deny", "list")) == "no active denylist entries\n"
    added = [
        ok(cli("deny", "add", "ip", "2001:DB8:0:0::1", "--reason", "dictionary attack")),
        ok(cli("deny", "add", "host", "Bücher.Example.", "--reason", "spam run", "--days", "2")),
        ok(cli("deny", "add", "sender", "Spam@Bad.Example", "--reason", "phishing")),
        ok(cli("deny", "add", "sender", "bad.example", "--reason", "the whole domain")),
    ]
    assert added[0].startswith("denied ip 2001:db8::1 until ")
    assert added[1].startswith("denied host xn--bcher-kva.example until ")
    assert added[2].startswith("denied sender spam@bad.example until ")
    entries = asyncio.run(_deny_entries(tmp_path / "data"))
    assert [(e.kind, e.value, e.reason) for e in entries] == [
        (DenyKind.IP, "2001:db8::1", "dictionary attack"),
        (DenyKind.HOST, "xn--bcher-kva.example", "spam run"),
        (DenyKind.SENDER, "spam@bad.example", "phishing"),
        (DenyKind.SENDER, "bad.example", "the whole domain"),
    ]
    for entry, days in zip(entries, (30, 2, 30, 30), strict=True):
        kept = entry.expires_at - entry.created_at
        assert timedelta(days=days) - timedelta(seconds=1) < kept <= timedelta(days=days)
        assert f"(id {entry.id})" in added[entries.index(entry)]
    listing = ok(cli("deny", "list")).splitlines()
    assert listing[0].startswith(f"{entries[0].id}  ip  2001:db8::1  until ")
    assert listing[0].endswith("  dictionary attack") and len(listing) == 4

    assert ok(cli("deny", "remove", entries[2].id)) == f"removed denylist entry {entries[2].id}\n"
    again = cli("deny", "remove", entries[2].id)
    assert again.returncode == 1 and len(again.stderr.splitlines()) == 1
    assert "no denylist entry" in again.stderr
    left = asyncio.run(_deny_entries(tmp_path / "data"))
    assert [e.id for e in left] == [entries[0].id, entries[1].id, entries[3].id]
