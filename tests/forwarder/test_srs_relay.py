"""Attack: relay a stranger's mail through the SRS bounce path (issue 8, DESIGN promise 7).

Before: an account owner sent ``MAIL FROM:<victim@victim.test>`` to an alias of their own,
read the SRS0 envelope sender on the forwarded copy, and from then on anyone could send any
message with any sender to that address: ``250``, delivered to the victim from our IP. SRS1
addresses never expired, and a 4-character hash fell to probing in minutes. Now an SRS
address takes only a bounce (null sender, at most ``bounce_max_size``), only when our key
signed it and it has not expired, SRS1 included; the addresses stay srslib-compatible.
"""

from __future__ import annotations

import time

import aiosmtplib
import pytest
import srslib

from forwarder import replies
from forwarder.pipeline import Inbound, Verdict
from forwarder.settings import Secret
from forwarder.srs import HASH_LENGTH, SRS
from tests.forwarder.conftest import DOMAIN, HOSTNAME, World, line, make_message

SECRET = "srs-relay-test-secret"
VICTIM = "victim@victim.test"
DAY = 86400
SPAM = (
    b"From: Your Bank <security@bank.test>\r\nTo: victim@victim.test\r\n"
    b"Subject: Verify your account\r\n\r\nClick here.\r\n"
)


