"""Builders shared by the contract suite (tests/forwarder/store/test_contract_*.py).

Times are fixed in the future and whole seconds: MongoDB keeps milliseconds only, and a real
server's TTL monitor must never remove a document behind a test's back.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from forwarder.store.base import (
    Alias,
    AliasMode,
    Domain,
    NewErrorLogEntry,
    Store,
    User,
)

NOW = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
WEEK = timedelta(days=7)

# What an attacker sends where a string belongs (MongoDB operator injection, arrays, numbers).
INJECTIONS: tuple[object, ...] = ({"$ne": None}, {"$gt": ""}, ["a"], 1)


def at(**delta: float) -> datetime:
    return NOW + timedelta(**delta)


async def make_user(store: Store, email: str = "owner@example.org") -> User:
    return await store.users.create(email, "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", NOW)


async def make_domain(store: Store, owner: User, name: str = "example.net") -> Domain:
    return await store.domains.create(name, owner.id, "verify-token-0123", NOW)


async def make_alias(
    store: Store,
    domain: Domain,
    local_part: str = "hello",
    targets: Sequence[str] = ("dest@example.org",),
    mode: AliasMode = AliasMode.ACTIVE,
) -> Alias:
    return await store.aliases.create(domain.id, local_part, list(targets), mode, "a test", NOW)


def error_entry(
    domain: Domain,
    *,
    when: datetime = NOW,
    expires_at: datetime | None = None,
    alias: str = "hello",
    code: int = 550,
) -> NewErrorLogEntry:
    return NewErrorLogEntry(
        domain_id=domain.id,
        at=when,
        alias=alias,
        code=code,
        enhanced_code="5.1.1" if code >= 500 else "4.3.0",
        reason="target refused",
        target_domain="example.org",
        sender_domain="sender.example",
        expires_at=expires_at if expires_at is not None else when + WEEK,
    )
