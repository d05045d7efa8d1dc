"""The delivered-target record: keyed hashes in the store, shared by every relay on it, read
from memory on the normal path, from the store whenever the memory might be stale."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from forwarder.deliver.delivered import DeliveredRecord, fingerprint
from forwarder.store.base import Delivered, Store, StoreUnavailable


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Counting:
    """The store's records, counting the look-ups that reach them; ``down`` fails them."""

    def __init__(self, inner: Delivered) -> None:
        self.inner = inner
        self.seen_calls = 0
        self.down = False

    async def remember(self, keys: Sequence[str], expires_at: datetime) -> None:
        self._check()
        await self.inner.remember(keys, expires_at)

    async def seen(self, keys: Sequence[str], now: datetime) -> set[str]:
        self._check()
        self.seen_calls += 1
        return await self.inner.seen(keys, now)

    async def since(self, stamp: int, now: datetime) -> tuple[int, list[str]]:
        self._check()
        return await self.inner.since(stamp, now)

    async def purge_expired(self, now: datetime) -> int:
        return await self.inner.purge_expired(now)

    def _check(self) -> None:
        if self.down:
            raise StoreUnavailable("down")


def _record(records: Delivered, clock: Clock, key: bytes = b"k" * 32) -> DeliveredRecord:
    return DeliveredRecord(records, key, 86400.0, fresh_for=1.0, clock=clock)


FP = fingerprint("s@origin.test", b"message")
TARGETS = ["ok@example.net", "Busy@Example.net"]


async def test_normal_path_reads_memory_only(sqlite_store: Store) -> None:
    clock = Clock()
    records = Counting(sqlite_store.delivered)
    record = _record(records, clock)
    await record.refresh()
    for _ in range(100):
        assert await record.pending(FP, TARGETS) == TARGETS
    assert records.seen_calls == 0


async def test_another_relay_learns_the_record_and_skips_the_accepted_target(
    sqlite_store: Store,
) -> None:
    clock = Clock()
    writer = _record(sqlite_store.delivered, clock)
    writer.fresh_for = 0.0  # no wait in this test; the reader below refreshes explicitly
    records = Counting(sqlite_store.delivered)
    reader = _record(records, clock)
    await reader.refresh()
    await writer.remember(FP, ["ok@example.net"])
    await reader.refresh()
    assert await reader.pending(FP, TARGETS) == ["Busy@Example.net"]
    assert records.seen_calls == 1  # a key held in memory is confirmed by the store
    other = fingerprint("s@origin.test", b"another message")
    assert await reader.pending(other, TARGETS) == TARGETS
    assert records.seen_calls == 1
    # Only keyed hashes reached the store: no address, in any case.
    stamp, keys = await sqlite_store.delivered.since(0, datetime.now().astimezone())
    assert stamp > 0 and len(keys) == 1 and "example" not in keys[0]


async def test_stale_memory_asks_the_store(sqlite_store: Store) -> None:
    """A relay whose refreshes lag must not answer from memory: the record may be newer."""
    clock = Clock()
    writer = _record(sqlite_store.delivered, clock)
    writer.fresh_for = 0.0
    records = Counting(sqlite_store.delivered)
    reader = _record(records, clock)
    await reader.refresh()
    await writer.remember(FP, ["ok@example.net"])  # the reader has not refreshed since
    clock.now += 1.5  # past fresh_for
    assert await reader.pending(FP, TARGETS) == ["Busy@Example.net"]
    assert records.seen_calls == 1
    records.down = True  # and when the store cannot answer, neither can the relay
    try:
        await reader.pending(FP, TARGETS)
    except StoreUnavailable:
        pass
    else:
        raise AssertionError("a stale memory answered without the store")


async def test_writer_waits_out_the_freshness_window(sqlite_store: Store) -> None:
    record = DeliveredRecord(sqlite_store.delivered, b"k" * 32, 86400.0, fresh_for=0.3)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await record.remember(FP, ["ok@example.net"])
    assert loop.time() - started >= 0.3
    started = loop.time()
    await record.remember(FP, [])  # nothing accepted: nothing written, no wait
    assert loop.time() - started < 0.1


async def test_a_store_outage_while_remembering_does_not_raise(sqlite_store: Store) -> None:
    records = Counting(sqlite_store.delivered)
    records.down = True
    record = DeliveredRecord(records, b"k" * 32, 86400.0, fresh_for=0.0)
    await record.remember(FP, ["ok@example.net"])  # logged; the 451 still goes out


async def test_another_key_does_not_recognise_records(sqlite_store: Store) -> None:
    clock = Clock()
    first = _record(sqlite_store.delivered, clock, b"a" * 32)
    first.fresh_for = 0.0
    await first.remember(FP, ["ok@example.net"])
    second = _record(sqlite_store.delivered, clock, b"b" * 32)
    await second.refresh()
    assert await second.pending(FP, TARGETS) == TARGETS


async def test_background_refresh_keeps_memory_fresh(sqlite_store: Store) -> None:
    records = Counting(sqlite_store.delivered)
    record = DeliveredRecord(records, b"k" * 32, 86400.0, poll_interval=0.02, fresh_for=0.2)
    await record.start()
    try:
        await asyncio.sleep(0.5)  # several refreshes later, still trusted
        assert await record.pending(FP, TARGETS) == TARGETS
        assert records.seen_calls == 0
    finally:
        await record.stop()
