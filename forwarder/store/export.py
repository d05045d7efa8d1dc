"""The account export (GDPR art. 15 / 20), built once from records for every backend.

A backend fetches the account's records (:class:`AccountRecords`) and hands them to
:func:`build_export`; the shape, the order of the items and the wording live here only.

The export names every secret the store keeps (password hash, sealed TOTP secret, recovery
code hashes, session id hashes, API key hashes, sealed DKIM keys) without including it: a
hash or sealed value is useless to its owner and harmful in a leaked file.

Top-level keys: ``user`` (one object) and one list per kind of ``ACCOUNT_KINDS`` but users:
sessions, api_keys, domains, aliases, recipients, errors. Datetimes are ISO 8601 strings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from forwarder.store.records import (
    Alias,
    ApiKey,
    Domain,
    ErrorLogEntry,
    Recipient,
    Session,
    User,
    totp_step_started,
)

PASSWORD_NOTE = "set (argon2id hash not exported)"  # noqa: S105 -- a label, not a password
HASHED_NOTE = "hashed (not exported)"
SEALED_NOTE = "sealed (not exported)"


@dataclass(frozen=True, slots=True)
class AccountRecords:
    """Everything a backend holds about one user, in any order (sorted here)."""

    user: User
    sessions: Sequence[Session]
    api_keys: Sequence[ApiKey]
    domains: Sequence[Domain]
    aliases: Sequence[Alias]
    recipients: Sequence[Recipient]
    errors: Sequence[ErrorLogEntry]


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _at(entry: ErrorLogEntry) -> datetime:
    return entry.at


def build_export(records: AccountRecords) -> dict[str, Any]:
    """JSON-serialisable; aliases and errors name their domain (from the user's domains)."""
    names = {domain.id: domain.name for domain in records.domains}
    aliases = sorted(records.aliases, key=lambda a: (names[a.domain_id], a.local_part))
    return {
        "user": _user(records.user),
        "sessions": [_session(s) for s in sorted(records.sessions, key=lambda s: s.created_at)],
        "api_keys": [_api_key(k) for k in sorted(records.api_keys, key=lambda k: k.created_at)],
        "domains": [_domain(d) for d in sorted(records.domains, key=lambda d: d.name)],
        "aliases": [_alias(a, names) for a in aliases],
        "recipients": [_recipient(r) for r in sorted(records.recipients, key=lambda r: r.address)],
        "errors": [_error(e, names) for e in sorted(records.errors, key=_at, reverse=True)],
    }


def _user(user: User) -> dict[str, Any]:
    sealed = user.totp_secret_sealed is not None
    return {
        "id": user.id,
        "email": user.email,
        "created_at": _iso(user.created_at),
        "verified_at": _iso(user.verified_at),
        "password": PASSWORD_NOTE,
        "totp": "enabled (sealed secret not exported)" if sealed else "not enabled",
        "recovery_codes": f"{len(user.recovery_code_hashes)} unused (hashes not exported)",
        "totp_last_used_at": totp_step_started(user.totp_last_step),
        "default_target": user.default_target or user.email,
        "off_mode": user.off_mode,
    }


def _session(session: Session) -> dict[str, Any]:
    return {
        "id": HASHED_NOTE,
        "created_at": _iso(session.created_at),
        "idle_expires_at": _iso(session.idle_expires_at),
        "absolute_expires_at": _iso(session.absolute_expires_at),
    }


def _api_key(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "key": HASHED_NOTE,
        "created_at": _iso(key.created_at),
    }


def _domain(domain: Domain) -> dict[str, Any]:
    return {
        "id": domain.id,
        "name": domain.name,
        "verification_token": domain.verification_token,
        "created_at": _iso(domain.created_at),
        "verified_at": _iso(domain.verified_at),
        "dkim_selector": domain.dkim_selector,
        "dkim_key": SEALED_NOTE if domain.dkim_key_sealed is not None else None,
        "spam_filter": domain.spam.enabled,
        "spam_reject_score": domain.spam.reject_score,
        "spam_catch_all_reject_score": domain.spam.catch_all_reject_score,
        "private_replies": domain.private_replies,
    }


def _alias(alias: Alias, names: Mapping[str, str]) -> dict[str, Any]:
    return {
        "id": alias.id,
        "domain": names[alias.domain_id],
        "local_part": alias.local_part,
        "targets": list(alias.targets),
        "mode": alias.mode.value,
        "description": alias.description,
        "display_name": alias.display_name,
        "private_replies": alias.private_replies,
        "created_at": _iso(alias.created_at),
    }


def _recipient(recipient: Recipient) -> dict[str, Any]:
    return {
        "id": recipient.id,
        "address": recipient.address,
        "created_at": _iso(recipient.created_at),
        "verified_at": _iso(recipient.verified_at),
    }


def _error(entry: ErrorLogEntry, names: Mapping[str, str]) -> dict[str, Any]:
    return {
        "id": entry.id,
        "domain": names[entry.domain_id],
        "at": _iso(entry.at),
        "alias": entry.alias,
        "code": entry.code,
        "enhanced_code": entry.enhanced_code,
        "reason": entry.reason,
        "target_domain": entry.target_domain,
        "sender_domain": entry.sender_domain,
        "expires_at": _iso(entry.expires_at),
        "count": entry.count,
        "last_at": _iso(entry.last_at),
    }
