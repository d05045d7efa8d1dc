"""The in-memory cache in front of the store on the RCPT path (DESIGN, "Storage").

Entries live ``settings.alias_cache_ttl`` seconds. Staleness from writes made anywhere,
including another process on the same database (``quietmail alias remove`` while the relay
runs), is caught by :meth:`RoutingCache.check_generation`, which the handler calls once at the
first RCPT of each transaction: when ``store.generation()`` moved, everything is dropped, so
the very next RCPT sees the change. :meth:`invalidate` drops everything on demand.

The cache holds routing data only (domains, aliases, verified targets), in memory, for
seconds; it is bounded so a client probing random names cannot grow it without limit.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

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
    ) -> None:
        self._store = store
        self._ttl = ttl_seconds
        self._max = max_entries
        self._clock = clock
        self._entries: dict[tuple[str, ...], tuple[float, object]] = {}
        self._generation: int | None = None
        self.hits = 0
        self.misses = 0

    def invalidate(self) -> None:
        self._entries.clear()

    async def check_generation(self) -> None:
        """Drop everything if the store changed since the last check (raises StoreError)."""
        generation = await self._store.generation()
        if generation != self._generation:
            self._entries.clear()
            self._generation = generation

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

    async def _cached(
        self, key: tuple[str, ...], load: Callable[[], Awaitable[T | None]]
    ) -> T | None:
        now = self._clock()
        found = self._entries.get(key)
        if found is not None and found[0] > now:
            self.hits += 1
            return found[1]  # type: ignore[return-value]
        self.misses += 1
        value = await load()
        self._entries.pop(key, None)
        self._entries[key] = (now + self._ttl, value)
        while len(self._entries) > self._max:
            del self._entries[next(iter(self._entries))]
        return value
