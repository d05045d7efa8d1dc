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
    NotFound,
    check_bytes,
    normalize_domain,
    require_str,
)
from forwarder.store.sqlite.accounts import new_id
from forwarder.store.sqlite.db import Db, Row, db_time, db_time_opt, py_time, py_time_opt


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
                await tx.fetch(
                    "DELETE FROM domains WHERE name = ? AND id != ? AND verified_at IS NULL",
                    (rows[0]["name"], params[1]),
                )

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

    async def delete(self, domain_id: str) -> bool:
        # Aliases and error log entries go with it (ON DELETE CASCADE).
        rows = await self._db.fetch(
            "DELETE FROM domains WHERE id = ? RETURNING id", (require_str(domain_id, "domain id"),)
        )
        return bool(rows)
