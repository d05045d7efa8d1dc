"""Contract: domains on every backend. Several accounts may each claim a name unverified; at
most one domain per name is verified, and verifying removes the other claims (issue 5)."""

from __future__ import annotations

import asyncio

import pytest

from forwarder.store.base import AlreadyExists, InvalidValue, NotFound, SpamPolicy, Store
from tests.store.contract_data import NOW, at, error_entry, make_alias, make_domain, make_user


async def test_domain_name_is_idna_lower_case_and_unique_per_owner(store: Store) -> None:
    owner = await make_user(store)
    domain = await make_domain(store, owner, "Bücher.Example")
    assert domain.name == "xn--bcher-kva.example"
    assert (domain.owner_id, domain.verification_token, domain.created_at) == (
        owner.id,
        "verify-token-0123",
        NOW,
    )
    assert not domain.verified
    variants = ("xn--bcher-kva.example", "BÜCHER.EXAMPLE.", "XN--BCHER-KVA.Example")
    for variant in variants:
        with pytest.raises(AlreadyExists):
            await make_domain(store, owner, variant)
        assert await store.domains.get_by_name(variant) is None  # a claim is not served
        assert await store.domains.list_by_name(variant) == [domain]
    await store.domains.set_verified(domain.id, at(minutes=1))
    for variant in variants:
        found = await store.domains.get_by_name(variant)
        assert found is not None and found.id == domain.id and found.verified
    assert await store.domains.get(domain.id) == found


async def test_several_accounts_may_claim_an_unverified_name(store: Store) -> None:
    alice = await make_user(store, "alice@example.org")
    bob = await make_user(store, "bob@example.org")
    first = await store.domains.create("example.net", alice.id, "token-a", NOW)
    second = await store.domains.create("EXAMPLE.net", bob.id, "token-b", at(minutes=1))
    assert first.id != second.id and second.name == "example.net"
    assert await store.domains.list_for_owner(alice.id) == [first]
    assert await store.domains.list_for_owner(bob.id) == [second]
    assert await store.domains.list_by_name("example.net") == [first, second]  # oldest first
    assert await store.domains.get_by_name("example.net") is None
    assert {d.id for d in await store.domains.list_all()} == {first.id, second.id}
    with pytest.raises(AlreadyExists):
        await store.domains.create("example.net", bob.id, "again", NOW)


async def test_a_verified_name_cannot_be_claimed(store: Store) -> None:
    alice = await make_user(store, "alice@example.org")
    bob = await make_user(store, "bob@example.org")
    verified = await make_domain(store, alice, "example.net")
    await store.domains.set_verified(verified.id, NOW)
    for owner in (bob, alice):
        with pytest.raises(AlreadyExists):
            await make_domain(store, owner, "Example.NET")
    assert await store.domains.list_for_owner(bob.id) == []
    assert [d.id for d in await store.domains.list_by_name("example.net")] == [verified.id]


async def test_verifying_removes_the_other_claims_with_their_aliases_and_errors(
    store: Store,
) -> None:
    alice = await make_user(store, "alice@example.org")
    bob = await make_user(store, "bob@example.org")
    carol = await make_user(store, "carol@example.org")
    squat_a = await make_domain(store, alice, "example.net")
    squat_b = await make_domain(store, bob, "example.net")
    other = await make_domain(store, bob, "other.example")
    owner = await make_domain(store, carol, "example.net")
    squat_alias = await make_alias(store, squat_b, "hello")
    other_alias = await make_alias(store, other, "hello")
    owner_alias = await make_alias(store, owner, "hello")
    await store.errors.add(error_entry(squat_b))
    await store.errors.add(error_entry(other))
    before = await store.generation()

    await store.domains.set_verified(owner.id, at(minutes=5))

    assert await store.generation() > before
    verified = await store.domains.get_by_name("example.net")
    assert verified is not None and verified.id == owner.id
    assert verified.verified_at == at(minutes=5)
    assert await store.domains.list_by_name("example.net") == [verified]
    for gone in (squat_a, squat_b):
        assert await store.domains.get(gone.id) is None
    assert await store.aliases.get(squat_alias.id) is None
    assert await store.errors.list_for_domain(squat_b.id, NOW) == []
    # The claimants' other domains and the owner's alias are untouched.
    assert await store.domains.list_for_owner(bob.id) == [other]
    assert await store.aliases.get(other_alias.id) == other_alias
    assert len(await store.errors.list_for_domain(other.id, NOW)) == 1
    assert await store.aliases.get(owner_alias.id) == owner_alias
    assert await store.users.get(alice.id) is not None


async def test_of_two_verifications_racing_exactly_one_wins(store: Store) -> None:
    alice = await make_user(store, "alice@example.org")
    bob = await make_user(store, "bob@example.org")
    claims = [await make_domain(store, alice), await make_domain(store, bob)]
    results = await asyncio.gather(
        *(store.domains.set_verified(c.id, NOW) for c in claims), return_exceptions=True
    )
    winners = [c for c, r in zip(claims, results, strict=True) if r is None]
    losers = [r for r in results if r is not None]
    assert len(winners) == 1, results
    assert all(isinstance(r, AlreadyExists | NotFound) for r in losers), losers
    listed = await store.domains.list_by_name("example.net")
    assert [d.id for d in listed] == [winners[0].id] and listed[0].verified


