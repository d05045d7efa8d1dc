"""The sub-stores of the storage contract, one protocol per kind of record.

:mod:`forwarder.store.base` holds the rules every backend follows and the ``Store`` that
gathers these; callers import the protocols from there.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from forwarder.store.records import (
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
    SpamPolicy,
    User,
)


class Users(Protocol):
    async def create(self, email: str, password_hash: str, now: datetime) -> User:
        """Raises AlreadyExists for a taken email (case-insensitive)."""

    async def get(self, user_id: str) -> User | None: ...
    async def get_by_email(self, email: str) -> User | None: ...
    async def list_all(self) -> list[User]: ...
    async def set_password(self, user_id: str, password_hash: str) -> None: ...
    async def set_email(self, user_id: str, email: str) -> None: ...
    async def set_verified(self, user_id: str, at: datetime | None) -> None: ...

    async def set_preferences(self, user_id: str, default_target: str, off_mode: str) -> None:
        """The account's default target ("" for its own address, else a normalised address)
        and what "off" means for its aliases ("reject" or "drop"); InvalidValue otherwise."""

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
    async def set_spam_policy(self, domain_id: str, policy: SpamPolicy) -> None:
        """The owner's spam filtering choice. Raises NotFound, InvalidValue for a score that
        is not a number from 0 to MAX_SPAM_SCORE. Bumps the generation (the relay caches
        domains)."""

    async def set_private_replies(self, domain_id: str, on: bool) -> None:
        """The default "private replies" of the domain's aliases (issue 11). Raises
        NotFound, InvalidValue for a non-bool. Bumps the generation."""

    async def delete(self, domain_id: str) -> bool:
        """Also deletes the domain's aliases and error log entries, and the owner's
        unconfirmed targets no alias uses any more (as Aliases.delete)."""


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
        """Raises NotFound. Targets taken off the alias are pruned as in delete."""

    async def delete(self, alias_id: str) -> bool:
        """Also deletes the owner's unconfirmed targets (recipients) of the alias that no
        other alias of theirs uses, in the same transaction where the backend has one.
        Confirmed targets stay until the owner removes them (Recipients.delete)."""

    async def rotate_reply_key(self, alias_id: str) -> Alias:
        """Add one to ``reply_key_version``: every reverse address of the alias stops working
        (issue 11). Raises NotFound. Bumps the generation (the relay caches aliases)."""

    async def set_display_name(self, alias_id: str, display_name: str) -> Alias:
        """The name shown in the From of mail sent as the alias ("" for none). Raises
        NotFound, InvalidValue (check_display_name). Bumps the generation."""

    async def set_private_replies(self, alias_id: str, on: bool | None) -> Alias:
        """The alias's "private replies" (issue 11); None follows the domain's default.
        Raises NotFound, InvalidValue for anything but a bool or None. Bumps the generation."""

    async def count_with_target(self, owner_id: str, address: str) -> int:
        """How many of the owner's aliases list ``address`` as a target."""


class Recipients(Protocol):
    async def add(self, owner_id: str, address: str, now: datetime) -> Recipient:
        """Idempotent: returns the existing record when the owner already has the address."""

    async def get(self, owner_id: str, address: str) -> Recipient | None: ...
    async def list_for_owner(self, owner_id: str) -> list[Recipient]: ...
    async def set_verified(self, owner_id: str, address: str, at: datetime | None) -> None: ...
    async def delete(self, owner_id: str, address: str) -> bool: ...


class ErrorLog(Protocol):
    async def add(self, entry: NewErrorLogEntry) -> ErrorLogEntry:
        """Count ``entry`` in its row: one per domain, alias, code, enhanced code, target
        domain and hour (:func:`error_hour`), created by the first entry (whose time, reason,
        sender domain and expiry it keeps) and counted up by the rest (``count``,
        ``last_at``). Once a domain has MAX_ERROR_ROWS_PER_HOUR rows in the entry's hour, an
        entry that would start a new row is counted under the alias OTHER_ALIASES instead.
        Returns the row. Raises NotFound for an unknown domain."""

    async def list_for_domain(
        self, domain_id: str, now: datetime, limit: int = 500
    ) -> list[ErrorLogEntry]:
        """Unexpired rows, the latest ``last_at`` first."""

    async def purge_expired(self, now: datetime) -> int: ...


class Denylist(Protocol):
    async def add(
        self, kind: DenyKind, value: str, reason: str, now: datetime, expires_at: datetime
    ) -> DenyEntry: ...

    async def list_active(self, now: datetime) -> list[DenyEntry]:
        """Unexpired entries, oldest first: what the relay's checks (rcpt/denylist.py) read."""

    async def remove(self, entry_id: str) -> bool: ...
    async def purge_expired(self, now: datetime) -> int: ...


class Delivered(Protocol):
    """The targets that already accepted a message answered ``451`` (DESIGN promise 3): keyed
    hashes of (message fingerprint, target), each with an expiry, and nothing else; written
    only for a partly delivered message, shared by every worker and node on the database,
    removed by the sweeper (and by a TTL index on MongoDB). Keys are checked by
    :func:`check_delivered_keys`. ``stamp`` values come only from :meth:`since`."""

    async def remember(self, keys: Sequence[str], expires_at: datetime) -> None:
        """Record the keys (a key already there keeps the later expiry)."""

    async def seen(self, keys: Sequence[str], now: datetime) -> set[str]:
        """Those of ``keys`` recorded and not expired."""

    async def since(self, stamp: int, now: datetime) -> tuple[int, list[str]]:
        """A new stamp, and at least every unexpired key remembered since ``stamp`` was
        returned (maybe more; 0 means since ever). Nothing remembered since: ``(stamp, [])``."""

    async def purge_expired(self, now: datetime) -> int: ...
