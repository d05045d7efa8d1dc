"""SQLite implementations of the routing protocols: aliases and recipients (domains are in
``domains``).

Every write here fires a trigger that bumps ``meta.generation`` (see ``schema``).
Removing an alias (deleting it, or taking targets off it) also removes the owner's
unconfirmed targets that no alias uses any more, in the same transaction (issue 8: targets
were kept until the account went); confirmed ones stay until the owner removes them. Every
delete ends with :meth:`Db.scrub`, so no copy of the deleted rows stays in the -wal file.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from forwarder.store.base import (
    Alias,
    AliasMode,
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
from forwarder.store.sqlite.accounts import new_id
from forwarder.store.sqlite.db import Db, Row, Tx, db_time, db_time_opt, py_time, py_time_opt

# The owner's unconfirmed targets among :old (a JSON array) that none of the owner's aliases
# lists any more.
_PRUNE_TARGETS = (
    "DELETE FROM recipients WHERE owner_id = :owner AND verified_at IS NULL "
    "AND address IN (SELECT value FROM json_each(:old)) "
    "AND address NOT IN (SELECT t.value FROM aliases a JOIN domains d ON d.id = a.domain_id, "
    "json_each(a.targets) t WHERE d.owner_id = :owner) RETURNING id"
)
_ALIAS_OWNER = (
    "SELECT d.owner_id, a.targets FROM aliases a JOIN domains d ON d.id = a.domain_id "
    "WHERE a.id = ?"
)


async def prune_targets(tx: Tx, owner_id: str, old_targets: str) -> int:
    """Remove ``owner_id``'s unconfirmed targets listed in ``old_targets`` (JSON) that no
    alias of theirs uses any more; run after the alias change, in its transaction."""
    return len(await tx.fetch(_PRUNE_TARGETS, {"owner": owner_id, "old": old_targets}))


def alias_record(row: Row) -> Alias:
    return Alias(
        id=row["id"],
        domain_id=row["domain_id"],
        local_part=row["local_part"],
        targets=tuple(json.loads(row["targets"])),
        mode=AliasMode(row["mode"]),
        description=row["description"],
        created_at=py_time(row["created_at"]),
        reply_key_version=row["reply_key_version"],
        display_name=row["display_name"],
        private_replies=None if row["private_replies"] is None else bool(row["private_replies"]),
    )


class SqliteAliases:
    def __init__(self, db: Db) -> None:
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
        rows = await self._db.fetch(
            "INSERT INTO aliases (id, domain_id, local_part, targets, mode, description, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *",
            (
                new_id(),
                require_str(domain_id, "domain id"),
                normalize_local_part(local_part),
                json.dumps(check_targets(targets)),
                check_enum(AliasMode, mode, "alias mode").value,
                clean_note(description, "description"),
                db_time(now, "now"),
            ),
        )
        return alias_record(rows[0])

    async def get(self, alias_id: str) -> Alias | None:
        row = await self._db.fetch_one(
            "SELECT * FROM aliases WHERE id = ?", (require_str(alias_id, "alias id"),)
        )
        return None if row is None else alias_record(row)

    async def get_by_local_part(self, domain_id: str, local_part: str) -> Alias | None:
        row = await self._db.fetch_one(
            "SELECT * FROM aliases WHERE domain_id = ? AND local_part = ?",
            (require_str(domain_id, "domain id"), normalize_local_part(local_part)),
        )
        return None if row is None else alias_record(row)

    async def list_for_domain(self, domain_id: str) -> list[Alias]:
        rows = await self._db.fetch(
            "SELECT * FROM aliases WHERE domain_id = ? ORDER BY local_part",
            (require_str(domain_id, "domain id"),),
        )
        return [alias_record(r) for r in rows]

    async def update(
        self,
        alias_id: str,
        *,
        targets: Sequence[str] | None = None,
        mode: AliasMode | None = None,
        description: str | None = None,
    ) -> Alias:
        aid = require_str(alias_id, "alias id")
        params = (
            None if targets is None else json.dumps(check_targets(targets)),
            None if mode is None else check_enum(AliasMode, mode, "alias mode").value,
            None if description is None else clean_note(description, "description"),
            aid,
        )
        async with self._db.transaction() as tx:
            before = await tx.fetch(_ALIAS_OWNER, (aid,))
            # COALESCE keeps a column when its new value is NULL (not given).
            rows = await tx.fetch(
                "UPDATE aliases SET targets = COALESCE(?, targets), mode = COALESCE(?, mode), "
                "description = COALESCE(?, description) WHERE id = ? RETURNING *",
                params,
            )
            if not rows:
                raise NotFound("no such alias")
            pruned = await prune_targets(tx, before[0]["owner_id"], before[0]["targets"])
        if pruned:
            await self._db.scrub()
        return alias_record(rows[0])

    async def rotate_reply_key(self, alias_id: str) -> Alias:
        rows = await self._db.fetch(
            "UPDATE aliases SET reply_key_version = reply_key_version + 1 WHERE id = ? RETURNING *",
            (require_str(alias_id, "alias id"),),
        )
        if not rows:
            raise NotFound("no such alias")
        return alias_record(rows[0])

    async def set_display_name(self, alias_id: str, display_name: str) -> Alias:
        rows = await self._db.fetch(
            "UPDATE aliases SET display_name = ? WHERE id = ? RETURNING *",
            (check_display_name(display_name), require_str(alias_id, "alias id")),
        )
        if not rows:
            raise NotFound("no such alias")
        return alias_record(rows[0])

    async def set_private_replies(self, alias_id: str, on: bool | None) -> Alias:
        value = None if check_optional_bool(on, "private replies") is None else int(bool(on))
        rows = await self._db.fetch(
            "UPDATE aliases SET private_replies = ? WHERE id = ? RETURNING *",
            (value, require_str(alias_id, "alias id")),
        )
        if not rows:
            raise NotFound("no such alias")
        return alias_record(rows[0])

    async def delete(self, alias_id: str) -> bool:
        aid = require_str(alias_id, "alias id")
        async with self._db.transaction() as tx:
            before = await tx.fetch(_ALIAS_OWNER, (aid,))
            rows = await tx.fetch("DELETE FROM aliases WHERE id = ? RETURNING id", (aid,))
            if before:
                await prune_targets(tx, before[0]["owner_id"], before[0]["targets"])
        if rows:
            await self._db.scrub()
        return bool(rows)

    async def count_with_target(self, owner_id: str, address: str) -> int:
        row = await self._db.fetch_one(
            "SELECT count(*) FROM aliases a JOIN domains d ON d.id = a.domain_id "
            "WHERE d.owner_id = ? AND EXISTS (SELECT 1 FROM json_each(a.targets) WHERE value = ?)",
            (require_str(owner_id, "owner id"), normalize_email(address)),
        )
        return 0 if row is None else int(row[0])


def recipient_record(row: Row) -> Recipient:
    return Recipient(
        id=row["id"],
        owner_id=row["owner_id"],
        address=row["address"],
        created_at=py_time(row["created_at"]),
        verified_at=py_time_opt(row["verified_at"]),
    )


class SqliteRecipients:
    def __init__(self, db: Db) -> None:
        self._db = db

    async def add(self, owner_id: str, address: str, now: datetime) -> Recipient:
        owner, email = require_str(owner_id, "owner id"), normalize_email(address)
        # Idempotent: an existing (owner, address) row is kept and returned unchanged.
        await self._db.fetch(
            "INSERT INTO recipients (id, owner_id, address, created_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (owner_id, address) DO NOTHING",
            (new_id(), owner, email, db_time(now, "now")),
        )
        found = await self.get(owner, email)
        if found is None:  # deleted by another process between the two statements
            raise NotFound("recipient vanished while being added")
        return found

    async def get(self, owner_id: str, address: str) -> Recipient | None:
        row = await self._db.fetch_one(
            "SELECT * FROM recipients WHERE owner_id = ? AND address = ?",
            (require_str(owner_id, "owner id"), normalize_email(address)),
        )
        return None if row is None else recipient_record(row)

    async def list_for_owner(self, owner_id: str) -> list[Recipient]:
        rows = await self._db.fetch(
            "SELECT * FROM recipients WHERE owner_id = ? ORDER BY address",
            (require_str(owner_id, "owner id"),),
        )
        return [recipient_record(r) for r in rows]

    async def set_verified(self, owner_id: str, address: str, at: datetime | None) -> None:
        rows = await self._db.fetch(
            "UPDATE recipients SET verified_at = ? WHERE owner_id = ? AND address = ? RETURNING id",
            (
                db_time_opt(at, "verified at"),
                require_str(owner_id, "owner id"),
                normalize_email(address),
            ),
        )
        if not rows:
            raise NotFound("no such recipient")

    async def delete(self, owner_id: str, address: str) -> bool:
        rows = await self._db.fetch(
            "DELETE FROM recipients WHERE owner_id = ? AND address = ? RETURNING id",
            (require_str(owner_id, "owner id"), normalize_email(address)),
        )
        if rows:
            await self._db.scrub()
        return bool(rows)
