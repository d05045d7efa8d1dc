"""The test DNS server answers like a real one, over UDP and TCP."""

import dns.asyncresolver
import dns.exception
import dns.flags
import dns.resolver
import pytest

from tests.support.dns_server import DNSServer


def _resolver(server: DNSServer) -> dns.asyncresolver.Resolver:
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = [server.address.host]
    resolver.port = server.address.port
    resolver.lifetime = 1.0
    return resolver


async def test_answers_records_and_nxdomain(dns_server: DNSServer) -> None:
    dns_server.add("example.test.", "MX", "10 mx.example.test.")
    dns_server.txt("example.test.", "v=spf1 -all", "x" * 400)
    resolver = _resolver(dns_server)
    mx = await resolver.resolve("example.test.", "MX")
    assert [r.preference for r in mx] == [10]
    txt = await resolver.resolve("example.test.", "TXT", tcp=True)
    assert sorted(b"".join(r.strings).decode() for r in txt) == ["v=spf1 -all", "x" * 400]
    with pytest.raises(dns.resolver.NXDOMAIN):
        await resolver.resolve("missing.test.", "A")
    with pytest.raises(dns.resolver.NoAnswer):
        await resolver.resolve("example.test.", "A")


async def test_silent_times_out(dns_server: DNSServer) -> None:
    dns_server.add("example.test.", "A", "127.0.0.1")
    dns_server.silent = True
    resolver = _resolver(dns_server)
    resolver.lifetime = 0.3
    with pytest.raises(dns.exception.Timeout):
        await resolver.resolve("example.test.", "A")


async def test_answers_in_a_secure_zone_carry_the_ad_bit(dns_server: DNSServer) -> None:
    dns_server.add("signed.test.", "MX", "10 mx.signed.test.")
    dns_server.add("plain.test.", "MX", "10 mx.plain.test.")
    dns_server.secure("signed.test.")
    resolver = _resolver(dns_server)
    signed = await resolver.resolve("signed.test.", "MX")
    plain = await resolver.resolve("plain.test.", "MX")
    assert signed.response.flags & dns.flags.AD
    assert not plain.response.flags & dns.flags.AD
