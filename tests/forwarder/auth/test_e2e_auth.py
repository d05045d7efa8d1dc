"""Through the real relay: a sealed copy that verifies at the sink, DMARC refusals in the
SMTP conversation, and bounces to SRS addresses going back to the original sender."""

from __future__ import annotations

import time

import dkim
import pytest

from forwarder import replies
from forwarder.srs import SRS
from tests.forwarder.conftest import DOMAIN, HOSTNAME, World, make_message, now

from .conftest import SENDER, dnsfunc_for, sign

pytestmark = pytest.mark.e2e


async def test_forwarded_copy_is_sealed_and_verifies(auth_world: World, sender_pem: bytes) -> None:
    message = sign(make_message(), sender_pem, "origin.test")
    _, data = await auth_world.transaction(SENDER, [f"hello@{DOMAIN}"], message)
    assert data == replies.DELIVERED
    [got] = auth_world.sink.messages
    assert got.mail_from.startswith("SRS0=") and got.mail_from.endswith(f"@{HOSTNAME}")
    dnsfunc = dnsfunc_for(auth_world.dns)
    cv, _, reason = dkim.arc_verify(got.data, dnsfunc=dnsfunc)
    assert (cv, reason) == (dkim.CV_Pass, "success")
    assert dkim.verify(got.data, dnsfunc=dnsfunc)
    assert got.data.endswith(message)


async def test_dmarc_reject_is_refused_at_data(auth_world: World) -> None:
    spoofed = make_message()  # From sender@origin.test, unsigned, sent from a foreign sender
    auth_world.dns.txt("spoofer.test", "v=spf1 ip4:127.0.0.1 -all")
    _, data = await auth_world.transaction("x@spoofer.test", [f"hello@{DOMAIN}"], spoofed)
    assert data == replies.DMARC_REJECT
    assert auth_world.sink.messages == []


async def test_malformed_header_is_refused_once_and_logged(auth_world: World) -> None:
    # Before: dkimpy raised on the line without a colon, the relay answered 451 4.3.0 and
    # the sender retried the same message forever, with nothing in the error log.
    broken = make_message(extra="X-Broken header\r\n")
    _, data = await auth_world.transaction(SENDER, [f"hello@{DOMAIN}"], broken)
    assert data == replies.MALFORMED_HEADER
    assert auth_world.sink.messages == []
    entries = await auth_world.store.errors.list_for_domain(auth_world.domain_id, now())
    assert [(e.alias, e.code, e.enhanced_code) for e in entries] == [("hello", 550, "5.6.0")]


async def test_bounce_to_srs_address_reaches_original_sender(
    auth_world: World, sender_pem: bytes
) -> None:
    message = sign(make_message(), sender_pem, "origin.test")
    await auth_world.transaction(SENDER, [f"hello@{DOMAIN}"], message)
    srs_address = auth_world.sink.messages[0].mail_from
    bounce = (
        "From: Mail Delivery System <MAILER-DAEMON@example.net>\r\n"
        f"To: {srs_address}\r\nSubject: Undelivered Mail\r\n\r\nThe mailbox is full.\r\n"
    ).encode()
    answers, data = await auth_world.transaction("", [srs_address], bounce)
    assert answers == [replies.ACCEPTED_RECIPIENT]
    assert data == replies.DELIVERED
    returned = auth_world.sink.messages[1]
    assert returned.rcpt_tos == [SENDER]
    assert returned.mail_from == "<>"  # aiosmtpd records MAIL FROM:<> so: never rewritten


async def test_forged_and_expired_srs_addresses_are_refused(auth_world: World) -> None:
    good = SRS(b"e2e-srs-secret", HOSTNAME).forward(SENDER)
    digest = good.split("=")[1]
    forged = good.replace(digest, "AAAA" if digest != "AAAA" else "BBBB", 1)
    # Stamped 30 days before the relay's real clock (max age 21): a fixed moment would come
    # back into the window every 1024 days, when SRS day stamps wrap.
    month_ago = time.time() - 30 * 86400
    expired = SRS(b"e2e-srs-secret", HOSTNAME, clock=lambda: month_ago).forward(SENDER)
    other_key = SRS(b"attacker", HOSTNAME).forward("victim@example.net")
    answers, data = await auth_world.transaction("", [forged, expired, other_key], b"")
    assert answers == [replies.REJECT_UNKNOWN_BOUNCE] * 3
    assert data == ""
    assert auth_world.sink.messages == []


@pytest.mark.parametrize("smtputf8", [True, False])
async def test_non_ascii_sender_survives_in_the_results(
    auth_world: World, sender_pem: bytes, smtputf8: bool
) -> None:
    # Before (interop run): jörg@sender.test became smtp.mailfrom="jrg@sender.test".
    client = await auth_world.client()
    try:
        option = " SMTPUTF8" if smtputf8 else ""
        response = await client.execute_command(
            b"MAIL", f"FROM:<jörg@origin.test>{option}".encode()
        )
        assert response.code == 250
        assert (await client.execute_command(b"RCPT", f"TO:<hello@{DOMAIN}>".encode())).code == 250
        assert (await client.data(sign(make_message(), sender_pem, "origin.test"))).code == 250
    finally:
        client.close()
    [got] = auth_world.sink.messages
    ours = got.data.split(f"Authentication-Results: {HOSTNAME};".encode(), 1)[1]
    if smtputf8:
        assert "smtp.mailfrom=jörg@origin.test".encode() in ours
    else:
        assert b'smtp.mailfrom="j\\\\x{F6}rg@origin.test"' in ours
    cv, _, _ = dkim.arc_verify(got.data, dnsfunc=dnsfunc_for(auth_world.dns))
    assert cv == dkim.CV_Pass