async def test_unverify_frees_the_name_for_claims(store: Store) -> None:
    alice = await make_user(store, "alice@example.org")
    bob = await make_user(store, "bob@example.org")
    domain = await make_domain(store, alice)
    await store.domains.set_verified(domain.id, NOW)
    await store.domains.set_verified(domain.id, None)
    assert await store.domains.get_by_name("example.net") is None
    claim = await make_domain(store, bob)
    listed = await store.domains.list_by_name("example.net")
    assert {d.id for d in listed} == {domain.id, claim.id}
    assert not any(d.verified for d in listed)


async def test_domain_needs_an_owner(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.domains.create("example.net", "missing", "t", NOW)
    assert await store.domains.get_by_name("example.net") is None
    assert await store.domains.list_by_name("example.net") == []


async def test_domain_lists(store: Store) -> None:
    alice = await make_user(store, "alice@example.org")
    bob = await make_user(store, "bob@example.org")
    a1 = await make_domain(store, alice, "a1.example")
    a2 = await make_domain(store, alice, "a2.example")
    b1 = await make_domain(store, bob, "b1.example")
    assert {d.id for d in await store.domains.list_for_owner(alice.id)} == {a1.id, a2.id}
    assert {d.id for d in await store.domains.list_all()} == {a1.id, a2.id, b1.id}
    assert await store.domains.get("missing") is None


async def test_domain_verify_and_dkim(store: Store) -> None:
    owner = await make_user(store)
    domain = await make_domain(store, owner)
    await store.domains.set_verified(domain.id, at(minutes=5))
    await store.domains.set_dkim(domain.id, "qm2030", b"\x01sealed-key")
    got = await store.domains.get(domain.id)
    assert got is not None and got.verified and got.verified_at == at(minutes=5)
    assert (got.dkim_selector, got.dkim_key_sealed) == ("qm2030", b"\x01sealed-key")
    await store.domains.set_verified(domain.id, None)
    await store.domains.set_dkim(domain.id, None, None)
    got = await store.domains.get(domain.id)
    assert got is not None and not got.verified
    assert (got.dkim_selector, got.dkim_key_sealed) == (None, None)
    with pytest.raises(NotFound):
        await store.domains.set_verified("missing", NOW)
    with pytest.raises(NotFound):
        await store.domains.set_dkim("missing", "s", b"k")


async def test_domain_delete_takes_aliases_and_error_log(store: Store) -> None:
    owner = await make_user(store)
    doomed = await make_domain(store, owner, "doomed.example")
    kept = await make_domain(store, owner, "kept.example")
    gone_alias = await make_alias(store, doomed, "hello")
    kept_alias = await make_alias(store, kept, "hello")
    await store.errors.add(error_entry(doomed))
    await store.errors.add(error_entry(kept))
    assert await store.domains.delete(doomed.id) is True
    assert await store.domains.delete(doomed.id) is False
    assert await store.domains.get(doomed.id) is None
    assert await store.aliases.get(gone_alias.id) is None
    assert await store.aliases.list_for_domain(doomed.id) == []
    assert await store.errors.list_for_domain(doomed.id, NOW) == []
    assert await store.aliases.get(kept_alias.id) == kept_alias
    assert len(await store.errors.list_for_domain(kept.id, NOW)) == 1


async def test_spam_policy_defaults_on_and_is_set_per_domain(store: Store) -> None:
    owner = await make_user(store)
    domain = await make_domain(store, owner, "spam.example")
    assert domain.spam == SpamPolicy(enabled=True, reject_score=None, catch_all_reject_score=None)
    before = await store.generation()
    chosen = SpamPolicy(enabled=False, reject_score=9.5, catch_all_reject_score=6)
    await store.domains.set_spam_policy(domain.id, chosen)
    found = await store.domains.get(domain.id)
    assert found is not None and found.spam == SpamPolicy(False, 9.5, 6.0)
    assert await store.generation() != before  # the relay's routing cache must notice
    assert found.spam.for_alias(catch_all=True) == SpamPolicy(False, 6.0)
    assert found.spam.for_alias(catch_all=False) == SpamPolicy(False, 9.5)
    with pytest.raises(NotFound):
        await store.domains.set_spam_policy("no-such-domain", chosen)


@pytest.mark.parametrize(
    "bad",
    [
        SpamPolicy(True, -1.0),
        SpamPolicy(True, float("nan")),
        SpamPolicy(True, 1e9),
        SpamPolicy(True, None, float("inf")),
        SpamPolicy(True, "9"),  # type: ignore[arg-type]
        SpamPolicy(True, True),  # type: ignore[arg-type]
        SpamPolicy({"$ne": None}),  # type: ignore[arg-type]
        {"enabled": False},
    ],
)
async def test_spam_policy_refuses_what_is_not_a_score(store: Store, bad: object) -> None:
    owner = await make_user(store)
    domain = await make_domain(store, owner, "spam.example")
    with pytest.raises(InvalidValue):
        await store.domains.set_spam_policy(domain.id, bad)  # type: ignore[arg-type]
    found = await store.domains.get(domain.id)
    assert found is not None and found.spam == SpamPolicy()
