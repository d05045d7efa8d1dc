"""Contract: the delivered-target records (DESIGN promise 3) on every backend: keyed hashes
only, shared through the store, expiring, swept, and ``since`` hands out what changed."""

from __future__ import annotations

import pytest

from forwarder.store.base import InvalidValue, Store
from tests.forwarder.store.contract_data import NOW, at

A, B, C = "a" * 64, "b" * 64, "0123456789abcdef" * 4


async def test_remember_then_seen_until_expiry(store: Store) -> None:
    assert await store.delivered.seen([A, B], NOW) == set()
    await store.delivered.remember([A, B], at(days=5))
    assert await store.delivered.seen([A, B, C], NOW) == {A, B}
    assert await store.delivered.seen([A], at(days=4, hours=23)) == {A}
    assert await store.delivered.seen([A, B], at(days=5)) == set()
    assert await store.delivered.seen([], NOW) == set()


async def test_remembering_again_keeps_the_later_expiry(store: Store) -> None:
    await store.delivered.remember([A], at(days=5))
    await store.delivered.remember([A], at(days=1))
    assert await store.delivered.seen([A], at(days=3)) == {A}
    await store.delivered.remember([A], at(days=9))
    assert await store.delivered.seen([A], at(days=8)) == {A}


async def test_since_returns_what_was_remembered_after_a_stamp(store: Store) -> None:
    stamp, keys = await store.delivered.since(0, NOW)
    assert keys == []
    assert await store.delivered.since(stamp, NOW) == (stamp, [])
    await store.delivered.remember([A, B], at(days=5))
    second, keys = await store.delivered.since(stamp, NOW)
    assert second != stamp and set(keys) == {A, B}
    assert await store.delivered.since(second, NOW) == (second, [])
    await store.delivered.remember([C], at(days=5))
    third, keys = await store.delivered.since(second, NOW)
    assert third != second and C in keys  # more may come back; never less
    everything = await store.delivered.since(0, NOW)
    assert set(everything[1]) == {A, B, C}
    assert set((await store.delivered.since(0, at(days=6)))[1]) == set()  # expired: not returned


async def test_purge_removes_only_expired(store: Store) -> None:
    await store.delivered.remember([A], at(days=1))
    await store.delivered.remember([B], at(days=5))
    assert await store.delivered.purge_expired(at(days=2)) == 1
    assert await store.delivered.purge_expired(at(days=2)) == 0
    assert await store.delivered.seen([A, B], NOW) == {B}


@pytest.mark.parametrize(
    "bad",
    [
        ["someone@example.net"],  # an address is not a keyed hash: refused, never stored
        ["A" * 64],
        ["a" * 63],
        [{"$ne": None}],
        "a" * 64,
        ["a" * 64] * 1001,
    ],
)
async def test_only_keyed_hashes_are_accepted(store: Store, bad: object) -> None:
    with pytest.raises(InvalidValue):
        await store.delivered.remember(bad, at(days=1))  # type: ignore[arg-type]
    with pytest.raises(InvalidValue):
        await store.delivered.seen(bad, NOW)  # type: ignore[arg-type]
    assert (await store.delivered.since(0, NOW))[1] == []


async def test_a_stamp_must_be_a_whole_number(store: Store) -> None:
    with pytest.raises(InvalidValue):
        await store.delivered.since(-1, NOW)
    with pytest.raises(InvalidValue):
        await store.delivered.since("1", NOW)  # type: ignore[arg-type]
