"""DMARC-safe forwarding (issue 11), through the real relay: an SPF-only author under
p=reject gets a copy whose From is the author's reverse address at the alias's domain,
DKIM-signed as that domain, so DMARC passes where it lands; mail that passes as it is keeps
its bytes; and the target's reply to the rewritten From reaches the author."""

from __future__ import annotations

import time

import dkim
import pytest
from publicsuffixlist import PublicSuffixList

from forwarder import replies
from forwarder.checks.dkim import DkimVerifier
from forwarder.checks.dmarc import DmarcEvaluator, author_domain
from forwarder.checks.results import split_message
from forwarder.checks.spf import SpfResult
from forwarder.resolver import make_async_resolver, make_sync_resolver
from forwarder.reverse import ReverseAddresses
from tests.forwarder.checks.conftest import (
    ARC_SELECTOR,
    SENDER,
    SENDER_SELECTOR,
    dnsfunc_for,
    public_record,
    sign,
)
from tests.forwarder.conftest import DOMAIN, HOSTNAME, World, make_message
from tests.support.mail_dkim import perl_verify

pytestmark = pytest.mark.e2e

OWNER = "me@example.net"


@pytest.fixture
async def safe_world(auth_world: World, arc_pem: bytes, sender_pem: bytes) -> World:
    # The alias's domain publishes the DKIM CNAME (here: what it resolves to) and p=reject.
    auth_world.dns.txt(f"{ARC_SELECTOR}._domainkey.{DOMAIN}", public_record(arc_pem))
    auth_world.dns.txt(f"_dmarc.{DOMAIN}", "v=DMARC1; p=reject")
    auth_world.dns.txt("example.net", "v=spf1 ip4:127.0.0.1 -all")
    auth_world.dns.txt(f"{SENDER_SELECTOR}._domainkey.example.net", public_record(sender_pem))
    return auth_world


async def dmarc_at_destination(world: World, copy: bytes, psl: PublicSuffixList) -> str:
    """DMARC of the copy as the target's provider sees it: SPF there judges our SRS
    envelope sender (so it cannot align with From); only DKIM can pass it."""
    verifier = DkimVerifier(make_sync_resolver(world.settings), 2.0)
    results = verifier.verify_blocking(copy)
    fields, _ = split_message(copy)
    domain = author_domain(fields)
    evaluator = DmarcEvaluator(make_async_resolver(world.settings), psl, lambda: 0.0)
    found = await evaluator.find_record(domain)
    srs_spf = SpfResult("pass", "mailfrom", "mx.quietmail.test", "srs@mx.quietmail.test")
    return evaluator.evaluate(domain, found, srs_spf, results).result


async def test_spf_only_author_under_reject_gets_a_rewritten_signed_from(
    safe_world: World, psl: PublicSuffixList
) -> None:
    message = make_message()  # From: Sender <sender@origin.test>, unsigned; SPF passes
    _, data = await safe_world.transaction(SENDER, [f"hello@{DOMAIN}"], message)
    assert data == replies.DELIVERED
    [got] = safe_world.sink.messages
    assert b"X-Original-From: Sender <sender@origin.test>\r\n" in got.data
    from_line = next(line for line in got.data.split(b"\r\n") if line.startswith(b"From:"))
    assert from_line.startswith(b'From: "Sender (sender at origin.test)" <r=')
    assert from_line.endswith(f"=hello=sender=origin.test@{DOMAIN}>".encode())
    assert f"d={DOMAIN};".encode() in got.data
    dnsfunc = dnsfunc_for(safe_world.dns)
    assert dkim.verify(got.data, dnsfunc=dnsfunc)
    cv, _, _ = dkim.arc_verify(got.data, dnsfunc=dnsfunc)
    assert cv == dkim.CV_Pass
    assert await dmarc_at_destination(safe_world, got.data, psl) == "pass"
    verdict = perl_verify(got.data, safe_world.dns)
    if verdict is None:
        pytest.skip("Perl Mail::DKIM is not installed (apt-get install libmail-dkim-perl)")
    assert verdict == "pass"


async def test_the_unrewritten_copy_would_have_failed(
    safe_world: World, psl: PublicSuffixList
) -> None:
    """The reason for the rewrite: the same message forwarded as it is fails DMARC."""
    assert await dmarc_at_destination(safe_world, make_message(), psl) == "fail"


async def test_dkim_aligned_author_is_forwarded_byte_for_byte(
    safe_world: World, sender_pem: bytes
) -> None:
    message = sign(make_message(), sender_pem, "origin.test")
    _, data = await safe_world.transaction(SENDER, [f"hello@{DOMAIN}"], message)
    assert data == replies.DELIVERED
    [got] = safe_world.sink.messages
    assert got.data.endswith(message)
    assert b"X-Original-From" not in got.data


