"""Attack: SMTP smuggling. A bare ``\\n.\\n`` or ``\\r.\\n`` inside DATA must not end the
message, so the commands hidden after it never become a second message, here or at the
target (aiosmtplib re-normalises line endings and dot-stuffs on the way out)."""

from __future__ import annotations

import asyncio

import pytest

from tests.forwarder.conftest import DOMAIN, World


@pytest.mark.parametrize("fake_end", [b"\n.\n", b"\r.\n", b"\n.\r\n", b"\r\n.\n", b"\r.\r\n"])
async def test_hidden_second_message_stays_inside_the_first(world: World, fake_end: bytes) -> None:
    await world.alias("hello", ["me@example.net"])
    await world.alias("other", ["victim@example.net"])
    await world.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", world.port)
    smuggled = (
        b"MAIL FROM:<ceo@bank.test>\r\nRCPT TO:<other@" + DOMAIN.encode() + b">\r\n"
        b"DATA\r\nSubject: smuggled\r\n\r\nsmuggled body\r\n"
    )
    script = (
        b"EHLO client.test\r\nMAIL FROM:<s@origin.test>\r\nRCPT TO:<hello@"
        + DOMAIN.encode()
        + b">\r\nDATA\r\n"
    )
    writer.write(script)
    await writer.drain()
    replies: list[bytes] = []
    while not any(r.startswith(b"354") for r in replies):
        replies.append(await asyncio.wait_for(reader.readline(), 10))
    writer.write(b"Subject: first\r\n\r\nbody" + fake_end + smuggled + b".\r\nQUIT\r\n")
    await writer.drain()
    rest = (await asyncio.wait_for(reader.read(), 20)).split(b"\r\n")
    writer.close()
    # One DATA reply (250), then 221 for QUIT; no replies for smuggled commands.
    assert [r[:3] for r in rest if r] == [b"250", b"221"], rest
    assert len(world.sink.messages) == 1
    assert world.sink.messages[0].rcpt_tos == ["me@example.net"]
    assert world.sink.copies_for("victim@example.net") == 0
    assert b"smuggled body" in world.sink.messages[0].data
