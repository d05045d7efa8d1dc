"""MongoDB delivered-target records (DESIGN promise 3), shared by every node of a fleet.

One document per key: ``_id`` is the keyed hash (unique by construction), ``expires_at`` its
expiry, under a TTL index. The ``meta`` document ``delivered`` counts the writes; it is bumped
after the keys are written, so a reader that sees a count also sees the keys written before
it. :meth:`since` returns every unexpired key whenever the count moved (more than asked,
which the contract allows): partial deliveries are rare, and there is no cheaper ordering that
holds across nodes writing at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from forwarder.store.base import check_delivered_keys, check_int
from forwarder.store.mongo.core import MongoDb, to_db_time

COUNTER_ID = "delivered"


class MongoDelivered:
    def __init__(self, db: MongoDb) -> None:
        self._db = db

    async def remember(self, keys: Sequence[str], expires_at: datetime) -> None:
        checked = check_delivered_keys(keys)
        expiry = to_db_time(expires_at, "expires at")
        for key in checked:
            await self._db.delivered.update_one(
                {"_id": key}, {"$max": {"expires_at": expiry}}, upsert=True
            )
        await self._db.meta.update_one({"_id": COUNTER_ID}, {"$inc": {"value": 1}}, upsert=True)

    async def seen(self, keys: Sequence[str], now: datetime) -> set[str]:
        checked = check_delivered_keys(keys)
        if not checked:
            return set()
        docs = await self._db.delivered.find(
            {"_id": {"$in": list(checked)}, "expires_at": {"$gt": to_db_time(now, "now")}}
        )
        return {str(doc["_id"]) for doc in docs}

    async def since(self, stamp: int, now: datetime) -> tuple[int, list[str]]:
        after = check_int(stamp, "stamp", 0, 2**62)
        doc = await self._db.meta.find_one({"_id": COUNTER_ID})
        count = 0 if doc is None else int(doc["value"])
        if count == after:
            return after, []
        docs = await self._db.delivered.find({"expires_at": {"$gt": to_db_time(now, "now")}})
        return count, [str(d["_id"]) for d in docs]

    async def purge_expired(self, now: datetime) -> int:
        return await self._db.delivered.delete_many(
            {"expires_at": {"$lte": to_db_time(now, "now")}}
        )
