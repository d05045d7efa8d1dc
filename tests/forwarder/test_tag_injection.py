"""Attack: choose the ``+tag`` the relay appends to the owner's confirmed target.

Issue 8: ``shop+üñí@`` went to ``alice-real+üñí@``: the sender picked part of the address our
server then sent to, unchecked. Only an ASCII dot-atom tag (RFC 5322 3.2.3) that keeps the
local part within 64 octets is carried over; any other is dropped, and the message still
reaches the target, untagged."""

from __future__ import annotations

import pytest

from forwarder import replies
from tests.forwarder.conftest import DOMAIN, World, line, make_message

TARGET = "alice-real@example.net"


async def _send(world: World, rcpt: str) -> tuple[str, str]:
    client = await world.client()
    try:
        response = await client.execute_command(b"MAIL", b"FROM:<s@origin.test> SMTPUTF8")
        assert response.code == 250, line(response)
        answer = line(await client.execute_command(b"RCPT", f"TO:<{rcpt}>".encode()))
        data = line(await client.data(make_message()))
        return answer, data
    finally:
        client.close()


@pytest.mark.parametrize(
    "tag",
    [
        "üñí",  # non-ASCII
        "a..b",  # not a dot-atom: doubled dot
        ".hidden",  # leading dot
        "x" * 55,  # alice-real+xxx... would be over 64 octets
    ],
)
async def test_a_tag_that_is_not_a_dot_atom_is_dropped(world: World, tag: str) -> None:
    await world.alias("shop", [TARGET])
    await world.start()
    answer, data = await _send(world, f"shop+{tag}@{DOMAIN}")
    assert (answer, data) == (replies.ACCEPTED_RECIPIENT, replies.DELIVERED)
    assert [m.rcpt_tos for m in world.sink.messages] == [[TARGET]]


async def test_a_dot_atom_tag_is_carried_over(world: World) -> None:
    await world.alias("shop", [TARGET])
    await world.start()
    answer, data = await _send(world, f"shop+news.2024-{{x}}@{DOMAIN}")
    assert (answer, data) == (replies.ACCEPTED_RECIPIENT, replies.DELIVERED)
    assert [m.rcpt_tos for m in world.sink.messages] == [["alice-real+news.2024-{x}@example.net"]]
