"""Contract: aliases, recipients and the generation counter, on every backend (domains are in
test_contract_domains.py)."""

from __future__ import annotations

import pytest

from forwarder.store.base import (
    CATCH_ALL,
    AliasMode,
    AlreadyExists,
    InvalidValue,
    NotFound,
    Store,
)
from tests.forwarder.store.contract_data import NOW, at, make_alias, make_domain, make_user

# ---------------------------------------------------------------------------- aliases


async def test_alias_create_normalises(store: Store) -> None:
    owner = await make_user(store)
    domain = await make_domain(store, owner)
    alias = await store.aliases.create(
        domain.id, "Shop.News", ["Me@Bücher.Example", "b@EXAMPLE.org"], AliasMode.ACTIVE, "d", NOW
    )
    assert alias.local_part == "shop.news"
    assert alias.targets == ("me@xn--bcher-kva.example", "b@example.org")
    assert (alias.domain_id, alias.mode, alias.description, alias.created_at) == (
        domain.id,
        AliasMode.ACTIVE,
        "d",
        NOW,
    )
    assert not alias.is_catch_all
    assert await store.aliases.get(alias.id) == alias
    assert await store.aliases.get_by_local_part(domain.id, "SHOP.news") == alias
    assert await store.aliases.get_by_local_part(domain.id, "shop") is None


async def test_alias_local_part_unique_per_domain_case_insensitively(store: Store) -> None:
    owner = await make_user(store)
    one = await make_domain(store, owner, "one.example")
    two = await make_domain(store, owner, "two.example")
    await make_alias(store, one, "Hello")
    with pytest.raises(AlreadyExists):
        await make_alias(store, one, "HELLO")
    other = await make_alias(store, two, "hello")  # another domain may use the same name
    assert other.domain_id == two.id
    assert len(await store.aliases.list_for_domain(one.id)) == 1


