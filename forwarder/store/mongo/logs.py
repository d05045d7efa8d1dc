"""MongoDB error log and denylist: the only records about traffic (DESIGN promise 4).

Both collections carry a TTL index on ``expires_at`` (expireAfterSeconds=0), so the server
removes an entry once it expires. The TTL monitor runs only every 60 seconds, so every read
also filters on ``now``: an expired entry is never returned, swept or not.

Error log rows are counted (base.ErrorLog.add): ``find_one_and_update`` with ``$inc`` on the
row's key, and with ``upsert`` and ``$setOnInsert`` when there is none yet; the unique index
``key`` (mongo.py) makes two nodes inserting the same row at once end with one, the loser
counting into it. ``expires_at`` is the first entry's, never extended.
"""

from __future__ import annotations

from datetime import datetime

from forwarder.store.base import (
    MAX_ERROR_LIST,
    MAX_ERROR_ROWS_PER_HOUR,
    OTHER_ALIASES,
    AlreadyExists,
    DenyEntry,
    DenyKind,
    ErrorLogEntry,
    NewErrorLogEntry,
    NotFound,
    check_enum,
    check_error_entry,
    check_int,
    error_hour,
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
        # Entries written before rows were counted carry neither.
        count=int(doc.get("count", 1)),
        last_at=from_db_time(doc.get("last_at") or doc["at"]),
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


# The fields one error log row is counted by (with ``hour``); a unique index in mongo.py.
ERROR_KEY = ("domain_id", "alias", "code", "enhanced_code", "target_domain", "hour")


class MongoErrorLog:
    def __init__(self, db: MongoDb) -> None:
        self._db = db

    async def add(self, entry: NewErrorLogEntry) -> ErrorLogEntry:
        entry = check_error_entry(entry)
        when = to_db_time(entry.at, "at")
        first: Doc = {
            "_id": new_id(),
            "at": when,
            "reason": entry.reason,
            "sender_domain": entry.sender_domain,
            "expires_at": to_db_time(entry.expires_at, "expires at"),
        }
        key: Doc = {
            "domain_id": entry.domain_id,
            "alias": entry.alias,
            "code": entry.code,
            "enhanced_code": entry.enhanced_code,
            "target_domain": entry.target_domain,
            "hour": error_hour(entry.at),
        }
        count = {"$inc": {"count": 1}, "$max": {"last_at": when}}
        doc = await self._db.errors.find_one_and_update(key, count)
        if doc is not None:
            return error_record(doc)
        if await self._db.domains.find_one({"_id": entry.domain_id}) is None:
            raise NotFound("no such domain")
        in_hour = {"domain_id": entry.domain_id, "hour": key["hour"]}
        if len(await self._db.errors.find(in_hour, limit=MAX_ERROR_ROWS_PER_HOUR)) >= (
            MAX_ERROR_ROWS_PER_HOUR
        ):
            key["alias"] = OTHER_ALIASES
        upsert = {**count, "$setOnInsert": first}
        try:
            doc = await self._db.errors.find_one_and_update(key, upsert, upsert=True)
        except AlreadyExists:  # another node inserted the row first: count in it
            doc = await self._db.errors.find_one_and_update(key, count)
        if doc is None:  # expired and swept between the two calls
            raise NotFound("error log row vanished while being counted")
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
            sort=[("last_at", -1), ("_id", -1)],
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

    async def list_active(self, now: datetime) -> list[DenyEntry]:
        flt = {"expires_at": {"$gt": to_db_time(now, "now")}}
        docs = await self._db.denylist.find(flt, sort=[("created_at", 1), ("_id", 1)])
        return [deny_record(doc) for doc in docs]

    async def remove(self, entry_id: str) -> bool:
        return await self._db.denylist.delete_one({"_id": require_str(entry_id, "entry id")}) == 1

    async def purge_expired(self, now: datetime) -> int:
        flt = {"expires_at": {"$lte": to_db_time(now, "now")}}
        return await self._db.denylist.delete_many(flt)
