"""The SRS bounce path cannot be minted for a victim: whoever can send to an alias (its owner
first of all) forges ``MAIL FROM:<victim@...>``, reads the SRS address on the forwarded copy,
and sends a "bounce" to it so that quietmail delivers it to the victim from its own IP
(issue 8). The copy of a message whose sender did not authenticate (no SPF pass for MAIL FROM,
no valid DKIM signature of that domain) carries an SRS address that takes no bounces."""

from __future__ import annotations

import pytest

from forwarder import replies
from tests.forwarder.conftest import DOMAIN, World, make_message

from .conftest import SENDER, sign

pytestmark = pytest.mark.e2e
VICTIM = "victim@victim.test"
SPAM = (
    b"From: Your Bank <security@victim-bank.test>\r\nTo: victim@victim.test\r\n"
    b"Subject: Verify your account\r\n\r\nhttp://phish.test/\r\n"
)


async def bounce_to(world: World, address: str) -> tuple[list[str], str]:
    return await world.transaction("", [address], SPAM)


@pytest.mark.parametrize("victim_spf", [None, "v=spf1 ip4:192.0.2.1 -all", "v=spf1 ?all"])
async def test_forged_sender_gets_an_srs_address_that_takes_no_bounce(
    auth_world: World, victim_spf: str | None
) -> None:
    if victim_spf is not None:
        auth_world.dns.txt("victim.test", victim_spf)
    auth_world.dns.add("victim.test.", "MX", "10 mx.example.net.")  # the victim's host: the sink
    forged = make_message().replace(b"sender@origin.test", VICTIM.encode())
    _, reply = await auth_world.transaction(VICTIM, [f"hello@{DOMAIN}"], forged)
    assert reply == replies.DELIVERED  # forwarded to the owner, as before
    srs_address = auth_world.sink.messages[0].mail_from
    assert srs_address.startswith("SRS0=") and "victim.test=victim" in srs_address
    answers, data = await bounce_to(auth_world, srs_address)
    assert answers == [replies.REJECT_UNKNOWN_BOUNCE] and data == ""
    assert [m.rcpt_tos for m in auth_world.sink.messages] == [["me@example.net"]]


async def test_spf_authenticated_sender_still_gets_its_bounces(auth_world: World) -> None:
    _, reply = await auth_world.transaction(SENDER, [f"hello@{DOMAIN}"], make_message())
    assert reply == replies.DELIVERED
    answers, data = await bounce_to(auth_world, auth_world.sink.messages[0].mail_from)
    assert answers == [replies.ACCEPTED_RECIPIENT] and data == replies.DELIVERED
    assert auth_world.sink.messages[1].rcpt_tos == [SENDER]


async def test_dkim_authenticated_sender_gets_its_bounces_without_spf(
    auth_world: World, sender_pem: bytes
) -> None:
    """SPF fails for MAIL FROM (the message came through a host origin.test did not list), but
    origin.test's DKIM signature verifies: the sender's domain vouched for the message."""
    auth_world.dns.remove("origin.test", "TXT")
    auth_world.dns.txt("origin.test", "v=spf1 ip4:192.0.2.1 ~all")
    auth_world.dns.txt("_dmarc.origin.test", "v=DMARC1; p=none")
    message = sign(make_message(), sender_pem, "origin.test")
    _, reply = await auth_world.transaction(SENDER, [f"hello@{DOMAIN}"], message)
    assert reply == replies.DELIVERED
    answers, _ = await bounce_to(auth_world, auth_world.sink.messages[0].mail_from)
    assert answers == [replies.ACCEPTED_RECIPIENT]
