"""Attack surface: scanners that read one TCP segment as a whole reply (issue 8, nmap's
``smtp-open-relay`` reported an open relay because aiosmtpd wrote the EHLO reply a line at
a time, so every later reply it read was the previous command's). Each reply must leave in
one write, and the replies to a pipelined group (RFC 2920) together.

The relay's sessions here write through a transport that records every write: the count is
exact, whatever TCP does with the segments."""

from __future__ import annotations

import asyncio
from typing import Any

from forwarder.server import Relay
from forwarder.session import RelaySMTP
from tests.forwarder.conftest import DOMAIN, World


class _CountingTransport:
    """The real transport, with each ``write`` recorded."""

    def __init__(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        self._transport.write(data)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class _CountingSMTP(RelaySMTP):
    transports: list[_CountingTransport] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        counting = _CountingTransport(transport)
        self.transports.append(counting)
        super().connection_made(counting)  # type: ignore[arg-type]


class _CountingRelay(Relay):
    session_class = _CountingSMTP


async def _reply(reader: asyncio.StreamReader) -> list[bytes]:
    """One whole reply: its lines up to the one without a '-' after the code."""
    lines = [await asyncio.wait_for(reader.readline(), 10)]
    while lines[-1][3:4] == b"-":
        lines.append(await asyncio.wait_for(reader.readline(), 10))
    return lines


async def _connect(world: World) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    world.relay = _CountingRelay(world.settings, world.store)
    await world.relay.start()
    _CountingSMTP.transports.clear()
    reader, writer = await asyncio.open_connection("127.0.0.1", world.port)
    await _reply(reader)  # the greeting
    return reader, writer


async def test_ehlo_reply_is_one_write(world: World) -> None:
    reader, writer = await _connect(world)
    writer.write(b"EHLO scanner.test\r\n")
    lines = await _reply(reader)
    assert len(lines) > 3  # a multi-line reply: SIZE, 8BITMIME, SMTPUTF8, PIPELINING, ...
    writes = _CountingSMTP.transports[0].writes
    assert writes[1:] == [b"".join(lines)]  # after the greeting: the whole reply, once
    writer.close()


async def test_pipelined_group_is_answered_in_one_write(world: World) -> None:
    await world.alias("hello", ["me@example.net"])
    reader, writer = await _connect(world)
    writer.write(b"EHLO scanner.test\r\n")
    await _reply(reader)
    group = (
        f"MAIL FROM:<s@origin.test>\r\nRCPT TO:<hello@{DOMAIN}>\r\n"
        "RCPT TO:<nobody@relay-victim.test>\r\nDATA\r\n"
    )
    writer.write(group.encode())  # one segment: RFC 2920 lets DATA end a group
    replies = [await _reply(reader) for _ in range(4)]
    assert [r[0][:3] for r in replies] == [b"250", b"250", b"550", b"354"]
    writes = _CountingSMTP.transports[0].writes
    assert writes[2:] == [b"".join(b"".join(r) for r in replies)]
    writer.write(b"Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n")  # "." and QUIT pipelined too
    rest = await asyncio.wait_for(reader.read(), 10)
    assert [line[:3] for line in rest.splitlines()] == [b"250", b"221"]
    assert writes[3:] == [rest]
    writer.close()
