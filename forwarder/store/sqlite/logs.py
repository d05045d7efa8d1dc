"""SQLite implementations of the expiring records: the error log (DESIGN promise 4) and the
abuse denylist. Reads filter on ``now`` so an expired row is never returned, swept or not."""

from __future__ import annotations

from datetime import datetime

from forwarder.store.base import (
    MAX_ERROR_LIST,
    MAX_ERROR_ROWS_PER_HOUR,
    OTHER_ALIASES,
    DenyEntry,
    DenyKind,
    ErrorLogEntry,
    NewErrorLogEntry,
    check_enum,
    check_error_entry,
    check_int,
    error_hour,
    normalize_deny_value,
    require_str,
)
from forwarder.store.sqlite.accounts import new_id, scrub_if
from forwarder.store.sqlite.db import Db, Row, db_time, py_time


def error_record(row: Row) -> ErrorLogEntry:
    return ErrorLogEntry(
        id=row["id"],
        domain_id=row["domain_id"],
        at=py_time(row["at"]),
        alias=row["alias"],
        code=row["code"],
        enhanced_code=row["enhanced_code"],
        reason=row["reason"],
        target_domain=row["target_domain"],
        sender_domain=row["sender_domain"],
        expires_at=py_time(row["expires_at"]),
        count=row["count"],
        last_at=py_time(row["last_at"]),
    )


# One row per key and hour (base.ErrorLog.add): the first entry inserts it, the rest count.
_UPSERT = (
    "INSERT INTO error_log (id, domain_id, at, last_at, hour, count, alias, code, "
    "enhanced_code, reason, target_domain, sender_domain, expires_at) "
    "VALUES (:id, :domain_id, :at, :at, :hour, 1, :alias, :code, :enhanced_code, :reason, "
    ":target_domain, :sender_domain, :expires_at) "
    "ON CONFLICT (domain_id, alias, code, enhanced_code, target_domain, hour) DO UPDATE SET "
    "count = count + 1, last_at = max(last_at, excluded.last_at) RETURNING *"
)
_ROW_EXISTS = (
    "SELECT 1 FROM error_log WHERE domain_id = :domain_id AND alias = :alias AND code = :code "
    "AND enhanced_code = :enhanced_code AND target_domain = :target_domain AND hour = :hour"
)
_ROWS_IN_HOUR = "SELECT count(*) FROM error_log WHERE domain_id = :domain_id AND hour = :hour"


class SqliteErrorLog:
    def __init__(self, db: Db) -> None:
        self._db = db

    async def add(self, entry: NewErrorLogEntry) -> ErrorLogEntry:
        entry = check_error_entry(entry)
        params: dict[str, object] = {
            "id": new_id(),
            "domain_id": entry.domain_id,
            "at": db_time(entry.at, "at"),
            "hour": error_hour(entry.at),
            "alias": entry.alias,
            "code": entry.code,
            "enhanced_code": entry.enhanced_code,
            "reason": entry.reason,
            "target_domain": entry.target_domain,
            "sender_domain": entry.sender_domain,
            "expires_at": db_time(entry.expires_at, "expires at"),
        }
        async with self._db.transaction() as tx:
            if not await tx.fetch(_ROW_EXISTS, params):
                rows = await tx.fetch(_ROWS_IN_HOUR, params)
                if rows[0][0] >= MAX_ERROR_ROWS_PER_HOUR:
                    params["alias"] = OTHER_ALIASES
            rows = await tx.fetch(_UPSERT, params)
        return error_record(rows[0])

    async def list_for_domain(
        self, domain_id: str, now: datetime, limit: int = 500
    ) -> list[ErrorLogEntry]:
        rows = await self._db.fetch(
            "SELECT * FROM error_log WHERE domain_id = ? AND expires_at > ? "
            "ORDER BY last_at DESC, rowid DESC LIMIT ?",
            (
                require_str(domain_id, "domain id"),
                db_time(now, "now"),
                check_int(limit, "limit", 1, MAX_ERROR_LIST),
            ),
        )
        return [error_record(r) for r in rows]

    async def purge_expired(self, now: datetime) -> int:
        rows = await self._db.fetch(
            "DELETE FROM error_log WHERE expires_at <= ? RETURNING id", (db_time(now, "now"),)
        )
        await scrub_if(self._db, rows)
        return len(rows)


def deny_record(row: Row) -> DenyEntry:
    return DenyEntry(
        id=row["id"],
        kind=DenyKind(row["kind"]),
        value=row["value"],
        reason=row["reason"],
        created_at=py_time(row["created_at"]),
        expires_at=py_time(row["expires_at"]),
    )


class SqliteDenylist:
    def __init__(self, db: Db) -> None:
        self._db = db

    async def add(
        self, kind: DenyKind, value: str, reason: str, now: datetime, expires_at: datetime
    ) -> DenyEntry:
        rows = await self._db.fetch(
            "INSERT INTO denylist (id, kind, value, reason, created_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?, ?) RETURNING *",
            (
                new_id(),
                check_enum(DenyKind, kind, "denylist kind").value,
                normalize_deny_value(value),
                require_str(reason, "reason"),
                db_time(now, "now"),
                db_time(expires_at, "expires at"),
            ),
        )
        return deny_record(rows[0])

    async def list_active(self, now: datetime) -> list[DenyEntry]:
        rows = await self._db.fetch(
            "SELECT * FROM denylist WHERE expires_at > ? ORDER BY created_at, rowid",
            (db_time(now, "now"),),
        )
        return [deny_record(r) for r in rows]

    async def remove(self, entry_id: str) -> bool:
        rows = await self._db.fetch(
            "DELETE FROM denylist WHERE id = ? RETURNING id",
            (require_str(entry_id, "denylist entry id"),),
        )
        await scrub_if(self._db, rows)
        return bool(rows)

    async def purge_expired(self, now: datetime) -> int:
        rows = await self._db.fetch(
            "DELETE FROM denylist WHERE expires_at <= ? RETURNING id", (db_time(now, "now"),)
        )
        await scrub_if(self._db, rows)
        return len(rows)
