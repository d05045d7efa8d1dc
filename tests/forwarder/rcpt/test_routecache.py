"""The routing cache in front of the store: what it keeps, and for how long (DESIGN, Storage)."""

from __future__ import annotations

import asyncio

from forwarder.rcpt.routecache import RoutingCache
from forwarder.store.base import Store
from tests.forwarder.conftest import setup_owner


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_probed_names_are_gone_after_the_ttl_without_being_read_again(
    sqlite_store: Store,
) -> None:
    """A client probing local parts and foreign domains leaves keys in the cache; they must
    not outlive the TTL (the docstring promises seconds) just because nobody asks again."""
    _, domain_id = await setup_owner(sqlite_store)
    clock = Clock()
    cache = RoutingCache(sqlite_store, 10.0, clock=clock)
    for name in ("probe1", "probe2", "probe3"):
        assert await cache.alias(domain_id, name) is None
    assert await cache.domain("foreign.test") is None
    assert len(cache) == 4
    clock.now = 10.5
    assert await cache.domain("aliases.test") is not None  # any later look-up
    assert len(cache) == 1


async def test_entries_live_until_the_ttl(sqlite_store: Store) -> None:
    clock = Clock()
    cache = RoutingCache(sqlite_store, 10.0, clock=clock)
    assert await cache.domain("aliases.test") is None
    await setup_owner(sqlite_store)  # written behind the cache's back (no generation check)
    clock.now = 9.0
    assert await cache.domain("aliases.test") is None  # still the cached answer
    clock.now = 10.5
    assert await cache.domain("aliases.test") is not None


async def test_bounded(sqlite_store: Store) -> None:
    cache = RoutingCache(sqlite_store, 10.0, max_entries=3)
    for i in range(10):
        await cache.domain(f"probe{i}.test")
    assert len(cache) == 3


class CountingStore:
    """The generation() of a real store, counted; the read waits for ``gate`` when set."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.reads = 0
        self.gate: asyncio.Event | None = None

    async def generation(self) -> int:
        self.reads += 1
        if self.gate is not None:
            await self.gate.wait()
        return await self.store.generation()


async def test_generation_read_at_most_once_per_interval(sqlite_store: Store) -> None:
    clock = Clock()
    counting = CountingStore(sqlite_store)
    cache = RoutingCache(counting, 10.0, clock=clock, check_interval=0.2)  # type: ignore[arg-type]
    for _ in range(5):
        await cache.check_generation()
    assert counting.reads == 1
    clock.now = 0.25
    await cache.check_generation()
    assert counting.reads == 2


async def test_a_change_is_seen_after_the_interval(sqlite_store: Store) -> None:
    clock = Clock()
    cache = RoutingCache(sqlite_store, 10.0, clock=clock, check_interval=0.2)
    await cache.check_generation()
    assert await cache.domain("aliases.test") is None
    await setup_owner(sqlite_store)  # bumps the generation
    clock.now = 0.1
    await cache.check_generation()
    assert await cache.domain("aliases.test") is None  # within the bound: the cached answer
    clock.now = 0.3
    await cache.check_generation()
    assert await cache.domain("aliases.test") is not None


async def test_concurrent_checks_share_one_read(sqlite_store: Store) -> None:
    """A transaction arriving while the read is under way waits for it: it never goes on with
    a cache older than the interval just because someone else is reading."""
    counting = CountingStore(sqlite_store)
    cache = RoutingCache(counting, 10.0, check_interval=0.2)  # type: ignore[arg-type]
    counting.gate = asyncio.Event()
    first = asyncio.create_task(cache.check_generation())
    second = asyncio.create_task(cache.check_generation())
    await asyncio.sleep(0.01)
    assert not second.done()
    counting.gate.set()
    await asyncio.gather(first, second)
    assert counting.reads == 1
