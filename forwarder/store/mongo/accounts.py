"""MongoDB users, sessions and API keys (collections ``users``, ``sessions``, ``api_keys``).

Sessions and API keys are stored under their hashes only (DESIGN promise 6); a session's
``_id`` is its id hash. There are no foreign keys, so creating a session or key first checks
that its user exists (NotFound otherwise).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

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
from forwarder.store.mongo.core import (
    Doc,
    MongoDb,
    from_db_time,
    new_id,
    opt_from_db_time,
    opt_to_db_time,
    to_db_time,
)


def user_record(doc: Doc) -> User:
    sealed = doc.get("totp_secret_sealed")
    return User(
        id=doc["_id"],
        email=doc["email"],
        password_hash=doc["password_hash"],
        created_at=from_db_time(doc["created_at"]),
        verified_at=opt_from_db_time(doc.get("verified_at")),
        totp_secret_sealed=None if sealed is None else bytes(sealed),
        recovery_code_hashes=tuple(doc.get("recovery_code_hashes", ())),
        totp_last_step=int(doc.get("totp_last_step", 0)),  # absent in older documents
        default_target=str(doc.get("default_target", "")),
        off_mode=str(doc.get("off_mode", "reject")),
    )


def session_record(doc: Doc) -> Session:
    return Session(
        id_hash=doc["_id"],
        user_id=doc["user_id"],
        created_at=from_db_time(doc["created_at"]),
        idle_expires_at=from_db_time(doc["idle_expires_at"]),
        absolute_expires_at=from_db_time(doc["absolute_expires_at"]),
    )


def api_key_record(doc: Doc) -> ApiKey:
    return ApiKey(
        id=doc["_id"],
        user_id=doc["user_id"],
        name=doc["name"],
        prefix=doc["prefix"],
        key_hash=doc["key_hash"],
        created_at=from_db_time(doc["created_at"]),
    )


async def require_user(db: MongoDb, user_id: str, *, session: Any = None) -> None:
    if await db.users.find_one({"_id": user_id}, session=session) is None:
        raise NotFound("no such user")


class MongoUsers:
    def __init__(self, db: MongoDb) -> None:
        self._db = db

    async def create(self, email: str, password_hash: str, now: datetime) -> User:
        doc: Doc = {
            "_id": new_id(),
            "email": normalize_email(email),
            "password_hash": require_str(password_hash, "password hash"),
            "created_at": to_db_time(now, "now"),
            "verified_at": None,
            "totp_secret_sealed": None,
            "recovery_code_hashes": [],
            "totp_last_step": 0,
        }
        await self._db.users.insert(doc)  # users are not routing data: no generation bump
        return user_record(doc)

    async def get(self, user_id: str) -> User | None:
        doc = await self._db.users.find_one({"_id": require_str(user_id, "user id")})
        return None if doc is None else user_record(doc)

    async def get_by_email(self, email: str) -> User | None:
        doc = await self._db.users.find_one({"email": normalize_email(email)})
        return None if doc is None else user_record(doc)

    async def list_all(self) -> list[User]:
        docs = await self._db.users.find({}, sort=[("email", 1)])
        return [user_record(doc) for doc in docs]

    async def _set(self, user_id: str, fields: Doc) -> None:
        uid = require_str(user_id, "user id")
        if await self._db.users.update_one({"_id": uid}, {"$set": fields}) == 0:
            raise NotFound("no such user")

    async def set_password(self, user_id: str, password_hash: str) -> None:
        await self._set(user_id, {"password_hash": require_str(password_hash, "password hash")})

    async def set_email(self, user_id: str, email: str) -> None:
        await self._set(user_id, {"email": normalize_email(email)})

    async def set_verified(self, user_id: str, at: datetime | None) -> None:
        await self._set(user_id, {"verified_at": opt_to_db_time(at, "verified at")})

    async def set_preferences(self, user_id: str, default_target: str, off_mode: str) -> None:
        target, mode = check_preferences(default_target, off_mode)
        await self._set(user_id, {"default_target": target, "off_mode": mode})

    async def set_totp(
        self, user_id: str, secret_sealed: bytes | None, recovery_code_hashes: Sequence[str]
    ) -> None:
        sealed = None if secret_sealed is None else check_bytes(secret_sealed, "TOTP secret")
        codes = list(check_str_list(recovery_code_hashes, "recovery code hashes"))
        await self._set(user_id, {"totp_secret_sealed": sealed, "recovery_code_hashes": codes})

    async def use_recovery_code(self, user_id: str, code_hash: str) -> bool:
        uid = require_str(user_id, "user id")
        code = require_str(code_hash, "recovery code hash")
        # One atomic update: the filter matches only while the code is still there, so two
        # concurrent uses of the same code cannot both succeed.
        matched = await self._db.users.update_one(
            {"_id": uid, "recovery_code_hashes": code},
            {"$pull": {"recovery_code_hashes": code}},
        )
        return matched == 1

    async def use_totp_step(self, user_id: str, step: int) -> bool:
        uid = require_str(user_id, "user id")
        value = check_totp_step(step)
        # One atomic update that matches only while the stored step is lower (or, in a
        # document written before the field existed, absent): a code is accepted once.
        older = [{"totp_last_step": {"$lt": value}}, {"totp_last_step": {"$exists": False}}]
        matched = await self._db.users.update_one(
            {"_id": uid, "$or": older}, {"$set": {"totp_last_step": value}}
        )
        return matched == 1


class MongoSessions:
    def __init__(self, db: MongoDb) -> None:
        self._db = db

    async def create(
        self,
        id_hash: str,
        user_id: str,
        now: datetime,
        idle_expires_at: datetime,
        absolute_expires_at: datetime,
    ) -> Session:
        doc: Doc = {
            "_id": require_str(id_hash, "session id hash"),
            "user_id": require_str(user_id, "user id"),
            "created_at": to_db_time(now, "now"),
            "idle_expires_at": to_db_time(idle_expires_at, "idle expiry"),
            "absolute_expires_at": to_db_time(absolute_expires_at, "absolute expiry"),
        }
        await require_user(self._db, doc["user_id"])
        await self._db.sessions.insert(doc)
        return session_record(doc)

    async def get(self, id_hash: str, now: datetime) -> Session | None:
        at = to_db_time(now, "now")
        doc = await self._db.sessions.find_one(
            {
                "_id": require_str(id_hash, "session id hash"),
                "idle_expires_at": {"$gt": at},
                "absolute_expires_at": {"$gt": at},
            }
        )
        return None if doc is None else session_record(doc)

    async def touch(self, id_hash: str, idle_expires_at: datetime) -> None:
        matched = await self._db.sessions.update_one(
            {"_id": require_str(id_hash, "session id hash")},
            {"$set": {"idle_expires_at": to_db_time(idle_expires_at, "idle expiry")}},
        )
        if matched == 0:
            raise NotFound("no such session")

    async def delete(self, id_hash: str) -> None:
        await self._db.sessions.delete_one({"_id": require_str(id_hash, "session id hash")})

    async def delete_for_user(self, user_id: str) -> int:
        return await self._db.sessions.delete_many({"user_id": require_str(user_id, "user id")})

    async def purge_expired(self, now: datetime) -> int:
        at = to_db_time(now, "now")
        return await self._db.sessions.delete_many(
            {"$or": [{"idle_expires_at": {"$lte": at}}, {"absolute_expires_at": {"$lte": at}}]}
        )


class MongoApiKeys:
    def __init__(self, db: MongoDb) -> None:
        self._db = db

    async def create(
        self, user_id: str, name: str, prefix: str, key_hash: str, now: datetime
    ) -> ApiKey:
        doc: Doc = {
            "_id": new_id(),
            "user_id": require_str(user_id, "user id"),
            "name": require_str(name, "API key name", max_length=MAX_API_KEY_NAME),
            "prefix": require_str(prefix, "API key prefix", max_length=MAX_API_KEY_PREFIX),
            "key_hash": require_str(key_hash, "key hash"),
            "created_at": to_db_time(now, "now"),
        }
        await require_user(self._db, doc["user_id"])
        await self._db.api_keys.insert(doc)
        return api_key_record(doc)

    async def get_by_prefix(self, prefix: str) -> ApiKey | None:
        prefix = require_str(prefix, "API key prefix", max_length=MAX_API_KEY_PREFIX)
        doc = await self._db.api_keys.find_one({"prefix": prefix})
        return None if doc is None else api_key_record(doc)

    async def list_for_user(self, user_id: str) -> list[ApiKey]:
        docs = await self._db.api_keys.find(
            {"user_id": require_str(user_id, "user id")}, sort=[("created_at", 1), ("_id", 1)]
        )
        return [api_key_record(doc) for doc in docs]

    async def delete(self, user_id: str, key_id: str) -> bool:
        flt = {"_id": require_str(key_id, "key id"), "user_id": require_str(user_id, "user id")}
        return await self._db.api_keys.delete_one(flt) == 1
