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

The export has the same shape as the SQLite backend's (``forwarder.store.sqlite_export``):
JSON-serialisable, ISO 8601 datetimes, secrets named but never included.
"""

from __future__ import annotations

import logging
from typing import Any

from forwarder.store.base import NotFound
from forwarder.store.mongo_core import Doc, MongoDb, from_db_time
from forwarder.store.records import totp_step_started

log = logging.getLogger(__name__)

COUNT_KEYS = ("users", "sessions", "api_keys", "domains", "aliases", "recipients", "errors")
PASSWORD_NOTE = "set (argon2id hash not exported)"  # noqa: S105 -- a label, not a password
HASHED_NOTE = "hashed (not exported)"


async def delete_account(db: MongoDb, user_id: str) -> dict[str, int]:
    """Counts per kind (COUNT_KEYS); NotFound when there is no such user."""

    async def work(session: Any) -> dict[str, int]:
        counts = dict.fromkeys(COUNT_KEYS, 0)
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
    log.info("account deleted: %s", ", ".join(f"{k}={counts[k]}" for k in COUNT_KEYS))
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


def _iso(value: Any) -> str | None:
    return None if value is None else from_db_time(value).isoformat()


async def export_account(db: MongoDb, user_id: str) -> dict[str, Any]:
    user = await db.users.find_one({"_id": user_id})
    if user is None:
        raise NotFound("no such user")
    by_user, by_owner = {"user_id": user_id}, {"owner_id": user_id}
    sessions = await db.sessions.find(by_user, sort=[("created_at", 1)])
    api_keys = await db.api_keys.find(by_user, sort=[("created_at", 1), ("_id", 1)])
    domains = await db.domains.find(by_owner, sort=[("name", 1)])
    names = {doc["_id"]: doc["name"] for doc in domains}
    in_ids = {"domain_id": {"$in": list(names)}}
    aliases = await db.aliases.find(in_ids, sort=[("local_part", 1)])
    aliases.sort(key=lambda doc: names[doc["domain_id"]])  # stable: by domain, then local part
    recipients = await db.recipients.find(by_owner, sort=[("address", 1)])
    errors = await db.errors.find(in_ids, sort=[("at", -1), ("_id", -1)])
    return {
        "user": _user(user),
        "sessions": [_session(doc) for doc in sessions],
        "api_keys": [_api_key(doc) for doc in api_keys],
        "domains": [_domain(doc) for doc in domains],
        "aliases": [_alias(doc, names) for doc in aliases],
        "recipients": [_recipient(doc) for doc in recipients],
        "errors": [_error(doc, names) for doc in errors],
    }


def _user(doc: Doc) -> dict[str, Any]:
    return {
        "id": doc["_id"],
        "email": doc["email"],
        "created_at": _iso(doc["created_at"]),
        "verified_at": _iso(doc.get("verified_at")),
        "password": PASSWORD_NOTE,
        "totp": (
            "enabled (sealed secret not exported)"
            if doc.get("totp_secret_sealed") is not None
            else "not enabled"
        ),
        "recovery_codes": (
            f"{len(doc.get('recovery_code_hashes', []))} unused (hashes not exported)"
        ),
        "totp_last_used_at": totp_step_started(int(doc.get("totp_last_step", 0))),
    }


def _session(doc: Doc) -> dict[str, Any]:
    return {
        "id": HASHED_NOTE,
        "created_at": _iso(doc["created_at"]),
        "idle_expires_at": _iso(doc["idle_expires_at"]),
        "absolute_expires_at": _iso(doc["absolute_expires_at"]),
    }


def _api_key(doc: Doc) -> dict[str, Any]:
    return {
        "id": doc["_id"],
        "name": doc["name"],
        "prefix": doc["prefix"],
        "key": HASHED_NOTE,
        "created_at": _iso(doc["created_at"]),
    }


def _domain(doc: Doc) -> dict[str, Any]:
    return {
        "id": doc["_id"],
        "name": doc["name"],
        "verification_token": doc["verification_token"],
        "created_at": _iso(doc["created_at"]),
        "verified_at": _iso(doc.get("verified_at")),
        "dkim_selector": doc.get("dkim_selector"),
        "dkim_key": "sealed (not exported)" if doc.get("dkim_key_sealed") is not None else None,
    }


def _alias(doc: Doc, names: dict[str, str]) -> dict[str, Any]:
    return {
        "id": doc["_id"],
        "domain": names[doc["domain_id"]],
        "local_part": doc["local_part"],
        "targets": list(doc["targets"]),
        "mode": doc["mode"],
        "description": doc["description"],
        "created_at": _iso(doc["created_at"]),
    }


def _recipient(doc: Doc) -> dict[str, Any]:
    return {
        "id": doc["_id"],
        "address": doc["address"],
        "created_at": _iso(doc["created_at"]),
        "verified_at": _iso(doc.get("verified_at")),
    }


def _error(doc: Doc, names: dict[str, str]) -> dict[str, Any]:
    return {
        "id": doc["_id"],
        "domain": names[doc["domain_id"]],
        "at": _iso(doc["at"]),
        "alias": doc["alias"],
        "code": int(doc["code"]),
        "enhanced_code": doc["enhanced_code"],
        "reason": doc["reason"],
        "target_domain": doc["target_domain"],
        "sender_domain": doc["sender_domain"],
        "expires_at": _iso(doc["expires_at"]),
    }
