"""The database URL picks the backend and, for SQLite, the file where operators expect it."""

from pathlib import Path

import pytest

from forwarder.settings import Secret, Settings
from forwarder.store import store_for
from forwarder.store.mongo import MongoStore
from forwarder.store.sqlite import SqliteStore


async def test_relative_sqlite_url_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = store_for(Settings(database_url=Secret("sqlite:///sub/q.sqlite3")))
    assert isinstance(store, SqliteStore)
    await store.open()
    await store.close()
    assert (tmp_path / "sub" / "q.sqlite3").exists()


async def test_default_url_puts_the_database_in_the_data_dir(tmp_path: Path) -> None:
    store = store_for(Settings(data_dir=tmp_path / "data"))
    await store.open()
    await store.close()
    assert (tmp_path / "data" / "quietmail.sqlite3").exists()


def test_mongodb_url_picks_mongodb() -> None:
    assert isinstance(
        store_for(Settings(database_url=Secret("mongodb://127.0.0.1:1/q"))), MongoStore
    )
