"""SQLite delivered-target records (DESIGN promise 3): keyed hashes with an expiry.

``seq`` is an AUTOINCREMENT key, so it only grows, and SQLite commits one writer at a time:
a reader that sees ``seq`` N sees every row below it. :meth:`since` hands out the largest
``seq`` it returned as the next stamp. Re-remembering a key replaces its row (a new ``seq``),
so every worker learns it again even if it had let the old one expire.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from forwarder.store.base import check_delivered_keys, check_int
from forwarder.store.sqlite.accounts import scrub_if
from forwarder.store.sqlite.db import Db, db_time

_REMEMBER = (
    "INSERT OR REPLACE INTO delivered (key, expires_at) VALUES (:key, "
    "max(:expires_at, coalesce((SELECT expires_at FROM delivered WHERE key = :key), 0)))"
)


class SqliteDelivered:
    def __init__(self, db: Db) -> None:
        self._db = db

    async def remember(self, keys: Sequence[str], expires_at: datetime) -> None:
        checked = check_delivered_keys(keys)
        expiry = db_time(expires_at, "expires at")
        async with self._db.transaction() as tx:
            for key in checked:
                await tx.fetch(_REMEMBER, {"key": key, "expires_at": expiry})

    async def seen(self, keys: Sequence[str], now: datetime) -> set[str]:
        checked = check_delivered_keys(keys)
        if not checked:
            return set()
        marks = ", ".join("?" * len(checked))
        rows = await self._db.fetch(
            f"SELECT key FROM delivered WHERE key IN ({marks}) AND expires_at > ?",  # noqa: S608
            (*checked, db_time(now, "now")),
        )
        return {row[0] for row in rows}

    async def since(self, stamp: int, now: datetime) -> tuple[int, list[str]]:
        after = check_int(stamp, "stamp", 0, 2**62)
        rows = await self._db.fetch(
            "SELECT seq, key FROM delivered WHERE seq > ? AND expires_at > ?",
            (after, db_time(now, "now")),
        )
        return max([after, *(row[0] for row in rows)]), [row[1] for row in rows]

    async def purge_expired(self, now: datetime) -> int:
        rows = await self._db.fetch(
            "DELETE FROM delivered WHERE expires_at <= ? RETURNING seq", (db_time(now, "now"),)
        )
        await scrub_if(self._db, rows)
        return len(rows)
