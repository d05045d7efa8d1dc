"""Kept outbound connections (forwarder/deliver/pool.py) with the real transport against real
SMTP servers on loopback: reused for the next message, dropped after a failed transaction,
replaced when the host has closed them, expired when idle, capped, and closed at stop."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from forwarder.deliver import ConnectionPool, SmtpTransport
from forwarder.settings import Settings
from forwarder.smtp.tls import write_self_signed
from tests.forwarder.conftest import DOMAIN, World, make_message
from tests.forwarder.deliver.conftest import outbound_settings
from tests.support.dns_server import DNSServer
from tests.support.smtp_sink import SmtpSink, ehlo


class CountingHost:
    """A real SMTP server that counts connections and deliveries; with ``close_idle`` it
    answers the second MAIL of a connection with 421, as a host that timed it out would."""

    def __init__(self, close_idle: bool = False, pipelining: bool = False) -> None:
        self.close_idle = close_idle
        self.pipelining = pipelining
        self.connections = 0
        self.delivered = 0
        self._mails: dict[int, int] = {}
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        def factory() -> SMTP:
            self.connections += 1
            return SMTP(self, hostname="host.test")

        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(factory, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        return ehlo(session, hostname, responses, self.pipelining)

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        count = self._mails[id(session)] = self._mails.get(id(session), 0) + 1
        if self.close_idle and count > 1:
            return "421 4.4.2 host.test closing idle connection"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.delivered += 1
        return "250 2.0.0 queued"


def settings_for(dns: DNSServer, port: int) -> Settings:
    dns.add("t.test.", "MX", "10 host.t.test.")
    dns.add("host.t.test.", "A", "127.0.0.1")
    return outbound_settings(dns, port)


@pytest.fixture
async def pool() -> AsyncIterator[ConnectionPool]:
    kept = ConnectionPool()
    try:
        yield kept
    finally:
        await kept.close()


async def send(transport: SmtpTransport, target: str = "a@t.test") -> bool:
    results = await transport.send("s@o.test", [target], make_message())
    return results[target].ok


async def test_connection_is_reused_for_the_next_messages(
    dns_server: DNSServer, pool: ConnectionPool
) -> None:
    host = CountingHost()
    transport = SmtpTransport(settings_for(dns_server, await host.start()), pool=pool)
    try:
        assert [await send(transport) for _ in range(3)] == [True, True, True]
        assert (host.connections, host.delivered, len(pool)) == (1, 3, 1)
    finally:
        await pool.close()
        await host.stop()


@pytest.mark.parametrize("pipelining", [False, True])
async def test_reused_tls_connection_needs_one_handshake(
    dns_server: DNSServer, pool: ConnectionPool, tmp_path: Path, pipelining: bool
) -> None:
    write_self_signed(tmp_path / "c.pem", tmp_path / "k.pem", "host.t.test")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    sink = await SmtpSink(tls_context=context, pipelining=pipelining).start()
    try:
        transport = SmtpTransport(settings_for(dns_server, sink.port), pool=pool)
        assert [await send(transport) for _ in range(3)] == [True, True, True]
        assert [m.tls for m in sink.messages] == [True, True, True]
        assert (await transport.tls_context()).session_stats()["connect"] == 1
    finally:
        await pool.close()
        await sink.stop()


async def test_connection_closed_by_the_host_is_replaced(
    dns_server: DNSServer, pool: ConnectionPool
) -> None:
    host = CountingHost(close_idle=True)
    transport = SmtpTransport(settings_for(dns_server, await host.start()), pool=pool)
    try:
        assert await send(transport)
        assert await send(transport)  # the kept one answers 421: a fresh one delivers
        assert (host.connections, host.delivered) == (2, 2)
    finally:
        await pool.close()
        await host.stop()


@pytest.mark.parametrize("rule", ["rcpt", "data"])
async def test_connection_is_not_kept_after_a_failed_transaction(
    dns_server: DNSServer, sink: SmtpSink, pool: ConnectionPool, rule: str
) -> None:
    if rule == "rcpt":
        sink.answer_everyone("451 4.2.0 mailbox busy")
    else:
        sink.answer_data("554 5.6.0 refused")
    transport = SmtpTransport(settings_for(dns_server, sink.port), pool=pool)
    assert not await send(transport)
    assert len(pool) == 0


async def test_idle_connections_expire(dns_server: DNSServer) -> None:
    now = [0.0]
    pool = ConnectionPool(idle_timeout=30.0, clock=lambda: now[0])
    host = CountingHost()
    transport = SmtpTransport(settings_for(dns_server, await host.start()), pool=pool)
    try:
        assert await send(transport)
        now[0] = 31.0
        assert await send(transport)
        assert host.connections == 2  # the idle one was too old to use
        assert len(pool) == 1
    finally:
        await pool.close()
        await host.stop()


async def test_pool_keeps_at_most_per_host_and_quits_the_rest() -> None:
    pool = ConnectionPool(per_host=2)
    host = CountingHost()
    port = await host.start()
    clients = []
    try:
        for _ in range(3):
            client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
            await client.connect()
            clients.append(client)
        for client in clients:
            pool.give(("host.t.test", "127.0.0.1", port, "opportunistic"), client)
        assert len(pool) == 2  # the third was sent QUIT
        assert (
            pool.take(("host.t.test", "127.0.0.1", port, "opportunistic")) is clients[1]
        )  # newest first
        assert pool.take(("other", "127.0.0.1", port, "opportunistic")) is None
        pool.give(("host.t.test", "127.0.0.1", port, "opportunistic"), clients[1])
    finally:
        await pool.close()
        await host.stop()
    assert not any(client.is_connected for client in clients)


async def test_relay_keeps_connections_and_closes_them_at_stop(world: World) -> None:
    await world.alias("hello", ["me@example.net"])
    relay = await world.start()
    for _ in range(2):
        _, data = await world.transaction("s@origin.test", [f"hello@{DOMAIN}"], make_message())
        assert data.startswith("250")
    assert len(world.sink.messages) == 2 and len(relay.pool) == 1
    await relay.stop()
    assert len(relay.pool) == 0
