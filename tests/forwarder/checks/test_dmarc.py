"""DMARC policy, alignment and From checks through AuthPolicy.inspect (RFC 7489)."""

from __future__ import annotations

import dns.asyncresolver
import pytest
from publicsuffixlist import PublicSuffixList

from forwarder import replies
from forwarder.checks.dmarc import DmarcEvaluator, NoSingleAuthor, author_domain
from forwarder.checks.policy import AuthPolicy
from forwarder.checks.results import split_message
from forwarder.dmarcrecord import parse_record
from forwarder.rewrite.arc_key import ArcKey
from forwarder.settings import Settings
from tests.forwarder.checks.conftest import (
    ARC_SELECTOR,
    CLIENT_IP,
    HOSTNAME,
    SENDER_SELECTOR,
    inbound,
    make_message,
    our_results,
    public_record,
    sign,
)
from tests.support.dns_server import DNSServer

SPOOFER = "bounce@spoofer.example"  # SPF passes for the spoofer's own domain only


@pytest.fixture(autouse=True)
def spoofer(zone: DNSServer) -> None:
    zone.txt("spoofer.example", f"v=spf1 ip4:{CLIENT_IP} -all")


async def test_reject_policy_refuses_unaligned_mail(zone: DNSServer, policy: AuthPolicy) -> None:
    zone.txt("_dmarc.example.com", "v=DMARC1; p=reject")
    verdict = await policy.inspect(inbound(make_message(), mail_from=SPOOFER))
    assert verdict.reply == replies.DMARC_REJECT
    assert "DMARC" in verdict.reply and verdict.reply.startswith("550 5.7.1")


async def test_reject_policy_passes_aligned_spf(zone: DNSServer, policy: AuthPolicy) -> None:
    zone.txt("_dmarc.example.com", "v=DMARC1; p=reject")
    verdict = await policy.inspect(inbound(make_message()))
    assert verdict.reply is None
    assert "dmarc=pass (p=reject dis=none) header.from=example.com" in our_results(verdict.message)


async def test_quarantine_is_forwarded_and_marked(zone: DNSServer, policy: AuthPolicy) -> None:
    zone.txt("_dmarc.example.com", "v=DMARC1; p=quarantine")
    verdict = await policy.inspect(inbound(make_message(), mail_from=SPOOFER))
    assert verdict.reply is None
    results = our_results(verdict.message)
    assert "dmarc=fail (p=quarantine dis=quarantine) header.from=example.com" in results
    assert "policy.dmarc=quarantine" in results


async def test_policy_none_is_forwarded(zone: DNSServer, policy: AuthPolicy) -> None:
    zone.txt("_dmarc.example.com", "v=DMARC1; p=none")
    verdict = await policy.inspect(inbound(make_message(), mail_from=SPOOFER))
    assert verdict.reply is None
    assert "dmarc=fail (p=none dis=none)" in our_results(verdict.message)


async def test_no_record_is_dmarc_none(zone: DNSServer, policy: AuthPolicy) -> None:
    verdict = await policy.inspect(inbound(make_message(), mail_from=SPOOFER))
    assert verdict.reply is None
    assert "dmarc=none header.from=example.com" in our_results(verdict.message)


async def test_subdomain_policy_sp_applies_to_subdomains(
    zone: DNSServer, policy: AuthPolicy
) -> None:
    zone.txt("_dmarc.example.com", "v=DMARC1; p=none; sp=reject")
    sub = make_message(from_="Alice <alice@news.example.com>")
    assert (await policy.inspect(inbound(sub, mail_from=SPOOFER))).reply == replies.DMARC_REJECT
    top = make_message()
    assert (await policy.inspect(inbound(top, mail_from=SPOOFER))).reply is None


async def test_subdomain_without_sp_inherits_p(zone: DNSServer, policy: AuthPolicy) -> None:
    zone.txt("_dmarc.example.com", "v=DMARC1; p=reject")
    sub = make_message(from_="Alice <alice@news.example.com>")
    assert (await policy.inspect(inbound(sub, mail_from=SPOOFER))).reply == replies.DMARC_REJECT


async def test_subdomain_own_record_wins(zone: DNSServer, policy: AuthPolicy) -> None:
    zone.txt("_dmarc.example.com", "v=DMARC1; p=reject; sp=reject")
    zone.txt("_dmarc.news.example.com", "v=DMARC1; p=none")
    sub = make_message(from_="Alice <alice@news.example.com>")
    assert (await policy.inspect(inbound(sub, mail_from=SPOOFER))).reply is None


@pytest.mark.parametrize(("adkim", "refused"), [("r", False), ("s", True)])
async def test_dkim_alignment_relaxed_vs_strict(
    zone: DNSServer, policy: AuthPolicy, sender_pem: bytes, adkim: str, refused: bool
) -> None:
    zone.txt("_dmarc.example.com", f"v=DMARC1; p=reject; adkim={adkim}")
    zone.txt(f"{SENDER_SELECTOR}._domainkey.mail.example.com", public_record(sender_pem))
    signed = sign(make_message(), sender_pem, "mail.example.com")  # d= a subdomain of From
    verdict = await policy.inspect(inbound(signed, mail_from=SPOOFER))
    assert (verdict.reply == replies.DMARC_REJECT) is refused


