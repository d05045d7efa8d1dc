"""The abuse denylist on the real relay: a listed client IP is refused at connection time, a
listed HELO name at HELO/EHLO, a listed sender address or sender domain at MAIL FROM; a store
outage refuses nobody; no log line names what was refused."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest

from forwarder import replies
from forwarder.store.base import DenyKind
from tests.forwarder.conftest import DOMAIN, World, make_message, now


async def deny(world: World, kind: DenyKind, value: str, *, days: float = 1.0) -> None:
    at = now()
    await world.store.denylist.add(kind, value, "abuse", at, at + timedelta(days=days))


def relay_logs(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What the relay logs (as in test_no_trace: INFO and up from anyone, everything from
    forwarder.* and aiosmtpd's mail.log), not aiosqlite's DEBUG echo of the test's writes."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.INFO or r.name.startswith(("forwarder", "mail.log"))
    ]


class RawClient:
    """A line-by-line SMTP client: it must see exactly what the server sends, greeting first."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, port: int) -> RawClient:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def reply(self) -> str:
        """One reply, its last line (multi-line EHLO answers end with 'code SP')."""
        while True:
            line = (await asyncio.wait_for(self.reader.readline(), 10)).decode().rstrip("\r\n")
            if line[3:4] != "-":
                return line

    async def send(self, command: str) -> str:
        self.writer.write(command.encode() + b"\r\n")
        return await self.reply()

    async def closed(self) -> bool:
        return await asyncio.wait_for(self.reader.read(), 10) == b""

    def close(self) -> None:
        self.writer.close()


async def test_listed_client_ip_gets_554_greeting_then_only_quit(world: World) -> None:
    await deny(world, DenyKind.IP, "127.0.0.1")
    await world.alias("hello", ["me@example.net"])
    await world.start()
    client = await RawClient.connect(world.port)
    try:
        assert await client.reply() == replies.DENIED_CLIENT
        assert await client.send("EHLO client.test") == replies.DENIED_CLIENT_ONLY_QUIT
        assert await client.send("MAIL FROM:<s@origin.test>") == replies.DENIED_CLIENT_ONLY_QUIT
        assert await client.send(f"RCPT TO:<hello@{DOMAIN}>") == replies.DENIED_CLIENT_ONLY_QUIT
        assert await client.send("QUIT") == replies.GOODBYE
        assert await client.closed()
    finally:
        client.close()
    assert world.sink.messages == []


async def test_denied_client_that_never_quits_is_closed(world: World) -> None:
    await deny(world, DenyKind.IP, "127.0.0.1")
    await world.start()
    client = await RawClient.connect(world.port)
    try:
        assert await client.reply() == replies.DENIED_CLIENT
        for _ in range(10):
            assert await client.send("NOOP") == replies.DENIED_CLIENT_ONLY_QUIT
        assert await client.closed()
    finally:
        client.close()


async def test_other_and_expired_entries_do_not_refuse(world: World) -> None:
    await deny(world, DenyKind.IP, "192.0.2.1")
    await deny(world, DenyKind.SENDER, "s@origin.test", days=-1)  # expired yesterday
    await world.alias("hello", ["me@example.net"])
    await world.start()
    answers, data = await world.transaction("s@origin.test", [f"hello@{DOMAIN}"], make_message())
    assert answers == [replies.ACCEPTED_RECIPIENT] and data == replies.DELIVERED


async def test_listed_sender_address_is_refused_at_mail_from(world: World) -> None:
    await deny(world, DenyKind.SENDER, "Spammer@Origin.Test")
    await world.alias("hello", ["me@example.net"])
    await world.start()
    client = await world.client()
    try:
        response = await client.execute_command(b"MAIL", b"FROM:<spammer@origin.test>")
        assert f"{response.code} {response.message}" == replies.DENIED_SENDER
        response = await client.execute_command(b"MAIL", b"FROM:<friend@origin.test>")
        assert f"{response.code} {response.message}" == replies.ACCEPTED_SENDER
    finally:
        client.close()
    _, data = await world.transaction("friend@origin.test", [f"hello@{DOMAIN}"], make_message())
    assert data == replies.DELIVERED and len(world.sink.messages) == 1


