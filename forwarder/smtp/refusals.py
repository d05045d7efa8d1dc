"""Refused recipients per client over a time window (issue 8: probing aliases and SRS hashes).

Every RCPT the relay refuses with a 5xx (unknown alias, bad bounce address, a domain it does
not serve, a sender that may not write to a bounce address, a malformed address) answers one
question for a client probing names. The session counts them per connection, where RSET and
a new MAIL do not start the count again (forwarder/smtp/session.py), and here per client across
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

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from forwarder.crypto import keyed_hash
from forwarder.expiring import ExpiringDict
from forwarder.smtp.limits import client_key  # one rule for 'a client': IPv4, or IPv6 /64

DEFAULT_MAX_CLIENTS = 100_000


@dataclass(slots=True)
class _Tally:
    count: int = 0


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
        return self.blocked_id(self.client_id(ip))

    def blocked_id(self, client: str) -> bool:
        """:meth:`blocked` for the client :meth:`client_id` names."""
        tally = self._tallies.get(client, None)
        return tally is not None and tally.count >= self._limit

    def add(self, ip: str) -> bool:
        """Count one refusal for the client; True when it has now reached the limit."""
        return self.add_id(self.client_id(ip))

    def add_id(self, client: str) -> bool:
        """:meth:`add` for the client :meth:`client_id` names."""
        tally = self._tallies.get(client, None)
        if tally is None:
            tally = _Tally()
            self._tallies.put(client, tally)
        tally.count += 1
        return tally.count >= self._limit

    def client_id(self, ip: str) -> str:
        """What the client of ``ip`` is counted under: a keyed hash of its client key. A
        session works it out once per connection (issue 14: a hash and an address parsed
        on every RCPT were ~4% of the event loop's time)."""
        return keyed_hash(self._key, client_key(ip).encode())[:32]

    def __len__(self) -> int:
        return len(self._tallies)
