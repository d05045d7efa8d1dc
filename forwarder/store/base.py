"""The storage contract shared by the relay and the web app, and the records it returns.

Exceptions (everything a backend raises is one of these; driver errors never escape)::

    StoreError
    ├── StoreUnavailable     the database is down or unreachable (relay: 451 4.3.0)
    ├── AlreadyExists        a unique name is taken (email, verified domain or own claim,
    │                        alias, API key prefix)
    ├── NotFound             the record to change does not exist
    └── InvalidValue         a value of the wrong type or shape (e.g. {"$ne": null}); also a
                             ValueError, raised before anything reaches a query

Rules every backend follows:

- Domain names are stored as IDNA A-labels in lower case (:func:`normalize_domain`);
  alias local parts and email addresses in lower case (:func:`normalize_local_part`,
  :func:`normalize_email`). Look-ups normalise the same way, so case never matters.
- Every argument that should be a string is checked with :func:`require_str` first.
- Reads of expiring records (sessions, error log, denylist) take ``now`` and never return
  an expired record, whether or not a sweep has removed it yet.
- ``Store.generation()`` grows whenever a write could change how mail is routed (users,
  domains, aliases, recipients), including writes made by another process on the same
  database, so a cache can tell cheaply that it is stale.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

import idna

# Records live in their own module; they are re-exported here (see __all__), next to the
# protocols that return them.
from forwarder.store.records import (
    CATCH_ALL,
    Alias,
    AliasMode,
    ApiKey,
    DenyEntry,
    DenyKind,
    Domain,
    ErrorLogEntry,
    NewErrorLogEntry,
    Recipient,
    Session,
    User,
)

__all__ = [
    "CATCH_ALL",
    "MAX_DOMAIN",
    "MAX_EMAIL",
    "MAX_LOCAL_PART",
    "Alias",
    "AliasMode",
    "Aliases",
    "AlreadyExists",
    "ApiKey",
    "ApiKeys",
    "DenyEntry",
    "DenyKind",
    "Denylist",
    "Domain",
    "Domains",
    "ErrorLog",
    "ErrorLogEntry",
    "InvalidValue",
    "NewErrorLogEntry",
    "NotFound",
    "Recipient",
    "Recipients",
    "Session",
    "Sessions",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "User",
    "Users",
    "check_totp_step",
    "normalize_domain",
    "normalize_email",
    "normalize_local_part",
    "require_str",
]

# ---------------------------------------------------------------------------- exceptions


class StoreError(Exception):
    """Base of every storage error."""


class StoreUnavailable(StoreError):
    """The database cannot be reached or did not answer."""


class AlreadyExists(StoreError):
    """A unique value is already taken."""


class NotFound(StoreError):
    """The record to change does not exist."""


class InvalidValue(StoreError, ValueError):
    """A value of the wrong type or shape, refused before it reaches a query."""


# ---------------------------------------------------------------------------- normalising

MAX_LOCAL_PART = 64  # RFC 5321 4.5.3.1.1
MAX_DOMAIN = 253
MAX_EMAIL = 254


def require_str(value: object, what: str, *, max_length: int = 1024) -> str:
    """Refuse anything that is not a plain string: dicts like {"$ne": null} never reach a query."""
    if type(value) is not str:
        raise InvalidValue(f"{what} must be a string")
    if len(value) > max_length:
        raise InvalidValue(f"{what} is longer than {max_length} characters")
    if "\x00" in value:
        raise InvalidValue(f"{what} contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no backend can store it
        raise InvalidValue(f"{what} is not valid Unicode") from None
    return value


MAX_TOTP_STEP = 2**62  # far beyond any clock, inside SQLite's and BSON's 64-bit integers


def check_totp_step(value: object) -> int:
    if type(value) is not int or not 0 < value < MAX_TOTP_STEP:
        raise InvalidValue("TOTP time step must be a positive integer")
    return value


def normalize_domain(value: object) -> str:
    """IDNA A-label, lower case, no trailing dot: 'Bücher.Example.' -> 'xn--bcher-kva.example'."""
    text = require_str(value, "domain", max_length=MAX_DOMAIN + 1).strip().rstrip(".")
    if not text or any(c.isspace() for c in text):
        raise InvalidValue("domain is empty or contains white space")
    try:
        ascii_name = idna.encode(text, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise InvalidValue(f"domain is not a valid name: {exc}") from None
    ascii_name = ascii_name.lower()
    if len(ascii_name) > MAX_DOMAIN or "." not in ascii_name:
        raise InvalidValue("domain must be a fully qualified name")
    return ascii_name


def normalize_local_part(value: object) -> str:
    text = require_str(value, "local part", max_length=MAX_LOCAL_PART).strip()
    if not text or any(c.isspace() or c in '@<>"\\,;' or ord(c) < 32 for c in text):
        raise InvalidValue("local part is empty or contains characters not allowed here")
    return text.lower()


def normalize_email(value: object) -> str:
    """'Me@Bücher.Example' -> 'me@xn--bcher-kva.example'."""
    text = require_str(value, "email address", max_length=MAX_EMAIL + 64).strip()
    local, sep, domain = text.rpartition("@")
    if not sep:
        raise InvalidValue("email address needs an @")
    address = f"{normalize_local_part(local)}@{normalize_domain(domain)}"
    if len(address) > MAX_EMAIL:
        raise InvalidValue("email address is too long")
    return address


# ---------------------------------------------------------------------------- protocols


class Users(Protocol):
    async def create(self, email: str, password_hash: str, now: datetime) -> User:
        """Raises AlreadyExists for a taken email (case-insensitive)."""

    async def get(self, user_id: str) -> User | None: ...
    async def get_by_email(self, email: str) -> User | None: ...
    async def list_all(self) -> list[User]: ...
    async def set_password(self, user_id: str, password_hash: str) -> None: ...
    async def set_email(self, user_id: str, email: str) -> None: ...
    async def set_verified(self, user_id: str, at: datetime | None) -> None: ...

    async def set_totp(
        self, user_id: str, secret_sealed: bytes | None, recovery_code_hashes: Sequence[str]
    ) -> None: ...

    async def use_recovery_code(self, user_id: str, code_hash: str) -> bool:
        """Remove one recovery code; True if it was there (single use)."""

    async def use_totp_step(self, user_id: str, step: int) -> bool:
        """Record ``step`` (the TOTP time step a code matched) only if it is greater than the
        user's ``totp_last_step``, atomically; True if recorded. False means the code (or an
        older one) was used already: refuse it (RFC 6238 section 5.2). InvalidValue unless
        ``step`` is a positive int."""


class Sessions(Protocol):
    async def create(
        self,
        id_hash: str,
        user_id: str,
        now: datetime,
        idle_expires_at: datetime,
        absolute_expires_at: datetime,
    ) -> Session: ...

    async def get(self, id_hash: str, now: datetime) -> Session | None:
        """None when missing or past either expiry."""

    async def touch(self, id_hash: str, idle_expires_at: datetime) -> None: ...
    async def delete(self, id_hash: str) -> None: ...
    async def delete_for_user(self, user_id: str) -> int: ...
    async def purge_expired(self, now: datetime) -> int: ...


class ApiKeys(Protocol):
    async def create(
        self, user_id: str, name: str, prefix: str, key_hash: str, now: datetime
    ) -> ApiKey:
        """Raises AlreadyExists for a taken prefix."""

    async def get_by_prefix(self, prefix: str) -> ApiKey | None: ...
    async def list_for_user(self, user_id: str) -> list[ApiKey]: ...
    async def delete(self, user_id: str, key_id: str) -> bool:
        """True if the user's key existed; another user's key is never touched."""


class Domains(Protocol):
    """A name may be claimed (unverified) by several accounts, each at most once; at most one
    domain per name is verified, and only a verified domain routes mail. So nobody can block
    a name from its real owner by claiming it first (issue 5, "Domains and aliases")."""

    async def create(
        self, name: str, owner_id: str, verification_token: str, now: datetime
    ) -> Domain:
        """An unverified claim. Raises AlreadyExists when this owner already has the name or
        a verified domain of that name exists, NotFound for an unknown owner."""

    async def get(self, domain_id: str) -> Domain | None: ...
    async def get_by_name(self, name: str) -> Domain | None:
        """The VERIFIED domain of that name, or None (unverified claims are not served)."""

    async def list_by_name(self, name: str) -> list[Domain]:
        """Every domain of that name: the verified one first, then the claims, oldest first."""

    async def list_for_owner(self, owner_id: str) -> list[Domain]: ...
    async def list_all(self) -> list[Domain]: ...
    async def set_verified(self, domain_id: str, at: datetime | None) -> None:
        """Verify (``at``) or unverify (None). Raises NotFound, and AlreadyExists when another
        domain of the name is verified. Verifying also deletes every other account's
        unverified claim of the name with its aliases and error log entries, in the same
        transaction where the backend has one (they proved nothing). Bumps the generation."""

    async def set_dkim(
        self, domain_id: str, selector: str | None, key_sealed: bytes | None
    ) -> None: ...
    async def delete(self, domain_id: str) -> bool:
        """Also deletes the domain's aliases and error log entries."""


