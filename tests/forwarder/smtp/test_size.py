"""Size limits and the in-flight byte budget: a 30 MiB message is refused at MAIL FROM SIZE=
or at DATA, and the relay's memory stays under its budget while it reads and discards it."""

from __future__ import annotations

import asyncio
import tracemalloc

from forwarder import replies
from tests.forwarder.conftest import DOMAIN, World, line, make_message

MIB = 1024 * 1024


async def test_declared_size_over_the_limit_is_refused_at_mail(world: World) -> None:
    await world.start()
    client = await world.client()
    try:
        response = await client.execute_command(b"MAIL", b"FROM:<s@origin.test>", b"SIZE=31457280")
        assert line(response) == replies.MESSAGE_TOO_BIG
    finally:
        client.close()


async def _read_reply(reader: asyncio.StreamReader) -> bytes:
    return await asyncio.wait_for(reader.readline(), 60)


async def test_30_mib_at_data_is_refused_within_the_budget(world: World) -> None:
    await world.alias("hello", ["me@example.net"])
    budget = 8 * MIB
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
    assert world.relay is not None and world.relay.admission.budget.used == 0
    # The session stays usable: the next message goes through.
    writer.write(
        b"MAIL FROM:<s@origin.test>\r\nRCPT TO:<hello@" + DOMAIN.encode() + b">\r\nDATA\r\n"
    )
    while not (await _read_reply(reader)).startswith(b"354"):
        pass
    writer.write(make_message() + b".\r\n")
    assert (await _read_reply(reader)).decode().strip() == replies.DELIVERED
    writer.close()


async def test_budget_spent_answers_452_for_new_data(world: World) -> None:
    await world.alias("hello", ["me@example.net"])
    await world.start(max_message_size=1 * MIB, inflight_bytes_budget=512 * 1024)
    client = await world.client()
    try:
        await client.execute_command(b"MAIL", b"FROM:<s@origin.test>")
        await client.execute_command(b"RCPT", f"TO:<hello@{DOMAIN}>".encode())
        response = await client.execute_command(b"DATA")  # no SIZE: reserves the 1 MiB limit
        assert line(response) == replies.INSUFFICIENT_STORAGE
        await client.execute_command(b"RSET")
        # With a declared SIZE the reservation fits, and the message goes through.
        await client.execute_command(b"MAIL", b"FROM:<s@origin.test>", b"SIZE=2000")
        await client.execute_command(b"RCPT", f"TO:<hello@{DOMAIN}>".encode())
        response = await client.data(make_message())
        assert line(response) == replies.DELIVERED
    finally:
        client.close()
