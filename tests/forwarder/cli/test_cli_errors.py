"""``quietmail errors DOMAIN``: the owner's error log as the CLI prints it, through
``main(argv)`` against a real SQLite data dir."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from forwarder import replies
from forwarder.settings import Settings
from forwarder.smtp.errorlog import ErrorLogWriter
from forwarder.store.base import NewErrorLogEntry
from forwarder.store.sqlite import SqliteStore
from tests.forwarder.cli.runner import PASSWORD, make_cli, ok


async def _add_errors(data_dir: Path, domain_name: str) -> None:
    store = SqliteStore(str(data_dir / "quietmail.sqlite3"))
    await store.open()
    try:
        domain = await store.domains.get_by_name(domain_name)
        assert domain is not None
        now = datetime.now(UTC)
        for hours_ago, code, reason, days in [
            (3, 451, "target greylisted", 7),
            (1, 550, "mailbox unavailable", 7),
            (200, 452, "expired entry", 7),
        ]:
            at = now - timedelta(hours=hours_ago)
            await store.errors.add(
                NewErrorLogEntry(
                    domain.id, at, "shop", code, f"{code // 100}.0.0", reason,
                    "example.org", "sender.test", at + timedelta(days=days),
                )
            )  # fmt: skip
    finally:
        await store.close()


def test_errors_lists_unexpired_newest_first(tmp_path: Path) -> None:
    cli = make_cli(tmp_path / "data")
    ok(cli("user", "create", "owner@example.net", "--password-stdin", stdin=PASSWORD))
    ok(cli("domain", "add", "example.test", "--owner", "owner@example.net", "--verified"))
    asyncio.run(_add_errors(tmp_path / "data", "example.test"))
    lines = ok(cli("errors", "example.test")).splitlines()
    assert len(lines) == 2
    assert (
        "550 5.0.0  count=1  mailbox unavailable  target=example.org  sender=sender.test"
        in lines[0]
    )
    assert "451 4.0.0  count=1  target greylisted" in lines[1]
    assert "  shop  " in lines[0]


async def _flood(data_dir: Path, domain_name: str) -> dict[str, object]:
    """1000 identical refusals through the real error log writer; the owner's export."""
    store = SqliteStore(str(data_dir / "quietmail.sqlite3"))
    await store.open()
    try:
        domain = await store.domains.get_by_name(domain_name)
        assert domain is not None
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        ticks = iter(start + timedelta(seconds=i * 3) for i in range(1000))
        writer = ErrorLogWriter(store, Settings(), clock=lambda: next(ticks))
        for _ in range(1000):
            await writer.record(
                domain_id=domain.id, alias="probe", reply=replies.REJECT_UNKNOWN_ALIAS,
                sender="x@prober.test",
            )  # fmt: skip
        return await store.export_account(domain.owner_id)
    finally:
        await store.close()


def test_errors_show_the_count_of_a_refusal_flood(tmp_path: Path) -> None:
    cli = make_cli(tmp_path / "data")
    ok(cli("user", "create", "owner@example.net", "--password-stdin", stdin=PASSWORD))
    ok(cli("domain", "add", "example.test", "--owner", "owner@example.net", "--verified"))
    exported = asyncio.run(_flood(tmp_path / "data", "example.test"))
    [line] = ok(cli("errors", "example.test")).splitlines()
    assert "  probe  550 5.1.1  count=1000 last=" in line and "sender=prober.test" in line
    [entry] = exported["errors"]  # type: ignore[misc]
    assert entry["count"] == 1000 and entry["alias"] == "probe"
