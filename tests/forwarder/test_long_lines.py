"""Interop (issue 8): lines over RFC 5321's 1000 bytes, which real mail has (generated
HTML) and Postfix takes, are accepted up to ``max_line_length`` and reach the target byte
for byte (after our Received line), so a DKIM signature over them still verifies; dots at
line starts survive the unstuffing in and the stuffing out."""

from __future__ import annotations

from forwarder import replies
from tests.forwarder.conftest import DOMAIN, World, make_message


async def test_long_lines_are_forwarded_unchanged(world: World) -> None:
    await world.alias("hello", ["me@example.net"])
    await world.start()
    limit = world.settings.max_line_length
    html = b"<p>" + b"a" * 20_000 + b"</p>"
    body = (
        html.decode() + "\r\n" + "b" * limit + "\r\n.leading dot " + "c" * 5000 + "\r\n"
        "..two dots\r\n.\r\n\r\n" + "d" * 999 + "\r\n"
    )
    message = make_message(body=body)
    _, reply = await world.transaction("s@origin.test", [f"hello@{DOMAIN}"], message)
    assert reply == replies.DELIVERED
    received = world.sink.messages[0].data
    trace, _, forwarded = received.partition(b"\r\n")
    assert trace.startswith(b"Received: by ")  # our one line in front (RFC 5321 4.4)
    assert forwarded == message


async def test_a_line_over_the_limit_is_refused(world: World) -> None:
    await world.alias("hello", ["me@example.net"])
    await world.start(max_line_length=2000)
    _, reply = await world.transaction(
        "s@origin.test", [f"hello@{DOMAIN}"], make_message(body="e" * 2001 + "\r\n")
    )
    assert reply == replies.LINE_TOO_LONG
    assert world.sink.messages == []
