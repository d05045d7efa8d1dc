"""What a session may ask of the relay, and nothing more (issue 9, item 3).

A session (:mod:`forwarder.smtp.session`) asks four things: may this client connect (the
per-IP limit, :mod:`forwarder.smtp.limits`, and the denylist at connect,
:mod:`forwarder.rcpt.denylist`), may this transaction hold its bytes (the global budget),
are we stopping, and it says when it has closed. The relay owns one :class:`Admission` and
hands it to every session, so a session never holds the relay itself; refused messages go
to a callback (the handler's error log), not through the relay.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from forwarder.rcpt.denylist import DenyChecks
from forwarder.settings import Settings
from forwarder.smtp.limits import ByteBudget, ConnectionLimiter

_MIN_RESERVATION = 64 * 1024


class Connection(Protocol):
    """An open session, as the admission sees it (``RelaySMTP``)."""

    @property
    def idle(self) -> bool: ...

    def close_with(self, reply: str | None) -> None: ...


class Admission:
    def __init__(self, settings: Settings, denylist: DenyChecks) -> None:
        self.settings = settings
        self.denylist = denylist
        self.limiter = ConnectionLimiter(settings.max_connections_per_ip)
        self.budget = ByteBudget(settings.inflight_bytes_budget)
        self.connections: set[Connection] = set()
        self.stopping = False
        self.drained = asyncio.Event()

    def forget(self, connection: Connection) -> None:
        """A connection closed (called by the session)."""
        self.connections.discard(connection)
        if self.stopping and not self.connections:
            self.drained.set()

    def reservation(self, mail_options: list[str]) -> int:
        """Bytes to hold for one DATA: the declared SIZE (RFC 1870) with some slack, else the
        size limit."""
        limit = self.settings.max_message_size
        for option in mail_options:
            name, _, value = option.partition("=")
            if name.upper() == "SIZE" and value.isdigit():
                declared = int(value)
                return min(limit, declared + max(declared // 10, _MIN_RESERVATION))
        return limit
