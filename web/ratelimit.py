"""Rate limits on log-in, sign-up and password reset, per client IP and per account, and on
password re-checks from a logged-in session ("recheck": password change, turning TOTP off,
account deletion), which have their own budget so failed log-ins of strangers never block
them (issue 8, Medium 4).

The client IP is the TCP peer unless it is a proxy the operator trusts (web_trusted_proxies,
web/app.py). IPv6 clients are counted per /64, the smallest network one end site is given
(RFC 6177), since one host can use every address of its /64.

Log-in has a third key, the device (web/devices.py): a browser holding a device cookie for
the account, issued at a successful log-in, counts under its own budget instead of the
account's, so guesses from elsewhere cannot lock the owner out of their own browsers. Every
attempt is counted before the argon2 verification (not only failures after it), so a burst
of concurrent guesses cannot overshoot a limit, and the hashing each IP can cause is bounded.

The account is counted under its normalised address (``normalize_email``: trimmed, lower case,
IDNA A-label, no trailing dot), the form the store keeps, so " Ann@Bücher.example." and
"ann@xn--bcher-kva.example" share one counter; a string that is not an address counts per IP
only. Uses the ``limits`` library with its in-memory storage and the moving-window strategy.
Privacy: the storage lives in this process's memory only and each entry expires with its
window, so an IP (keyed-hashed, never in plain text) is kept for at most the window's length.
Several web processes each count on their own; that is a known limit of in-memory storage.
"""

from __future__ import annotations

import ipaddress
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from forwarder.crypto import keyed_hash
from forwarder.store.base import InvalidValue, normalize_email
from web.exceptions import WebError


@dataclass(frozen=True)
class Policy:
    per_ip: str = "30/minute"
    per_account: str = "10/minute"
    per_device: str = "10/minute"  # log-in from a browser with the account's device cookie


DEFAULT_POLICIES: dict[str, Policy] = {
    "login": Policy("30/minute", "10/minute", "10/minute"),
    "signup": Policy("10/minute", "5/minute"),
    "reset": Policy("10/minute", "3/minute"),
    "recheck": Policy("30/minute", "5/minute"),
}


class RateLimited(WebError):
    def __init__(self, retry_after: int) -> None:
        message = f"too many attempts; retry after {retry_after} s"
        super().__init__(429, "rate_limited", message, headers={"retry-after": str(retry_after)})
        self.retry_after = retry_after


class RateLimits:
    def __init__(self, key: bytes, policies: dict[str, Policy] | None = None) -> None:
        self._key = key
        self._policies = DEFAULT_POLICIES | (policies or {})
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def _id(self, kind: str, value: str) -> str:
        return keyed_hash(self._key, kind.encode(), value.encode())[:32]

    async def hit(
        self, action: str, ip: str, address: object, *, device: str | None = None
    ) -> None:
        """Count one attempt from ``ip`` for the account of ``address`` (as typed, or a user's
        stored address), or for ``device`` (a browser the account logged in from) instead of
        the account; raises RateLimited when a limit is spent."""
        policy = self._policies[action]
        network = client_network(ip)
        checks: list[tuple[RateLimitItem, str]] = [(parse(policy.per_ip), self._id("ip", network))]
        account = account_key(address)
        if device is not None:
            checks.append((parse(policy.per_device), self._id("device", device)))
        elif account is not None:
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


def client_network(ip: str) -> str:
    """What one client is counted as: its IPv4 address (also when written IPv4-mapped), its
    IPv6 /64, or the string itself when it is not an address."""
    try:
        address = ipaddress.ip_address(ip.partition("%")[0])  # no zone: fe80::1%eth0
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)