async def test_author_without_enforced_policy_is_not_rewritten(safe_world: World) -> None:
    safe_world.dns.txt("relaxed.test", "v=spf1 ip4:127.0.0.1 -all")
    safe_world.dns.txt("_dmarc.relaxed.test", "v=DMARC1; p=none")
    message = make_message().replace(b"sender@origin.test", b"news@relaxed.test")
    _, data = await safe_world.transaction("news@relaxed.test", [f"hello@{DOMAIN}"], message)
    assert data == replies.DELIVERED
    assert safe_world.sink.messages[0].data.endswith(message)


async def test_target_reply_to_the_rewritten_from_reaches_the_author(
    safe_world: World, sender_pem: bytes
) -> None:
    _, data = await safe_world.transaction(SENDER, [f"hello@{DOMAIN}"], make_message())
    assert data == replies.DELIVERED
    copy = safe_world.sink.messages[0].data
    from_line = next(line for line in copy.split(b"\r\n") if line.startswith(b"From:"))
    reverse = from_line.rsplit(b"<", 1)[1].rstrip(b">").decode()
    reply = sign(
        (
            f"From: Me <{OWNER}>\r\nTo: {from_line[6:].decode()}\r\nSubject: Re: hello\r\n"
            f"Date: Tue, 01 Dec 2026 10:00:00 +0000\r\nMessage-ID: <r{time.time()}@example.net>"
            "\r\n\r\nThanks.\r\n"
        ).encode(),
        sender_pem,
        "example.net",
    )
    answers, data = await safe_world.transaction(OWNER, [reverse], reply)
    assert (answers, data) == ([replies.ACCEPTED_RECIPIENT], replies.DELIVERED)
    got = safe_world.sink.messages[1]
    assert got.rcpt_tos == [SENDER]
    assert f"From: hello@{DOMAIN}\r\n".encode() in got.data
    assert b"example.net" not in got.data
    assert f"d={DOMAIN};".encode() in got.data
    assert dkim.verify(got.data, dnsfunc=dnsfunc_for(safe_world.dns))


def test_reverse_address_in_from_is_the_one_the_gate_accepts() -> None:
    keys = ReverseAddresses(b"k")
    assert keys.mint("id", 0, "hello", DOMAIN, "Sender@Origin.test") == keys.mint(
        "id", 0, "hello", DOMAIN, "sender@origin.test"
    )


async def test_without_the_dkim_record_the_from_is_at_our_hostname(
    auth_world: World, sender_pem: bytes, psl: PublicSuffixList
) -> None:
    """No CNAME at the alias's domain yet: the copy is signed as our hostname, and its From
    is the author's reverse address at our hostname, so the two align; a reply to it is
    accepted at our hostname and reaches the author as the alias."""
    auth_world.dns.txt("example.net", "v=spf1 ip4:127.0.0.1 -all")
    _, data = await auth_world.transaction(SENDER, [f"hello@{DOMAIN}"], make_message())
    assert data == replies.DELIVERED
    copy = auth_world.sink.messages[0].data
    from_line = next(line for line in copy.split(b"\r\n") if line.startswith(b"From:"))
    assert from_line.endswith(f"=sender=origin.test@{HOSTNAME}>".encode())
    assert f"={DOMAIN}=hello=".encode() in from_line
    assert f"d={HOSTNAME};".encode() in copy
    assert dkim.verify(copy, dnsfunc=dnsfunc_for(auth_world.dns))
    assert await dmarc_at_destination(auth_world, copy, psl) != "fail"
    reverse = from_line.rsplit(b"<", 1)[1].rstrip(b">").decode()
    reply = (
        f"From: {OWNER}\r\nTo: {reverse}\r\nSubject: Re\r\n"
        "Date: Tue, 01 Dec 2026 10:00:00 +0000\r\n\r\nThanks.\r\n"
    ).encode()
    answers, data = await auth_world.transaction(OWNER, [reverse], reply)
    assert (answers, data) == ([replies.ACCEPTED_RECIPIENT], replies.DELIVERED)
    got = auth_world.sink.messages[1]
    assert got.rcpt_tos == [SENDER] and f"From: hello@{DOMAIN}\r\n".encode() in got.data
    assert f"To: {SENDER}\r\n".encode() in got.data


async def test_forged_reverse_address_at_our_hostname_is_refused(auth_world: World) -> None:
    forged = f"r={'a' * 12}={DOMAIN}=hello=victim=origin.test@{HOSTNAME}"
    unknown = f"r={'a' * 12}=not-ours.test=hello=victim=origin.test@{HOSTNAME}"
    answers, _ = await auth_world.transaction(OWNER, [forged, unknown], b"")
    assert answers == [replies.REJECT_UNKNOWN_ALIAS] * 2
    assert auth_world.sink.messages == []