@pytest.mark.parametrize(("aspf", "refused"), [("r", False), ("s", True)])
async def test_spf_alignment_relaxed_vs_strict(
    zone: DNSServer, policy: AuthPolicy, aspf: str, refused: bool
) -> None:
    zone.txt("_dmarc.example.com", f"v=DMARC1; p=reject; aspf={aspf}")
    zone.txt("bounces.example.com", f"v=spf1 ip4:{CLIENT_IP} -all")
    verdict = await policy.inspect(inbound(make_message(), mail_from="b@bounces.example.com"))
    assert (verdict.reply == replies.DMARC_REJECT) is refused


async def test_dkim_of_another_organisation_does_not_align(
    zone: DNSServer, policy: AuthPolicy, sender_pem: bytes
) -> None:
    zone.txt("_dmarc.example.com", "v=DMARC1; p=reject")
    zone.txt(f"{SENDER_SELECTOR}._domainkey.spoofer.example", public_record(sender_pem))
    signed = sign(make_message(), sender_pem, "spoofer.example")
    verdict = await policy.inspect(inbound(signed, mail_from=SPOOFER))
    assert verdict.reply == replies.DMARC_REJECT


@pytest.mark.parametrize(("pct", "draw", "refused"), [(100, 0.99, True), (0, 0.0, False)])
async def test_pct_samples_with_injected_rng(
    zone: DNSServer,
    settings: Settings,
    arc_pem: bytes,
    psl: PublicSuffixList,
    pct: int,
    draw: float,
    refused: bool,
) -> None:
    zone.txt("_dmarc.example.com", f"v=DMARC1; p=reject; pct={pct}")
    key = ArcKey(ARC_SELECTOR, HOSTNAME, arc_pem)
    policy = AuthPolicy(settings, key, rng=lambda: draw, psl=psl)
    verdict = await policy.inspect(inbound(make_message(), mail_from=SPOOFER))
    assert (verdict.reply == replies.DMARC_REJECT) is refused
    if not refused:  # not sampled: the next milder policy, quarantine (RFC 7489 6.6.4)
        assert "policy.dmarc=quarantine" in our_results(verdict.message)


@pytest.mark.parametrize(
    "message",
    [
        make_message(from_=""),
        make_message(extra="From: Mallory <mallory@spoofer.example>\r\n"),
        make_message(from_="alice@example.com, mallory@spoofer.example"),
        make_message(from_="undisclosed-recipients:;"),
    ],
    ids=["no-from", "two-from-headers", "two-addresses", "empty-group"],
)
async def test_no_single_from_is_refused(
    zone: DNSServer, policy: AuthPolicy, message: bytes
) -> None:
    verdict = await policy.inspect(inbound(message))
    assert verdict.reply == replies.BAD_FROM_HEADER


def test_author_domain_reads_display_names_and_folding() -> None:
    message = make_message(from_='"Smith, Alice"\r\n <Alice@Mail.Example.COM>')
    assert author_domain(split_message(message)[0]) == "mail.example.com"
    with pytest.raises(NoSingleAuthor):
        author_domain(split_message(make_message(from_="no-domain"))[0])


def test_record_parsing() -> None:
    record = parse_record("v=DMARC1; p=Quarantine; sp=reject; pct=20; adkim=s; aspf=r")
    assert record is not None
    assert (record.p, record.sp, record.pct, record.adkim, record.aspf) == (
        "quarantine",
        "reject",
        20,
        "s",
        "r",
    )
    assert parse_record("p=reject; v=DMARC1") is None  # v= must come first
    assert parse_record("v=DMARC1; p=bogus") is None
    assert parse_record("v=DMARC1; p=bogus; rua=mailto:r@example.com") == parse_record(
        "v=DMARC1; p=none"
    )


async def test_two_records_mean_no_policy(zone: DNSServer, policy: AuthPolicy) -> None:
    zone.txt("_dmarc.example.com", "v=DMARC1; p=reject", "v=DMARC1; p=none")
    verdict = await policy.inspect(inbound(make_message(), mail_from=SPOOFER))
    assert verdict.reply is None  # RFC 7489 6.6.3: several records, DMARC not applied


def test_alignment_asks_the_suffix_list_only_for_relaxed_unequal_names(
    psl: PublicSuffixList,
) -> None:
    """Equal names align at once (issue 14); the answer is the one the suffix list gives."""
    evaluator = DmarcEvaluator(dns.asyncresolver.Resolver(configure=False), psl, lambda: 0.0)
    names = [
        "example.com", "Example.COM.", "mail.example.com", "example.net", "com", "co.uk",
        "example.co.uk", "a.b.example.co.uk", "x.github.io", "github.io", "y.github.io", "",
    ]  # fmt: skip
    for a in names:
        for b in names:
            x, y = a.lower().rstrip("."), b.lower().rstrip(".")
            assert evaluator.aligned(a, b, "s") == (x == y)
            org = evaluator.org_domain
            assert evaluator.aligned(a, b, "r") == (org(x) == org(y)), (a, b)
