"""Whole-account operations on MongoDB: delete everything tied to a user, or export it.

Deletion (DESIGN promise 5) runs in one multi-document transaction when the server has them
(a replica set, as the docker compose file runs). A standalone server or the mongomock
stand-in has none; then the deletes run one after another in an order chosen so that stopping
at any point leaves nothing that still routes mail and nothing a retry cannot find:

1. aliases of the user's domains: from here on, mail to them is refused at RCPT;
2. error log entries of those domains;
3. the domains themselves (still listed until now, so a retry finds steps 1-2's leftovers);
4. recipients, API keys, sessions;
5. the user, last, so a retry by user id (or email) still finds everything above.

The export is built from the records by :mod:`forwarder.store.export`, as for every backend.
"""

from __future__ import annotations

import logging
from typing import Any

from forwarder.store.base import ACCOUNT_KINDS, NotFound
from forwarder.store.export import AccountRecords, build_export
from forwarder.store.mongo.accounts import api_key_record, session_record, user_record
from forwarder.store.mongo.core import MongoDb
from forwarder.store.mongo.domains import domain_record
from forwarder.store.mongo.logs import error_record
from forwarder.store.mongo.routing import alias_record, recipient_record

log = logging.getLogger(__name__)


async def delete_account(db: MongoDb, user_id: str) -> dict[str, int]:
    """Counts per kind (ACCOUNT_KINDS); NotFound when there is no such user."""

    async def work(session: Any) -> dict[str, int]:
        counts = dict.fromkeys(ACCOUNT_KINDS, 0)
        if await db.users.find_one({"_id": user_id}, session=session) is None:
            raise NotFound("no such user")
        await _delete_domains(db, user_id, counts, session)
        owner = {"owner_id": user_id}
        counts["recipients"] = await db.recipients.delete_many(owner, session=session)
        counts["api_keys"] = await db.api_keys.delete_many({"user_id": user_id}, session=session)
        counts["sessions"] = await db.sessions.delete_many({"user_id": user_id}, session=session)
        counts["users"] = await db.users.delete_one({"_id": user_id}, session=session)
        if session is None:
            # No transaction: a domain or recipient added by a request that checked the user
            # just before it went is swept here rather than left behind.
            await _delete_domains(db, user_id, counts, None)
            counts["recipients"] += await db.recipients.delete_many(owner)
        return counts

    counts = await db.atomic(work)
    await db.bump_generation()
    log.info("account deleted: %s", ", ".join(f"{k}={counts[k]}" for k in ACCOUNT_KINDS))
    return counts


async def _delete_domains(db: MongoDb, user_id: str, counts: dict[str, int], session: Any) -> None:
    domains = await db.domains.find({"owner_id": user_id}, session=session)
    ids = [doc["_id"] for doc in domains]  # our own string ids, read back from the database
    if not ids:
        return
    in_ids = {"$in": ids}
    counts["aliases"] += await db.aliases.delete_many({"domain_id": in_ids}, session=session)
    counts["errors"] += await db.errors.delete_many({"domain_id": in_ids}, session=session)
    counts["domains"] += await db.domains.delete_many({"_id": in_ids}, session=session)


# ---------------------------------------------------------------------------- export


async def export_account(db: MongoDb, user_id: str) -> dict[str, Any]:
    """The user's records; forwarder.store.export sorts and shapes them."""
    user = await db.users.find_one({"_id": user_id})
    if user is None:
        raise NotFound("no such user")
    by_user, by_owner = {"user_id": user_id}, {"owner_id": user_id}
    domains = await db.domains.find(by_owner)
    mine = {"domain_id": {"$in": [doc["_id"] for doc in domains]}}
    records = AccountRecords(
        user=user_record(user),
        sessions=[session_record(doc) for doc in await db.sessions.find(by_user)],
        api_keys=[api_key_record(doc) for doc in await db.api_keys.find(by_user)],
        domains=[domain_record(doc) for doc in domains],
        aliases=[alias_record(doc) for doc in await db.aliases.find(mine)],
        recipients=[recipient_record(doc) for doc in await db.recipients.find(by_owner)],
        errors=[error_record(doc) for doc in await db.errors.find(mine)],
    )
    return build_export(records)
