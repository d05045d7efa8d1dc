"""MongoDB error log and denylist: the only records about traffic (DESIGN promise 4).

Both collections carry a TTL index on ``expires_at`` (expireAfterSeconds=0), so the server
removes an entry once it expires. The TTL monitor runs only every 60 seconds, so every read
also filters on ``now``: an expired entry is never returned, swept or not.
"""

from __future__ import annotations

from datetime import datetime

from forwarder.store.base import (
    MAX_ERROR_LIST,
    DenyEntry,
    DenyKind,
    ErrorLogEntry,
    NewErrorLogEntry,
    NotFound,
    check_enum,
    check_error_entry,
    check_int,
    normalize_deny_value,
    require_str,
)
from forwarder.store.mongo.core import Doc, MongoDb, from_db_time, new_id, to_db_time


def error_record(doc: Doc) -> ErrorLogEntry:
    return ErrorLogEntry(
        id=doc["_id"],
        domain_id=doc["domain_id"],
        at=from_db_time(doc["at"]),
        alias=doc["alias"],
        code=int(doc["code"]),
        enhanced_code=doc["enhanced_code"],
        reason=doc["reason"],
        target_domain=doc["target_domain"],
        sender_domain=doc["sender_domain"],
        expires_at=from_db_time(doc["expires_at"]),
    )


def deny_record(doc: Doc) -> DenyEntry:
    return DenyEntry(
        id=doc["_id"],
        kind=DenyKind(doc["kind"]),
        value=doc["value"],
        reason=doc["reason"],
        created_at=from_db_time(doc["created_at"]),
        expires_at=from_db_time(doc["expires_at"]),
    )


def _error_doc(entry: NewErrorLogEntry) -> Doc:
    entry = check_error_entry(entry)
    return {
        "_id": new_id(),
        "domain_id": entry.domain_id,
        "at": to_db_time(entry.at, "at"),
        "alias": entry.alias,
        "code": entry.code,
        "enhanced_code": entry.enhanced_code,
        "reason": entry.reason,
        "target_domain": entry.target_domain,
        "sender_domain": entry.sender_domain,
        "expires_at": to_db_time(entry.expires_at, "expires at"),
    }


class MongoErrorLog:
    def __init__(self, db: MongoDb) -> None:
        self._db = db

    async def add(self, entry: NewErrorLogEntry) -> ErrorLogEntry:
        doc = _error_doc(entry)
        if await self._db.domains.find_one({"_id": doc["domain_id"]}) is None:
            raise NotFound("no such domain")
        await self._db.errors.insert(doc)
        return error_record(doc)

    async def list_for_domain(
        self, domain_id: str, now: datetime, limit: int = 500
    ) -> list[ErrorLogEntry]:
        flt = {
            "domain_id": require_str(domain_id, "domain id"),
            "expires_at": {"$gt": to_db_time(now, "now")},
        }
        docs = await self._db.errors.find(
            flt,
            sort=[("at", -1), ("_id", -1)],
            limit=check_int(limit, "limit", 1, MAX_ERROR_LIST),
        )
        return [error_record(doc) for doc in docs]

    async def purge_expired(self, now: datetime) -> int:
        return await self._db.errors.delete_many({"expires_at": {"$lte": to_db_time(now, "now")}})


class MongoDenylist:
    def __init__(self, db: MongoDb) -> None:
        self._db = db

    async def add(
        self, kind: DenyKind, value: str, reason: str, now: datetime, expires_at: datetime
    ) -> DenyEntry:
        doc: Doc = {
            "_id": new_id(),
            "kind": check_enum(DenyKind, kind, "denylist kind").value,
            "value": normalize_deny_value(value),
            "reason": require_str(reason, "reason"),
            "created_at": to_db_time(now, "now"),
            "expires_at": to_db_time(expires_at, "expires at"),
        }
        await self._db.denylist.insert(doc)
        return deny_record(doc)

    async def match(self, kind: DenyKind, value: str, now: datetime) -> DenyEntry | None:
        flt = {
            "kind": check_enum(DenyKind, kind, "denylist kind").value,
            "value": normalize_deny_value(value),
            "expires_at": {"$gt": to_db_time(now, "now")},
        }
        docs = await self._db.denylist.find(flt, sort=[("expires_at", -1)], limit=1)
        return deny_record(docs[0]) if docs else None

    async def list_active(self, now: datetime) -> list[DenyEntry]:
        flt = {"expires_at": {"$gt": to_db_time(now, "now")}}
        docs = await self._db.denylist.find(flt, sort=[("created_at", 1), ("_id", 1)])
        return [deny_record(doc) for doc in docs]

    async def remove(self, entry_id: str) -> bool:
        return await self._db.denylist.delete_one({"_id": require_str(entry_id, "entry id")}) == 1

    async def purge_expired(self, now: datetime) -> int:
        flt = {"expires_at": {"$lte": to_db_time(now, "now")}}
        return await self._db.denylist.delete_many(flt)
