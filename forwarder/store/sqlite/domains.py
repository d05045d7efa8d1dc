"""SQLite implementation of the domains protocol: claims, verification and the names they guard.

A name may be claimed (unverified) by several accounts, once per account (``UNIQUE (owner_id,
name)``); at most one domain per name is verified (the partial unique index
``domains_verified_name``). Create and verify each run in one ``BEGIN IMMEDIATE`` transaction,
so the check and the write cannot be split by another process. Every write fires a trigger that
bumps ``meta.generation`` (see ``schema``).
"""

from __future__ import annotations

from datetime import datetime

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
from forwarder.store.sqlite.accounts import new_id
from forwarder.store.sqlite.db import Db, Row, Tx, db_time, db_time_opt, py_time, py_time_opt
from forwarder.store.sqlite.routing import prune_targets

# Each domain that a statement selects with :where, its owner and its aliases' targets (JSON).
_DOMAIN_TARGETS = (
    "SELECT d.owner_id, (SELECT json_group_array(t.value) FROM aliases a, json_each(a.targets) t "
    "WHERE a.domain_id = d.id) AS targets FROM domains d WHERE "
)


async def _delete_domains(tx: Tx, where: str, params: tuple[object, ...]) -> int:
    """Delete the domains matching ``where`` with their aliases and error log entries (ON
    DELETE CASCADE), then their owners' unconfirmed targets no alias uses any more."""
    owners = await tx.fetch(_DOMAIN_TARGETS + where, params)
    rows = await tx.fetch(f"DELETE FROM domains WHERE {where} RETURNING id", params)  # noqa: S608
    for owner in owners:
        await prune_targets(tx, owner["owner_id"], owner["targets"])
    return len(rows)


def domain_record(row: Row) -> Domain:
    return Domain(
        id=row["id"],
        name=row["name"],
        owner_id=row["owner_id"],
        verification_token=row["verification_token"],
        created_at=py_time(row["created_at"]),
        verified_at=py_time_opt(row["verified_at"]),
        dkim_selector=row["dkim_selector"],
        dkim_key_sealed=row["dkim_key_sealed"],
        spam=SpamPolicy(
            bool(row["spam_filter"]), row["spam_reject_score"], row["spam_catch_all_score"]
        ),
        private_replies=bool(row["private_replies"]),
    )


class SqliteDomains:
    def __init__(self, db: Db) -> None:
        self._db = db

    async def create(
        self, name: str, owner_id: str, verification_token: str, now: datetime
    ) -> Domain:
        params = (
            new_id(),
            normalize_domain(name),
            require_str(owner_id, "owner id"),
            require_str(verification_token, "verification token"),
            db_time(now, "now"),
        )
        async with self._db.transaction() as tx:
            verified = await tx.fetch(
                "SELECT 1 FROM domains WHERE name = ? AND verified_at IS NOT NULL", (params[1],)
            )
            if verified:
                raise AlreadyExists("that domain is verified by an account")
            # UNIQUE (owner_id, name) -> AlreadyExists; an unknown owner -> NotFound.
            rows = await tx.fetch(
                "INSERT INTO domains (id, name, owner_id, verification_token, created_at) "
                "VALUES (?, ?, ?, ?, ?) RETURNING *",
                params,
            )
        return domain_record(rows[0])

    async def get(self, domain_id: str) -> Domain | None:
        row = await self._db.fetch_one(
            "SELECT * FROM domains WHERE id = ?", (require_str(domain_id, "domain id"),)
        )
        return None if row is None else domain_record(row)

    async def get_by_name(self, name: str) -> Domain | None:
        row = await self._db.fetch_one(
            "SELECT * FROM domains WHERE name = ? AND verified_at IS NOT NULL",
            (normalize_domain(name),),
        )
        return None if row is None else domain_record(row)

    async def list_by_name(self, name: str) -> list[Domain]:
        rows = await self._db.fetch(
            "SELECT * FROM domains WHERE name = ? ORDER BY verified_at IS NULL, created_at, id",
            (normalize_domain(name),),
        )
        return [domain_record(r) for r in rows]

    async def list_for_owner(self, owner_id: str) -> list[Domain]:
        rows = await self._db.fetch(
            "SELECT * FROM domains WHERE owner_id = ? ORDER BY name",
            (require_str(owner_id, "owner id"),),
        )
        return [domain_record(r) for r in rows]

    async def list_all(self) -> list[Domain]:
        return [
            domain_record(r)
            for r in await self._db.fetch("SELECT * FROM domains ORDER BY name, owner_id")
        ]

    async def set_verified(self, domain_id: str, at: datetime | None) -> None:
        params = (db_time_opt(at, "verified at"), require_str(domain_id, "domain id"))
        deleted = 0
        async with self._db.transaction() as tx:
            # The partial unique index refuses a second verified domain: AlreadyExists.
            rows = await tx.fetch(
                "UPDATE domains SET verified_at = ? WHERE id = ? RETURNING name", params
            )
            if not rows:
                raise NotFound("no such domain")
            if at is not None:
                # The other accounts' claims proved nothing: they go, with their aliases and
                # error log entries (ON DELETE CASCADE), in this same transaction.
                claims = "name = ? AND id != ? AND verified_at IS NULL"
                deleted = await _delete_domains(tx, claims, (rows[0]["name"], params[1]))
        if deleted:
            await self._db.scrub()

    async def set_dkim(
        self, domain_id: str, selector: str | None, key_sealed: bytes | None
    ) -> None:
        if selector is not None:
            selector = require_str(selector, "DKIM selector", max_length=MAX_DKIM_SELECTOR)
        if key_sealed is not None:
            key_sealed = check_bytes(key_sealed, "sealed DKIM key")
        rows = await self._db.fetch(
            "UPDATE domains SET dkim_selector = ?, dkim_key_sealed = ? WHERE id = ? RETURNING id",
            (selector, key_sealed, require_str(domain_id, "domain id")),
        )
        if not rows:
            raise NotFound("no such domain")

    async def set_spam_policy(self, domain_id: str, policy: SpamPolicy) -> None:
        policy = check_spam_policy(policy)
        rows = await self._db.fetch(
            "UPDATE domains SET spam_filter = ?, spam_reject_score = ?, spam_catch_all_score = ? "
            "WHERE id = ? RETURNING id",
            (
                int(policy.enabled),
                policy.reject_score,
                policy.catch_all_reject_score,
                require_str(domain_id, "domain id"),
            ),
        )
        if not rows:
            raise NotFound("no such domain")

    async def set_private_replies(self, domain_id: str, on: bool) -> None:
        value = check_optional_bool(on, "private replies")
        if value is None:
            raise InvalidValue("private replies must be true or false")
        rows = await self._db.fetch(
            "UPDATE domains SET private_replies = ? WHERE id = ? RETURNING id",
            (int(value), require_str(domain_id, "domain id")),
        )
        if not rows:
            raise NotFound("no such domain")

    async def delete(self, domain_id: str) -> bool:
        did = require_str(domain_id, "domain id")
        async with self._db.transaction() as tx:
            deleted = await _delete_domains(tx, "id = ?", (did,))
        if deleted:
            await self._db.scrub()
        return bool(deleted)
