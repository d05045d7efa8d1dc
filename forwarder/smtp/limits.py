"""Shared limits that keep one client from starving the others: connections per client IP
(issue 3: 10, then ``421 4.7.0``) and a global budget of message bytes held in memory
(``452 4.3.1`` for new transactions when it is spent). Both live in one event loop, so plain
counters are enough."""

from __future__ import annotations


class ConnectionLimiter:
    def __init__(self, per_ip: int) -> None:
        self._per_ip = per_ip
        self._open: dict[str, int] = {}  # IP -> open connections; entries removed at zero

    def acquire(self, ip: str) -> bool:
        count = self._open.get(ip, 0)
        if count >= self._per_ip:
            return False
        self._open[ip] = count + 1
        return True

    def release(self, ip: str) -> None:
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
