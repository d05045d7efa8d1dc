"""Shared limits that keep one client from starving the others: connections per client IP
(issue 3: 10, then ``421 4.7.0``), connections in all (issue 8: 600 idle connections from 60
IPs were all held; beyond ``max_connections``, ``421 4.7.0`` too) and a budget of message
bytes held in memory, in all and per client (``452 4.3.1`` when spent). All live in one
event loop, so plain counters are enough.

The byte budget follows the bytes a transaction has actually received (issue 8, Medium 1):
nothing is reserved for a declared or maximum size, so a client that opens DATA and sends
nothing holds nothing. Each client IP (an IPv6 client per /64, which one host usually
holds whole) may hold at most its share, so a few clients cannot spend the budget for
everyone else.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import ipaddress
from collections.abc import Callable

from forwarder import replies
from forwarder.replies import Reply


class ConnectionLimiter:
    def __init__(self, per_ip: int, total: int) -> None:
        self._per_ip = per_ip
        self._total = total
        self._count = 0
        self._open: dict[str, int] = {}  # IP -> open connections; entries removed at zero

    def acquire(self, ip: str) -> Reply | None:
        """None when the connection is admitted (then ``release`` it), else the reply."""
        if self._count >= self._total:
            return replies.TOO_MANY_CONNECTIONS_IN_ALL
        count = self._open.get(ip, 0)
        if count >= self._per_ip:
            return replies.TOO_MANY_CONNECTIONS
        self._open[ip] = count + 1
        self._count += 1
        return None

    def release(self, ip: str) -> None:
        self._count = max(0, self._count - 1)
        count = self._open.get(ip, 0) - 1
        if count > 0:
            self._open[ip] = count
        else:
            self._open.pop(ip, None)


def client_key(ip: str) -> str:
    """The key a client's share is counted under: the IPv4 address, or the IPv6 /64."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class ByteBudget:
    def __init__(
        self,
        limit: int,
        per_client: int | None = None,
        watch: Callable[[float], None] | None = None,
    ) -> None:
        """``watch`` is told the bytes held in all after each change (the metrics gauge)."""
        self.limit = limit
        self._watch = watch
        self.per_client = limit if per_client is None else min(per_client, limit)
        self.used = 0
        self._held: dict[str, int] = {}  # client key -> bytes; entries removed at zero

    @property
    def exhausted(self) -> bool:
        return self.used >= self.limit

    def exhausted_for(self, client: str) -> bool:
        """No byte left in all, or in this client's share."""
        return self.exhausted or self._held.get(client, 0) >= self.per_client

    def held_by(self, client: str) -> int:
        return self._held.get(client, 0)

    def try_reserve(self, size: int, client: str = "") -> bool:
        held = self._held.get(client, 0)
        if self.used + size > self.limit or held + size > self.per_client:
            return False
        self.used += size
        self._held[client] = held + size
        if self._watch is not None:
            self._watch(self.used)
        return True

    def release(self, size: int, client: str = "") -> None:
        self.used = max(0, self.used - size)
        held = self._held.get(client, 0) - size
        if held > 0:
            self._held[client] = held
        else:
            self._held.pop(client, None)
        if self._watch is not None:
            self._watch(self.used)


class Holding:
    """What one transaction holds of a :class:`ByteBudget`: it grows with the bytes received
    and is given back whole by :meth:`release`."""

    def __init__(self, budget: ByteBudget, client: str) -> None:
        self._budget = budget
        self._client = client
        self.size = 0

    def grow(self, size: int) -> bool:
        if not self._budget.try_reserve(size, self._client):
            return False
        self.size += size
        return True

    def release(self) -> None:
        self._budget.release(self.size, self._client)
        self.size = 0


def return_freed_memory() -> None:
    """Have glibc give large freed blocks (message buffers) back to the system at once.

    glibc raises its mmap threshold, up to 32 MiB, each time a block it mapped is freed;
    after the first large message, message-sized buffers then come from the heap, which
    stays resident. Measured (tests/bench/bench_memory.py, 10 concurrent 25 MiB messages):
    235 MiB still resident afterwards (709 MiB at the peak); with the threshold fixed at
    glibc's 128 KiB default, 60 MiB (612 MiB). ``mallopt(M_MMAP_THRESHOLD)`` fixes it and
    turns the adjustment off; other C libraries (musl) have no ``mallopt`` and are left be.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is not None:
        mallopt(_M_MMAP_THRESHOLD, 128 * 1024)


_M_MMAP_THRESHOLD = -3  # from glibc's malloc.h
