"""A bounded in-memory map whose entries expire a fixed time after they were written.

Used by the routing cache (seconds) and the delivered-targets memory (days). With one TTL for
every entry, insertion order is expiry order, so expired entries are dropped from the front on
every write and every read, whether or not their own key is ever asked for again: nothing
outlives its TTL by more than the time to the next use of the map. Past ``max_entries`` the
oldest go first.

An ``OrderedDict`` because it pops from the front in O(1); a plain dict leaves deleted slots at
the front that ``next(iter(d))`` then scans over (measured: ~48 µs per insert-and-evict at
50,000 entries, against ~1 µs).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class ExpiringDict(Generic[K, V]):
    def __init__(
        self,
        ttl_seconds: float,
        *,
        max_entries: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()  # key -> (expires, value)

    def get(self, key: K, default: V) -> V:
        """The live value for ``key``, else ``default``."""
        now = self._clock()
        self._expire(now)
        found = self._entries.get(key)
        return found[1] if found is not None else default

    def put(self, key: K, value: V) -> None:
        now = self._clock()
        self._expire(now)
        self._entries.pop(key, None)  # re-inserted at the end: order stays expiry order
        self._entries[key] = (now + self._ttl, value)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        """Entries held, expired ones included until the next read or write drops them."""
        return len(self._entries)

    def __iter__(self) -> Iterator[K]:
        return iter(self._entries)

    def _expire(self, now: float) -> None:
        entries = self._entries
        while entries:
            expires, _ = next(iter(entries.values()))
            if expires > now:
                return
            entries.popitem(last=False)
