"""What a session may ask of the relay, and nothing more (issue 9, item 3).

A session (:mod:`forwarder.smtp.session`) asks: may this client connect (the per-IP and
global connection limits, :mod:`forwarder.smtp.limits`; the client's refusal window,
:mod:`forwarder.smtp.refusals`; the abuse denylist, :mod:`forwarder.rcpt.denylist`; the DNS
block lists, :mod:`forwarder.checks.dnsbl`), may this transaction hold its bytes (the
in-flight budget and the DATA limits, :mod:`forwarder.smtp.data`), are we stopping, and it
says when it has closed. The relay owns one :class:`Admission` and hands it to every session,
so a session never holds the relay itself; refused messages go to a callback (the handler's
error log), not through the relay.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from forwarder.checks.dnsbl import BlockLists
from forwarder.rcpt.denylist import DenyChecks
from forwarder.settings import Settings
from forwarder.smtp.data import DataLimits
from forwarder.smtp.limits import ByteBudget, ConnectionLimiter
from forwarder.smtp.refusals import RefusalWindow

# Budget bytes counted per byte of a message received: the message itself, and the copies
# the checks make while they run (dkimpy splits the message into lines and canonicalises
# the body to verify DKIM and again to seal ARC; the sealed copy has headers in front).
# Measured with tests/bench/bench_memory.py, 10 concurrent 25 MiB messages through the
# real relay: 560-700 MiB resident above the idle process at the peak, 2.2-2.8 per byte.
HELD_PER_BYTE = 3


class Connection(Protocol):
    """An open session, as the admission sees it (``RelaySMTP``)."""

    @property
    def idle(self) -> bool: ...

    def close_with(self, reply: str | None) -> None: ...


class Admission:
    def __init__(
        self, settings: Settings, denylist: DenyChecks, blocklists: BlockLists | None = None
    ) -> None:
        self.settings = settings
        self.denylist = denylist
        self.blocklists = blocklists  # None: the operator listed no DNS block list
        self.limiter = ConnectionLimiter(settings.max_connections_per_ip, settings.max_connections)
        self.refusals = RefusalWindow(settings.max_refused_per_ip, settings.refused_window)
        # Messages refused as spam, per client (issue 10): the same in-memory window, apart.
        self.spam = RefusalWindow(settings.spam_refusals_per_ip, settings.spam_refusal_window)
        self.budget = ByteBudget(settings.inflight_bytes_budget, settings.inflight_bytes_per_ip)
        self.data_limits = DataLimits(
            max_size=settings.max_message_size,
            max_line=settings.max_line_length,
            chunk_timeout=settings.data_chunk_timeout,
            held_per_byte=HELD_PER_BYTE,
        )
        self.connections: set[Connection] = set()
        self.stopping = False
        self.drained = asyncio.Event()

    def forget(self, connection: Connection) -> None:
        """A connection closed (called by the session)."""
        self.connections.discard(connection)
        if self.stopping and not self.connections:
            self.drained.set()
