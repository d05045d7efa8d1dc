"""Idle outbound SMTP connections kept for the next message to the same mail host.

Opening a connection costs a TCP handshake, the greeting, EHLO and, when the host offers it,
STARTTLS with a TLS handshake and a second EHLO: measured ~3.3 ms of the relay's CPU per
message against a STARTTLS sink, more than the rest of the outbound conversation
(tests/bench/bench_relay.py --split --tls), and four round trips of latency. RFC 5321
section 3.3 lets a client send several transactions over one connection.

A connection is kept only when its last transaction ended cleanly (the DATA reply was read);
anything else - a timeout, a lost connection, a cancelled forward - closes it. A kept
connection that has gone stale (the host closed it, or answers MAIL with 421) is dropped
by the transport, which then opens a fresh one: see ``SmtpTransport``. Connections idle
longer than ``idle_timeout`` (well under the 5 minutes a server waits, RFC 5321 4.5.3.2.7)
are closed with QUIT; at most ``per_host`` are kept per host and ``total`` in all.
``per_host`` is 20, Postfix's default number of parallel deliveries to one destination: with
4, twenty senders forwarding to one host at once (issue 14's benchmark) opened and closed a
connection for most messages, 7% of the relay's CPU per message.

Privacy: the pool holds, in memory and for seconds, which mail hosts (by name, address and
port) had a message recently; no address, message or sender. That is the same routing data
the DNS cache holds (forwarder/resolver.py), and it is gone with the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import aiosmtplib

# (host name for TLS, address, port, the TLS need it was opened under: tlspolicy.Need's
# value). A connection opened opportunistically never serves a host that needs verified
# TLS or DANE, and the other way round (issue 12).
Key = tuple[str, str, int, str]

IDLE_TIMEOUT = 30.0
PER_HOST = 20
TOTAL = 64


class ConnectionPool:
    def __init__(
        self,
        idle_timeout: float = IDLE_TIMEOUT,
        per_host: int = PER_HOST,
        total: int = TOTAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._idle_timeout = idle_timeout
        self._per_host = per_host
        self._total = total
        self._clock = clock
        self._idle: dict[Key, list[tuple[float, aiosmtplib.SMTP]]] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._closed = False

    def __len__(self) -> int:
        return sum(len(entries) for entries in self._idle.values())

    def take(self, key: Key) -> aiosmtplib.SMTP | None:
        """The most recently used live idle connection to ``key``, or None."""
        self._expire()
        entries = self._idle.get(key, [])
        while entries:
            _, client = entries.pop()
            if client.is_connected:
                return client
            client.close()
        return None

    def give(self, key: Key, client: aiosmtplib.SMTP) -> None:
        """Keep ``client`` (whose last transaction ended cleanly) for the next message."""
        self._expire()
        entries = self._idle.get(key, [])
        full = len(entries) >= self._per_host or len(self) >= self._total
        if self._closed or full or not client.is_connected:
            self._quit(client)
            return
        self._idle[key] = [*entries, (self._clock(), client)]

    async def close(self) -> None:
        """QUIT every idle connection and keep no more (at shutdown); wait for the QUITs."""
        self._closed = True
        for entries in self._idle.values():
            for _, client in entries:
                self._quit(client)
        self._idle.clear()
        if self._closing:
            await asyncio.wait(set(self._closing))

    def _expire(self) -> None:
        oldest = self._clock() - self._idle_timeout
        for key, entries in list(self._idle.items()):
            fresh = [(t, c) for t, c in entries if t > oldest]
            for t, client in entries:
                if t <= oldest:
                    self._quit(client)
            if fresh:
                self._idle[key] = fresh
            else:
                del self._idle[key]

    def _quit(self, client: aiosmtplib.SMTP) -> None:
        task = asyncio.get_running_loop().create_task(quit_politely(client))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)


async def quit_politely(client: aiosmtplib.SMTP) -> None:
    """QUIT (RFC 5321 4.1.1.10), then close whatever the answer."""
    if client.is_connected:
        with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
            await client.quit(timeout=5)
    client.close()
