"""Size limits and the in-flight byte budget: a 60 MiB message is refused at MAIL FROM SIZE=
(over the 50 MiB default), a 30 MiB one over a 4 MiB limit at DATA, and the relay's memory
stays under its budget while it reads and discards it."""

from __future__ import annotations

import asyncio
import tracemalloc

from forwarder import replies
from tests.forwarder.conftest import DOMAIN, World, line, make_message, run_transaction

MIB = 1024 * 1024


async def test_declared_size_over_the_limit_is_refused_at_mail(world: World) -> None:
    await world.start()
    client = await world.client()
    try:
        response = await client.execute_command(b"MAIL", b"FROM:<s@origin.test>", b"SIZE=62914560")
        assert line(response) == replies.MESSAGE_TOO_BIG
    finally:
        client.close()


async def _read_reply(reader: asyncio.StreamReader) -> bytes:
    return await asyncio.wait_for(reader.readline(), 60)


async def test_30_mib_at_data_is_refused_within_the_budget(world: World) -> None:
    await world.alias("hello", ["me@example.net"])
    budget = 16 * MIB  # holds the 4 MiB limit three times over (server.HELD_PER_BYTE)
    await world.start(max_message_size=4 * MIB, inflight_bytes_budget=budget)
    reader, writer = await asyncio.open_connection("127.0.0.1", world.port)
    await _read_reply(reader)
    writer.write(
        b"EHLO c.test\r\nMAIL FROM:<s@origin.test>\r\nRCPT TO:<hello@" + DOMAIN.encode() + b">\r\n"
    )
    while not (await _read_reply(reader)).startswith(b"250 2.1.5"):
        pass
    writer.write(b"DATA\r\n")
    assert (await _read_reply(reader)).startswith(b"354")
    chunk = (b"x" * 998 + b"\r\n") * 64  # 64 000 bytes, reused: the client holds no message
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        for _ in range(30 * MIB // len(chunk) + 1):
            writer.write(chunk)
            await writer.drain()
        writer.write(b".\r\n")
        reply = await _read_reply(reader)
        peak = tracemalloc.get_traced_memory()[1] - baseline
    finally:
        tracemalloc.stop()
    assert reply.decode().strip() == replies.MESSAGE_TOO_BIG
    assert peak < budget, f"peak {peak / MIB:.1f} MiB"
    assert world.relay is not None and world.relay.budget.used == 0
    # The session stays usable: the next message goes through.
    writer.write(
        b"MAIL FROM:<s@origin.test>\r\nRCPT TO:<hello@" + DOMAIN.encode() + b">\r\nDATA\r\n"
    )
    while not (await _read_reply(reader)).startswith(b"354"):
        pass
    writer.write(make_message() + b".\r\n")
    assert (await _read_reply(reader)).decode().strip() == replies.DELIVERED
    writer.close()


async def test_budget_follows_the_bytes_received(world: World) -> None:
    """Nothing is held for a declared or maximum size: a small message goes through on a
    budget far under max_message_size, and one bigger than the budget gets 452 4.3.1 at
    the end of DATA, with every byte given back."""
    await world.alias("hello", ["me@example.net"])
    await world.start(max_message_size=4 * MIB, inflight_bytes_budget=512 * 1024)
    client = await world.client()
    try:
        await client.execute_command(b"MAIL", b"FROM:<s@origin.test>", b"SIZE=4000000")
        await client.execute_command(b"RCPT", f"TO:<hello@{DOMAIN}>".encode())
        response = await client.data(make_message())  # declared 4 MB, sent 200 bytes
        assert line(response) == replies.DELIVERED
        _, reply = await run_transaction(
            client,
            "s@origin.test",
            [f"hello@{DOMAIN}"],
            make_message(body="x" * 998 + "\r\n") * 300,
        )
        assert reply == replies.INSUFFICIENT_STORAGE
        assert world.relay is not None and world.relay.budget.used == 0
    finally:
        client.close()
