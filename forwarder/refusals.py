"""Refused recipients per client over a time window (issue 8: probing aliases and SRS hashes).

Every RCPT the relay refuses with a 5xx (unknown alias, bad bounce address, a domain it does
not serve, a sender that may not write to a bounce address, a malformed address) answers one
question for a client probing names. The session counts them per connection, where RSET and
a new MAIL do not start the count again (forwarder/session.py), and here per client across
its connections: ``max_refused_per_ip`` within ``refused_window`` seconds from the client's
first refusal, after which the client's connection is closed with ``421 4.7.0`` and its new
connections get the same until the window ends.

Privacy (DESIGN, the exception to promises 2 and 4: in-memory counters may refuse a flooding
client for a while): the counts live in this process's memory only, under a keyed hash of
the client's address (a random key made at start, so the hashes mean nothing after a
restart), and each is dropped when its window ends (forwarder/expiring.py); the map is
bounded, so many clients cannot grow it without limit. An IPv6 client is counted per /64
(one end site holds a whole /64), an IPv4-mapped one as the IPv4 address inside it.
"""

from __future__ import annotations

import ipaddress
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from forwarder.crypto import keyed_hash
from forwarder.expiring import ExpiringDict

DEFAULT_MAX_CLIENTS = 100_000


@dataclass(slots=True)
class _Tally:
    count: int = 0


def client_key(ip: str) -> str:
    """The unit a client is counted in: the IPv4 address, or the IPv6 /64."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class RefusalWindow:
    def __init__(
        self,
        limit: int,
        window_seconds: float,
        *,
        max_clients: int = DEFAULT_MAX_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limit = limit
        self._key = secrets.token_bytes(32)
        # A tally is written once, when the window opens, and counted up in place: its entry
        # expires ``window_seconds`` after the client's first refusal (a fixed window).
        self._tallies: ExpiringDict[str, _Tally | None] = ExpiringDict(
            window_seconds, max_entries=max_clients, clock=clock
        )

    def blocked(self, ip: str) -> bool:
        """The client has had its ``limit`` of refusals in the current window."""
        tally = self._tallies.get(self._id(ip), None)
        return tally is not None and tally.count >= self._limit

    def add(self, ip: str) -> bool:
        """Count one refusal for the client; True when it has now reached the limit."""
        key = self._id(ip)
        tally = self._tallies.get(key, None)
        if tally is None:
            tally = _Tally()
            self._tallies.put(key, tally)
        tally.count += 1
        return tally.count >= self._limit

    def __len__(self) -> int:
        return len(self._tallies)

    def _id(self, ip: str) -> str:
        return keyed_hash(self._key, client_key(ip).encode())[:32]
