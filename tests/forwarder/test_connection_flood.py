"""Attack: hold idle connections from many addresses until nobody else can connect.

Issue 8: 600 idle connections from 60 IPs were all held (the per-IP limit of 10 does not
bound the sum). Beyond ``max_connections`` in all, a new connection gets ``421 4.7.0`` and is
closed, whatever its IP; a slot frees when a held connection closes. The clients come from
several loopback addresses (127.0.0.0/8 is all local on Linux)."""

from __future__ import annotations

import asyncio

from forwarder import replies
from tests.forwarder.conftest import World

IPS = [f"127.0.0.{i}" for i in range(2, 8)]  # 6 client addresses


async def _connect(world: World, ip: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", world.port, local_addr=(ip, 0))


async def _greeting(reader: asyncio.StreamReader) -> str:
    return (await asyncio.wait_for(reader.readline(), 10)).decode().rstrip("\r\n")


async def test_connections_in_all_are_capped(world: World) -> None:
    await world.start(max_connections=20, max_connections_per_ip=10)
    held = []
    for ip in IPS:  # 4 per address: under the per-IP limit, 24 in all
        for _ in range(4):
            held.append(await _connect(world, ip))
    greetings = [await _greeting(reader) for reader, _ in held]
    assert [g[:3] for g in greetings[:20]] == ["220"] * 20
    assert greetings[20:] == [replies.TOO_MANY_CONNECTIONS_IN_ALL] * 4
    for reader, _ in held[20:]:
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the server
    # Refused connections hold no slot; a closed admitted one frees one.
    held[0][1].close()
    await asyncio.sleep(0.1)
    reader, writer = await _connect(world, "127.0.0.9")
    assert (await _greeting(reader)).startswith("220")
    extra_reader, extra_writer = await _connect(world, "127.0.0.10")
    assert await _greeting(extra_reader) == replies.TOO_MANY_CONNECTIONS_IN_ALL
    for _, w in [*held, (reader, writer), (extra_reader, extra_writer)]:
        w.close()


async def test_the_per_ip_limit_still_answers_first(world: World) -> None:
    await world.start(max_connections=100, max_connections_per_ip=2)
    held = [await _connect(world, "127.0.0.2") for _ in range(3)]
    greetings = [await _greeting(reader) for reader, _ in held]
    assert greetings[2] == replies.TOO_MANY_CONNECTIONS
    for _, w in held:
        w.close()
