"""Targets (recipients) do not outlive their aliases (issue 8): the owner's unconfirmed
targets that no alias uses any more go with the last alias that used them, in the same
write; confirmed ones stay until the owner removes them. Runs on every backend."""

from __future__ import annotations

from forwarder.store.base import Store
from tests.store.contract_data import NOW, make_alias, make_domain, make_user

A, B, C = "a@inbox.example", "b@inbox.example", "c@inbox.example"


async def _addresses(store: Store, owner_id: str) -> list[str]:
    return [r.address for r in await store.recipients.list_for_owner(owner_id)]


async def test_last_alias_deleted_takes_its_unconfirmed_targets(store: Store) -> None:
    owner = await make_user(store)
    domain = await make_domain(store, owner)
    one = await make_alias(store, domain, "one", [A, B, C])
    await make_alias(store, domain, "two", [B])
    for address in (A, B, C):
        await store.recipients.add(owner.id, address, NOW)
    await store.recipients.set_verified(owner.id, C, NOW)
    assert await store.aliases.count_with_target(owner.id, B) == 2
    assert await store.aliases.delete(one.id)
    # A: unconfirmed, unused -> gone; B: still used by "two"; C: confirmed -> kept.
    assert await _addresses(store, owner.id) == [B, C]
    assert await store.aliases.count_with_target(owner.id, C) == 0


async def test_targets_taken_off_an_alias_are_pruned(store: Store) -> None:
    owner = await make_user(store)
    domain = await make_domain(store, owner)
    alias = await make_alias(store, domain, "one", [A, B])
    await store.recipients.add(owner.id, A, NOW)
    await store.recipients.add(owner.id, B, NOW)
    await store.aliases.update(alias.id, targets=[B])
    assert await _addresses(store, owner.id) == [B]
    await store.aliases.update(alias.id, description="only the note changed")
    assert await _addresses(store, owner.id) == [B]


async def test_deleted_domain_prunes_targets_only_of_its_owner(store: Store) -> None:
    owner = await make_user(store)
    other = await make_user(store, "other@example.org")
    domain = await make_domain(store, owner)
    kept = await make_domain(store, owner, "kept.example")
    elsewhere = await make_domain(store, other, "other.example")
    await make_alias(store, domain, "x", [A, B])
    await make_alias(store, kept, "y", [B])
    await make_alias(store, elsewhere, "z", [A])
    for user in (owner, other):
        await store.recipients.add(user.id, A, NOW)
        await store.recipients.add(user.id, B, NOW)
    assert await store.domains.delete(domain.id)
    assert await _addresses(store, owner.id) == [B]
    assert await _addresses(store, other.id) == [A, B]  # another account's records untouched


async def test_confirmed_target_is_removed_on_request(store: Store) -> None:
    owner = await make_user(store)
    await store.recipients.add(owner.id, A, NOW)
    await store.recipients.set_verified(owner.id, A, NOW)
    assert await store.recipients.delete(owner.id, A)
    assert await _addresses(store, owner.id) == []
    assert not await store.recipients.delete(owner.id, A)
