"""Contract: users, sessions and API keys behave the same on every backend."""

from __future__ import annotations

import asyncio

import pytest

from forwarder.store.base import AlreadyExists, InvalidValue, NotFound, Store
from tests.forwarder.store.contract_data import NOW, at, make_user

# ---------------------------------------------------------------------------- users


async def test_user_create_normalises_email_and_returns_aware_times(store: Store) -> None:
    user = await store.users.create("Me@Bücher.Example", "hash-1", NOW)
    assert user.email == "me@xn--bcher-kva.example"
    assert user.password_hash == "hash-1"
    assert user.created_at == NOW
    assert user.created_at.tzinfo is not None
    assert user.verified_at is None
    assert user.totp_secret_sealed is None
    assert user.recovery_code_hashes == ()
    assert await store.users.get(user.id) == user


async def test_user_lookup_by_email_ignores_case_and_idna_form(store: Store) -> None:
    user = await store.users.create("Me@Bücher.Example", "hash-1", NOW)
    for variant in ("me@xn--bcher-kva.example", "ME@BÜCHER.EXAMPLE", " me@bücher.example. "):
        found = await store.users.get_by_email(variant)
        assert found is not None and found.id == user.id
    assert await store.users.get_by_email("you@bücher.example") is None
    assert await store.users.get("no-such-id") is None


async def test_user_email_is_unique_case_insensitively(store: Store) -> None:
    await store.users.create("owner@example.org", "h", NOW)
    with pytest.raises(AlreadyExists):
        await store.users.create("OWNER@Example.ORG", "h", NOW)
    assert len(await store.users.list_all()) == 1


async def test_user_list_all(store: Store) -> None:
    a = await make_user(store, "a@example.org")
    b = await make_user(store, "b@example.org")
    assert {u.id for u in await store.users.list_all()} == {a.id, b.id}


async def test_user_set_password_email_verified(store: Store) -> None:
    user = await make_user(store)
    other = await make_user(store, "taken@example.org")
    await store.users.set_password(user.id, "hash-2")
    await store.users.set_email(user.id, "New@Example.ORG")
    await store.users.set_verified(user.id, at(hours=1))
    got = await store.users.get(user.id)
    assert got is not None
    assert (got.password_hash, got.email, got.verified_at) == (
        "hash-2",
        "new@example.org",
        at(hours=1),
    )
    assert await store.users.get_by_email("owner@example.org") is None
    await store.users.set_verified(user.id, None)
    got = await store.users.get(user.id)
    assert got is not None and got.verified_at is None
    with pytest.raises(AlreadyExists):
        await store.users.set_email(user.id, "TAKEN@example.org")
    assert (await store.users.get(other.id)) == other


async def test_user_setters_on_missing_user_raise_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.users.set_password("missing", "h")
    with pytest.raises(NotFound):
        await store.users.set_email("missing", "x@example.org")
    with pytest.raises(NotFound):
        await store.users.set_verified("missing", NOW)
    with pytest.raises(NotFound):
        await store.users.set_totp("missing", b"sealed", [])


async def test_totp_and_recovery_codes_are_single_use(store: Store) -> None:
    user = await make_user(store)
    await store.users.set_totp(user.id, b"\x00sealed-secret", ["code-a", "code-b"])
    got = await store.users.get(user.id)
    assert got is not None
    assert got.totp_secret_sealed == b"\x00sealed-secret"
    assert got.recovery_code_hashes == ("code-a", "code-b")
    assert await store.users.use_recovery_code(user.id, "code-a") is True
    assert await store.users.use_recovery_code(user.id, "code-a") is False
    assert await store.users.use_recovery_code(user.id, "code-x") is False
    got = await store.users.get(user.id)
    assert got is not None and got.recovery_code_hashes == ("code-b",)
    await store.users.set_totp(user.id, None, [])
    got = await store.users.get(user.id)
    assert got is not None and got.totp_secret_sealed is None and got.recovery_code_hashes == ()


