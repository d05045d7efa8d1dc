"""The real outbound transport: aiosmtplib to the target's mail hosts, one connection per
target domain carrying all of that domain's recipients; with a :class:`ConnectionPool`, a
connection whose transaction ended cleanly is kept for the next message to that host.

The hosts and the domain's MTA-STS policy come from its delivery plan (plan.py, kept while
the DNS answers are fresh); the transaction itself, pipelined where offered, is
transaction.py's. Hosts are tried in order until one holds a conversation; a refused
connection, a timeout or a greeting other than 220 moves on to the next (RFC 5321 5.1).
What TLS each host needs is decided first (tlspolicy.py: DANE, MTA-STS, the
``outbound_tls`` floor); a host that cannot give it is skipped with a 4xx, never used in
cleartext (starttls.py). Elsewhere STARTTLS is used whenever offered (RFC 3207,
opportunistic) without checking the certificate. TLS 1.2 is the floor. Once a host answers
MAIL, its replies are final.

Two client TLS contexts (unverified and verifying) serve every STARTTLS of a transport.
Left to itself, aiosmtplib builds a new one per connection, and building one loads the
system's CA certificates: measured ~40 ms of CPU per forwarded message (tests/bench --split
--tls), against ~3 ms for the rest of the relay's work on it. Each is built on first use,
in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Mapping, Sequence

import aiosmtplib
import dns.asyncresolver

from forwarder.deliver import mx, starttls
from forwarder.deliver.forward import by_domain
from forwarder.deliver.mtasts import MtaSts, Policy
from forwarder.deliver.plan import Planner
from forwarder.deliver.pool import ConnectionPool, Key, quit_politely
from forwarder.deliver.result import DeliveryFailed, DeliveryResult, temporary
from forwarder.deliver.tls import client_tls_context
from forwarder.deliver.tlspolicy import (
    OPPORTUNISTIC,
    HostTls,
    Need,
    Refused,
    TlsCounters,
    TlsPolicy,
)
from forwarder.deliver.transaction import SMTP_ERRORS, Parts, Stale, failure_of, transaction
from forwarder.metrics import Metrics
from forwarder.resolver import dns_cache, make_async_resolver
from forwarder.settings import Settings


class _HostUnusable(DeliveryFailed):
    """This host cannot take the message; the next MX host is tried."""


class SmtpTransport:
    def __init__(
        self,
        settings: Settings,
        resolver: dns.asyncresolver.Resolver | None = None,
        pool: ConnectionPool | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        """``pool``: keep connections for the next message to the same host (pool.py);
        whoever passes one closes it (``await pool.close()``) when done. ``metrics``: the
        relay's counters (None: nothing counted, as for the web app's own mail)."""
        self._settings = settings
        self._pool = pool
        self._metrics = metrics
        if resolver is None:  # answers kept for their TTL, in memory (see resolver.py)
            resolver = make_async_resolver(settings, dns_cache(metrics=metrics))
        self._resolver = resolver
        self._contexts: dict[bool, ssl.SSLContext] = {}
        self.counters = TlsCounters()
        self.mta_sts = MtaSts(resolver, settings.mta_sts_port, self.verified_context)
        self._policy = TlsPolicy(
            settings.outbound_tls,
            settings.dnssec_trusted,
            settings.outbound_port,
            resolver,
            self.mta_sts,
            self.counters,
        )
        self.planner = Planner(settings, resolver, self._policy)

    async def tls_context(self, verify: bool = False) -> ssl.SSLContext:
        """The context every STARTTLS of this transport uses, unverified or verifying
        (built once each; the verifying one also checks MTA-STS policy servers)."""
        if verify not in self._contexts:
            ca_file = self._settings.outbound_ca_file
            built = await asyncio.to_thread(client_tls_context, verify, ca_file)
            self._contexts.setdefault(verify, built)
        return self._contexts[verify]

    async def verified_context(self) -> ssl.SSLContext:
        return await self.tls_context(True)

    async def send(
        self, envelope_sender: str, recipients: Sequence[str], message: bytes, prefix: bytes = b""
    ) -> Mapping[str, DeliveryResult]:
        parts = (prefix, message) if prefix else (message,)
        groups = by_domain(recipients)
        if len(groups) == 1:  # forward() sends one domain per call: no task of its own
            [(domain, rcpts)] = groups.items()
            return await self._send_domain(envelope_sender, domain, rcpts, parts)
        chunks = await asyncio.gather(
            *(self._send_domain(envelope_sender, d, rcpts, parts) for d, rcpts in groups.items())
        )
        results: dict[str, DeliveryResult] = {}
        for chunk in chunks:
            results.update(chunk)
        return results

    async def _host_tls(self, domain: str, policy: Policy | None, host: mx.Host) -> HostTls:
        if self._settings.outbound_smarthost is not None:
            return self._policy.smarthost()
        return await self._policy.host(domain, policy, host)

    async def _send_domain(
        self, sender: str, domain: str, recipients: list[str], message: Parts
    ) -> dict[str, DeliveryResult]:
        try:
            hosts, port, policy = await self.planner.hosts(domain)
        except mx.RouteError as exc:
            return dict.fromkeys(recipients, exc.result)
        last = temporary("4.4.1", "no mail host of the target domain answered")
        for host in hosts:
            try:
                tls = await self._host_tls(domain, policy, host)
            except Refused as exc:  # RFC 8461 5: try the next MX host, never this one
                last = exc.result
                continue
            for address in host.addresses:
                try:
                    return await self._session(
                        host.name, address, port, tls, sender, recipients, message
                    )
                except _HostUnusable as exc:
                    last = exc.result
        return dict.fromkeys(recipients, last)

    async def _connect(
        self, name: str, address: str, port: int, tls: HostTls
    ) -> tuple[aiosmtplib.SMTP, HostTls]:
        """A connection upgraded as ``tls`` needs, and what it was opened under: under MTA-STS
        ``testing`` a failure is counted and the host used opportunistically instead."""
        try:
            return await self._open(name, address, port, tls), tls
        except Refused as exc:
            if not tls.report_only:
                self.counters.policy_refusals += 1
                raise _HostUnusable(exc.result) from None
        self.counters.testing_failures += 1
        return await self._open(name, address, port, OPPORTUNISTIC), OPPORTUNISTIC

    async def _open(self, name: str, address: str, port: int, tls: HostTls) -> aiosmtplib.SMTP:
        client = aiosmtplib.SMTP(
            hostname=address,
            port=port,
            timeout=self._settings.outbound_timeout,
            start_tls=False,
            validate_certs=False,  # the contexts passed to starttls decide
            local_hostname=self._settings.hostname,
        )
        try:
            await client.connect()
            await client.ehlo()
            unverified = await self.tls_context(False)
            await starttls.upgrade(client, name, tls, unverified, await self.tls_context(True))
        except Refused:
            client.close()
            raise
        except SMTP_ERRORS as exc:
            client.close()
            unusable = temporary("4.4.1", "could not talk to the target's mail host")
            raise _HostUnusable(failure_of(exc, unusable)) from None
        return client

    async def _session(
        self,
        name: str,
        address: str,
        port: int,
        tls: HostTls,
        sender: str,
        recipients: list[str],
        message: Parts,
    ) -> dict[str, DeliveryResult]:
        # The pool is keyed by the TLS a connection was opened under: a connection opened
        # opportunistically never serves a host that needs verified TLS or DANE.
        keys = [(name, address, port, tls.need.value)]
        if tls.report_only:
            keys.append((name, address, port, Need.NONE.value))
        for key in keys:
            kept = self._pool.take(key) if self._pool is not None else None
            if kept is not None:
                with contextlib.suppress(Stale):  # closed while idle: open a fresh one
                    return await self._use(key, kept, True, sender, recipients, message)
        client, opened = await self._connect(name, address, port, tls)
        key = (name, address, port, opened.need.value)
        return await self._use(key, client, False, sender, recipients, message)

    async def _use(
        self,
        key: Key,
        client: aiosmtplib.SMTP,
        kept: bool,
        sender: str,
        recipients: list[str],
        message: Parts,
    ) -> dict[str, DeliveryResult]:
        clean = False
        try:
            results, clean = await transaction(client, sender, recipients, message, kept)
            if any(r.ok for r in results.values()):
                mode = starttls.mode(client, Need(key[3]))
                self.counters.count_delivery(mode)
                if self._metrics is not None:  # the relay's counters (forwarder/metrics.py)
                    self._metrics.outbound_done(kept, mode)
            return results
        finally:  # also when the forward was cancelled: then the connection is not clean
            if clean and self._pool is not None:
                self._pool.give(key, client)
            else:
                await quit_politely(client)
