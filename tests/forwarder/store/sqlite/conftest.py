"""Fixtures for the SQLite-only store tests (forwarder/store/sqlite/), which look at the
database file itself (its bytes, its schema version): the file's path, and a real SqliteStore
opened on it, in place of the both-backends ``store`` of tests/forwarder/store/conftest.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from forwarder.store.sqlite import SqliteStore


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