async def test_totp_step_is_accepted_once_and_only_forward(store: Store) -> None:
    alice = await make_user(store, "alice@example.org")
    bob = await make_user(store, "bob@example.org")
    assert alice.totp_last_step == 0
    step = 63_000_000  # about 2029-11 in 30 s steps
    assert await store.users.use_totp_step(alice.id, step) is True
    assert await store.users.use_totp_step(alice.id, step) is False  # the replay
    assert await store.users.use_totp_step(alice.id, step - 1) is False  # an older code
    got = await store.users.get(alice.id)
    assert got is not None and got.totp_last_step == step
    assert await store.users.use_totp_step(bob.id, step) is True  # per user
    assert await store.users.use_totp_step(alice.id, step + 1) is True
    got = await store.users.get(alice.id)
    assert got is not None and got.totp_last_step == step + 1
    assert await store.users.use_totp_step("missing", step) is False
    # Setting a new secret does not reset it: steps are time, and time only moves forward.
    await store.users.set_totp(alice.id, b"\x00sealed", [])
    assert await store.users.use_totp_step(alice.id, step + 1) is False
    export = await store.export_account(alice.id)
    assert export["user"]["totp_last_used_at"] == "2029-11-22T00:00:30+00:00"


async def test_concurrent_uses_of_one_totp_step_accept_exactly_one(store: Store) -> None:
    user = await make_user(store)
    results = await asyncio.gather(*(store.users.use_totp_step(user.id, 1000) for _ in range(8)))
    assert sorted(results) == [False] * 7 + [True]


@pytest.mark.parametrize("step", [0, -1, True, 2**62, "5", 5.0, {"$gt": 0}, [5], None])
async def test_totp_step_must_be_a_positive_int(store: Store, step: object) -> None:
    user = await make_user(store)
    with pytest.raises(InvalidValue):
        await store.users.use_totp_step(user.id, step)  # type: ignore[arg-type]
    got = await store.users.get(user.id)
    assert got is not None and got.totp_last_step == 0


async def test_recovery_code_of_one_user_does_not_work_for_another(store: Store) -> None:
    alice = await make_user(store, "alice@example.org")
    bob = await make_user(store, "bob@example.org")
    await store.users.set_totp(alice.id, b"s", ["alice-code"])
    assert await store.users.use_recovery_code(bob.id, "alice-code") is False
    assert await store.users.use_recovery_code(alice.id, "alice-code") is True


# ---------------------------------------------------------------------------- sessions


async def test_session_create_get_delete(store: Store) -> None:
    user = await make_user(store)
    session = await store.sessions.create("hash-s1", user.id, NOW, at(hours=1), at(days=1))
    assert (session.id_hash, session.user_id, session.created_at) == ("hash-s1", user.id, NOW)
    assert await store.sessions.get("hash-s1", at(minutes=30)) == session
    assert await store.sessions.get("hash-other", NOW) is None
    await store.sessions.delete("hash-s1")
    assert await store.sessions.get("hash-s1", NOW) is None
    await store.sessions.delete("hash-s1")  # deleting twice is harmless


async def test_session_idle_expiry_and_touch(store: Store) -> None:
    user = await make_user(store)
    await store.sessions.create("hash-s1", user.id, NOW, at(hours=1), at(days=1))
    assert await store.sessions.get("hash-s1", at(hours=2)) is None
    await store.sessions.touch("hash-s1", at(hours=3))
    touched = await store.sessions.get("hash-s1", at(hours=2))
    assert touched is not None and touched.idle_expires_at == at(hours=3)


async def test_session_absolute_expiry_wins_over_touch(store: Store) -> None:
    user = await make_user(store)
    await store.sessions.create("hash-s1", user.id, NOW, at(hours=1), at(hours=4))
    await store.sessions.touch("hash-s1", at(hours=10))
    assert await store.sessions.get("hash-s1", at(hours=3)) is not None
    assert await store.sessions.get("hash-s1", at(hours=5)) is None


async def test_session_needs_a_user_and_a_unique_hash(store: Store) -> None:
    user = await make_user(store)
    with pytest.raises(NotFound):
        await store.sessions.create("hash-s1", "missing", NOW, at(hours=1), at(days=1))
    await store.sessions.create("hash-s1", user.id, NOW, at(hours=1), at(days=1))
    with pytest.raises(AlreadyExists):
        await store.sessions.create("hash-s1", user.id, NOW, at(hours=1), at(days=1))
    with pytest.raises(NotFound):
        await store.sessions.touch("missing", at(hours=1))


