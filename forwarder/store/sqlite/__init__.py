"""The SQLite backend: the embedded default store (DESIGN "Storage").

``SqliteStore(path)`` owns one aiosqlite connection (see ``db``) and the schema
(``schema``); the sub-stores live in ``accounts``, ``domains``, ``routing`` and ``logs``.
Whole-account operations are here: :meth:`SqliteStore.delete_account` deletes in one
transaction and then truncates the WAL, so with ``secure_delete`` no copy of the deleted
rows is left in either database file (DESIGN promise 5).
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any

from forwarder.store.base import (
    ACCOUNT_KINDS,
    Aliases,
    ApiKeys,
    Delivered,
    Denylist,
    Domains,
    ErrorLog,
    InvalidValue,
    NotFound,
    Recipients,
    Sessions,
    StoreUnavailable,
    Users,
    require_str,
)
from forwarder.store.export import AccountRecords, build_export
from forwarder.store.sqlite.accounts import (
    SqliteApiKeys,
    SqliteSessions,
    SqliteUsers,
    api_key_record,
    session_record,
    user_record,
)
from forwarder.store.sqlite.db import Db, Tx
from forwarder.store.sqlite.delivered import SqliteDelivered
from forwarder.store.sqlite.domains import SqliteDomains, domain_record
from forwarder.store.sqlite.logs import SqliteDenylist, SqliteErrorLog, error_record
from forwarder.store.sqlite.routing import (
    SqliteAliases,
    SqliteRecipients,
    alias_record,
    recipient_record,
)
from forwarder.store.sqlite.schema import PRAGMAS, migrate

log = logging.getLogger(__name__)

# Children first, each selected by the user id (:u); RETURNING gives the count per kind.
_DELETES: tuple[tuple[str, str], ...] = (
    (
        "errors",
        "DELETE FROM error_log WHERE domain_id IN (SELECT id FROM domains WHERE owner_id = :u) "
        "RETURNING id",
    ),
    (
        "aliases",
        "DELETE FROM aliases WHERE domain_id IN (SELECT id FROM domains WHERE owner_id = :u) "
        "RETURNING id",
    ),
    ("domains", "DELETE FROM domains WHERE owner_id = :u RETURNING id"),
    ("recipients", "DELETE FROM recipients WHERE owner_id = :u RETURNING id"),
    ("api_keys", "DELETE FROM api_keys WHERE user_id = :u RETURNING id"),
    ("sessions", "DELETE FROM sessions WHERE user_id = :u RETURNING id_hash"),
    ("users", "DELETE FROM users WHERE id = :u RETURNING id"),
)
_READABLE_PRAGMAS = frozenset(
    {"journal_mode", "foreign_keys", "secure_delete", "busy_timeout", "synchronous"}
    | {"trusted_schema", "user_version"}
)


def _prepare_file(path: str) -> None:
    """Create the parent directory (0700) and an empty database file (0600) if missing.

    SQLite gives the -wal and -shm files the main file's permissions, so they are 0600 too.
    """
    if path == ":memory:" or path.startswith("file:"):
        return
    target = Path(path)
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if target.is_dir():
        raise IsADirectoryError(path)
    fd = os.open(target, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)


class SqliteStore:
    """One SQLite database file; implements :class:`forwarder.store.base.Store`."""

    def __init__(self, path: str) -> None:
        self.path = require_str(path, "database path", max_length=4096)
        self._db = Db()
        self.users: Users = SqliteUsers(self._db)
        self.sessions: Sessions = SqliteSessions(self._db)
        self.api_keys: ApiKeys = SqliteApiKeys(self._db)
        self.domains: Domains = SqliteDomains(self._db)
        self.aliases: Aliases = SqliteAliases(self._db)
        self.recipients: Recipients = SqliteRecipients(self._db)
        self.errors: ErrorLog = SqliteErrorLog(self._db)
        self.denylist: Denylist = SqliteDenylist(self._db)
        self.delivered: Delivered = SqliteDelivered(self._db)

    async def open(self) -> None:
        if self._db.is_open:
            return
        try:
            await asyncio.to_thread(_prepare_file, self.path)
        except OSError as exc:
            raise StoreUnavailable(f"cannot open SQLite database: {type(exc).__name__}") from None
        await self._db.connect(self.path, PRAGMAS)
        try:
            await migrate(self._db)
        except BaseException:
            await self._db.close()
            raise

    async def close(self) -> None:
        await self._db.close()

    async def ping(self) -> None:
        await self._db.fetch("SELECT 1")

    async def pragma(self, name: str) -> int | str:
        """The connection's value of one of a few PRAGMAs (diagnostics and tests)."""
        if require_str(name, "pragma") not in _READABLE_PRAGMAS:
            raise InvalidValue("not a readable pragma")
        row = await self._db.fetch_one(f"PRAGMA {name}")
        if row is None:
            raise StoreUnavailable("SQLite did not answer the pragma")
        value: int | str = row[0]
        return value

    async def generation(self) -> int:
        row = await self._db.fetch_one("SELECT value FROM meta WHERE key = 'generation'")
        if row is None:
            raise StoreUnavailable("SQLite database has no generation counter")
        return int(row[0])

    async def delete_account(self, user_id: str) -> dict[str, int]:
        params = {"u": require_str(user_id, "user id")}
        counts: dict[str, int] = {}
        async with self._db.transaction() as tx:
            if not await tx.fetch("SELECT 1 FROM users WHERE id = :u", params):
                raise NotFound("no such user")
            for kind, statement in _DELETES:
                counts[kind] = len(await tx.fetch(statement, params))
        await self._db.scrub()
        log.info("account deleted: %s", ", ".join(f"{k}={counts[k]}" for k in ACCOUNT_KINDS))
        return {kind: counts[kind] for kind in ACCOUNT_KINDS}

    async def export_account(self, user_id: str) -> dict[str, Any]:
        params = {"u": require_str(user_id, "user id")}
        async with self._db.transaction() as tx:  # one consistent snapshot of the account
            records = await _account_records(tx, params)
        return build_export(records)


_MINE = "domain_id IN (SELECT id FROM domains WHERE owner_id = :u)"
# The account's rows, table by table (fixed SQL; :u is the user id).
_ACCOUNT_SQL: dict[str, str] = {
    "sessions": "SELECT * FROM sessions WHERE user_id = :u",
    "api_keys": "SELECT * FROM api_keys WHERE user_id = :u",
    "domains": "SELECT * FROM domains WHERE owner_id = :u",
    "aliases": f"SELECT * FROM aliases WHERE {_MINE}",  # noqa: S608 -- constant SQL
    "recipients": "SELECT * FROM recipients WHERE owner_id = :u",
    "errors": f"SELECT * FROM error_log WHERE {_MINE}",  # noqa: S608 -- constant SQL
}


async def _account_records(tx: Tx, params: dict[str, str]) -> AccountRecords:
    """Every record of the user; forwarder.store.export sorts and shapes them."""
    users = await tx.fetch("SELECT * FROM users WHERE id = :u", params)
    if not users:
        raise NotFound("no such user")
    rows = {kind: await tx.fetch(sql, params) for kind, sql in _ACCOUNT_SQL.items()}
    return AccountRecords(
        user=user_record(users[0]),
        sessions=[session_record(r) for r in rows["sessions"]],
        api_keys=[api_key_record(r) for r in rows["api_keys"]],
        domains=[domain_record(r) for r in rows["domains"]],
        aliases=[alias_record(r) for r in rows["aliases"]],
        recipients=[recipient_record(r) for r in rows["recipients"]],
        errors=[error_record(r) for r in rows["errors"]],
    )
