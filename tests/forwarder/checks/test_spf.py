"""SPF results against zones in the loopback DNS server (RFC 7208 section 2.6)."""

from __future__ import annotations

import pytest

from forwarder import replies
from forwarder.checks.policy import AuthPolicy
from forwarder.checks.spf import SpfChecker
from forwarder.resolver import make_sync_resolver
from forwarder.settings import Settings
from tests.forwarder.checks.conftest import CLIENT_IP, inbound, make_message
from tests.support.dns_server import DNSServer


def checker(settings: Settings) -> SpfChecker:
    return SpfChecker(make_sync_resolver(settings), settings.hostname, 2.0)


@pytest.mark.parametrize(
    ("record", "client", "expected"),
    [
        (f"v=spf1 ip4:{CLIENT_IP} -all", CLIENT_IP, "pass"),
        (f"v=spf1 ip4:{CLIENT_IP} -all", "198.51.100.7", "fail"),
        (f"v=spf1 ip4:{CLIENT_IP} ~all", "198.51.100.7", "softfail"),
        (f"v=spf1 ip4:{CLIENT_IP} ?all", "198.51.100.7", "neutral"),
        ("v=spf1 ip4:not-an-address -all", CLIENT_IP, "permerror"),
        ("v=spf1 include:nospf.example.org -all", CLIENT_IP, "permerror"),
        ("v=spf1 a:mail.example.com -all", CLIENT_IP, "pass"),
        ("v=spf1 mx -all", CLIENT_IP, "pass"),
    ],
)
async def test_spf_results(
    dns_server: DNSServer, settings: Settings, record: str, client: str, expected: str
) -> None:
    dns_server.txt("example.com", record)
    dns_server.add("mail.example.com", "A", CLIENT_IP)
    dns_server.add("example.com", "MX", "10 mail.example.com.")
    result = await checker(settings).check(client, "mx.example.com", "alice@example.com")
    assert result.result == expected
    assert result.domain == "example.com"


async def test_spf_none_without_record(dns_server: DNSServer, settings: Settings) -> None:
    dns_server.add("example.com", "A", CLIENT_IP)
    result = await checker(settings).check(CLIENT_IP, "mx.example.com", "alice@example.com")
    assert result.result == "none"


async def test_spf_temperror_when_dns_is_silent(dns_server: DNSServer, settings: Settings) -> None:
    dns_server.txt("example.com", f"v=spf1 ip4:{CLIENT_IP} -all")
    dns_server.silent = True
    result = await checker(settings).check(CLIENT_IP, "mx.example.com", "alice@example.com")
    assert result.result == "temperror"


async def test_null_sender_checks_helo_identity(dns_server: DNSServer, settings: Settings) -> None:
    dns_server.txt("mx.example.com", f"v=spf1 ip4:{CLIENT_IP} -all")
    result = await checker(settings).check(CLIENT_IP, "mx.example.com", "")
    assert (result.result, result.identity, result.domain) == ("pass", "helo", "mx.example.com")
    assert result.method_result().text() == "spf=pass smtp.helo=mx.example.com"


async def test_lookups_go_to_configured_nameserver(
    dns_server: DNSServer, settings: Settings
) -> None:
    dns_server.txt("example.com", f"v=spf1 ip4:{CLIENT_IP} -all")
    before = dns_server.queries
    await checker(settings).check(CLIENT_IP, "mx.example.com", "alice@example.com")
    assert dns_server.queries > before


async def test_policy_answers_451_on_spf_temperror(
    dns_server: DNSServer, policy: AuthPolicy
) -> None:
    dns_server.silent = True
    verdict = await policy.inspect(inbound(make_message()))
    assert verdict.reply == replies.AUTH_TEMPERROR
    assert verdict.reply.startswith("451 4.4.3")