async def test_session_delete_for_user_and_purge(store: Store) -> None:
    alice = await make_user(store, "alice@example.org")
    bob = await make_user(store, "bob@example.org")
    await store.sessions.create("a1", alice.id, NOW, at(hours=1), at(days=1))
    await store.sessions.create("a2", alice.id, NOW, at(hours=1), at(days=1))
    await store.sessions.create("b1", bob.id, NOW, at(hours=1), at(days=1))
    await store.sessions.create("b2", bob.id, NOW, at(hours=5), at(days=1))
    await store.sessions.create("b3", bob.id, NOW, at(days=2), at(hours=2))
    assert await store.sessions.delete_for_user(alice.id) == 2
    assert await store.sessions.get("a1", NOW) is None
    assert await store.sessions.get("b1", NOW) is not None
    # At +3h: b1 is idle-expired, b3 absolute-expired, b2 still valid.
    assert await store.sessions.purge_expired(at(hours=3)) == 2
    assert await store.sessions.get("b2", at(hours=3)) is not None
    assert await store.sessions.delete_for_user(bob.id) == 1


# ---------------------------------------------------------------------------- API keys


async def test_api_key_create_get_list(store: Store) -> None:
    user = await make_user(store)
    key = await store.api_keys.create(user.id, "laptop", "qm_abc123", "key-hash-1", NOW)
    assert (key.user_id, key.name, key.prefix, key.key_hash, key.created_at) == (
        user.id,
        "laptop",
        "qm_abc123",
        "key-hash-1",
        NOW,
    )
    assert await store.api_keys.get_by_prefix("qm_abc123") == key
    assert await store.api_keys.get_by_prefix("qm_other") is None
    second = await store.api_keys.create(user.id, "ci", "qm_def456", "key-hash-2", at(seconds=1))
    assert [k.id for k in await store.api_keys.list_for_user(user.id)] == [key.id, second.id]


async def test_api_key_prefix_is_unique_across_users(store: Store) -> None:
    alice = await make_user(store, "alice@example.org")
    bob = await make_user(store, "bob@example.org")
    await store.api_keys.create(alice.id, "one", "qm_same", "h1", NOW)
    with pytest.raises(AlreadyExists):
        await store.api_keys.create(bob.id, "two", "qm_same", "h2", NOW)
    assert await store.api_keys.list_for_user(bob.id) == []


async def test_api_key_needs_a_user(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.api_keys.create("missing", "one", "qm_x", "h", NOW)


async def test_api_key_delete_never_touches_another_users_key(store: Store) -> None:
    alice = await make_user(store, "alice@example.org")
    bob = await make_user(store, "bob@example.org")
    alices = await store.api_keys.create(alice.id, "one", "qm_alice", "h1", NOW)
    assert await store.api_keys.delete(bob.id, alices.id) is False
    assert await store.api_keys.get_by_prefix("qm_alice") == alices
    assert await store.api_keys.delete(alice.id, alices.id) is True
    assert await store.api_keys.delete(alice.id, alices.id) is False
    assert await store.api_keys.get_by_prefix("qm_alice") is None


async def test_preferences_default_to_own_address_and_reject_and_are_checked(
    store: Store,
) -> None:
    """Issue 13: the default target of one-click aliases and what "off" means."""
    user = await store.users.create("ann@example.org", "h", NOW)
    assert (user.default_target, user.off_mode) == ("", "reject")
    await store.users.set_preferences(user.id, "Other@Example.NET", "drop")
    got = await store.users.get(user.id)
    assert got is not None and (got.default_target, got.off_mode) == ("other@example.net", "drop")
    for target, mode in (("not an address", "reject"), ("", "bounce"), ({"$ne": None}, "drop")):
        with pytest.raises(InvalidValue):
            await store.users.set_preferences(user.id, target, mode)  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        await store.users.set_preferences("no-such-id", "", "reject")
