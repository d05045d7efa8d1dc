"""The attack: probing hundreds of local parts (address harvesting, SRS hashes, or filling the
owner's error log). Refused recipients count towards ``max_recipients`` like accepted ones;
past it every RCPT gets ``452 4.5.3`` (RFC 5321 4.5.3.1.10) and writes nothing. And since
RSET or a new MAIL restarts that count, 5xx refusals also count per connection and per client
IP over a window (issue 8): past either limit the client gets ``421 4.7.0`` and is closed."""

from __future__ import annotations

import asyncio

from forwarder import replies
from tests.forwarder.conftest import DOMAIN, HOSTNAME, World, line, now


class RawClient:
    """SMTP over a plain socket, one command and one reply at a time, so a test sees exactly
    what the relay answers, including a 421 it sends before closing."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.greeting = ""

    @classmethod
    async def connect(cls, port: int) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        client = cls(reader, writer)
        client.greeting = await client.reply()
        if client.greeting.startswith("220"):
            await client.command("EHLO client.test")
        return client

    async def reply(self) -> str:
        """The reply's last line ('' once the relay has closed the connection)."""
        while True:
            try:
                raw = await asyncio.wait_for(self.reader.readline(), 10)
            except ConnectionError:
                return ""
            text = raw.decode().rstrip("\r\n")
            if not text or text[3:4] != "-":
                return text

    async def command(self, text: str) -> str:
        if self.writer.is_closing():
            return ""
        try:
            self.writer.write(text.encode() + b"\r\n")
            await self.writer.drain()
        except ConnectionError:
            return ""
        return await self.reply()

    async def closed(self) -> bool:
        try:
            return await asyncio.wait_for(self.reader.read(), 10) == b""
        except ConnectionError:
            return True

    def close(self) -> None:
        self.writer.close()


async def probe(client: RawClient, count: int, start: int = 0) -> list[str]:
    return [await client.command(f"RCPT TO:<probe{start + i}@{DOMAIN}>") for i in range(count)]


async def test_300_probes_write_at_most_max_recipients_rows_then_452(world: World) -> None:
    # The per-transaction limit alone; the per-connection and per-IP limits (tests below)
    # would close the connection after 20 refusals with the defaults.
    await world.start(max_refused_per_connection=1000, max_refused_per_ip=1000)
    limit = world.settings.max_recipients
    client = await world.client()
    try:
        response = await client.execute_command(b"MAIL", b"FROM:<prober@origin.test>")
        assert response.code == 250
        answers = [
            line(await client.execute_command(b"RCPT", f"TO:<probe{i}@{DOMAIN}>".encode()))
            for i in range(300)
        ]
    finally:
        client.close()
    assert answers[:limit] == [replies.REJECT_UNKNOWN_ALIAS] * limit
    assert answers[limit:] == [replies.TOO_MANY_RECIPIENTS] * (300 - limit)
    entries = await world.store.errors.list_for_domain(world.domain_id, now())
    assert len(entries) == limit


async def test_refusals_and_acceptances_share_the_limit(world: World) -> None:
    await world.alias("hello", ["me@example.net"])
    await world.start(max_recipients=4)
    client = await world.client()
    try:
        await client.execute_command(b"MAIL", b"FROM:<s@origin.test>")
        rcpts = ["nobody1", "hello", "nobody2", "hello", "hello"]
        answers = [
            line(await client.execute_command(b"RCPT", f"TO:<{r}@{DOMAIN}>".encode()))
            for r in rcpts
        ]
    finally:
        client.close()
    assert answers == [
        replies.REJECT_UNKNOWN_ALIAS,
        replies.ACCEPTED_RECIPIENT,
        replies.REJECT_UNKNOWN_ALIAS,
        replies.ACCEPTED_RECIPIENT,
        replies.TOO_MANY_RECIPIENTS,
    ]