class Aliases(Protocol):
    async def create(
        self,
        domain_id: str,
        local_part: str,
        targets: Sequence[str],
        mode: AliasMode,
        description: str,
        now: datetime,
    ) -> Alias:
        """Raises AlreadyExists for a taken local part in the domain, NotFound for no domain."""

    async def get(self, alias_id: str) -> Alias | None: ...
    async def get_by_local_part(self, domain_id: str, local_part: str) -> Alias | None: ...
    async def list_for_domain(self, domain_id: str) -> list[Alias]: ...

    async def update(
        self,
        alias_id: str,
        *,
        targets: Sequence[str] | None = None,
        mode: AliasMode | None = None,
        description: str | None = None,
    ) -> Alias:
        """Raises NotFound."""

    async def delete(self, alias_id: str) -> bool: ...


class Recipients(Protocol):
    async def add(self, owner_id: str, address: str, now: datetime) -> Recipient:
        """Idempotent: returns the existing record when the owner already has the address."""

    async def get(self, owner_id: str, address: str) -> Recipient | None: ...
    async def list_for_owner(self, owner_id: str) -> list[Recipient]: ...
    async def set_verified(self, owner_id: str, address: str, at: datetime | None) -> None: ...
    async def delete(self, owner_id: str, address: str) -> bool: ...