def bounce(size: int = 0) -> bytes:
    head = (
        b"From: Mail Delivery System <MAILER-DAEMON@example.net>\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\nContent-Type: text/plain\r\n\r\n"
        b"The mailbox is full.\r\n"
    )
    filler = b"x" * 78 + b"\r\n"
    return head + filler * max(0, (size - len(head)) // len(filler))


class SrsOnly:
    """The outbound rewrite alone: a real MessagePolicy with a narrow job (the full policy,
    with SPF, DKIM, DMARC and ARC, is tested through the relay in tests/forwarder/auth/)."""

    def __init__(self, srs: SRS) -> None:
        self._srs = srs

    async def inspect(self, inbound: Inbound) -> Verdict:
        return Verdict(inbound.message, self._srs.forward(inbound.mail_from))


@pytest.fixture
async def relay(world: World) -> World:
    world.settings = world.settings.replace(srs_secret=Secret(SECRET))
    srs = SRS.from_settings(world.settings)
    world.extra = {"policy": SrsOnly(srs), "bounces": srs}
    for domain in ("victim.test", "first.example", "origin.test"):
        world.dns.add(f"{domain}.", "MX", "10 mx.example.net.")  # all of them: the sink
    await world.alias("hello", ["me@example.net"])
    await world.start()
    return world


async def issued(world: World, sender: str) -> str:
    """What the account owner does: mail their own alias from ``sender`` and read the
    envelope sender of the forwarded copy."""
    _, data = await world.transaction(sender, [f"hello@{DOMAIN}"], make_message())
    assert data == replies.DELIVERED
    address = world.sink.messages[-1].mail_from
    assert address.endswith(f"@{HOSTNAME}")
    return address


def first_hop(now: float | None = None) -> str:
    """An SRS0 address of another forwarder (the first hop), stamped at ``now``."""
    clock = (lambda: now) if now is not None else time.time
    return SRS(b"first-hop-secret", "first.example", clock=clock).forward(VICTIM)


async def test_srs0_address_refuses_a_strangers_mail(relay: World) -> None:
    srs0 = await issued(relay, VICTIM)
    assert srs0.startswith("SRS0=")
    for sender in ("spammer@evil.test", VICTIM, f"postmaster@{HOSTNAME}"):
        answers, data = await relay.transaction(sender, [srs0], SPAM)
        assert answers == [replies.REJECT_BOUNCE_NOT_NULL] and data == ""
    # Checked before the hash: a forged address gets the same answer, so a non-null sender
    # learns nothing about which addresses are valid.
    digest = srs0.split("=")[1]
    other = "A" * HASH_LENGTH if digest != "A" * HASH_LENGTH else "B" * HASH_LENGTH
    forged = srs0.replace(digest, other)
    answers, _ = await relay.transaction("spammer@evil.test", [forged], SPAM)
    assert answers == [replies.REJECT_BOUNCE_NOT_NULL]
    assert len(relay.sink.messages) == 1  # only the owner's own forwarded copy


async def test_srs1_address_refuses_a_strangers_mail_and_takes_a_bounce(relay: World) -> None:
    srs1 = await issued(relay, first_hop())
    assert srs1.startswith("SRS1=")
    answers, data = await relay.transaction("spammer@evil.test", [srs1], SPAM)
    assert answers == [replies.REJECT_BOUNCE_NOT_NULL] and data == ""
    assert len(relay.sink.messages) == 1
    answers, data = await relay.transaction("", [srs1], bounce())
    assert answers == [replies.ACCEPTED_RECIPIENT] and data == replies.DELIVERED
    returned = relay.sink.messages[-1]
    assert returned.rcpt_tos == [first_hop()] and returned.mail_from == "<>"


async def test_bounce_over_the_size_limit_is_refused_by_declared_size(relay: World) -> None:
    srs0 = await issued(relay, VICTIM)
    cap = relay.settings.bounce_max_size
    assert cap == 256 * 1024
    client = await relay.client()
    try:
        response = await client.execute_command(b"MAIL", f"FROM:<> SIZE={cap + 1}".encode())
        assert response.code == 250
        answer = line(await client.execute_command(b"RCPT", f"TO:<{srs0}>".encode()))
    finally:
        client.close()
    assert answer == replies.BOUNCE_TOO_BIG
    assert len(relay.sink.messages) == 1


async def test_bounce_over_the_size_limit_is_refused_by_the_bytes_received(relay: World) -> None:
    srs0 = await issued(relay, VICTIM)
    cap = relay.settings.bounce_max_size
    # No SIZE declared: the bytes decide. Alone, and next to an alias in one transaction.
    for rcpts in ([srs0], [srs0, f"hello@{DOMAIN}"]):
        answers, data = await relay.transaction("", rcpts, bounce(cap + 4096))
        assert set(answers) == {replies.ACCEPTED_RECIPIENT}
        assert data == replies.BOUNCE_TOO_BIG
    assert len(relay.sink.messages) == 1
    # A delivery status notification with the returned message's headers fits.
    _, data = await relay.transaction("", [srs0], bounce(cap - 4096))
    assert data == replies.DELIVERED
    assert relay.sink.messages[-1].rcpt_tos == [VICTIM]


async def test_expired_srs1_and_srs1_without_timestamp_are_refused(relay: World) -> None:
    ours = SRS.from_settings(relay.settings)
    # Our key signed both: only the timestamp inside (the first hop's) makes them invalid.
    stale = ours.forward(first_hop(time.time() - 30 * DAY))  # max age 21 days
    unstamped = ours.forward("SRS0=opaque-without-timestamp@first.example")
    fresh = ours.forward(first_hop())
    assert stale.startswith("SRS1=") and unstamped.startswith("SRS1=")
    answers, data = await relay.transaction("", [stale, unstamped, fresh], bounce())
    assert answers == [replies.REJECT_UNKNOWN_BOUNCE] * 2 + [replies.ACCEPTED_RECIPIENT]
    assert data == replies.DELIVERED
    assert [m.rcpt_tos for m in relay.sink.messages] == [[first_hop()]]


async def test_short_hash_of_the_old_length_is_refused(relay: World) -> None:
    # What an address signed with srslib's (and our former) 4-character hash looks like:
    # the same key, so only the length makes it a guessable one.
    short = srslib.SRS(SECRET, hash_length=4).forward(VICTIM, HOSTNAME)
    answers, _ = await relay.transaction("", [short], bounce())
    assert answers == [replies.REJECT_UNKNOWN_BOUNCE]
    assert relay.sink.messages == []


async def test_srslib_with_our_secret_and_hash_length_agrees_on_what_we_issue(
    relay: World,
) -> None:
    theirs = srslib.SRS(SECRET, hash_length=HASH_LENGTH)
    srs0 = await issued(relay, VICTIM)
    srs1 = await issued(relay, first_hop())
    # srslib makes the same addresses from the same senders (same day) and reverses ours.
    assert theirs.forward(VICTIM, HOSTNAME) == srs0
    assert theirs.forward(first_hop(), HOSTNAME) == srs1
    assert theirs.reverse(srs0) == VICTIM
    assert theirs.reverse(srs1) == first_hop()
    # A bounce to an address srslib made is taken, also lower-cased as some MTAs send it.
    other = theirs.forward("someone@origin.test", HOSTNAME)
    answers, data = await relay.transaction("", [other.lower()], bounce())
    assert answers == [replies.ACCEPTED_RECIPIENT] and data == replies.DELIVERED
    assert relay.sink.messages[-1].rcpt_tos == ["someone@origin.test"]


async def test_null_sender_with_size_within_the_limit_is_accepted(relay: World) -> None:
    srs0 = await issued(relay, VICTIM)
    client = await relay.client()
    try:
        await client.execute_command(b"MAIL", b"FROM:<> SIZE=4096")
        answer = line(await client.execute_command(b"RCPT", f"TO:<{srs0}>".encode()))
        response = await client.data(bounce())
    except aiosmtplib.SMTPResponseException as exc:  # pragma: no cover - reported below
        pytest.fail(f"{exc.code} {exc.message}")
    finally:
        client.close()
    assert answer == replies.ACCEPTED_RECIPIENT
    assert line(response) == replies.DELIVERED