async def test_rset_and_new_mail_do_not_restart_the_refusal_count(world: World) -> None:
    # Before: RSET started a new transaction and with it a new 50-recipient allowance, so
    # one connection could probe without end (issue 8: ~2,900 SRS addresses a second).
    await world.start(max_refused_per_connection=5, max_recipients=3)
    client = await RawClient.connect(world.port)
    try:
        answers = []
        for batch in range(3):
            answers.append(await client.command("MAIL FROM:<prober@origin.test>"))
            answers += await probe(client, 2, start=2 * batch)
            answers.append(await client.command("RSET"))
        closed = await client.closed()
    finally:
        client.close()
    refusal = replies.REJECT_UNKNOWN_ALIAS
    ok, reset = replies.ACCEPTED_SENDER, "250 OK"
    assert answers[:8] == [ok, refusal, refusal, reset, ok, refusal, refusal, reset]
    # The fifth refusal is answered, then the relay says 421 and closes.
    assert answers[8:11] == [ok, refusal, replies.TOO_MANY_REFUSALS]
    assert answers[11:] == [""] and closed  # the RSET after it: no answer, closed


async def test_421_after_the_threshold_and_the_connection_is_closed(world: World) -> None:
    await world.alias("hello", ["me@example.net"])
    await world.start()
    limit = world.settings.max_refused_per_connection
    client = await RawClient.connect(world.port)
    try:
        await client.command("MAIL FROM:<prober@origin.test>")
        # Every kind of RCPT refusal counts: unknown alias, foreign domain, bad bounce
        # address, a source route, a malformed address.
        kinds = [
            f"RCPT TO:<nobody@{DOMAIN}>",
            "RCPT TO:<victim@example.net>",
            f"RCPT TO:<SRS0=AAAAAAAA=AA=example.net=victim@{HOSTNAME}>",
            f"RCPT TO:<@{DOMAIN}:victim@example.net>",
            "RCPT TO:<a@@b>",
        ]
        answers = [await client.command(kinds[i % len(kinds)]) for i in range(limit - 1)]
        accepted = await client.command(f"RCPT TO:<hello@{DOMAIN}>")  # not a refusal
        last = await client.command(f"RCPT TO:<nobody@{DOMAIN}>")
        after = await client.command("RCPT TO:<probe-after@aliases.test>")
        closed = await client.closed()
    finally:
        client.close()
    assert all(a[:1] == "5" for a in answers), answers
    assert accepted == replies.ACCEPTED_RECIPIENT
    assert last == replies.REJECT_UNKNOWN_ALIAS
    assert after == replies.TOO_MANY_REFUSALS and closed
    assert world.sink.messages == []


async def test_a_second_connection_from_the_same_ip_is_cut_off(world: World) -> None:
    await world.alias("hello", ["me@example.net"])
    await world.start(max_refused_per_connection=20, max_refused_per_ip=30)
    first = await RawClient.connect(world.port)
    try:
        await first.command("MAIL FROM:<prober@origin.test>")
        answers = await probe(first, 21)
    finally:
        first.close()
    assert answers == [replies.REJECT_UNKNOWN_ALIAS] * 20 + [replies.TOO_MANY_REFUSALS]

    second = await RawClient.connect(world.port)
    try:
        await second.command("MAIL FROM:<prober@origin.test>")
        answers = await probe(second, 11, start=100)
    finally:
        second.close()
    # The client's window (30) is spent after 10 more, whatever the connection.
    assert answers == [replies.REJECT_UNKNOWN_ALIAS] * 10 + [replies.TOO_MANY_REFUSALS]

    # While the window lasts, a new connection is refused at once, even for a good alias.
    third = await RawClient.connect(world.port)
    try:
        assert third.greeting == replies.TOO_MANY_REFUSALS
        assert await third.closed()
    finally:
        third.close()
    entries = await world.store.errors.list_for_domain(world.domain_id, now())
    assert len(entries) == 30


async def test_4xx_answers_do_not_count_as_refusals(world: World) -> None:
    """A sender with more recipients than one transaction takes (a mailing list) gets 452
    for the rest and sends them again later; that must not cut it off."""
    await world.alias("hello", ["me@example.net"])
    await world.start(max_recipients=2, max_refused_per_connection=3)
    client = await RawClient.connect(world.port)
    try:
        await client.command("MAIL FROM:<list@origin.test>")
        answers = [await client.command(f"RCPT TO:<hello@{DOMAIN}>") for _ in range(10)]
    finally:
        client.close()
    assert answers == [replies.ACCEPTED_RECIPIENT] * 2 + [replies.TOO_MANY_RECIPIENTS] * 8
