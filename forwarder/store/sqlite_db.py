"""The one aiosqlite connection behind the SQLite backend, and the boundary where driver errors
become store errors.

Every statement runs on aiosqlite's worker thread, so nothing blocks the event loop. One
``asyncio.Lock`` serialises statements and transactions of this process, so a coroutine never
runs a statement inside another coroutine's open transaction; other processes on the same file
are kept apart by SQLite's own locking (WAL, ``BEGIN IMMEDIATE``, ``busy_timeout``).

Translation (conventions 5)::

    sqlite3.IntegrityError  UNIQUE / PRIMARY KEY  -> AlreadyExists
                            FOREIGN KEY           -> NotFound
                            CHECK / NOT NULL      -> InvalidValue
    any other sqlite3.Error, OSError, a closed
    connection (ValueError from aiosqlite)        -> StoreUnavailable
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager, suppress
from datetime import UTC, datetime, timedelta
from typing import Any

import aiosqlite

from forwarder.store.base import (
    AlreadyExists,
    InvalidValue,
    NotFound,
    StoreError,
    StoreUnavailable,
)

log = logging.getLogger(__name__)

Row = sqlite3.Row
Params = Sequence[Any] | Mapping[str, Any]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


# ---------------------------------------------------------------------------- time


def db_time(value: object, what: str) -> int:
    """A timezone-aware datetime as integer microseconds since the epoch (UTC), so that
    comparisons with ``now`` in SQL are exact and independent of the offset it came with."""
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise InvalidValue(f"{what} must be a timezone-aware datetime")
    return (value - _EPOCH) // _MICROSECOND


def db_time_opt(value: object, what: str) -> int | None:
    return None if value is None else db_time(value, what)


def py_time(value: int) -> datetime:
    return _EPOCH + value * _MICROSECOND


def py_time_opt(value: int | None) -> datetime | None:
    return None if value is None else py_time(value)


# ---------------------------------------------------------------------------- errors


@contextmanager
def translated() -> Iterator[None]:
    """Driver exceptions never leave this block; store errors pass through unchanged."""
    try:
        yield
    except StoreError:
        raise
    except sqlite3.IntegrityError as exc:
        message = str(exc)
        if "UNIQUE" in message or "PRIMARY KEY" in message:
            raise AlreadyExists("that name is already taken") from None
        if "FOREIGN KEY" in message:
            raise NotFound("the record it belongs to does not exist") from None
        raise InvalidValue("a value was refused by the database") from None
    except (sqlite3.Error, OSError, ValueError, RuntimeError) as exc:
        # ValueError / RuntimeError: aiosqlite's "Connection closed" and a stopped worker.
        raise StoreUnavailable(f"SQLite database unavailable: {type(exc).__name__}") from None


# ---------------------------------------------------------------------------- connection


class Tx:
    """Statements inside one open transaction (the lock is already held)."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def fetch(self, sql: str, params: Params = ()) -> list[Row]:
        with translated():
            return list(await self._conn.execute_fetchall(sql, params))


class Db:
    """One aiosqlite connection, opened by :meth:`connect`, shared by every sub-store."""

    def __init__(self) -> None:
        self._conn: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    @property
    def is_open(self) -> bool:
        return self._conn is not None

    async def connect(self, path: str, pragmas: Sequence[str]) -> None:
        with translated():
            conn = await aiosqlite.connect(path, isolation_level=None)
            try:
                conn.row_factory = sqlite3.Row
                for pragma in pragmas:
                    await conn.execute_fetchall(pragma)
            except BaseException:
                await conn.close()
                raise
        self._conn = conn
        self._lock = asyncio.Lock()  # a reopened store may run under a new event loop

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            async with self._lock:
                with suppress(sqlite3.Error, ValueError, RuntimeError):
                    await conn.close()

    def _require(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise StoreUnavailable("SQLite store is not open")
        return self._conn

    async def fetch(self, sql: str, params: Params = ()) -> list[Row]:
        """One statement in its own (implicit) transaction."""
        async with self._lock:
            conn = self._require()
            with translated():
                return list(await conn.execute_fetchall(sql, params))

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        rows = await self.fetch(sql, params)
        return rows[0] if rows else None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        """``BEGIN IMMEDIATE`` takes the write lock at once, so a read-then-write inside cannot
        be overtaken by another process; any exception rolls back."""
        async with self._lock:
            conn = self._require()
            with translated():
                await conn.execute_fetchall("BEGIN IMMEDIATE")
            try:
                yield Tx(conn)
                with translated():
                    await conn.execute_fetchall("COMMIT")
            except BaseException:
                # Also after a failed COMMIT (e.g. SQLITE_BUSY), which leaves it open.
                if conn.in_transaction:
                    with suppress(sqlite3.Error, ValueError, RuntimeError):
                        await conn.execute_fetchall("ROLLBACK")
                raise

    async def scrub(self) -> None:
        """Copy the WAL into the main file and truncate it (``wal_checkpoint(TRUNCATE)``).

        Called after every delete of user data and every sweep that removed rows (DESIGN
        promise 5): ``secure_delete`` zeroes the freed space of the main file, but until a
        checkpoint the -wal file still holds the page images written before the delete, with
        the deleted names in them. Measured on a 2-core test machine: an alias delete takes
        about 1 ms without it and 3-6 ms with it (the checkpoint writes and syncs a few pages).
        """
        row = await self.fetch_one("PRAGMA wal_checkpoint(TRUNCATE)")
        if row is not None and row[0]:
            # Another connection is reading; its next checkpoint overwrites those frames.
            log.warning("WAL checkpoint after a delete was blocked by a reader")
