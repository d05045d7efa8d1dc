"""Storage: the contract in ``base``, the SQLite backend in ``sqlite``, MongoDB in ``mongo``."""

from __future__ import annotations

from urllib.parse import urlsplit

from forwarder.settings import Settings
from forwarder.store.base import Store


def sqlite_path(url: str) -> str:
    return url.removeprefix("sqlite:///")


def store_for(settings: Settings) -> Store:
    """The backend named by the database URL, not yet opened (call ``await store.open()``)."""
    url = settings.resolved_database_url.reveal()
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        from forwarder.store.sqlite import SqliteStore

        # As in SQLAlchemy: sqlite:///relative/path and sqlite:////absolute/path.
        return SqliteStore(sqlite_path(url))
    from forwarder.store.mongo import MongoStore

    return MongoStore.from_url(url)
