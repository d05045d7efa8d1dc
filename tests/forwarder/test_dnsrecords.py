"""DNS-record advice and the live check, against the real loopback DNS server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from publicsuffixlist import PublicSuffixList

from forwarder.checks.dmarc import DmarcEvaluator
from forwarder.deliver.mtasts import parse_policy, txt_id
from forwarder.dnsrecords import (
    DMARC_ADVICE,
    SPF_ADVICE,
    check_records,
    mta_sts_id,
    mta_sts_policy,
    ownership_proven,
    records_for,
)
from forwarder.resolver import make_async_resolver
from forwarder.settings import Settings
from forwarder.store.base import Domain
from tests.support.dns_server import DNSServer

TOKEN = "c2VjcmV0LXRva2Vu"
STS_ID = mta_sts_id(Settings(hostname="mx.quietmail.test"))
DOMAIN = Domain(
    id="d1",
    name="example.test",
    owner_id="u1",
    verification_token=TOKEN,
    created_at=datetime(2025, 1, 1, tzinfo=UTC),
)


def _settings(server: DNSServer, timeout: float = 2.0) -> Settings:
    return Settings(
        hostname="mx.quietmail.test", dns_nameservers=(server.address,), dns_timeout=timeout
    )


def _publish_all(server: DNSServer) -> None:
    server.add("example.test.", "MX", "10 mx.quietmail.test.")
    server.txt("example.test.", f"quietmail-verification={TOKEN}", SPF_ADVICE)
    server.txt("_dmarc.example.test.", DMARC_ADVICE)
    server.add(
        "quietmail._domainkey.example.test.", "CNAME", "quietmail._domainkey.mx.quietmail.test."
    )
    server.txt("_mta-sts.example.test.", f"v=STSv1; id={STS_ID}")
    server.add("mta-sts.example.test.", "CNAME", "mx.quietmail.test.")
    server.txt("_smtp._tls.example.test.", "v=TLSRPTv1; rua=mailto:postmaster@example.test")


def test_records_for_names_required_and_advice() -> None:
    records = records_for(Settings(hostname="mx.quietmail.test"), DOMAIN)
    assert [(r.type, r.name, r.value, r.required) for r in records] == [
        ("MX", "example.test", "10 mx.quietmail.test.", True),
        ("TXT", "example.test", f"quietmail-verification={TOKEN}", True),
        ("TXT", "example.test", "v=spf1 mx ~all", False),
        ("TXT", "_dmarc.example.test", "v=DMARC1; p=none", False),
        (
            "CNAME",
            "quietmail._domainkey.example.test",
            "quietmail._domainkey.mx.quietmail.test.",
            False,
        ),
        ("TXT", "_mta-sts.example.test", f"v=STSv1; id={STS_ID}", False),
        ("CNAME", "mta-sts.example.test", "mx.quietmail.test.", False),
        ("TXT", "_smtp._tls.example.test", "v=TLSRPTv1; rua=mailto:postmaster@example.test", False),
    ]
    assert all(r.purpose for r in records)


def test_mta_sts_id_follows_the_policy_served() -> None:
    settings = Settings(hostname="mx.quietmail.test")
    policy = mta_sts_policy(settings)
    assert parse_policy(policy, "x").mx == ("mx.quietmail.test",)  # our own strict parser
    assert mta_sts_id(settings) == STS_ID and txt_id([f"v=STSv1; id={STS_ID}"]) == STS_ID
    assert mta_sts_id(settings.replace(hostname="mx2.quietmail.test")) != STS_ID


async def test_all_records_published(dns_server: DNSServer) -> None:
    _publish_all(dns_server)
    settings = _settings(dns_server)
    checks = await check_records(settings, DOMAIN, make_async_resolver(settings))
    assert all(c.ok for c in checks), [c.problem for c in checks]
    assert len(checks) == 8
    assert checks[0].found == ("10 mx.quietmail.test.",)
    assert checks[1].found == (f"quietmail-verification={TOKEN}",)
    assert ownership_proven(checks)


async def test_nothing_published_is_nxdomain(dns_server: DNSServer) -> None:
    settings = _settings(dns_server)
    checks = await check_records(settings, DOMAIN, make_async_resolver(settings))
    assert not any(c.ok for c in checks)
    assert all("NXDOMAIN" in c.problem for c in checks)
    assert not ownership_proven(checks)


async def test_wrong_token_and_foreign_mx(dns_server: DNSServer) -> None:
    dns_server.add("example.test.", "MX", "10 mx.elsewhere.test.")
    dns_server.txt("example.test.", "quietmail-verification=someone-elses-token")
    settings = _settings(dns_server)
    checks = await check_records(settings, DOMAIN, make_async_resolver(settings))
    mx, token, spf, dmarc = checks[:4]
    assert not mx.ok and "no MX record points to mx.quietmail.test" in mx.problem
    assert not token.ok and token.problem == "the verification token differs"
    assert not spf.ok and spf.problem == "no SPF record"
    assert not dmarc.ok and "NXDOMAIN" in dmarc.problem
    assert not ownership_proven(checks)


async def test_token_alone_does_not_prove_ownership(dns_server: DNSServer) -> None:
    dns_server.txt("example.test.", f"quietmail-verification={TOKEN}")
    settings = _settings(dns_server)
    checks = await check_records(settings, DOMAIN, make_async_resolver(settings))
    assert checks[1].ok
    assert not checks[0].ok and checks[0].problem == "no MX record points to mx.quietmail.test"
    assert not ownership_proven(checks)


async def test_mx_with_better_preference_elsewhere(dns_server: DNSServer) -> None:
    _publish_all(dns_server)
    dns_server.add("example.test.", "MX", "5 backup.elsewhere.test.")
    settings = _settings(dns_server)
    checks = await check_records(settings, DOMAIN, make_async_resolver(settings))
    assert not checks[0].ok
    assert "backup.elsewhere.test has a lower preference" in checks[0].problem
    assert not ownership_proven(checks)


async def test_mx_match_ignores_case(dns_server: DNSServer) -> None:
    _publish_all(dns_server)
    dns_server.remove("example.test.", "MX")
    dns_server.add("example.test.", "MX", "10 MX.QuietMail.Test.")
    settings = _settings(dns_server)
    checks = await check_records(settings, DOMAIN, make_async_resolver(settings))
    assert checks[0].ok


async def test_two_spf_records_are_a_problem(dns_server: DNSServer) -> None:
    _publish_all(dns_server)
    dns_server.txt("example.test.", "v=spf1 -all", "v=spf10 is not spf")
    settings = _settings(dns_server)
    checks = await check_records(settings, DOMAIN, make_async_resolver(settings))
    assert not checks[2].ok
    assert "more than one SPF record" in checks[2].problem
    assert sorted(checks[2].found) == ["v=spf1 -all", "v=spf1 mx ~all"]
    assert ownership_proven(checks)  # advice does not block ownership


@pytest.mark.parametrize(
    ("texts", "ok", "problem"),
    [
        (["v=DMARC1"], False, "not a usable DMARC record"),
        (["v=DMARC1; p=bogus"], False, "not a usable DMARC record"),
        (
            ["v=DMARC1; p=reject", "v=DMARC1; p=none"],
            False,
            "more than one DMARC record (RFC 7489 6.6.3)",
        ),
        (["v=DMARC1; p=reject", "v=DMARC1; p=bogus"], True, ""),  # the relay uses the one
        (["v=DMARC1; p=bogus; rua=mailto:r@example.test"], True, ""),  # counts as p=none
        (["v = DMARC1; p=quarantine"], True, ""),
        (["some other text"], False, "no DMARC record"),
    ],
)
async def test_dmarc_row_agrees_with_the_relay(
    dns_server: DNSServer, texts: list[str], ok: bool, problem: str
) -> None:
    _publish_all(dns_server)
    dns_server.remove("_dmarc.example.test.", "TXT")
    dns_server.txt("_dmarc.example.test.", *texts)
    settings = _settings(dns_server)
    resolver = make_async_resolver(settings)
    dmarc = (await check_records(settings, DOMAIN, resolver))[3]
    assert (dmarc.ok, dmarc.problem) == (ok, problem)
    # The relay's own look-up finds a policy exactly when the row shows OK.
    relay = DmarcEvaluator(resolver, PublicSuffixList(), lambda: 0.0)
    record, _ = await relay.find_record(DOMAIN.name)
    assert (record is not None) == ok


async def test_dns_timeout_is_problem_text_not_exception(dns_server: DNSServer) -> None:
    _publish_all(dns_server)
    dns_server.silent = True
    settings = _settings(dns_server, timeout=0.3)
    checks = await check_records(settings, DOMAIN, make_async_resolver(settings))
    assert not any(c.ok for c in checks)
    assert all("timed out" in c.problem for c in checks)
    assert not ownership_proven(checks)


def test_ownership_needs_both_required_checks() -> None:
    assert not ownership_proven([])


async def test_dkim_cname_pointing_elsewhere_is_a_problem(dns_server: DNSServer) -> None:
    dns_server.add("quietmail._domainkey.example.test.", "CNAME", "s1._domainkey.other.test.")
    settings = _settings(dns_server)
    checks = await check_records(settings, DOMAIN, make_async_resolver(settings))
    assert checks[4].record.type == "CNAME"
    assert not checks[4].ok and checks[4].problem == "the CNAME points elsewhere"
