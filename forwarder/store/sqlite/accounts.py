"""SQLite implementations of the account protocols: users, sessions and API keys."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime

from forwarder.store.base import (
    MAX_API_KEY_NAME,
    MAX_API_KEY_PREFIX,
    ApiKey,
    NotFound,
    Session,
    User,
    check_bytes,
    check_preferences,
    check_str_list,
    check_totp_step,
    normalize_email,
    require_str,
)
from forwarder.store.sqlite.db import Db, Row, db_time, db_time_opt, py_time, py_time_opt


def new_id() -> str:
    return uuid.uuid4().hex


def user_record(row: Row) -> User:
    return User(
        id=row["id"],
        email=row["email"],
        password_hash=row["password_hash"],
        created_at=py_time(row["created_at"]),
        verified_at=py_time_opt(row["verified_at"]),
        totp_secret_sealed=row["totp_secret_sealed"],
        recovery_code_hashes=tuple(json.loads(row["recovery_code_hashes"])),
        totp_last_step=row["totp_last_step"],
        default_target=row["default_target"],
        off_mode=row["off_mode"],
    )


async def scrub_if(db: Db, deleted: list[Row]) -> None:
    """After a delete that removed rows: no copy of them stays in the -wal file (Db.scrub)."""
    if deleted:
        await db.scrub()


def _changed(rows: list[Row], what: str) -> None:
    if not rows:
        raise NotFound(f"no such {what}")


class SqliteUsers:
    def __init__(self, db: Db) -> None:
        self._db = db

    async def create(self, email: str, password_hash: str, now: datetime) -> User:
        values = (new_id(), normalize_email(email), require_str(password_hash, "password hash"))
        rows = await self._db.fetch(
            "INSERT INTO users (id, email, password_hash, created_at) VALUES (?, ?, ?, ?) "
            "RETURNING *",
            (*values, db_time(now, "now")),
        )
        return user_record(rows[0])

    async def get(self, user_id: str) -> User | None:
        row = await self._db.fetch_one(
            "SELECT * FROM users WHERE id = ?", (require_str(user_id, "user id"),)
        )
        return None if row is None else user_record(row)

    async def get_by_email(self, email: str) -> User | None:
        row = await self._db.fetch_one(
            "SELECT * FROM users WHERE email = ?", (normalize_email(email),)
        )
        return None if row is None else user_record(row)

    async def list_all(self) -> list[User]:
        return [user_record(r) for r in await self._db.fetch("SELECT * FROM users ORDER BY email")]

    async def _update(self, user_id: str, assignments: str, params: Sequence[object]) -> None:
        rows = await self._db.fetch(
            f"UPDATE users SET {assignments} WHERE id = ? RETURNING id",  # noqa: S608 -- fixed SQL
            (*params, require_str(user_id, "user id")),
        )
        _changed(rows, "user")

    async def set_password(self, user_id: str, password_hash: str) -> None:
        await self._update(
            user_id, "password_hash = ?", (require_str(password_hash, "password hash"),)
        )

    async def set_email(self, user_id: str, email: str) -> None:
        await self._update(user_id, "email = ?", (normalize_email(email),))

    async def set_verified(self, user_id: str, at: datetime | None) -> None:
        await self._update(user_id, "verified_at = ?", (db_time_opt(at, "verified at"),))

    async def set_preferences(self, user_id: str, default_target: str, off_mode: str) -> None:
        target, mode = check_preferences(default_target, off_mode)
        await self._update(user_id, "default_target = ?, off_mode = ?", (target, mode))

    async def set_totp(
        self, user_id: str, secret_sealed: bytes | None, recovery_code_hashes: Sequence[str]
    ) -> None:
        sealed = None if secret_sealed is None else check_bytes(secret_sealed, "TOTP secret")
        codes = check_str_list(recovery_code_hashes, "recovery code hashes")
        await self._update(
            user_id,
            "totp_secret_sealed = ?, recovery_code_hashes = ?",
            (sealed, json.dumps(codes)),
        )

    async def use_recovery_code(self, user_id: str, code_hash: str) -> bool:
        # One statement, so two concurrent uses of the same code cannot both succeed.
        rows = await self._db.fetch(
            "UPDATE users SET recovery_code_hashes = ("
            "  SELECT json_group_array(value) FROM json_each(recovery_code_hashes)"
            "  WHERE value != :code"
            ") WHERE id = :id AND EXISTS ("
            "  SELECT 1 FROM json_each(recovery_code_hashes) WHERE value = :code"
            ") RETURNING id",
            {
                "code": require_str(code_hash, "recovery code hash"),
                "id": require_str(user_id, "user id"),
            },
        )
        return bool(rows)

    async def use_totp_step(self, user_id: str, step: int) -> bool:
        # One statement: of two concurrent uses of the same code, only one matches.
        rows = await self._db.fetch(
            "UPDATE users SET totp_last_step = :step WHERE id = :id AND totp_last_step < :step "
            "RETURNING id",
            {"step": check_totp_step(step), "id": require_str(user_id, "user id")},
        )
        return bool(rows)


def session_record(row: Row) -> Session:
    return Session(
        id_hash=row["id_hash"],
        user_id=row["user_id"],
        created_at=py_time(row["created_at"]),
        idle_expires_at=py_time(row["idle_expires_at"]),
        absolute_expires_at=py_time(row["absolute_expires_at"]),
    )


class SqliteSessions:
    def __init__(self, db: Db) -> None:
        self._db = db

    async def create(
        self,
        id_hash: str,
        user_id: str,
        now: datetime,
        idle_expires_at: datetime,
        absolute_expires_at: datetime,
    ) -> Session:
        rows = await self._db.fetch(
            "INSERT INTO sessions (id_hash, user_id, created_at, idle_expires_at, "
            "absolute_expires_at) VALUES (?, ?, ?, ?, ?) RETURNING *",
            (
                require_str(id_hash, "session id hash"),
                require_str(user_id, "user id"),
                db_time(now, "now"),
                db_time(idle_expires_at, "idle expiry"),
                db_time(absolute_expires_at, "absolute expiry"),
            ),
        )
        return session_record(rows[0])

    async def get(self, id_hash: str, now: datetime) -> Session | None:
        at = db_time(now, "now")
        row = await self._db.fetch_one(
            "SELECT * FROM sessions WHERE id_hash = ? "
            "AND idle_expires_at > ? AND absolute_expires_at > ?",
            (require_str(id_hash, "session id hash"), at, at),
        )
        return None if row is None else session_record(row)

    async def touch(self, id_hash: str, idle_expires_at: datetime) -> None:
        rows = await self._db.fetch(
            "UPDATE sessions SET idle_expires_at = ? WHERE id_hash = ? RETURNING id_hash",
            (db_time(idle_expires_at, "idle expiry"), require_str(id_hash, "session id hash")),
        )
        _changed(rows, "session")

    async def delete(self, id_hash: str) -> None:
        rows = await self._db.fetch(
            "DELETE FROM sessions WHERE id_hash = ? RETURNING id_hash",
            (require_str(id_hash, "session id hash"),),
        )
        await scrub_if(self._db, rows)

    async def delete_for_user(self, user_id: str) -> int:
        rows = await self._db.fetch(
            "DELETE FROM sessions WHERE user_id = ? RETURNING id_hash",
            (require_str(user_id, "user id"),),
        )
        await scrub_if(self._db, rows)
        return len(rows)

    async def purge_expired(self, now: datetime) -> int:
        at = db_time(now, "now")
        rows = await self._db.fetch(
            "DELETE FROM sessions WHERE idle_expires_at <= ? OR absolute_expires_at <= ? "
            "RETURNING id_hash",
            (at, at),
        )
        await scrub_if(self._db, rows)
        return len(rows)


def api_key_record(row: Row) -> ApiKey:
    return ApiKey(
        id=row["id"],
        user_id=row["user_id"],
        name=row["name"],
        prefix=row["prefix"],
        key_hash=row["key_hash"],
        created_at=py_time(row["created_at"]),
    )


class SqliteApiKeys:
    def __init__(self, db: Db) -> None:
        self._db = db

    async def create(
        self, user_id: str, name: str, prefix: str, key_hash: str, now: datetime
    ) -> ApiKey:
        rows = await self._db.fetch(
            "INSERT INTO api_keys (id, user_id, name, prefix, key_hash, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?) RETURNING *",
            (
                new_id(),
                require_str(user_id, "user id"),
                require_str(name, "API key name", max_length=MAX_API_KEY_NAME),
                require_str(prefix, "API key prefix", max_length=MAX_API_KEY_PREFIX),
                require_str(key_hash, "API key hash"),
                db_time(now, "now"),
            ),
        )
        return api_key_record(rows[0])

    async def get_by_prefix(self, prefix: str) -> ApiKey | None:
        row = await self._db.fetch_one(
            "SELECT * FROM api_keys WHERE prefix = ?",
            (require_str(prefix, "API key prefix", max_length=MAX_API_KEY_PREFIX),),
        )
        return None if row is None else api_key_record(row)

    async def list_for_user(self, user_id: str) -> list[ApiKey]:
        rows = await self._db.fetch(
            "SELECT * FROM api_keys WHERE user_id = ? ORDER BY created_at, rowid",
            (require_str(user_id, "user id"),),
        )
        return [api_key_record(r) for r in rows]

    async def delete(self, user_id: str, key_id: str) -> bool:
        rows = await self._db.fetch(
            "DELETE FROM api_keys WHERE id = ? AND user_id = ? RETURNING id",
            (require_str(key_id, "API key id"), require_str(user_id, "user id")),
        )
        await scrub_if(self._db, rows)
        return bool(rows)
