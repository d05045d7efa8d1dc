"""Fixtures shared by every test package: the loopback DNS server and a real SQLite store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from forwarder.store.base import Store
from tests.support.dns_server import DNSServer


@pytest.fixture
def dns_server() -> Iterator[DNSServer]:
    with DNSServer() as server:
        yield server


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[Store]:
    """A real, opened SQLite store in a fresh temp directory."""
    from forwarder.store.sqlite import SqliteStore

    store = SqliteStore(str(tmp_path / "quietmail.sqlite3"))
    await store.open()
    try:
        yield store
    finally:
        await store.close()