async def test_listed_sender_domain_refuses_every_address_in_it(world: World) -> None:
    await deny(world, DenyKind.SENDER, "spam.test")
    await world.start()
    client = await world.client()
    try:
        for sender in ("a@spam.test", "B@Spam.Test"):
            response = await client.execute_command(b"MAIL", f"FROM:<{sender}>".encode())
            assert f"{response.code} {response.message}" == replies.DENIED_SENDER
        response = await client.execute_command(b"MAIL", b"FROM:<a@notspam.test>")
        assert response.code == 250
        await client.execute_command(b"RSET")
        response = await client.execute_command(b"MAIL", b"FROM:<>")  # null sender: not listed
        assert response.code == 250
    finally:
        client.close()


async def test_listed_helo_name_is_refused_at_helo_and_ehlo(world: World) -> None:
    await deny(world, DenyKind.HOST, "bad.client.test")
    await world.start()
    client = await RawClient.connect(world.port)
    try:
        assert (await client.reply()).startswith("220 ")
        assert await client.send("EHLO Bad.Client.Test") == replies.DENIED_CLIENT
        assert await client.send("HELO bad.client.test") == replies.DENIED_CLIENT
        assert (await client.send("MAIL FROM:<s@origin.test>")).startswith("503")  # no HELO
        assert (await client.send("HELO good.client.test")).startswith("250 ")
        assert await client.send("MAIL FROM:<s@origin.test>") == replies.ACCEPTED_SENDER
    finally:
        client.close()


async def test_entry_added_while_running_takes_effect_within_the_ttl(world: World) -> None:
    await world.start(alias_cache_ttl=0.3)
    client = await RawClient.connect(world.port)
    assert (await client.reply()).startswith("220 ")
    client.close()
    await deny(world, DenyKind.IP, "127.0.0.1")
    await asyncio.sleep(0.4)
    client = await RawClient.connect(world.port)
    try:
        assert await client.reply() == replies.DENIED_CLIENT
    finally:
        client.close()


async def test_store_outage_refuses_nobody_and_warns_without_values(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    await deny(world, DenyKind.IP, "127.0.0.1")
    await deny(world, DenyKind.SENDER, "spammer@origin.test")
    await world.start()
    await world.store.close()
    caplog.set_level(logging.DEBUG)
    client = await RawClient.connect(world.port)
    try:
        assert (await client.reply()).startswith("220 ")
        assert (await client.send("EHLO client.test")).startswith("250 ")
        assert await client.send("MAIL FROM:<spammer@origin.test>") == replies.ACCEPTED_SENDER
    finally:
        client.close()
    warnings = [r for r in caplog.records if r.name == "forwarder.rcpt.denylist"]
    assert warnings and all(r.levelno == logging.WARNING for r in warnings)
    assert all("store unavailable" in r.getMessage() for r in warnings)
    for text in relay_logs(caplog):
        assert "127.0.0.1" not in text and "spammer" not in text, text


async def test_refusals_log_no_ip_name_or_address(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    await deny(world, DenyKind.HOST, "bad.client.test")
    await deny(world, DenyKind.SENDER, "spammer@origin.test")
    await world.start()
    caplog.set_level(logging.DEBUG)
    client = await RawClient.connect(world.port)
    try:
        await client.reply()
        assert await client.send("EHLO bad.client.test") == replies.DENIED_CLIENT
        assert (await client.send("EHLO client.test")).startswith("250 ")
        assert await client.send("MAIL FROM:<spammer@origin.test>") == replies.DENIED_SENDER
    finally:
        client.close()
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("forwarder")]
    assert any(m.startswith("MAIL answered 550") for m in messages)
    for text in relay_logs(caplog):
        for secret in ("127.0.0.1", "bad.client", "spammer", "origin.test"):
            assert secret not in text, text
