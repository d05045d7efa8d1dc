"""Attack: in-flight budget starvation (issue 8, Medium 1). Connections that send DATA and
then nothing, or a little and then nothing, must not hold the relay's memory budget for
everyone else: nothing is held before bytes arrive, one client IP holds at most its share,
and a transfer that stalls for ``data_chunk_timeout`` ends with 421 and gives its bytes
back. Clients use other loopback addresses (127.0.0.2, 127.0.0.3) to be other IPs."""

from __future__ import annotations

import asyncio

from forwarder import replies
from tests.forwarder.conftest import DOMAIN, World, make_message

MIB = 1024 * 1024
OPEN = f"EHLO c.test\r\nMAIL FROM:<s@origin.test>\r\nRCPT TO:<hello@{DOMAIN}>\r\nDATA\r\n"


async def _open_data(world: World, ip: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection from ``ip`` that is inside DATA (354 read)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", world.port, local_addr=(ip, 0))
    writer.write(OPEN.encode())
    while not (await asyncio.wait_for(reader.readline(), 10)).startswith(b"354"):
        pass
    return reader, writer


async def _until(condition: object, seconds: float = 10) -> None:
    for _ in range(int(seconds * 50)):
        if condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached")


async def test_idle_data_connections_hold_nothing(world: World) -> None:
    """The issue's attack: 20 connections from two IPs send DATA and then nothing. Before,
    each reserved the size limit up front and the next sender got 452 4.3.1."""
    await world.alias("hello", ["me@example.net"])
    relay = await world.start(max_message_size=4 * MIB, inflight_bytes_budget=16 * MIB)
    idle = [await _open_data(world, ip) for ip in ("127.0.0.2", "127.0.0.3") for _ in range(10)]
    assert relay.budget.used == 0
    _, reply = await world.transaction("s@origin.test", [f"hello@{DOMAIN}"], make_message())
    assert reply == replies.DELIVERED
    for _, writer in idle:
        writer.close()


async def test_stalled_transfer_gets_421_and_frees_its_bytes(world: World) -> None:
    await world.alias("hello", ["me@example.net"])
    relay = await world.start(data_chunk_timeout=0.5)
    reader, writer = await _open_data(world, "127.0.0.2")
    writer.write(b"Subject: slow\r\n\r\n" + (b"y" * 998 + b"\r\n") * 200)  # then nothing
    await _until(lambda: relay.budget.used > 0)
    line = await asyncio.wait_for(reader.readline(), 10)
    assert line.decode().rstrip("\r\n") == replies.DATA_TIMEOUT
    assert await asyncio.wait_for(reader.read(), 5) == b""  # closed
    assert relay.budget.used == 0
    assert world.sink.messages == []
    writer.close()


async def test_one_ip_holds_at_most_its_share(world: World) -> None:
    """One IP fills its share with stalled transfers; another IP still gets its message
    through, and the greedy IP's extra transaction is refused 452 4.3.1."""
    await world.alias("hello", ["me@example.net"])
    relay = await world.start(
        max_message_size=4 * MIB, inflight_bytes_budget=4 * MIB, inflight_bytes_per_ip=1 * MIB
    )
    chunk = (b"y" * 998 + b"\r\n") * 200  # 200 KB: 600 KB held (server.HELD_PER_BYTE)
    greedy = [await _open_data(world, "127.0.0.2") for _ in range(7)]  # 4.2 MB > budget
    for _, writer in greedy:
        writer.write(b"Subject: greedy\r\n\r\n" + chunk)
    await _until(lambda: relay.budget.used > 0)
    await asyncio.sleep(0.3)  # every chunk has arrived
    assert relay.budget.held_by("127.0.0.2") <= 1 * MIB
    assert relay.budget.used <= 1 * MIB
    body = ("z" * 998 + "\r\n") * 250  # 250 KB from another IP: 750 KB held, in its share
    _, reply = await world.transaction(
        "s@origin.test", [f"hello@{DOMAIN}"], make_message(body=body)
    )
    assert reply == replies.DELIVERED
    # The greedy transfers that could not grow are refused at their end of DATA.
    answers = []
    for reader, writer in greedy:
        writer.write(b".\r\n")
        answers.append((await asyncio.wait_for(reader.readline(), 10)).decode().rstrip())
        writer.close()
    assert replies.INSUFFICIENT_STORAGE in answers
    await _until(lambda: relay.budget.used == 0)
