"""The forwarded copy: sealed with ARC, original DKIM intact, SRS envelope sender.

Verification uses dkimpy's own verifiers with an independent dnsfunc reading keys from the
loopback DNS server, as a destination would.
"""

from __future__ import annotations

import dkim
from publicsuffixlist import PublicSuffixList

from forwarder import replies
from forwarder.checks.arc import ArcSealer
from forwarder.checks.policy import AuthPolicy
from forwarder.resolver import make_sync_resolver
from forwarder.rewrite.arc_key import ArcKey
from forwarder.rewrite.srs import SRS
from forwarder.settings import Settings
from tests.forwarder.checks.conftest import (
    ARC_SELECTOR,
    HOSTNAME,
    dnsfunc_for,
    inbound,
    make_message,
    our_results,
    public_record,
    sign,
)
from tests.support.dns_server import DNSServer


async def test_sealed_copy_verifies_at_destination(
    zone: DNSServer, policy: AuthPolicy, sender_pem: bytes
) -> None:
    original = sign(make_message(), sender_pem, "example.com")
    verdict = await policy.inspect(inbound(original))
    assert verdict.reply is None
    dnsfunc = dnsfunc_for(zone)
    cv, results, reason = dkim.arc_verify(verdict.message, dnsfunc=dnsfunc)
    assert (cv, reason) == (dkim.CV_Pass, "success")
    assert [r["instance"] for r in results] == [1]
    assert results[0]["cv"] == b"none"  # nothing arrived: the first seal says cv=none
    assert dkim.verify(verdict.message, dnsfunc=dnsfunc)  # the sender's own signature
    # From, body and the original DKIM signature survive byte-for-byte under our headers.
    assert verdict.message.endswith(original)
    aar = verdict.message.split(b"ARC-Authentication-Results: ", 1)[1].split(b"\r\nARC")[0]
    assert b"dkim=pass" in aar and b"spf=pass" in aar and b"arc=none" in aar


async def test_tampered_sealed_copy_fails(
    zone: DNSServer, policy: AuthPolicy, sender_pem: bytes
) -> None:
    verdict = await policy.inspect(inbound(sign(make_message(), sender_pem, "example.com")))
    tampered = verdict.message.replace(b"noon", b"dawn")
    cv, _, _ = dkim.arc_verify(tampered, dnsfunc=dnsfunc_for(zone))
    assert cv == dkim.CV_Fail


async def test_second_hop_extends_a_valid_chain(
    zone: DNSServer, settings: Settings, psl: PublicSuffixList, arc_pem: bytes, sender_pem: bytes
) -> None:
    first_host = "first.example.org"
    zone.txt(f"{ARC_SELECTOR}._domainkey.{first_host}", public_record(sender_pem))
    first = AuthPolicy(
        settings.replace(hostname=first_host),
        ArcKey(ARC_SELECTOR, first_host, sender_pem),
        rng=lambda: 0.0,
        psl=psl,
    )
    hop1 = await first.inspect(inbound(sign(make_message(), sender_pem, "example.com")))
    second = AuthPolicy(settings, ArcKey(ARC_SELECTOR, HOSTNAME, arc_pem), psl=psl)
    hop2 = await second.inspect(inbound(hop1.message, mail_from=hop1.envelope_sender))
    assert "arc=pass" in our_results(hop2.message)
    cv, results, _ = dkim.arc_verify(hop2.message, dnsfunc=dnsfunc_for(zone))
    assert cv == dkim.CV_Pass
    assert [(r["instance"], r["cv"]) for r in results] == [(2, b"pass"), (1, b"none")]
    assert hop2.envelope_sender.startswith("SRS1=")


async def test_broken_incoming_chain_is_sealed_as_fail(
    zone: DNSServer, policy: AuthPolicy, sender_pem: bytes
) -> None:
    hop1 = await policy.inspect(inbound(sign(make_message(), sender_pem, "example.com")))
    broken = hop1.message.replace(b"noon", b"dusk")
    hop2 = await policy.inspect(inbound(broken))
    assert "arc=fail" in our_results(hop2.message)
    assert b"cv=fail" in hop2.message.split(b"\r\n", 1)[0]


async def _first_hop_copy(
    zone: DNSServer, settings: Settings, psl: PublicSuffixList, sender_pem: bytes
) -> bytes:
    """A signed message as sealed by another forwarder, first.example.org."""
    first_host = "first.example.org"
    zone.txt(f"{ARC_SELECTOR}._domainkey.{first_host}", public_record(sender_pem))
    first = AuthPolicy(
        settings.replace(hostname=first_host),
        ArcKey(ARC_SELECTOR, first_host, sender_pem),
        rng=lambda: 0.0,
        psl=psl,
    )
    hop1 = await first.inspect(inbound(sign(make_message(), sender_pem, "example.com")))
    return hop1.message


async def test_dns_timeout_validating_a_chain_is_temperror_not_fail(
    zone: DNSServer, settings: Settings, psl: PublicSuffixList, arc_pem: bytes, sender_pem: bytes
) -> None:
    sealed = await _first_hop_copy(zone, settings, psl, sender_pem)
    sealer = ArcSealer(
        make_sync_resolver(settings), ArcKey(ARC_SELECTOR, HOSTNAME, arc_pem), HOSTNAME
    )
    assert (await sealer.validate(sealed)).result == "pass"
    zone.silent = True  # our resolver times out fetching the first hop's key
    assert (await sealer.validate(sealed)).result == "temperror"


async def test_policy_answers_451_when_our_dns_fails_on_the_chain(
    zone: DNSServer,
    policy: AuthPolicy,
    settings: Settings,
    psl: PublicSuffixList,
    sender_pem: bytes,
) -> None:
    sealed = await _first_hop_copy(zone, settings, psl, sender_pem)
    # Warm the policy's DNS cache with the sender's SPF, DKIM key and DMARC answers, so that
    # only the first hop's ARC key is asked for once the server goes silent.
    warm = await policy.inspect(inbound(sign(make_message(), sender_pem, "example.com")))
    assert warm.reply is None
    zone.silent = True
    verdict = await policy.inspect(inbound(sealed))
    assert verdict.reply == replies.AUTH_TEMPERROR  # before: forwarded sealed with cv=fail
    zone.silent = False
    retried = await policy.inspect(inbound(sealed))
    assert "arc=pass" in our_results(retried.message)


async def test_envelope_sender_is_srs_rewritten(zone: DNSServer, policy: AuthPolicy) -> None:
    verdict = await policy.inspect(inbound(make_message(), mail_from="alice@example.com"))
    assert verdict.envelope_sender.startswith("SRS0=")
    assert verdict.envelope_sender.endswith(f"=example.com=alice@{HOSTNAME}")
    srs = SRS(b"srs-secret", HOSTNAME)
    assert srs.reverse(verdict.envelope_sender) == "alice@example.com"


async def test_null_sender_stays_null(zone: DNSServer, policy: AuthPolicy) -> None:
    zone.txt("mx.example.com", "v=spf1 a -all")
    verdict = await policy.inspect(inbound(make_message(), mail_from=""))
    assert verdict.reply is None
    assert verdict.envelope_sender == ""
    assert "spf=fail smtp.helo=mx.example.com" in our_results(verdict.message)
