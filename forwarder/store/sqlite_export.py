"""Turn the rows of one account into the JSON-serialisable export (GDPR art. 15 / 20).

The export names every secret the store keeps (password hash, sealed TOTP secret, recovery
code hashes, session id hashes, API key hashes, sealed DKIM keys) without including it: a
hash or sealed value is useless to its owner and harmful in a leaked file.

Top-level keys: ``user`` (one object) and one list per kind, named as in
``Store.delete_account``'s counts: sessions, api_keys, domains, aliases, recipients, errors.
"""

from __future__ import annotations

import json
from typing import Any

from forwarder.store.records import totp_step_started
from forwarder.store.sqlite_db import Row, iso_opt

PASSWORD_NOTE = "set (argon2id hash not exported)"  # noqa: S105 -- a label, not a password


def _user(row: Row) -> dict[str, Any]:
    codes = json.loads(row["recovery_code_hashes"])
    return {
        "id": row["id"],
        "email": row["email"],
        "created_at": iso_opt(row["created_at"]),
        "verified_at": iso_opt(row["verified_at"]),
        "password": PASSWORD_NOTE,
        "totp": (
            "enabled (sealed secret not exported)"
            if row["totp_secret_sealed"] is not None
            else "not enabled"
        ),
        "recovery_codes": f"{len(codes)} unused (hashes not exported)",
        "totp_last_used_at": totp_step_started(row["totp_last_step"]),
    }


def _session(row: Row) -> dict[str, Any]:
    return {
        "id": "hashed (not exported)",
        "created_at": iso_opt(row["created_at"]),
        "idle_expires_at": iso_opt(row["idle_expires_at"]),
        "absolute_expires_at": iso_opt(row["absolute_expires_at"]),
    }


def _api_key(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "prefix": row["prefix"],
        "key": "hashed (not exported)",
        "created_at": iso_opt(row["created_at"]),
    }


def _domain(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "verification_token": row["verification_token"],
        "created_at": iso_opt(row["created_at"]),
        "verified_at": iso_opt(row["verified_at"]),
        "dkim_selector": row["dkim_selector"],
        "dkim_key": ("sealed (not exported)" if row["dkim_key_sealed"] is not None else None),
    }


def _alias(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "domain": row["domain"],
        "local_part": row["local_part"],
        "targets": json.loads(row["targets"]),
        "mode": row["mode"],
        "description": row["description"],
        "created_at": iso_opt(row["created_at"]),
    }


def _recipient(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "address": row["address"],
        "created_at": iso_opt(row["created_at"]),
        "verified_at": iso_opt(row["verified_at"]),
    }


def _error(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "domain": row["domain"],
        "at": iso_opt(row["at"]),
        "alias": row["alias"],
        "code": row["code"],
        "enhanced_code": row["enhanced_code"],
        "reason": row["reason"],
        "target_domain": row["target_domain"],
        "sender_domain": row["sender_domain"],
        "expires_at": iso_opt(row["expires_at"]),
    }


def export_rows(rows: dict[str, list[Row]]) -> dict[str, Any]:
    return {
        "user": _user(rows["users"][0]),
        "sessions": [_session(r) for r in rows["sessions"]],
        "api_keys": [_api_key(r) for r in rows["api_keys"]],
        "domains": [_domain(r) for r in rows["domains"]],
        "aliases": [_alias(r) for r in rows["aliases"]],
        "recipients": [_recipient(r) for r in rows["recipients"]],
        "errors": [_error(r) for r in rows["errors"]],
    }