async def test_alias_needs_a_domain(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.aliases.create("missing", "hello", ["a@example.org"], AliasMode.ACTIVE, "", NOW)


async def test_catch_all_and_modes(store: Store) -> None:
    owner = await make_user(store)
    domain = await make_domain(store, owner)
    catch_all = await make_alias(store, domain, CATCH_ALL)
    dropped = await make_alias(store, domain, "spam", mode=AliasMode.DROP)
    rejected = await make_alias(store, domain, "old", targets=(), mode=AliasMode.REJECT)
    assert catch_all.is_catch_all
    assert await store.aliases.get_by_local_part(domain.id, "*") == catch_all
    assert dropped.mode is AliasMode.DROP
    assert rejected.mode is AliasMode.REJECT and rejected.targets == ()
    names = [a.local_part for a in await store.aliases.list_for_domain(domain.id)]
    assert sorted(names) == ["*", "old", "spam"]


async def test_alias_update_changes_only_what_is_given(store: Store) -> None:
    owner = await make_user(store)
    domain = await make_domain(store, owner)
    alias = await make_alias(store, domain, "hello")
    updated = await store.aliases.update(alias.id, targets=["New@Example.org"])
    assert updated.targets == ("new@example.org",)
    assert (updated.mode, updated.description) == (alias.mode, alias.description)
    updated = await store.aliases.update(alias.id, mode=AliasMode.REJECT, description="off")
    assert (updated.targets, updated.mode, updated.description) == (
        ("new@example.org",),
        AliasMode.REJECT,
        "off",
    )
    assert await store.aliases.get(alias.id) == updated
    assert (await store.aliases.update(alias.id)) == updated
    with pytest.raises(NotFound):
        await store.aliases.update("missing", description="x")


async def test_alias_refuses_bad_targets_and_modes(store: Store) -> None:
    owner = await make_user(store)
    domain = await make_domain(store, owner)
    for targets in ("a@example.org", ["not-an-address"], [{"$ne": None}]):
        with pytest.raises(InvalidValue):
            await store.aliases.create(domain.id, "x", targets, AliasMode.ACTIVE, "", NOW)  # type: ignore[arg-type]
    with pytest.raises(InvalidValue):
        await store.aliases.create(domain.id, "x", [], "forward", "", NOW)  # type: ignore[arg-type]
    alias = await make_alias(store, domain)
    with pytest.raises(InvalidValue):
        await store.aliases.update(alias.id, targets="a@example.org")
    assert await store.aliases.get(alias.id) == alias


async def test_alias_delete(store: Store) -> None:
    owner = await make_user(store)
    domain = await make_domain(store, owner)
    alias = await make_alias(store, domain)
    assert await store.aliases.delete(alias.id) is True
    assert await store.aliases.delete(alias.id) is False
    assert await store.aliases.get_by_local_part(domain.id, "hello") is None
    await make_alias(store, domain)  # the name is free again


# ---------------------------------------------------------------------------- recipients


async def test_recipient_add_is_idempotent_and_normalised(store: Store) -> None:
    owner = await make_user(store)
    first = await store.recipients.add(owner.id, "Me@Bücher.Example", NOW)
    again = await store.recipients.add(owner.id, "me@xn--bcher-kva.example", at(hours=1))
    assert first == again
    assert (first.owner_id, first.address, first.created_at, first.verified_at) == (
        owner.id,
        "me@xn--bcher-kva.example",
        NOW,
        None,
    )
    assert await store.recipients.get(owner.id, "ME@bücher.example") == first
    assert await store.recipients.list_for_owner(owner.id) == [first]


async def test_recipient_is_per_owner(store: Store) -> None:
    alice = await make_user(store, "alice@example.org")
    bob = await make_user(store, "bob@example.org")
    a = await store.recipients.add(alice.id, "shared@example.org", NOW)
    b = await store.recipients.add(bob.id, "shared@example.org", NOW)
    assert a.id != b.id
    await store.recipients.set_verified(alice.id, "shared@example.org", at(hours=1))
    got_b = await store.recipients.get(bob.id, "shared@example.org")
    assert got_b is not None and got_b.verified_at is None
    assert await store.recipients.delete(bob.id, "shared@example.org") is True
    assert await store.recipients.get(alice.id, "shared@example.org") is not None
    assert await store.recipients.get(bob.id, "shared@example.org") is None


async def test_recipient_verify_delete_and_missing(store: Store) -> None:
    owner = await make_user(store)
    await store.recipients.add(owner.id, "me@example.org", NOW)
    await store.recipients.set_verified(owner.id, "ME@example.org", at(minutes=2))
    got = await store.recipients.get(owner.id, "me@example.org")
    assert got is not None and got.verified_at == at(minutes=2)
    await store.recipients.set_verified(owner.id, "me@example.org", None)
    got = await store.recipients.get(owner.id, "me@example.org")
    assert got is not None and got.verified_at is None
    with pytest.raises(NotFound):
        await store.recipients.set_verified(owner.id, "other@example.org", NOW)
    with pytest.raises(NotFound):
        await store.recipients.add("missing", "me@example.org", NOW)
    assert await store.recipients.delete(owner.id, "me@example.org") is True
    assert await store.recipients.delete(owner.id, "me@example.org") is False
    assert await store.recipients.list_for_owner(owner.id) == []


# ---------------------------------------------------------------------------- generation


async def test_generation_grows_on_every_routing_write(store: Store) -> None:
    seen = [await store.generation()]

    async def grew() -> None:
        value = await store.generation()
        assert value > seen[-1]
        seen.append(value)

    user = await make_user(store)
    seen.append(await store.generation())  # a user is not routing data (see below)
    domain = await make_domain(store, user)
    await grew()
    await store.domains.set_verified(domain.id, NOW)
    await grew()
    alias = await make_alias(store, domain)
    await grew()
    await store.aliases.update(alias.id, mode=AliasMode.DROP)
    await grew()
    await store.aliases.delete(alias.id)
    await grew()
    await store.recipients.add(user.id, "me@example.org", NOW)
    await grew()
    await store.recipients.set_verified(user.id, "me@example.org", NOW)
    await grew()
    await store.recipients.delete(user.id, "me@example.org")
    await grew()
    await store.domains.delete(domain.id)
    await grew()
    await store.delete_account(user.id)
    await grew()


async def test_user_writes_leave_the_generation_alone(store: Store) -> None:
    """The relay caches domains, aliases and recipients only: a log-in (TOTP step, recovery
    code), a password or email change, sessions and API keys must not empty its cache."""
    before = await store.generation()
    user = await make_user(store)
    await store.users.set_password(user.id, "h2")
    await store.users.set_email(user.id, "new@example.org")
    await store.users.set_verified(user.id, NOW)
    await store.users.set_totp(user.id, b"sealed", ["c1", "c2"])
    assert await store.users.use_recovery_code(user.id, "c1") is True
    assert await store.users.use_totp_step(user.id, 1000) is True
    await store.sessions.create("s-hash", user.id, NOW, at(hours=1), at(days=1))
    await store.sessions.touch("s-hash", at(hours=2))
    await store.sessions.delete_for_user(user.id)
    key = await store.api_keys.create(user.id, "k", "qm_k", "h", NOW)
    await store.api_keys.delete(user.id, key.id)
    assert await store.generation() == before


async def test_deleting_an_account_moves_the_generation(store: Store) -> None:
    """With or without routing data left: a cache keyed on the user must not outlive it."""
    bare = await make_user(store, "bare@example.org")
    before = await store.generation()
    await store.delete_account(bare.id)
    assert await store.generation() > before
    owner = await make_user(store)
    await make_alias(store, await make_domain(store, owner))
    before = await store.generation()
    await store.delete_account(owner.id)
    assert await store.generation() > before


async def test_generation_is_stable_without_writes(store: Store) -> None:
    await make_user(store)
    assert await store.generation() == await store.generation()


# ---------------------------------------------------------------- reply key (issue 11)


async def test_rotate_reply_key_counts_up_and_bumps_generation(store: Store) -> None:
    owner = await make_user(store)
    domain = await make_domain(store, owner)
    alias = await store.aliases.create(domain.id, "shop", [], AliasMode.ACTIVE, "", NOW)
    assert alias.reply_key_version == 0
    before = await store.generation()
    rotated = await store.aliases.rotate_reply_key(alias.id)
    assert rotated.reply_key_version == 1
    assert (await store.aliases.get(alias.id)) == rotated
    assert await store.generation() > before
    assert (await store.aliases.rotate_reply_key(alias.id)).reply_key_version == 2


async def test_rotate_reply_key_of_unknown_alias(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.aliases.rotate_reply_key("no-such-alias")


async def test_set_display_name_cleans_and_limits(store: Store) -> None:
    owner = await make_user(store)
    domain = await make_domain(store, owner)
    alias = await store.aliases.create(domain.id, "shop", [], AliasMode.ACTIVE, "", NOW)
    assert alias.display_name == ""
    named = await store.aliases.set_display_name(alias.id, " Shop\x1b[2J Team ")
    assert named.display_name == "Shop[2J Team"
    assert (await store.aliases.get(alias.id)) == named
    with pytest.raises(InvalidValue):
        await store.aliases.set_display_name(alias.id, "x" * 101)
    with pytest.raises(NotFound):
        await store.aliases.set_display_name("no-such-alias", "x")
