"""MongoDB domains: claims, verification and the names they guard (collection ``domains``).

A name may be claimed (unverified) by several accounts, once per account (unique index
``owner_name_unique`` on ``(owner_id, name)``); at most one domain per name is verified (unique
index ``verified_name_unique`` on ``name``, partial: only documents whose ``verified_at`` is a
date). The indexes, created in MongoStore.open, are what guarantee this under concurrency; the
checks here give the answer before a write is tried.

Without transactions (a standalone server, the mongomock stand-in) a claim created while
another account's verification runs may survive it: it routes nothing and can never be
verified (the partial index refuses), so it is a leftover its owner can delete, not a block.
Every write bumps the generation counter (base.py), so the relay's cache notices.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from forwarder.store.base import (
    MAX_DKIM_SELECTOR,
    AlreadyExists,
    Domain,
    InvalidValue,
    NotFound,
    SpamPolicy,
    check_bytes,
    check_optional_bool,
    check_spam_policy,
    normalize_domain,
    require_str,
)
from forwarder.store.mongo.accounts import require_user
from forwarder.store.mongo.core import (
    Doc,
    MongoDb,
    from_db_time,
    new_id,
    opt_from_db_time,
    opt_to_db_time,
    to_db_time,
)
from forwarder.store.mongo.routing import prune_targets

VERIFIED = {"$type": "date"}  # the partial index's filter: verified_at holds a date


def domain_record(doc: Doc) -> Domain:
    sealed = doc.get("dkim_key_sealed")
    return Domain(
        id=doc["_id"],
        name=doc["name"],
        owner_id=doc["owner_id"],
        verification_token=doc["verification_token"],
        created_at=from_db_time(doc["created_at"]),
        verified_at=opt_from_db_time(doc.get("verified_at")),
        dkim_selector=doc.get("dkim_selector"),
        dkim_key_sealed=None if sealed is None else bytes(sealed),
        # Documents written before issue 10 have no spam fields: filtering on, rspamd decides.
        spam=SpamPolicy(
            bool(doc.get("spam_filter", True)),
            doc.get("spam_reject_score"),
            doc.get("spam_catch_all_score"),
        ),
        private_replies=bool(doc.get("private_replies", False)),  # absent before: off
    )


class MongoDomains:
    def __init__(self, db: MongoDb) -> None:
        self._db = db

    async def create(
        self, name: str, owner_id: str, verification_token: str, now: datetime
    ) -> Domain:
        doc: Doc = {
            "_id": new_id(),
            "name": normalize_domain(name),
            "owner_id": require_str(owner_id, "owner id"),
            "verification_token": require_str(verification_token, "verification token"),
            "created_at": to_db_time(now, "now"),
            "verified_at": None,
            "dkim_selector": None,
            "dkim_key_sealed": None,
        }
        await require_user(self._db, doc["owner_id"])
        if await self._db.domains.find_one({"name": doc["name"], "verified_at": VERIFIED}):
            raise AlreadyExists("that domain is verified by an account")
        await self._db.domains.insert(doc)  # owner_name_unique -> AlreadyExists
        await self._db.bump_generation()
        return domain_record(doc)

    async def get(self, domain_id: str) -> Domain | None:
        doc = await self._db.domains.find_one({"_id": require_str(domain_id, "domain id")})
        return None if doc is None else domain_record(doc)

    async def get_by_name(self, name: str) -> Domain | None:
        flt = {"name": normalize_domain(name), "verified_at": VERIFIED}
        doc = await self._db.domains.find_one(flt)
        return None if doc is None else domain_record(doc)

    async def list_by_name(self, name: str) -> list[Domain]:
        docs = await self._db.domains.find(
            {"name": normalize_domain(name)}, sort=[("created_at", 1), ("_id", 1)]
        )
        found = [domain_record(d) for d in docs]
        return sorted(found, key=lambda d: not d.verified)  # stable: verified first

    async def list_for_owner(self, owner_id: str) -> list[Domain]:
        flt = {"owner_id": require_str(owner_id, "owner id")}
        return [domain_record(d) for d in await self._db.domains.find(flt, sort=[("name", 1)])]

    async def list_all(self) -> list[Domain]:
        docs = await self._db.domains.find({}, sort=[("name", 1), ("owner_id", 1)])
        return [domain_record(d) for d in docs]

    async def _set(self, domain_id: str, fields: Doc) -> None:
        did = require_str(domain_id, "domain id")
        if await self._db.domains.update_one({"_id": did}, {"$set": fields}) == 0:
            raise NotFound("no such domain")
        await self._db.bump_generation()

    async def set_verified(self, domain_id: str, at: datetime | None) -> None:
        did = require_str(domain_id, "domain id")
        when = opt_to_db_time(at, "verified at")
        if when is None:
            await self._set(did, {"verified_at": None})
            return

        async def work(session: Any) -> None:
            domains = self._db.domains
            doc = await domains.find_one({"_id": did}, session=session)
            if doc is None:
                raise NotFound("no such domain")
            other = {"name": doc["name"], "_id": {"$ne": did}}
            if await domains.find_one({**other, "verified_at": VERIFIED}, session=session):
                raise AlreadyExists("that domain is verified by another account")
            # verified_name_unique refuses a concurrent second verification (AlreadyExists).
            update = {"$set": {"verified_at": when}}
            if await domains.update_one({"_id": did}, update, session=session) == 0:
                raise NotFound("no such domain")
            # The other claims proved nothing. Without a transaction: aliases first, so a
            # stop halfway leaves claims that route nothing (and are never served anyway).
            claims = await domains.find({**other, "verified_at": None}, session=session)
            for claim in claims:
                await self._delete(claim, session)

        await self._db.atomic(work)
        await self._db.bump_generation()

    async def set_dkim(
        self, domain_id: str, selector: str | None, key_sealed: bytes | None
    ) -> None:
        if selector is not None:
            selector = require_str(selector, "DKIM selector", max_length=MAX_DKIM_SELECTOR)
        if key_sealed is not None:
            key_sealed = check_bytes(key_sealed, "sealed DKIM key")
        await self._set(domain_id, {"dkim_selector": selector, "dkim_key_sealed": key_sealed})

    async def set_spam_policy(self, domain_id: str, policy: SpamPolicy) -> None:
        policy = check_spam_policy(policy)
        fields = {
            "spam_filter": policy.enabled,
            "spam_reject_score": policy.reject_score,
            "spam_catch_all_score": policy.catch_all_reject_score,
        }
        await self._set(domain_id, fields)

    async def set_private_replies(self, domain_id: str, on: bool) -> None:
        value = check_optional_bool(on, "private replies")
        if value is None:
            raise InvalidValue("private replies must be true or false")
        await self._set(domain_id, {"private_replies": value})

    async def delete(self, domain_id: str) -> bool:
        did = require_str(domain_id, "domain id")

        async def work(session: Any) -> bool:
            doc = await self._db.domains.find_one({"_id": did}, session=session)
            return doc is not None and await self._delete(doc, session)

        deleted = await self._db.atomic(work)
        await self._db.bump_generation()
        return deleted

    async def _delete(self, domain: Doc, session: Any) -> bool:
        """One domain with its aliases and error log entries, then the owner's unconfirmed
        targets no alias uses any more. Without a transaction: aliases first, so a crash
        halfway leaves a domain that routes nothing (and is still listed, so the owner can
        delete it again)."""
        by_domain = {"domain_id": domain["_id"]}
        aliases = await self._db.aliases.find(by_domain, session=session)
        await self._db.aliases.delete_many(by_domain, session=session)
        await self._db.errors.delete_many(by_domain, session=session)
        flt = {"_id": domain["_id"], "verified_at": domain.get("verified_at")}
        deleted = await self._db.domains.delete_one(flt, session=session) == 1
        targets = [t for alias in aliases for t in alias["targets"]]
        await prune_targets(self._db, domain["owner_id"], targets, session)
        return deleted
