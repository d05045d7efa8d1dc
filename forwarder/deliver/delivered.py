"""The delivered-target record: which targets already accepted a message the sender will retry.

When a forward ends in ``451`` because one target failed temporarily, the targets that did
accept are written to the store (:class:`forwarder.store.base.Delivered`) as keyed hashes of
(message fingerprint, target) with an expiry of ``settings.delivered_memory_days``, nothing
else (DESIGN promise 3). Every worker and node on the database reads them, so the sender's
retry reaches only the targets still missing wherever it lands, after a crash too.

The normal path costs no store round trip. Each relay keeps the keys in memory (a negative
filter: a key not held here was not recorded) and refreshes them with ``Delivered.since``
every ``POLL_INTERVAL`` seconds in the background, however many messages arrive. The filter
is trusted only while its last refresh *started* less than ``FRESH_FOR`` seconds ago, and a
writer waits ``FRESH_FOR`` seconds after recording before its ``451`` goes out. A retry
comes after that ``451``, so any relay that answers it from memory refreshed after the
record was written; one whose refreshes lag (a stalled loop, a store outage) asks the store.
A key found in memory is always confirmed by the store (it may have expired there).

The keys are derived from ``secret_key``, so every process of a fleet computes the same ones;
without a secret the key is random per process and the record helps only that process.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from forwarder.crypto import derive_key, keyed_hash
from forwarder.expiring import ExpiringDict
from forwarder.settings import Settings
from forwarder.store.base import Delivered, StoreError

log = logging.getLogger(__name__)

POLL_INTERVAL = 0.25  # seconds between refreshes of the in-memory keys
FRESH_FOR = 1.0  # seconds a refresh is trusted; a writer waits as long before its 451
MAX_HELD = 1_000_000  # keys held in memory; past it every look-up asks the store


def fingerprint(mail_from: str, message: bytes) -> bytes:
    """What identifies one message across the sender's retries: envelope sender and bytes."""
    digest = hashlib.sha256()
    digest.update(mail_from.encode("utf-8", "surrogateescape") + b"\x00")
    digest.update(message)
    return digest.digest()


def record_key(settings: Settings) -> bytes:
    """Derived from the secret key, the same in every process and node that shares it."""
    if settings.secret_key:
        return derive_key(settings.secret_key, b"delivered-memory-v1")
    return os.urandom(32)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class DeliveredRecord:
    def __init__(
        self,
        records: Delivered,
        key: bytes,
        ttl_seconds: float,
        *,
        poll_interval: float = POLL_INTERVAL,
        fresh_for: float = FRESH_FOR,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._records = records
        self._key = key
        self._ttl = ttl_seconds
        self.poll_interval = poll_interval
        self.fresh_for = fresh_for
        self._clock = clock
        self._wall = wall
        # Held a little longer than the store keeps them (learned after written): never less.
        self._held: ExpiringDict[str, bool] = ExpiringDict(
            ttl_seconds, max_entries=MAX_HELD + 1, clock=clock
        )
        self._stamp = 0
        self._refreshed_at = float("-inf")  # when the last successful refresh started
        self._task: asyncio.Task[None] | None = None
        self.store_reads = 0  # look-ups that asked the store (tests and benchmarks count them)

    @classmethod
    def for_settings(cls, settings: Settings, records: Delivered) -> DeliveredRecord:
        return cls(records, record_key(settings), settings.delivered_memory_days * 86400.0)

    def keys(self, fp: bytes, targets: Sequence[str]) -> dict[str, str]:
        """target -> its keyed hash for this message."""
        return {
            t: keyed_hash(self._key, fp, t.lower().encode("utf-8", "surrogateescape"))
            for t in targets
        }

    async def start(self) -> None:
        """Load the keys once (errors are logged: look-ups then ask the store), then refresh
        them in the background until :meth:`stop`."""
        await self.refresh()
        self._task = asyncio.create_task(self._poll())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def refresh(self) -> bool:
        started = self._clock()
        try:
            stamp, keys = await self._records.since(self._stamp, self._wall())
        except StoreError:
            return False
        for key in keys:
            self._held.put(key, True)
        self._stamp = stamp
        self._refreshed_at = max(self._refreshed_at, started)
        return True

    async def _poll(self) -> None:
        failures = 0
        while True:
            await asyncio.sleep(self.poll_interval)
            if not await self.refresh():
                failures += 1
                if failures in (1, 10) or failures % 1000 == 0:
                    log.warning("delivered-target refresh failed (%d times so far)", failures)

    def _trusted(self) -> bool:
        return self._clock() - self._refreshed_at < self.fresh_for and len(self._held) <= MAX_HELD

    async def pending(self, fp: bytes, targets: Sequence[str]) -> list[str]:
        """The targets that have not accepted this message yet. Raises StoreError."""
        keys = self.keys(fp, targets)
        if self._trusted() and not any(self._held.get(k, False) for k in keys.values()):
            return list(targets)
        self.store_reads += 1
        seen = await self._records.seen(list(keys.values()), self._wall())
        return [t for t, k in keys.items() if k not in seen]

    async def remember(self, fp: bytes, targets: Sequence[str]) -> None:
        """Record the targets that accepted a message about to be answered 451, then wait
        until every relay's memory has caught up (see the module docstring). A store error is
        logged and swallowed: the 451 still goes out, and a retry may then duplicate."""
        if not targets:
            return
        keys = list(self.keys(fp, targets).values())
        try:
            await self._records.remember(keys, self._wall() + timedelta(seconds=self._ttl))
        except StoreError:
            log.warning("could not record %d delivered targets", len(keys))
            return
        for key in keys:
            self._held.put(key, True)
        await asyncio.sleep(self.fresh_for)
