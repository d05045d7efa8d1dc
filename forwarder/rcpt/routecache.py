"""The in-memory cache in front of the store on the RCPT path (DESIGN, "Storage").

Entries live ``settings.alias_cache_ttl`` seconds. Staleness from writes made anywhere,
including another process on the same database (``quietmail alias remove`` while the relay
runs), is caught by :meth:`RoutingCache.check_generation`, which the handler calls once at the
first RCPT of each transaction: when ``store.generation()`` moved, everything is dropped.
The generation is read at most once every ``settings.routing_check_interval`` seconds (0.2 by
default), one read shared by every transaction that asks meanwhile, instead of a store round
trip per transaction (issue 14: a thread hop and a wake-up each, ~8% of the relay's CPU under
load). The bound: a change is seen by the first transaction that starts more than that
interval after it was written; with 0 every transaction reads it, as before.

The cache holds routing data only (domains, aliases, verified targets), in memory, for
seconds: expired entries are dropped at the next look-up of any key (:mod:`forwarder.expiring`),
so a name a client probed is gone after the TTL even if nobody asks for it again. It is
bounded so a client probing random names cannot grow it without limit.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from forwarder.expiring import ExpiringDict
from forwarder.store.base import Alias, Domain, Recipient, Store

T = TypeVar("T")

DEFAULT_MAX_ENTRIES = 50_000
_MISSING = object()


class RoutingCache:
    def __init__(
        self,
        store: Store,
        ttl_seconds: float,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
        check_interval: float = 0.0,
    ) -> None:
        self._store = store
        self._clock = clock
        self._check_interval = check_interval
        self._checked_at: float | None = None
        self._reading: asyncio.Future[None] | None = None
        self._entries: ExpiringDict[tuple[str, ...], object] = ExpiringDict(
            ttl_seconds, max_entries=max_entries, clock=clock
        )
        self._generation: int | None = None

    def __len__(self) -> int:
        return len(self._entries)

    async def check_generation(self) -> None:
        """Drop everything if the store changed since the last check (raises StoreError).
        Within ``check_interval`` of the last read, nothing is read; while a read is under
        way, callers wait for that one instead of starting their own."""
        if self._reading is None:
            checked_at = self._checked_at
            if checked_at is not None and self._clock() - checked_at < self._check_interval:
                return
            self._reading = asyncio.get_running_loop().create_future()
            try:
                started = self._clock()
                generation = await self._store.generation()
                if generation != self._generation:
                    self._entries.clear()
                    self._generation = generation
                self._checked_at = started
                self._reading.set_result(None)
            except BaseException as error:
                self._reading.set_exception(error)
                self._reading.exception()  # retrieved: no "never retrieved" warning
                raise
            finally:
                self._reading = None
        else:
            await asyncio.shield(self._reading)

    async def domain(self, name: str) -> Domain | None:
        return await self._cached(("domain", name), lambda: self._store.domains.get_by_name(name))

    async def alias(self, domain_id: str, local_part: str) -> Alias | None:
        return await self._cached(
            ("alias", domain_id, local_part),
            lambda: self._store.aliases.get_by_local_part(domain_id, local_part),
        )

    async def recipient(self, owner_id: str, address: str) -> Recipient | None:
        return await self._cached(
            ("recipient", owner_id, address),
            lambda: self._store.recipients.get(owner_id, address),
        )

    async def recipients(self, owner_id: str) -> tuple[Recipient, ...]:
        """Every target of the owner (postmaster@ their domains goes to the first confirmed)."""
        found = await self._cached(
            ("recipients", owner_id),
            lambda: self._load_recipients(owner_id),
        )
        return found or ()

    async def _load_recipients(self, owner_id: str) -> tuple[Recipient, ...]:
        return tuple(await self._store.recipients.list_for_owner(owner_id))

    async def _cached(
        self, key: tuple[str, ...], load: Callable[[], Awaitable[T | None]]
    ) -> T | None:
        found = self._entries.get(key, _MISSING)
        if found is not _MISSING:
            return found  # type: ignore[return-value]
        value = await load()
        self._entries.put(key, value)
        return value
