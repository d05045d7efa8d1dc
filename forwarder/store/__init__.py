"""Storage: the contract in ``base``, the SQLite backend in ``sqlite``, MongoDB in ``mongo``."""

from __future__ import annotations

from urllib.parse import urlsplit

from forwarder.settings import Settings
from forwarder.store.base import Store


def store_for(settings: Settings) -> Store:
    """The backend named by the database URL, not yet opened (call ``await store.open()``)."""
    url = settings.resolved_database_url
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        from forwarder.store.sqlite import SqliteStore

        return SqliteStore(url.removeprefix("sqlite://"))
    from forwarder.store.mongo import MongoStore

    return MongoStore.from_url(url)
