"""Rotating the operator's signing key fails no signature and loses no mail (issue 11):
signatures made before the switch still verify after it (the old selector stays published),
and with the next selector's CNAME published ahead (``arc_next_selector``) every domain stays
signed as itself; without it a domain falls back to ``d=<hostname>``, which still verifies."""

from __future__ import annotations

import re

import dkim

from forwarder.dnsrecords import check_records, records_for
from forwarder.resolver import make_async_resolver
from forwarder.rewrite.arc_key import ArcKey, generate_private_pem
from forwarder.rewrite.dkim_sign import DomainSigner
from forwarder.settings import Settings
from forwarder.store.base import Domain
from tests.forwarder.checks.conftest import dnsfunc_for
from tests.forwarder.store.contract_data import NOW
from tests.support.dns_server import DNSServer

HOST = "mx.quietmail.test"
DOMAIN = "alias.example"
MESSAGE = (
    b"From: shop@alias.example\r\nTo: bob@example.com\r\nSubject: hi\r\n"
    b"Date: Tue, 01 Dec 2026 10:00:00 +0000\r\nMessage-ID: <1@alias.example>\r\n\r\nHello.\r\n"
)


def publish(dns: DNSServer, key: ArcKey) -> None:
    record = key.dns_record()
    dns.txt(record.name + ".", record.value)


def signed_as(message: bytes) -> tuple[str, str]:
    header = message.split(b"\r\n\r\n", 1)[0].decode()
    d = re.search(r"\bd=([^;\s]+)", header)
    s = re.search(r"\bs=([^;\s]+)", header)
    assert d is not None and s is not None, header
    return d.group(1), s.group(1)


async def test_rotation_with_the_next_cname_published_ahead(dns_server: DNSServer) -> None:
    settings = Settings(dns_nameservers=(dns_server.address,), hostname=HOST)
    old = ArcKey("quietmail", HOST, generate_private_pem(2048))
    new = ArcKey("quietmail2", HOST, generate_private_pem(2048))
    publish(dns_server, old)
    for selector in ("quietmail", "quietmail2"):  # the owner published both CNAMEs ahead
        dns_server.add(
            f"{selector}._domainkey.{DOMAIN}.", "CNAME", f"{selector}._domainkey.{HOST}."
        )
    resolver = make_async_resolver(settings)
    before = await DomainSigner(old, resolver).sign(MESSAGE, DOMAIN)
    assert signed_as(before) == (DOMAIN, "quietmail")

    publish(dns_server, new)  # step 1: the next key goes under the next selector, old stays
    after = await DomainSigner(new, resolver).sign(MESSAGE, DOMAIN)  # step 2: the switch
    assert signed_as(after) == (DOMAIN, "quietmail2")  # still aligned with the domain

    verify = dnsfunc_for(dns_server)
    assert dkim.verify(before, dnsfunc=verify)  # in transit during the switch: still good
    assert dkim.verify(after, dnsfunc=verify)


async def test_rotation_without_the_next_cname_falls_back_and_still_verifies(
    dns_server: DNSServer,
) -> None:
    settings = Settings(dns_nameservers=(dns_server.address,), hostname=HOST)
    old = ArcKey("quietmail", HOST, generate_private_pem(2048))
    new = ArcKey("quietmail2", HOST, generate_private_pem(2048))
    publish(dns_server, old)
    publish(dns_server, new)
    dns_server.add(f"quietmail._domainkey.{DOMAIN}.", "CNAME", f"quietmail._domainkey.{HOST}.")
    resolver = make_async_resolver(settings)
    before = await DomainSigner(old, resolver).sign(MESSAGE, DOMAIN)
    after = await DomainSigner(new, resolver).sign(MESSAGE, DOMAIN)
    assert signed_as(before) == (DOMAIN, "quietmail")
    assert signed_as(after) == (HOST, "quietmail2")  # not aligned until the owner adds it
    verify = dnsfunc_for(dns_server)
    assert dkim.verify(before, dnsfunc=verify) and dkim.verify(after, dnsfunc=verify)


async def test_the_dns_guide_asks_for_the_next_cname_during_a_rotation(
    dns_server: DNSServer,
) -> None:
    domain = Domain("d1", DOMAIN, "u1", "token", NOW)
    plain = Settings(dns_nameservers=(dns_server.address,), hostname=HOST)
    rotating = plain.replace(arc_next_selector="quietmail2")
    names = [r.name for r in records_for(rotating, domain) if r.type == "CNAME"]
    assert f"quietmail._domainkey.{DOMAIN}" in names
    assert f"quietmail2._domainkey.{DOMAIN}" in names
    assert f"quietmail2._domainkey.{DOMAIN}" not in [r.name for r in records_for(plain, domain)]
    dns_server.add(f"quietmail2._domainkey.{DOMAIN}.", "CNAME", f"quietmail2._domainkey.{HOST}.")
    checks = await check_records(rotating, domain, make_async_resolver(rotating))
    by_name = {c.record.name: c for c in checks}
    assert by_name[f"quietmail2._domainkey.{DOMAIN}"].ok
    assert not by_name[f"quietmail._domainkey.{DOMAIN}"].ok  # not published in this test
