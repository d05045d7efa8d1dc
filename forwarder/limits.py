"""Shared limits that keep one client from starving the others: connections per client IP
(issue 3: 10, then ``421 4.7.0``), connections in all (issue 8: 600 idle connections from 60
IPs were all held; beyond ``max_connections``, ``421 4.7.0`` too) and a global budget of
message bytes held in memory (``452 4.3.1`` for new transactions when it is spent). All live
in one event loop, so plain counters are enough."""

from __future__ import annotations

from forwarder import replies


class ConnectionLimiter:
    def __init__(self, per_ip: int, total: int) -> None:
        self._per_ip = per_ip
        self._total = total
        self._count = 0
        self._open: dict[str, int] = {}  # IP -> open connections; entries removed at zero

    def acquire(self, ip: str) -> str | None:
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


class ByteBudget:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    @property
    def exhausted(self) -> bool:
        return self.used >= self.limit

    def try_reserve(self, size: int) -> bool:
        if self.used + size > self.limit:
            return False
        self.used += size
        return True

    def release(self, size: int) -> None:
        self.used = max(0, self.used - size)
