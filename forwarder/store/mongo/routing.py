"""MongoDB aliases and recipients: with domains (``domains``), the records that decide
how mail is routed.

Every write here bumps the generation counter (base.py), so the relay's alias cache notices.
Unique indexes (created in MongoStore.open) guard the names: alias ``(domain_id, local_part)``,
recipient ``(owner_id, address)``.

Removing an alias (deleting it, or taking targets off it) also removes the owner's unconfirmed
targets that no alias uses any more (:func:`prune_targets`), in the same transaction where the
server has them; confirmed ones stay until the owner removes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from forwarder.store.base import (
    Alias,
    AliasMode,
    AlreadyExists,
    NotFound,
    Recipient,
    check_display_name,
    check_enum,
    check_optional_bool,
    check_targets,
    clean_note,
    normalize_email,
    normalize_local_part,
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


async def prune_targets(db: MongoDb, owner_id: str, old: Iterable[str], session: Any) -> int:
    """Delete ``owner_id``'s unconfirmed targets among ``old`` that none of their aliases
    lists any more; run after the alias change."""
    candidates = sorted(set(old))
    if not candidates:
        return 0
    domains = await db.domains.find({"owner_id": owner_id}, session=session)
    flt: Doc = {"domain_id": {"$in": [d["_id"] for d in domains]}, "targets": {"$in": candidates}}
    used = {t for doc in await db.aliases.find(flt, session=session) for t in doc["targets"]}
    gone = [address for address in candidates if address not in used]
    if not gone:
        return 0
    unconfirmed: Doc = {"owner_id": owner_id, "address": {"$in": gone}, "verified_at": None}
    return await db.recipients.delete_many(unconfirmed, session=session)


async def _alias_owner(db: MongoDb, alias_id: str, session: Any) -> tuple[Doc, str] | None:
    alias = await db.aliases.find_one({"_id": alias_id}, session=session)
    if alias is None:
        return None
    domain = await db.domains.find_one({"_id": alias["domain_id"]}, session=session)
    return alias, "" if domain is None else str(domain["owner_id"])


def alias_record(doc: Doc) -> Alias:
    return Alias(
        id=doc["_id"],
        domain_id=doc["domain_id"],
        local_part=doc["local_part"],
        targets=tuple(doc["targets"]),
        mode=AliasMode(doc["mode"]),
        description=doc["description"],
        created_at=from_db_time(doc["created_at"]),
        reply_key_version=int(doc.get("reply_key_version", 0)),
        display_name=str(doc.get("display_name", "")),
        # Documents written before private replies have no field: follow the domain.
        private_replies=doc.get("private_replies"),
    )


def recipient_record(doc: Doc) -> Recipient:
    return Recipient(
        id=doc["_id"],
        owner_id=doc["owner_id"],
        address=doc["address"],
        created_at=from_db_time(doc["created_at"]),
        verified_at=opt_from_db_time(doc.get("verified_at")),
    )


class MongoAliases:
    def __init__(self, db: MongoDb) -> None:
        self._db = db

    async def create(
        self,
        domain_id: str,
        local_part: str,
        targets: Sequence[str],
        mode: AliasMode,
        description: str,
        now: datetime,
    ) -> Alias:
        doc: Doc = {
            "_id": new_id(),
            "domain_id": require_str(domain_id, "domain id"),
            "local_part": normalize_local_part(local_part),
            "targets": list(check_targets(targets)),
            "mode": check_enum(AliasMode, mode, "alias mode").value,
            "description": clean_note(description, "description"),
            "created_at": to_db_time(now, "now"),
        }
        if await self._db.domains.find_one({"_id": doc["domain_id"]}) is None:
            raise NotFound("no such domain")
        await self._db.aliases.insert(doc)
        await self._db.bump_generation()
        return alias_record(doc)

    async def get(self, alias_id: str) -> Alias | None:
        doc = await self._db.aliases.find_one({"_id": require_str(alias_id, "alias id")})
        return None if doc is None else alias_record(doc)

    async def get_by_local_part(self, domain_id: str, local_part: str) -> Alias | None:
        flt = {
            "domain_id": require_str(domain_id, "domain id"),
            "local_part": normalize_local_part(local_part),
        }
        doc = await self._db.aliases.find_one(flt)
        return None if doc is None else alias_record(doc)

    async def list_for_domain(self, domain_id: str) -> list[Alias]:
        flt = {"domain_id": require_str(domain_id, "domain id")}
        docs = await self._db.aliases.find(flt, sort=[("local_part", 1)])
        return [alias_record(doc) for doc in docs]

    async def update(
        self,
        alias_id: str,
        *,
        targets: Sequence[str] | None = None,
        mode: AliasMode | None = None,
        description: str | None = None,
    ) -> Alias:
        aid = require_str(alias_id, "alias id")
        fields: Doc = {}
        if targets is not None:
            fields["targets"] = list(check_targets(targets))
        if mode is not None:
            fields["mode"] = check_enum(AliasMode, mode, "alias mode").value
        if description is not None:
            fields["description"] = clean_note(description, "description")
        if not fields:
            doc = await self._db.aliases.find_one({"_id": aid})
            if doc is None:
                raise NotFound("no such alias")
            return alias_record(doc)

        async def work(session: Any) -> Doc:
            found = await _alias_owner(self._db, aid, session)
            if found is None:
                raise NotFound("no such alias")
            doc = await self._db.aliases.find_one_and_update(
                {"_id": aid}, {"$set": fields}, session=session
            )
            if doc is None:
                raise NotFound("no such alias")
            await prune_targets(self._db, found[1], found[0]["targets"], session)
            return doc

        doc = await self._db.atomic(work)
        await self._db.bump_generation()
        return alias_record(doc)

    async def rotate_reply_key(self, alias_id: str) -> Alias:
        doc = await self._db.aliases.find_one_and_update(
            {"_id": require_str(alias_id, "alias id")}, {"$inc": {"reply_key_version": 1}}
        )
        if doc is None:
            raise NotFound("no such alias")
        await self._db.bump_generation()
        return alias_record(doc)

    async def set_display_name(self, alias_id: str, display_name: str) -> Alias:
        name = check_display_name(display_name)
        doc = await self._db.aliases.find_one_and_update(
            {"_id": require_str(alias_id, "alias id")}, {"$set": {"display_name": name}}
        )
        if doc is None:
            raise NotFound("no such alias")
        await self._db.bump_generation()
        return alias_record(doc)

    async def set_private_replies(self, alias_id: str, on: bool | None) -> Alias:
        value = check_optional_bool(on, "private replies")
        doc = await self._db.aliases.find_one_and_update(
            {"_id": require_str(alias_id, "alias id")}, {"$set": {"private_replies": value}}
        )
        if doc is None:
            raise NotFound("no such alias")
        await self._db.bump_generation()
        return alias_record(doc)

    async def delete(self, alias_id: str) -> bool:
        aid = require_str(alias_id, "alias id")

        async def work(session: Any) -> bool:
            found = await _alias_owner(self._db, aid, session)
            deleted = await self._db.aliases.delete_one({"_id": aid}, session=session)
            if found is not None:
                await prune_targets(self._db, found[1], found[0]["targets"], session)
            return deleted == 1

        deleted = await self._db.atomic(work)
        await self._db.bump_generation()
        return deleted

    async def count_with_target(self, owner_id: str, address: str) -> int:
        owner = require_str(owner_id, "owner id")
        target = normalize_email(address)
        domains = await self._db.domains.find({"owner_id": owner})
        flt = {"domain_id": {"$in": [d["_id"] for d in domains]}, "targets": target}
        return len(await self._db.aliases.find(flt))


class MongoRecipients:
    def __init__(self, db: MongoDb) -> None:
        self._db = db

    async def add(self, owner_id: str, address: str, now: datetime) -> Recipient:
        flt = {"owner_id": require_str(owner_id, "owner id"), "address": normalize_email(address)}
        created = to_db_time(now, "now")
        await require_user(self._db, flt["owner_id"])
        existing = await self._db.recipients.find_one(flt)
        if existing is not None:
            return recipient_record(existing)
        doc: Doc = {"_id": new_id(), **flt, "created_at": created, "verified_at": None}
        try:
            await self._db.recipients.insert(doc)
        except AlreadyExists:
            # A concurrent add won the unique (owner_id, address) index: same result.
            existing = await self._db.recipients.find_one(flt)
            if existing is None:
                raise
            return recipient_record(existing)
        await self._db.bump_generation()
        return recipient_record(doc)

    async def get(self, owner_id: str, address: str) -> Recipient | None:
        flt = {"owner_id": require_str(owner_id, "owner id"), "address": normalize_email(address)}
        doc = await self._db.recipients.find_one(flt)
        return None if doc is None else recipient_record(doc)

    async def list_for_owner(self, owner_id: str) -> list[Recipient]:
        flt = {"owner_id": require_str(owner_id, "owner id")}
        docs = await self._db.recipients.find(flt, sort=[("address", 1)])
        return [recipient_record(doc) for doc in docs]

    async def set_verified(self, owner_id: str, address: str, at: datetime | None) -> None:
        flt = {"owner_id": require_str(owner_id, "owner id"), "address": normalize_email(address)}
        update = {"$set": {"verified_at": opt_to_db_time(at, "verified at")}}
        if await self._db.recipients.update_one(flt, update) == 0:
            raise NotFound("no such recipient")
        await self._db.bump_generation()

    async def delete(self, owner_id: str, address: str) -> bool:
        flt = {"owner_id": require_str(owner_id, "owner id"), "address": normalize_email(address)}
        deleted = await self._db.recipients.delete_one(flt)
        await self._db.bump_generation()
        return deleted == 1
