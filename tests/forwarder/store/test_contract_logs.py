"""Contract: the error log (DESIGN promise 4) and the denylist expire on every backend."""

from __future__ import annotations

from dataclasses import replace

import pytest

from forwarder.store.base import DenyKind, InvalidValue, NotFound, Store
from tests.forwarder.store.contract_data import NOW, WEEK, at, error_entry, make_domain, make_user

# ---------------------------------------------------------------------------- error log


async def test_error_log_add_and_list_newest_first(store: Store) -> None:
    owner = await make_user(store)
    domain = await make_domain(store, owner)
    old = await store.errors.add(error_entry(domain, when=NOW, alias="first"))
    new = await store.errors.add(error_entry(domain, when=at(minutes=1), alias="second", code=451))
    assert (old.domain_id, old.at, old.alias, old.code, old.enhanced_code) == (
        domain.id,
        NOW,
        "first",
        550,
        "5.1.1",
    )
    assert (old.reason, old.target_domain, old.sender_domain, old.expires_at) == (
        "target refused",
        "example.org",
        "sender.example",
        NOW + WEEK,
    )
    assert await store.errors.list_for_domain(domain.id, at(minutes=2)) == [new, old]
    assert await store.errors.list_for_domain(domain.id, at(minutes=2), limit=1) == [new]


async def test_error_log_is_per_domain_and_needs_a_domain(store: Store) -> None:
    owner = await make_user(store)
    one = await make_domain(store, owner, "one.example")
    two = await make_domain(store, owner, "two.example")
    await store.errors.add(error_entry(one))
    assert await store.errors.list_for_domain(two.id, NOW) == []
    with pytest.raises(NotFound):
        await store.errors.add(replace(error_entry(one), domain_id="missing"))


async def test_error_log_entries_past_expiry_are_not_returned(store: Store) -> None:
    owner = await make_user(store)
    domain = await make_domain(store, owner)
    entry = await store.errors.add(error_entry(domain))
    assert await store.errors.list_for_domain(domain.id, at(days=6, hours=23)) == [entry]
    assert await store.errors.list_for_domain(domain.id, at(days=7, seconds=1)) == []
    assert await store.errors.list_for_domain(domain.id, at(days=30)) == []


async def test_error_log_purge_removes_only_expired(store: Store) -> None:
    owner = await make_user(store)
    domain = await make_domain(store, owner)
    await store.errors.add(error_entry(domain, when=NOW, alias="old"))
    await store.errors.add(error_entry(domain, when=NOW, expires_at=at(days=1), alias="short"))
    kept = await store.errors.add(error_entry(domain, when=at(days=3), alias="recent"))
    assert await store.errors.purge_expired(at(days=8)) == 2
    assert await store.errors.purge_expired(at(days=8)) == 0
    # Still there after the purge, and readable at a time before its expiry.
    assert await store.errors.list_for_domain(domain.id, at(days=8)) == [kept]


async def test_error_log_refuses_bad_values(store: Store) -> None:
    owner = await make_user(store)
    domain = await make_domain(store, owner)
    bad_values: tuple[dict[str, object], ...] = (
        {"alias": {"$ne": None}},
        {"domain_id": {"$gt": ""}},
        {"code": "550"},
        {"code": True},
        {"reason": ["x"]},
        {"sender_domain": 1},
        {"expires_at": "2030-01-08"},
    )
    for bad in bad_values:
        with pytest.raises(InvalidValue):
            await store.errors.add(replace(error_entry(domain), **bad))  # type: ignore[arg-type]
    with pytest.raises(InvalidValue):
        await store.errors.add({"domain_id": domain.id})  # type: ignore[arg-type]
    assert await store.errors.list_for_domain(domain.id, NOW) == []


# ---------------------------------------------------------------------------- denylist


async def test_denylist_add_and_list(store: Store) -> None:
    entry = await store.denylist.add(DenyKind.IP, "192.0.2.7", "dictionary attack", NOW, at(days=1))
    assert (entry.kind, entry.value, entry.reason, entry.created_at, entry.expires_at) == (
        DenyKind.IP,
        "192.0.2.7",
        "dictionary attack",
        NOW,
        at(days=1),
    )
    assert await store.denylist.list_active(at(hours=1)) == [entry]


async def test_denylist_values_are_stored_normalised(store: Store) -> None:
    """Entries are kept in the form rcpt/denylist.py compares: lower case, no final dot."""
    host = await store.denylist.add(DenyKind.HOST, "Bad.Example.", "spam run", NOW, at(days=1))
    sender = await store.denylist.add(
        DenyKind.SENDER, "Spammer@Bad.Example", "spam", NOW, at(days=1)
    )
    ipv6 = await store.denylist.add(DenyKind.IP, "2001:DB8::1", "probe", NOW, at(days=1))
    assert (host.value, sender.value, ipv6.value) == (
        "bad.example",
        "spammer@bad.example",
        "2001:db8::1",
    )
    listed = await store.denylist.list_active(NOW)  # same created_at: order not promised
    assert sorted(listed, key=lambda e: e.value) == sorted(
        [host, sender, ipv6], key=lambda e: e.value
    )


async def test_denylist_expiry_list_remove_purge(store: Store) -> None:
    short = await store.denylist.add(DenyKind.IP, "192.0.2.1", "r", NOW, at(hours=1))
    long = await store.denylist.add(DenyKind.IP, "192.0.2.2", "r", NOW, at(days=2))
    gone = await store.denylist.add(DenyKind.SENDER, "x@bad.example", "r", NOW, at(days=2))
    assert {e.id for e in await store.denylist.list_active(NOW)} == {short.id, long.id, gone.id}
    assert {e.id for e in await store.denylist.list_active(at(hours=2))} == {long.id, gone.id}
    assert await store.denylist.remove(gone.id) is True
    assert await store.denylist.remove(gone.id) is False
    assert gone.id not in {e.id for e in await store.denylist.list_active(NOW)}
    assert await store.denylist.purge_expired(at(hours=2)) == 1
    assert await store.denylist.purge_expired(at(hours=2)) == 0
    assert [e.id for e in await store.denylist.list_active(NOW)] == [long.id]


async def test_denylist_refuses_bad_kind(store: Store) -> None:
    for kind in ("subnet", {"$ne": None}):
        with pytest.raises(InvalidValue):
            await store.denylist.add(kind, "192.0.2.1", "r", NOW, at(hours=1))  # type: ignore[arg-type]
