"""Shared pieces for the authentication tests: keys made once per session, a sender that
signs with DKIM, zones written into the loopback DNS server, and a policy wired to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import dkim
import dns.resolver
import pytest
from publicsuffixlist import PublicSuffixList

from forwarder.auth.keys import ArcKey, generate_private_pem
from forwarder.auth.policy import AuthPolicy
from forwarder.pipeline import Inbound
from forwarder.settings import Secret, Settings
from forwarder.srs import SRS
from tests.forwarder.conftest import HOSTNAME as RELAY_HOSTNAME
from tests.forwarder.conftest import World
from tests.support.dns_server import DNSServer

HOSTNAME = "fwd.example.net"
ARC_SELECTOR = "arc1"
SENDER_SELECTOR = "s1"
CLIENT_IP = "192.0.2.10"


@pytest.fixture(scope="session")
def sender_pem() -> bytes:
    return generate_private_pem(1024)  # the smallest size dkimpy accepts, to stay fast


@pytest.fixture(scope="session")
def arc_pem() -> bytes:
    return generate_private_pem(2048)


@pytest.fixture(scope="session")
def psl() -> PublicSuffixList:
    return PublicSuffixList()


def public_record(pem: bytes) -> str:
    return ArcKey("x", "x", pem).dns_record().value


def make_message(
    from_: str = "Alice <alice@example.com>",
    body: str = "Hello Bob,\r\n\r\nsee you at noon.\r\n",
    extra: str = "",
) -> bytes:
    head = f"From: {from_}\r\n" if from_ else ""
    head += (
        "To: bob@alias.example\r\nSubject: lunch\r\nDate: Sat, 21 Nov 2026 10:00:00 +0000\r\n"
        "Message-ID: <m1@example.com>\r\n" + extra
    )
    return (head + "\r\n" + body).encode()


def sign(message: bytes, pem: bytes, domain: str, selector: str = SENDER_SELECTOR) -> bytes:
    header: bytes = dkim.sign(message, selector.encode(), domain.encode(), pem)
    return header + message


def dnsfunc_for(server: DNSServer) -> Callable[..., bytes | None]:
    """An independent dkimpy dnsfunc (plain dnspython) reading the test DNS server."""
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [server.address.host]
    resolver.port = server.address.port

    def get_txt(name: bytes, timeout: float = 5) -> bytes | None:
        try:
            answer = resolver.resolve(name.decode(), "TXT", lifetime=timeout)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return None
        return b"".join(next(iter(answer)).strings)

    return get_txt


def inbound(
    message: bytes, mail_from: str = "alice@example.com", helo: str = "mx.example.com"
) -> Inbound:
    return Inbound(CLIENT_IP, helo, mail_from, ("bob@alias.example",), message)


@pytest.fixture
def settings(dns_server: DNSServer, tmp_path: Path) -> Settings:
    return Settings(
        hostname=HOSTNAME,
        data_dir=tmp_path,
        dns_nameservers=(dns_server.address,),
        dns_timeout=0.5,
        arc_selector=ARC_SELECTOR,
        srs_secret=Secret("srs-secret"),
        encryption_key=Secret("encryption-key"),
    )


@pytest.fixture
def zone(dns_server: DNSServer, sender_pem: bytes, arc_pem: bytes) -> DNSServer:
    """example.com with SPF for CLIENT_IP, the sender's DKIM key and our ARC key."""
    dns_server.txt("example.com", f"v=spf1 ip4:{CLIENT_IP} -all")
    dns_server.txt(f"{SENDER_SELECTOR}._domainkey.example.com", public_record(sender_pem))
    dns_server.txt(f"{ARC_SELECTOR}._domainkey.{HOSTNAME}", public_record(arc_pem))
    return dns_server


@pytest.fixture
async def policy(
    settings: Settings, arc_pem: bytes, psl: PublicSuffixList
) -> AsyncIterator[AuthPolicy]:
    key = ArcKey(ARC_SELECTOR, HOSTNAME, arc_pem)
    policy = AuthPolicy(settings, key, rng=lambda: 0.0, psl=psl)
    yield policy
    await policy.aclose()


def our_results(message: bytes) -> str:
    """The unfolded value of the one Authentication-Results field with our authserv-id."""
    from forwarder.auth.results import authserv_id, field_name, field_value, split_message

    fields, _ = split_message(message)
    ours = [
        field_value(f)
        for f in fields
        if field_name(f) == b"authentication-results" and authserv_id(field_value(f)) == HOSTNAME
    ]
    assert len(ours) == 1, ours
    return " ".join(ours[0].decode().split())


SENDER = "sender@origin.test"  # SPF-authorised for 127.0.0.1, signs as origin.test


@pytest.fixture
async def auth_world(
    world: World, sender_pem: bytes, arc_pem: bytes, psl: PublicSuffixList
) -> World:
    zone = world.dns
    zone.txt("origin.test", "v=spf1 ip4:127.0.0.1 -all")
    zone.txt("_dmarc.origin.test", "v=DMARC1; p=reject")
    zone.txt(f"{SENDER_SELECTOR}._domainkey.origin.test", public_record(sender_pem))
    zone.txt(f"{ARC_SELECTOR}._domainkey.{RELAY_HOSTNAME}", public_record(arc_pem))
    zone.add("origin.test.", "MX", "10 mx.example.net.")  # the sender's mail host is the sink
    world.settings = world.settings.replace(
        arc_selector=ARC_SELECTOR,
        srs_secret=Secret("e2e-srs-secret"),
        encryption_key=Secret("e2e-encryption-key"),
    )
    key = ArcKey(ARC_SELECTOR, RELAY_HOSTNAME, arc_pem)
    world.extra = {
        "policy": AuthPolicy(world.settings, key, rng=lambda: 0.0, psl=psl),
        "bounces": SRS.from_settings(world.settings),
    }
    await world.alias("hello", ["me@example.net"])
    await world.start()
    return world
