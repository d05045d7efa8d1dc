"""The relay's test world: a loopback DNS zone, a real SMTP sink as every target's MX host,
a real SQLite store and the real Relay on a free port; clients are aiosmtplib and smtplib."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest

from forwarder.settings import Secret, Settings
from forwarder.smtp.server import Relay
from forwarder.store.base import AliasMode, Store
from tests.support.dns_server import DNSServer
from tests.support.seams import NoBounceAddresses, PassThrough
from tests.support.smtp_sink import SmtpSink

HOSTNAME = "mx.quietmail.test"
DOMAIN = "aliases.test"  # served and verified
TARGET_DOMAIN = "example.net"  # where the targets live; MX -> the sink


def now() -> datetime:
    return datetime.now(UTC)


def make_message(subject: str = "hello", body: str = "Hi there.\r\n", extra: str = "") -> bytes:
    return (
        f"From: Sender <sender@origin.test>\r\nTo: someone@{DOMAIN}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{abs(hash((subject, body)))}@origin.test>\r\n{extra}\r\n{body}"
    ).encode()


@dataclass
class World:
    store: Store
    dns: DNSServer
    sink: SmtpSink
    settings: Settings
    relay: Relay | None = None
    owner_id: str = ""
    domain_id: str = ""
    # Relay(settings, store) is the relay `quietmail serve` runs (SPF, DKIM, DMARC, ARC, SRS);
    # these tests are about the SMTP conversation and routing, so they ask for less,
    # explicitly. Tests of the checks set their own policy and bounces.
    extra: dict[str, Any] = field(
        default_factory=lambda: {"policy": PassThrough(), "bounces": NoBounceAddresses()}
    )

    async def start(self, **changes: Any) -> Relay:
        if changes:
            self.settings = self.settings.replace(**changes)
        self.relay = Relay(self.settings, self.store, **self.extra)
        await self.relay.start()
        return self.relay

    @property
    def port(self) -> int:
        assert self.relay is not None
        return self.relay.port

    async def alias(
        self,
        local_part: str,
        targets: Sequence[str] = (),
        mode: AliasMode = AliasMode.ACTIVE,
        *,
        verify: bool = True,
    ) -> str:
        for target in targets:
            await self.store.recipients.add(self.owner_id, target, now())
            if verify:
                await self.store.recipients.set_verified(self.owner_id, target, now())
        alias = await self.store.aliases.create(
            self.domain_id, local_part, list(targets), mode, "", now()
        )
        return alias.id

    async def client(self) -> aiosmtplib.SMTP:
        client = aiosmtplib.SMTP(
            hostname="127.0.0.1",
            port=self.port,
            timeout=15,
            start_tls=False,
            local_hostname="client.test",
        )
        await client.connect()
        await client.ehlo()
        return client

    async def transaction(
        self, mail_from: str, rcpts: Sequence[str], message: bytes
    ) -> tuple[list[str], str]:
        """One transaction on a fresh connection: RCPT replies and the DATA reply ('' if
        no recipient was accepted)."""
        client = await self.client()
        try:
            return await run_transaction(client, mail_from, rcpts, message)
        finally:
            client.close()


def line(response: aiosmtplib.SMTPResponse) -> str:
    return f"{response.code} {response.message}"


async def run_transaction(
    client: aiosmtplib.SMTP, mail_from: str, rcpts: Sequence[str], message: bytes
) -> tuple[list[str], str]:
    response = await client.execute_command(b"MAIL", f"FROM:<{mail_from}>".encode())
    assert response.code == 250, line(response)
    answers = []
    for rcpt in rcpts:
        answers.append(line(await client.execute_command(b"RCPT", f"TO:<{rcpt}>".encode())))
    if not any(a.startswith("250") for a in answers):
        await client.execute_command(b"RSET")
        return answers, ""
    try:
        response = await client.data(message)
        return answers, line(response)
    except aiosmtplib.SMTPResponseException as exc:
        return answers, f"{exc.code} {exc.message}"


async def setup_owner(store: Store) -> tuple[str, str]:
    user = await store.users.create("owner@owner.test", "x", now())
    domain = await store.domains.create(DOMAIN, user.id, "token", now())
    await store.domains.set_verified(domain.id, now())
    return user.id, domain.id


def base_settings(dns: DNSServer, sink: SmtpSink, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        hostname=HOSTNAME,
        smtp_host="127.0.0.1",
        smtp_port=0,
        dns_nameservers=(dns.address,),
        dns_timeout=2.0,
        outbound_port=sink.port,
        outbound_timeout=5.0,
        forward_timeout=20.0,
        shutdown_grace=2.0,
        secret_key=Secret("test-secret-key-for-the-relay-0123456789"),
    )


@pytest.fixture
async def sink() -> AsyncIterator[SmtpSink]:
    server = SmtpSink()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def world(
    sqlite_store: Store, dns_server: DNSServer, sink: SmtpSink, tmp_path: Path
) -> AsyncIterator[World]:
    dns_server.add(f"{TARGET_DOMAIN}.", "MX", "10 mx.example.net.")
    dns_server.add("mx.example.net.", "A", "127.0.0.1")
    owner_id, domain_id = await setup_owner(sqlite_store)
    state = World(
        store=sqlite_store,
        dns=dns_server,
        sink=sink,
        settings=base_settings(dns_server, sink, tmp_path),
        owner_id=owner_id,
        domain_id=domain_id,
    )
    try:
        yield state
    finally:
        if state.relay is not None:
            await state.relay.stop()
