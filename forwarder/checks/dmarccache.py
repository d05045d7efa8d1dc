"""What a domain's DMARC look-up found, kept for the DNS answer's time to live (issue 14).

Every message's DMARC look-up went through dnspython's resolver, even when the answer sat in
its cache: a name parsed from text, a resolution object, the cache's lock (~18 µs a message,
~5% of the event loop's samples in a profile of tests/bench/bench_stacks.py). This keeps the
outcome for a domain, its record or none, until its answer expires, and is the only cache
for these names: the DMARC resolver has none of its own (checks/policy.py), so every answer
it gets is fresh and its TTL counts from the moment it came. A record stays for its TTL, no
record (no data or NXDOMAIN) for the SOA minimum (RFC 2308 section 5; 300 s when the answer
has no SOA, as dnspython's cache does it, forwarder/resolver.py). A failure (timeout,
SERVFAIL) is never kept: the sender's retry asks again.

Privacy: as the DNS cache, domain names and the policy they publish, in memory for their TTL
(public data about domains, not a record of who wrote to whom). Bounded: past
``max_entries`` the entry written first goes first.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from forwarder.dmarcrecord import DmarcRecord
from forwarder.metrics import Metrics

DMARC_CACHE_ENTRIES = 10_000  # domains; ~200 bytes each: <= ~2 MiB


class RecordCache:
    def __init__(
        self,
        max_entries: int = DMARC_CACHE_ENTRIES,
        *,
        clock: Callable[[], float] = time.monotonic,
        metrics: Metrics | None = None,
    ) -> None:
        self._max = max_entries
        self._clock = clock
        self._metrics = metrics  # each look-up counts as a DNS cache hit or miss
        # domain -> (expires, record); an OrderedDict pops its oldest in O(1) (expiring.py)
        self._entries: OrderedDict[str, tuple[float, DmarcRecord | None]] = OrderedDict()

    def get(self, domain: str) -> tuple[DmarcRecord | None] | None:
        """``(record,)`` while an answer for ``domain`` lives (``(None,)``: no record), else
        None: ask DNS."""
        found = self._entries.get(domain)
        if found is not None and found[0] <= self._clock():
            del self._entries[domain]
            found = None
        if self._metrics is not None:
            self._metrics.dns_cache.labels("miss" if found is None else "hit").inc()
        return None if found is None else (found[1],)

    def put(self, domain: str, record: DmarcRecord | None, ttl: float) -> None:
        """Keep what ``domain``'s answer said for ``ttl`` seconds from now."""
        if ttl <= 0:
            return
        self._entries.pop(domain, None)
        self._entries[domain] = (self._clock() + ttl, record)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
