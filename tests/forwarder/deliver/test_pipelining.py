"""Pipelined transactions (RFC 2920, forwarder/deliver/transaction.py) against real servers on
loopback: the same results as one command at a time, a refused RCPT giving that target its
own result, the lone "." when DATA is taken with no recipient, stale kept connections
replaced; and the address quoting's fast path equal to aiosmtplib's."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator

import aiosmtplib
import pytest
from aiosmtplib.email import quote_address
from aiosmtplib.protocol import SMTPProtocol

from forwarder.deliver import ConnectionPool, SmtpTransport
from forwarder.deliver.replies import Replies
from forwarder.deliver.transaction import quoted
from forwarder.settings import Settings
from tests.forwarder.conftest import make_message
from tests.forwarder.deliver.conftest import outbound_settings
from tests.forwarder.deliver.test_pool import CountingHost
from tests.support.dns_server import DNSServer
from tests.support.smtp_sink import SmtpSink


def settings_for(dns: DNSServer, port: int) -> Settings:
    dns.add("t.test.", "MX", "10 host.t.test.")
    dns.add("host.t.test.", "A", "127.0.0.1")
    return outbound_settings(dns, port)


@pytest.fixture(params=[True, False], ids=["pipelining", "one-by-one"])
async def any_sink(request: pytest.FixtureRequest) -> AsyncIterator[SmtpSink]:
    server = await SmtpSink(pipelining=request.param).start()
    try:
        yield server
    finally:
        await server.stop()


async def test_both_recipients_in_one_transaction(
    dns_server: DNSServer, any_sink: SmtpSink
) -> None:
    transport = SmtpTransport(settings_for(dns_server, any_sink.port))
    message = make_message(body="line\r\n.starts with a dot\r\n" + "x" * 200_000 + "\r\n")
    results = await transport.send("s@o.test", ["a@t.test", "b@t.test"], message, b"X-A: 1\r\n")
    assert {r: (v.ok, v.reply.code) for r, v in results.items()} == {
        "a@t.test": (True, 250),
        "b@t.test": (True, 250),
    }
    [received] = any_sink.messages
    assert (received.mail_from, received.rcpt_tos) == ("s@o.test", ["a@t.test", "b@t.test"])
    assert received.data == b"X-A: 1\r\n" + message  # dot-stuffing undone by the sink


async def test_a_refused_rcpt_gets_its_own_result(
    dns_server: DNSServer, any_sink: SmtpSink
) -> None:
    any_sink.answer("a@t.test", "550 5.1.1 no such user")
    transport = SmtpTransport(settings_for(dns_server, any_sink.port))
    results = await transport.send("s@o.test", ["a@t.test", "b@t.test"], make_message())
    assert (results["a@t.test"].ok, results["a@t.test"].reply.code) == (False, 550)
    assert results["b@t.test"].ok
    assert [m.rcpt_tos for m in any_sink.messages] == [["b@t.test"]]


async def test_every_rcpt_refused_sends_no_message(
    dns_server: DNSServer, any_sink: SmtpSink
) -> None:
    any_sink.answer("a@t.test", "550 5.1.1 no such user")
    any_sink.answer("b@t.test", "451 4.2.0 mailbox busy")
    pool = ConnectionPool()
    transport = SmtpTransport(settings_for(dns_server, any_sink.port), pool=pool)
    results = await transport.send("s@o.test", ["a@t.test", "b@t.test"], make_message())
    assert {r: v.reply.code for r, v in results.items()} == {"a@t.test": 550, "b@t.test": 451}
    assert any_sink.messages == [] and len(pool) == 0
    await pool.close()


async def test_refused_sender_fails_every_recipient(
    dns_server: DNSServer, any_sink: SmtpSink
) -> None:
    any_sink.answer_mail("550 5.7.1 sender refused")
    transport = SmtpTransport(settings_for(dns_server, any_sink.port))
    results = await transport.send("s@o.test", ["a@t.test", "b@t.test"], make_message())
    assert {r: v.reply.code for r, v in results.items()} == {"a@t.test": 550, "b@t.test": 550}
    assert any_sink.messages == []


@pytest.mark.parametrize("pipelining", [True, False])
async def test_kept_connection_closing_at_mail_is_replaced(
    dns_server: DNSServer, pipelining: bool
) -> None:
    host = CountingHost(close_idle=True, pipelining=pipelining)
    pool = ConnectionPool()
    transport = SmtpTransport(settings_for(dns_server, await host.start()), pool=pool)
    try:
        for _ in range(2):
            results = await transport.send("s@o.test", ["a@t.test"], make_message())
            assert results["a@t.test"].ok
        assert (host.connections, host.delivered) == (2, 2)
    finally:
        await pool.close()
        await host.stop()


class ScriptedHost:
    """A bare SMTP server: advertises PIPELINING (or not), refuses every RCPT, yet answers
    DATA with 354 (a server RFC 2920 3.1 warns about); records each read off the socket."""

    def __init__(self, pipelining: bool) -> None:
        self.pipelining = pipelining
        self.reads: list[bytes] = []
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._session, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        writer.write(b"220 scripted ESMTP\r\n")
        pending = b""
        try:
            while chunk := await reader.read(65536):
                self.reads.append(chunk)
                pending += chunk
                *lines, pending = pending.split(b"\r\n")
                for line in lines:
                    writer.write(self._answer(line))
                await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            self._writers.discard(writer)

    def _answer(self, line: bytes) -> bytes:
        verb = line[:4].upper()
        if verb == b"EHLO":
            return (
                b"250-scripted\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
                if self.pipelining
                else (b"250-scripted\r\n250 8BITMIME\r\n")
            )
        if verb == b"RCPT":
            return b"550 5.1.1 no such user\r\n"
        if verb == b"DATA":
            return b"354 go ahead\r\n"
        if verb == b"QUIT":
            return b"221 bye\r\n"
        return b"250 OK\r\n"


@pytest.mark.parametrize("pipelining", [True, False])
async def test_commands_go_in_one_write_only_when_pipelining_is_offered(
    dns_server: DNSServer, pipelining: bool
) -> None:
    host = ScriptedHost(pipelining)
    transport = SmtpTransport(settings_for(dns_server, await host.start()))
    try:
        results = await transport.send("s@o.test", ["a@t.test", "b@t.test"], make_message())
    finally:
        await host.stop()
    assert {r: v.reply.code for r, v in results.items()} == {"a@t.test": 550, "b@t.test": 550}
    sent = b"".join(host.reads)
    assert b"Subject" not in sent  # no recipient: no message
    group = b"MAIL FROM:<s@o.test>\r\nRCPT TO:<a@t.test>\r\nRCPT TO:<b@t.test>\r\nDATA\r\n"
    if pipelining:
        assert group in host.reads  # one write, one read
        assert b"DATA\r\n.\r\n" in sent or b".\r\n" in host.reads  # the lone dot ends it
    else:
        assert b"DATA" not in sent  # one by one: no DATA after every RCPT was refused
        assert b"MAIL FROM:<s@o.test>\r\n" in host.reads


PLAIN = [
    "a@b.c",
    "first.last@sub.example.net",
    "SRS0=HhJk=AB=origin.test=user@relay.test",
    "x+tag@t.test",
    "o'brien@t.test",
    "a!#$%&'*+/=?^_`{|}~-@t.test",
    "1@2",
    "a-b@c-d.e",
]
ODD = [
    "",
    "a..b@c",
    ".a@b",
    "a.@b",
    '"quoted local"@t.test',
    "a@[127.0.0.1]",
    "a@b.",
    "a b@c",
    "Name <a@b.c>",
    "a@b.c (comment)",
    "a\r\nRSET@b.c",
    "a@b\x00c",
    "ü@t.test",
    "a@b@c",
    "a(b)@c",
    "<a@b.c>",
    "a@b..c",
    "a,b@c",
    "a;b@c",
    "a:b@c",
    "a\\b@c",
    "@b.c",
    "a@",
]


@pytest.mark.parametrize(
    "address", PLAIN + ODD + ["".join(p) for p in itertools.product('a.@"<', repeat=4)]
)
def test_quoting_equals_aiosmtplib(address: str) -> None:
    for encoding in ("ascii", "utf-8"):
        try:
            expected = quote_address(address).encode(encoding)
        except (ValueError, UnicodeEncodeError) as exc:
            with pytest.raises(type(exc)):
                quoted(address, encoding)
            continue
        if b"\r" in expected or b"\x00" in expected:
            with pytest.raises(ValueError):
                quoted(address, encoding)
            continue
        assert quoted(address, encoding) == expected


async def test_replies_split_and_joined_anyhow_come_out_in_order() -> None:
    replies = Replies(SMTPProtocol())
    wire = b"250-first\r\n250 2.1.0 ok\r\n550 5.1.1 no\r\n354 go\r\n"
    replies.data_received(wire[:7])
    reading = asyncio.ensure_future(replies.reply(1.0))
    await asyncio.sleep(0)
    assert not reading.done()
    replies.data_received(wire[7:30])
    assert await reading == (250, "first\n2.1.0 ok")
    replies.data_received(wire[30:])
    assert [await replies.reply(1.0) for _ in range(2)] == [(550, "5.1.1 no"), (354, "go")]


async def test_replies_end_with_the_connection_or_bad_input() -> None:
    replies = Replies(SMTPProtocol())
    replies.data_received(b"250 ok\r\nxyz garbage\r\n")
    assert await replies.reply(1.0) == (250, "ok")
    with pytest.raises(aiosmtplib.SMTPResponseException):
        await replies.reply(1.0)
    lost = Replies(SMTPProtocol())
    lost.connection_lost(None)
    with pytest.raises(aiosmtplib.SMTPServerDisconnected):
        await lost.reply(1.0)
    silent = Replies(SMTPProtocol())
    with pytest.raises(aiosmtplib.SMTPReadTimeoutError):
        await silent.reply(0.05)
    long = Replies(SMTPProtocol())
    long.data_received(b"250-" + b"x" * 9000)
    with pytest.raises(aiosmtplib.SMTPResponseException):
        await long.reply(1.0)