class ErrorLog(Protocol):
    async def add(self, entry: NewErrorLogEntry) -> ErrorLogEntry: ...

    async def list_for_domain(
        self, domain_id: str, now: datetime, limit: int = 500
    ) -> list[ErrorLogEntry]:
        """Unexpired entries, newest first."""

    async def purge_expired(self, now: datetime) -> int: ...


class Denylist(Protocol):
    async def add(
        self, kind: DenyKind, value: str, reason: str, now: datetime, expires_at: datetime
    ) -> DenyEntry: ...

    async def match(self, kind: DenyKind, value: str, now: datetime) -> DenyEntry | None: ...
    async def list_active(self, now: datetime) -> list[DenyEntry]: ...
    async def remove(self, entry_id: str) -> bool: ...
    async def purge_expired(self, now: datetime) -> int: ...


class Store(Protocol):
    """One open database. Sub-stores are attributes; whole-account operations live here."""

    users: Users
    sessions: Sessions
    api_keys: ApiKeys
    domains: Domains
    aliases: Aliases
    recipients: Recipients
    errors: ErrorLog
    denylist: Denylist

    async def open(self) -> None:
        """Connect, create or migrate the schema / indexes. Raises StoreUnavailable."""

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raises StoreUnavailable when the database does not answer."""

    async def generation(self) -> int:
        """A number that grows with every routing-relevant write (see module docstring)."""

    async def delete_account(self, user_id: str) -> dict[str, int]:
        """Delete the user and every record tied to it, at once; counts per kind.

        Keys: users, sessions, api_keys, domains, aliases, recipients, errors.
        """

    async def export_account(self, user_id: str) -> dict[str, Any]:
        """Everything the store holds about the user, JSON-serialisable, secrets excluded
        (hashes and sealed values are named but not included).

        Raises NotFound for an unknown user (so does delete_account). Top-level keys: ``user``
        (an object with at least ``email``) and one list per kind, named as delete_account's
        counts: sessions, api_keys, domains, aliases, recipients, errors. Items carry the
        names a person recognises (domain ``name``, alias ``local_part``, recipient
        ``address``, API key ``name``); datetimes are ISO 8601 strings."""
