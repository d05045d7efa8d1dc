"""The abuse denylist at the relay's door (DESIGN, the one exception to promises 2 and 4).

A client whose IP is listed (kind ``ip``) is refused at connection time, a HELO/EHLO name
listed as ``host`` at HELO/EHLO, and a sender at MAIL FROM when its address or its domain is
listed as ``sender`` (that kind holds either). The session and the handler turn a "denied"
into ``replies.DENIED_CLIENT`` / ``replies.DENIED_SENDER``.

The active list is read whole (``store.denylist.list_active``) at most once per
``settings.alias_cache_ttl`` seconds and answered from memory, so a check costs no database
round trip: a ``match`` per check would be 3-4 queries per message, ~105 µs of CPU each on
SQLite (measured), a network round trip each on MongoDB. So an entry added or removed with
``quietmail deny`` takes effect within that TTL; each entry's own expiry is checked at every
look-up. The snapshot holds only what the denylist itself holds.

A store outage never refuses anybody (fail open): the last list read is used if there is
one, else nothing is denied; the failure is counted and logged at WARNING without any value,
and the store is asked again after ``_RETRY_AFTER_FAILURE`` seconds. No log line here names
an IP, a host name or an address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections.abc import Callable, Iterator
from datetime import datetime

from forwarder.clock import utc_now
from forwarder.store.base import (
    DenyEntry,
    DenyKind,
    InvalidValue,
    Store,
    StoreError,
    normalize_deny_value,
)

log = logging.getLogger(__name__)

_RETRY_AFTER_FAILURE = 5.0  # seconds: a down store is not asked at every connection

Snapshot = dict[tuple[DenyKind, str], datetime]  # (kind, normalised value) -> expires at


def _key(kind: DenyKind, value: str) -> str | None:
    """The value as the store compares it; IPs also in one canonical text form."""
    try:
        text = normalize_deny_value(value)
    except InvalidValue:
        return None
    if kind is DenyKind.IP:
        try:
            return str(ipaddress.ip_address(text))
        except ValueError:
            return text
    return text


def _ip_forms(ip: str) -> Iterator[str]:
    """The peer address, and the IPv4 address inside an IPv4-mapped one ('::ffff:192.0.2.1',
    what a dual-stack listener reports for an IPv4 client)."""
    yield ip
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        yield str(address.ipv4_mapped)


class DenyChecks:
    def __init__(
        self,
        store: Store,
        ttl_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        wallclock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._store = store
        self._ttl = ttl_seconds
        self._clock = clock
        self._wallclock = wallclock
        self._snapshot: Snapshot | None = None
        self._next_read = 0.0
        self._reading = asyncio.Lock()
        self.failures = 0  # reads that failed because the store was unavailable

    async def client_denied(self, ip: str) -> bool:
        return await self._listed(DenyKind.IP, *_ip_forms(ip))

    async def helo_denied(self, name: str) -> bool:
        return await self._listed(DenyKind.HOST, name)

    async def sender_denied(self, address: str) -> bool:
        """The envelope sender's address or its domain is listed; never the null sender."""
        if address in ("", "<>"):
            return False
        _, sep, domain = address.rpartition("@")
        return await self._listed(DenyKind.SENDER, address, *((domain,) if sep else ()))

    async def _listed(self, kind: DenyKind, *values: str) -> bool:
        snapshot = await self._entries()
        if not snapshot:
            return False
        now = self._wallclock()
        for value in values:
            key = _key(kind, value)
            expires = None if key is None else snapshot.get((kind, key))
            if expires is not None and expires > now:
                return True
        return False

    async def _entries(self) -> Snapshot:
        if self._clock() < self._next_read:
            return self._snapshot or {}
        async with self._reading:  # one read at a time; the others then use its result
            if self._clock() >= self._next_read:
                await self._read()
        return self._snapshot or {}

    async def _read(self) -> None:
        try:
            entries = await self._store.denylist.list_active(self._wallclock())
        except StoreError:
            self.failures += 1
            self._next_read = self._clock() + min(self._ttl, _RETRY_AFTER_FAILURE)
            log.warning("denylist not read: store unavailable (%d failures so far)", self.failures)
            return
        self._snapshot = _snapshot(entries)
        self._next_read = self._clock() + self._ttl


def _snapshot(entries: list[DenyEntry]) -> Snapshot:
    snapshot: Snapshot = {}
    for entry in entries:
        key = _key(entry.kind, entry.value)
        if key is not None:
            found = snapshot.get((entry.kind, key))
            snapshot[(entry.kind, key)] = max(entry.expires_at, found or entry.expires_at)
    return snapshot
