"""The expiry sweeper (forwarder/sweeper.py): it removes only expired records, runs every
interval, and survives a database that does not answer."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from datetime import UTC, datetime, timedelta

import pytest

from forwarder.store.base import DenyKind, NewErrorLogEntry, Store
from forwarder.store.mongo import MongoStore
from forwarder.sweeper import sweep_forever, sweep_once


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _fill_expiring(store: Store, now: datetime) -> None:
    user = await store.users.create("sweep@example.net", "x", now)
    domain = await store.domains.create("sweep.test", user.id, "token", now)
    past, future = now - timedelta(seconds=1), now + timedelta(days=1)
    for index, expires in enumerate([past, future]):
        await store.sessions.create(f"h{index}", user.id, now - timedelta(days=2), expires, expires)
        await store.errors.add(  # one alias each: the same one would be one counted row
            NewErrorLogEntry(domain.id, now, f"a{index}", 451, "4.3.0", "r", "", "", expires)
        )
        await store.denylist.add(DenyKind.IP, f"192.0.2.{index}", "abuse", now, expires)
        await store.delivered.remember([f"{index:064x}"], expires)


async def test_sweep_removes_only_expired_records(sqlite_store: Store) -> None:
    now = datetime.now(UTC)
    await _fill_expiring(sqlite_store, now)
    one = {"sessions": 1, "errors": 1, "denylist": 1, "delivered": 1}
    assert await sweep_once(sqlite_store, now) == one
    assert await sweep_once(sqlite_store, now) == dict.fromkeys(one, 0)
    later = now + timedelta(days=2)
    assert await sweep_once(sqlite_store, later) == one


async def test_sweep_forever_runs_every_interval(
    sqlite_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    now = datetime.now(UTC)
    await _fill_expiring(sqlite_store, now)
    ticks: list[datetime] = []

    def clock() -> datetime:
        ticks.append(now + timedelta(days=len(ticks) * 2))  # the 2nd sweep is 2 days later
        return ticks[-1]

    with caplog.at_level(logging.INFO, logger="forwarder.sweeper"):
        task = asyncio.create_task(sweep_forever(sqlite_store, interval=0.05, clock=clock))
        while len(ticks) < 3:
            await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert "removed 1 sessions, 1 error log entries, 1 denylist entries" in caplog.text
    assert await sqlite_store.denylist.list_active(now - timedelta(days=1)) == []


async def test_sweeper_survives_an_unreachable_database(caplog: pytest.LogCaptureFixture) -> None:
    url = f"mongodb://127.0.0.1:{_free_port()}/quietmail?serverSelectionTimeoutMS=100"
    store = MongoStore.from_url(url)
    try:
        with caplog.at_level(logging.WARNING, logger="forwarder.sweeper"):
            task = asyncio.create_task(sweep_forever(store, interval=0.01))
            deadline = time.monotonic() + 20
            while "(2 failed sweeps so far)" not in caplog.text:
                assert time.monotonic() < deadline, caplog.text
                assert not task.done()
                await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        assert "store unavailable (1 failed sweeps so far)" in caplog.text
    finally:
        await store.close()
