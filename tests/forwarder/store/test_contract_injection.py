"""Attack: operator injection. A dict, list or number where a string belongs ({"$ne": null}
from a JSON body, say) is refused with InvalidValue by every operation, on every backend, and
never matches or changes anything."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from forwarder.store.base import AliasMode, DenyKind, InvalidValue, Store
from tests.forwarder.store.contract_data import (
    INJECTIONS,
    NOW,
    at,
    make_alias,
    make_domain,
    make_user,
)


@dataclass
class Ctx:
    store: Store
    user_id: str
    domain_id: str
    alias_id: str


Op = Callable[[Ctx, Any], Awaitable[object]]
A = AliasMode.ACTIVE

# Each operation with the attack value in one string argument, the others valid.
OPERATIONS: dict[str, Op] = {
    "users.create email": lambda c, v: c.store.users.create(v, "h", NOW),
    "users.create hash": lambda c, v: c.store.users.create("n@example.org", v, NOW),
    "users.get": lambda c, v: c.store.users.get(v),
    "users.get_by_email": lambda c, v: c.store.users.get_by_email(v),
    "users.set_password": lambda c, v: c.store.users.set_password(c.user_id, v),
    "users.set_password id": lambda c, v: c.store.users.set_password(v, "h"),
    "users.set_email": lambda c, v: c.store.users.set_email(c.user_id, v),
    "users.set_verified id": lambda c, v: c.store.users.set_verified(v, NOW),
    "users.set_totp codes": lambda c, v: c.store.users.set_totp(c.user_id, b"s", [v]),
    "users.set_totp id": lambda c, v: c.store.users.set_totp(v, b"s", []),
    "users.use_recovery_code": lambda c, v: c.store.users.use_recovery_code(c.user_id, v),
    "users.use_recovery_code id": lambda c, v: c.store.users.use_recovery_code(v, "x"),
    "sessions.create hash": lambda c, v: c.store.sessions.create(
        v, c.user_id, NOW, at(hours=1), at(days=1)
    ),
    "sessions.create user": lambda c, v: c.store.sessions.create(
        "s2", v, NOW, at(hours=1), at(days=1)
    ),
    "sessions.get": lambda c, v: c.store.sessions.get(v, NOW),
    "sessions.touch": lambda c, v: c.store.sessions.touch(v, at(hours=2)),
    "sessions.delete": lambda c, v: c.store.sessions.delete(v),
    "sessions.delete_for_user": lambda c, v: c.store.sessions.delete_for_user(v),
    "api_keys.create prefix": lambda c, v: c.store.api_keys.create(c.user_id, "n", v, "h", NOW),
    "api_keys.create name": lambda c, v: c.store.api_keys.create(c.user_id, v, "qm_z", "h", NOW),
    "api_keys.create user": lambda c, v: c.store.api_keys.create(v, "n", "qm_z", "h", NOW),
    "api_keys.get_by_prefix": lambda c, v: c.store.api_keys.get_by_prefix(v),
    "api_keys.list_for_user": lambda c, v: c.store.api_keys.list_for_user(v),
    "api_keys.delete key": lambda c, v: c.store.api_keys.delete(c.user_id, v),
    "api_keys.delete user": lambda c, v: c.store.api_keys.delete(v, "key"),
    "domains.create name": lambda c, v: c.store.domains.create(v, c.user_id, "t", NOW),
    "domains.create owner": lambda c, v: c.store.domains.create("n.example", v, "t", NOW),
    "domains.get": lambda c, v: c.store.domains.get(v),
    "domains.get_by_name": lambda c, v: c.store.domains.get_by_name(v),
    "domains.list_by_name": lambda c, v: c.store.domains.list_by_name(v),
    "domains.list_for_owner": lambda c, v: c.store.domains.list_for_owner(v),
    "domains.set_verified": lambda c, v: c.store.domains.set_verified(v, NOW),
    "domains.set_dkim selector": lambda c, v: c.store.domains.set_dkim(c.domain_id, v, b"k"),
    "domains.delete": lambda c, v: c.store.domains.delete(v),
    "users.use_totp_step user": lambda c, v: c.store.users.use_totp_step(v, 5),
    "aliases.create domain": lambda c, v: c.store.aliases.create(v, "x", [], A, "", NOW),
    "aliases.create local": lambda c, v: c.store.aliases.create(c.domain_id, v, [], A, "", NOW),
    "aliases.create target": lambda c, v: c.store.aliases.create(c.domain_id, "x", [v], A, "", NOW),
    "aliases.create description": lambda c, v: c.store.aliases.create(
        c.domain_id, "x", [], A, v, NOW
    ),
    "aliases.get": lambda c, v: c.store.aliases.get(v),
    "aliases.get_by_local_part": lambda c, v: c.store.aliases.get_by_local_part(c.domain_id, v),
    "aliases.get_by_local_part domain": lambda c, v: c.store.aliases.get_by_local_part(v, "hello"),
    "aliases.list_for_domain": lambda c, v: c.store.aliases.list_for_domain(v),
    "aliases.update id": lambda c, v: c.store.aliases.update(v, description="x"),
    "aliases.update target": lambda c, v: c.store.aliases.update(c.alias_id, targets=[v]),
    "aliases.update description": lambda c, v: c.store.aliases.update(c.alias_id, description=v),
    "aliases.update mode": lambda c, v: c.store.aliases.update(c.alias_id, mode=v),
    "aliases.delete": lambda c, v: c.store.aliases.delete(v),
    "recipients.add owner": lambda c, v: c.store.recipients.add(v, "r@example.org", NOW),
    "recipients.add address": lambda c, v: c.store.recipients.add(c.user_id, v, NOW),
    "recipients.get": lambda c, v: c.store.recipients.get(c.user_id, v),
    "recipients.get owner": lambda c, v: c.store.recipients.get(v, "r@example.org"),
    "recipients.list_for_owner": lambda c, v: c.store.recipients.list_for_owner(v),
    "recipients.set_verified": lambda c, v: c.store.recipients.set_verified(c.user_id, v, NOW),
    "recipients.delete": lambda c, v: c.store.recipients.delete(c.user_id, v),
    "errors.list_for_domain": lambda c, v: c.store.errors.list_for_domain(v, NOW),
    "denylist.add value": lambda c, v: c.store.denylist.add(DenyKind.IP, v, "r", NOW, at(days=1)),
    "denylist.add reason": lambda c, v: c.store.denylist.add(
        DenyKind.IP, "192.0.2.1", v, NOW, at(days=1)
    ),
    "denylist.remove": lambda c, v: c.store.denylist.remove(v),
    "delete_account": lambda c, v: c.store.delete_account(v),
    "export_account": lambda c, v: c.store.export_account(v),
}


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
async def test_operation_refuses_non_string_values(store: Store, operation: str) -> None:
    user = await make_user(store)
    domain = await make_domain(store, user)
    alias = await make_alias(store, domain)
    await store.recipients.add(user.id, "r@example.org", NOW)
    ctx = Ctx(store, user.id, domain.id, alias.id)
    before = await store.generation()
    for value in INJECTIONS:
        with pytest.raises(InvalidValue):
            await OPERATIONS[operation](ctx, value)
    # Nothing was written or deleted by any attempt.
    assert await store.generation() == before
    assert await store.users.get(user.id) == user
    assert await store.aliases.get(alias.id) == alias
    assert await store.denylist.list_active(NOW) == []


async def test_time_arguments_must_be_aware_datetimes(store: Store) -> None:
    user = await make_user(store)
    for bad in ("2030-01-01T00:00:00Z", 1893456000, {"$gt": ""}, NOW.replace(tzinfo=None)):
        with pytest.raises(InvalidValue):
            await store.sessions.get("hash", bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidValue):
            await store.users.set_verified(user.id, bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidValue):
            await store.denylist.list_active(bad)  # type: ignore[arg-type]


async def test_lone_surrogates_are_invalid_not_an_outage(store: Store) -> None:
    """A string no backend can encode is the caller's error (InvalidValue), never a 451."""
    await make_user(store)
    for call in (
        lambda: store.users.get_by_email("a\ud800@example.org"),
        lambda: store.domains.get_by_name("ex\udfffample.org"),
        lambda: store.domains.list_by_name("ex\udfffample.org"),
        lambda: store.users.create("b\ud800@example.org", "h", NOW),
    ):
        with pytest.raises(InvalidValue):
            await call()
