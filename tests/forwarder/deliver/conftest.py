"""A world for outbound TLS tests, all on loopback: a test CA the relay trusts
(QUIETMAIL_OUTBOUND_CA_FILE), an HTTPS MTA-STS policy server with a certificate from it
(QUIETMAIL_MTA_STS_PORT), and four STARTTLS sinks on one port for the target's MX hosts:

    mx.example.net     127.0.0.1  certificate from the CA for mx.example.net   (good)
    other.example.net  127.0.0.2  certificate from the CA for other.example.net
    wrong.example.net  127.0.0.2  the same sink: its certificate names another host
    self.example.net   127.0.0.3  self-signed certificate for self.example.net
    plain.example.net  127.0.0.4  no STARTTLS at all
"""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from forwarder.deliver import SmtpTransport
from forwarder.settings import Settings
from tests.support.dns_server import DNSServer
from tests.support.pki import TestCA, self_signed, server_context
from tests.support.policy_server import PolicyServer
from tests.support.smtp_sink import SmtpSink

DOMAIN = "example.net"
HOSTS = {
    "mx": "127.0.0.1",
    "other": "127.0.0.2",
    "wrong": "127.0.0.2",
    "self": "127.0.0.3",
    "plain": "127.0.0.4",
}


def spki_sha256(cert: x509.Certificate) -> str:
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).hexdigest()


def cert_sha256(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


@dataclass
class TlsWorld:
    dns: DNSServer
    ca: TestCA
    policy: PolicyServer
    sinks: dict[str, SmtpSink]
    certs: dict[str, x509.Certificate] = field(default_factory=dict)

    @property
    def port(self) -> int:
        return self.sinks["mx"].port

    def settings(self, **changes: Any) -> Settings:
        return Settings(
            hostname="relay.quietmail.test",
            dns_nameservers=(self.dns.address,),
            dns_timeout=1.0,
            outbound_port=self.port,
            outbound_timeout=5.0,
            outbound_ca_file=self.ca.path,
            mta_sts_port=self.policy.port,
        ).replace(**changes)

    def transport(self, **changes: Any) -> SmtpTransport:
        return SmtpTransport(self.settings(**changes))

    def mx(self, *hosts: str) -> None:
        """The target domain's MX records: the given short names, in preference order."""
        self.dns.remove(f"{DOMAIN}.", "MX")
        records = [f"{10 * (i + 1)} {h}.{DOMAIN}." for i, h in enumerate(hosts)]
        self.dns.add(f"{DOMAIN}.", "MX", *records, ttl=0)

    def publish(
        self, mode: str, mx: tuple[str, ...] = ("*.example.net",), policy_id: str = "1"
    ) -> None:
        """An MTA-STS TXT record (TTL 0, so each delivery asks) and its policy."""
        self.dns.remove(f"_mta-sts.{DOMAIN}.", "TXT")
        self.dns.add(f"_mta-sts.{DOMAIN}.", "TXT", f'"v=STSv1; id={policy_id}"', ttl=0)
        lines = ["version: STSv1", f"mode: {mode}", *(f"mx: {m}" for m in mx), "max_age: 86400"]
        self.policy.policies[f"mta-sts.{DOMAIN}"] = "\r\n".join(lines) + "\r\n"

    def delivered(self) -> dict[str, int]:
        return {name: len(sink.messages) for name, sink in self.sinks.items() if sink.messages}


async def _sinks_on_one_port(
    contexts: dict[str, ssl.SSLContext | None], attempts: int = 20
) -> dict[str, SmtpSink]:
    """One sink per address, all on one port: the kernel picks a free port on 127.0.0.1;
    the same number may be taken on another loopback address, so try again with a new one."""
    for _ in range(attempts):
        sinks: dict[str, SmtpSink] = {}
        try:
            for name, context in contexts.items():
                port = next(iter(sinks.values())).port if sinks else 0
                sinks[name] = await SmtpSink(HOSTS[name], port, context).start()
            return sinks
        except OSError:
            for sink in sinks.values():
                await sink.stop()
    raise OSError(f"no port free on every sink address after {attempts} attempts")


@pytest.fixture
async def tls_world(dns_server: DNSServer, tmp_path: Path) -> AsyncIterator[TlsWorld]:
    ca = TestCA(tmp_path)
    good, good_chain, good_key = ca.issue(f"mx.{DOMAIN}")
    other, other_chain, other_key = ca.issue(f"other.{DOMAIN}")
    self_cert, self_chain, self_key = self_signed(tmp_path, f"self.{DOMAIN}")
    contexts: dict[str, ssl.SSLContext | None] = {
        "mx": server_context(good_chain, good_key),
        "other": server_context(other_chain, other_key),
        "self": server_context(self_chain, self_key),
        "plain": None,
    }
    sinks = await _sinks_on_one_port(contexts)
    try:
        policy = await PolicyServer(ca.server_context(f"mta-sts.{DOMAIN}")).start()
        for name, address in HOSTS.items():
            dns_server.add(f"{name}.{DOMAIN}.", "A", address)
        dns_server.add(f"mta-sts.{DOMAIN}.", "A", "127.0.0.1")
        world = TlsWorld(dns_server, ca, policy, sinks, {"mx": good, "self": self_cert})
        world.certs["other"] = other
        yield world
        await policy.stop()
    finally:
        for sink in sinks.values():
            await sink.stop()


def outbound_settings(dns: DNSServer, port: int, **changes: object) -> Settings:
    """Settings for a transport that asks ``dns`` and delivers to ``port`` on the MX hosts."""
    return Settings(
        hostname="mx.quietmail.test",
        dns_nameservers=(dns.address,),
        dns_timeout=1.0,
        outbound_port=port,
        outbound_timeout=5.0,
    ).replace(**changes)


@pytest.fixture
async def second_sink(sink: SmtpSink) -> AsyncIterator[SmtpSink]:
    """A second sink on the first one's port at 127.0.0.3 (a second MX host)."""
    other = SmtpSink(host="127.0.0.3", port=sink.port)
    await other.start()
    try:
        yield other
    finally:
        await other.stop()
