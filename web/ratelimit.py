"""Rate limits on log-in, sign-up and password reset, per client IP and per account.

The account is counted under its normalised address (``normalize_email``: trimmed, lower case,
IDNA A-label, no trailing dot), the form the store keeps, so " Ann@Bücher.example." and
"ann@xn--bcher-kva.example" share one counter; a string that is not an address counts per IP
only. Uses the ``limits`` library with its in-memory storage and the moving-window strategy.
Privacy: the storage lives in this process's memory only and each entry expires with its
window, so an IP (keyed-hashed, never in plain text) is kept for at most the window's length.
Several web processes each count on their own; that is a known limit of in-memory storage.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from forwarder.crypto import keyed_hash
from forwarder.store.base import InvalidValue, normalize_email


@dataclass(frozen=True)
class Policy:
    per_ip: str = "30/minute"
    per_account: str = "10/minute"


DEFAULT_POLICIES: dict[str, Policy] = {
    "login": Policy("30/minute", "10/minute"),
    "signup": Policy("10/minute", "5/minute"),
    "reset": Policy("10/minute", "3/minute"),
}


class RateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many attempts; retry after {retry_after} s")
        self.retry_after = retry_after


class RateLimits:
    def __init__(self, key: bytes, policies: dict[str, Policy] | None = None) -> None:
        self._key = key
        self._policies = policies or DEFAULT_POLICIES
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def _id(self, kind: str, value: str) -> str:
        return keyed_hash(self._key, kind.encode(), value.encode())[:32]

    async def hit(self, action: str, ip: str, address: object) -> None:
        """Count one attempt from ``ip`` for the account of ``address`` (as typed, or a user's
        stored address); raises RateLimited when a per-IP or per-account limit is spent."""
        policy = self._policies[action]
        checks: list[tuple[RateLimitItem, str]] = [(parse(policy.per_ip), self._id("ip", ip))]
        account = account_key(address)
        if account is not None:
            checks.append((parse(policy.per_account), self._id("acct", account)))
        for item, ident in checks:
            if not await self._limiter.hit(item, action, ident):
                stats = await self._limiter.get_window_stats(item, action, ident)
                raise RateLimited(max(1, math.ceil(stats.reset_time - time.time())))


def account_key(address: object) -> str | None:
    """The address every spelling of one account is counted under, or None when it is none."""
    try:
        return normalize_email(address)
    except InvalidValue:
        return None
