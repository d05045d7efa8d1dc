"""Our ARC sets (rewrite/arc_seal.py, made through checks/arc.py's ``seal_message``):
byte-identical to dkimpy's ``arc_sign`` where dkimpy writes the same results (a first seal,
an extended chain, a failed chain); verified by dkimpy and by Perl's Mail::DKIM where they
differ (comments, non-ASCII results, bare line ends); and no set where dkimpy makes none."""

from __future__ import annotations

import re

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from forwarder.checks.arc import ArcSealer, seal_message
from forwarder.checks.results import MethodResult, build_header
from forwarder.resolver import make_sync_resolver
from forwarder.rewrite.arc_key import ArcKey, generate_private_pem
from forwarder.rewrite.arc_seal import SealingKey
from forwarder.settings import Settings
from tests.forwarder.checks.conftest import ARC_SELECTOR, HOSTNAME, dnsfunc_for, make_message
from tests.support.dns_server import DNSServer
from tests.support.mail_dkim import perl_verify

T = 1_790_000_000
FIRST = "first.example.org"
SPF = MethodResult("spf", "pass", (("smtp.mailfrom", "alice@example.com"),))
DKIM_NONE = MethodResult("dkim", "none")


def clauses(cv: str) -> list[MethodResult]:
    return [SPF, DKIM_NONE, MethodResult("arc", cv)]


def signer(pem: bytes, host: str = HOSTNAME, selector: str = ARC_SELECTOR) -> SealingKey:
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return SealingKey(key, selector.encode(), host.encode(), host.encode())


def theirs(message: bytes, results: list[MethodResult], pem: bytes) -> list[bytes]:
    """dkimpy's own set: it reads the results back from our Authentication-Results."""
    with_results = build_header(HOSTNAME, results) + message
    host = HOSTNAME.encode()
    made: list[bytes] = dkim.arc_sign(
        with_results, ARC_SELECTOR.encode(), host, pem, host, timestamp=T
    )
    return made


def first_hop(message: bytes) -> bytes:
    pem = generate_private_pem(1024)
    return b"".join(seal_message(message, [MethodResult("arc", "none")], signer(pem, FIRST), T)) + (
        message
    )


@pytest.mark.parametrize("bits", [1024, 2048])
def test_first_seal_is_byte_identical_to_dkimpy(bits: int) -> None:
    pem = generate_private_pem(bits)
    ours = seal_message(make_message(), clauses("none"), signer(pem), T)
    assert len(ours) == 3 and ours[0].startswith(b"ARC-Seal: i=1; cv=none")
    assert ours == theirs(make_message(), clauses("none"), pem)


def test_extended_and_failed_chains_are_byte_identical(arc_pem: bytes) -> None:
    hop1 = first_hop(make_message())
    for cv in ("pass", "fail"):
        ours = seal_message(hop1, clauses(cv), signer(arc_pem), T)
        assert ours[0].startswith(f"ARC-Seal: i=2; cv={cv}".encode())
        assert ours == theirs(hop1, clauses(cv), arc_pem)


def test_the_seal_covers_every_earlier_set_in_instance_order(arc_pem: bytes) -> None:
    """Three hops: the third seal signs sets 1 and 2 in order, as dkimpy does."""
    hop2 = b"".join(seal_message(first_hop(make_message()), clauses("pass"), signer(arc_pem), T))
    message = hop2 + first_hop(make_message())
    ours = seal_message(message, clauses("pass"), signer(arc_pem), T)
    assert ours[0].startswith(b"ARC-Seal: i=3; cv=pass")
    assert ours == theirs(message, clauses("pass"), arc_pem)


def zone_for(dns: DNSServer, pem: bytes) -> DNSServer:
    record = ArcKey(ARC_SELECTOR, HOSTNAME, pem).dns_record().value
    dns.txt(f"{ARC_SELECTOR}._domainkey.{HOSTNAME}", record)
    return dns


def verified(message: bytes, dns: DNSServer) -> None:
    """Both verifiers say the chain passes."""
    cv, _, reason = dkim.arc_verify(message, dnsfunc=dnsfunc_for(dns))
    assert (cv, reason) == (dkim.CV_Pass, "success")
    assert perl_verify(message, dns, "arc") in ("pass", None)  # None: no Perl here


def test_results_with_comments_and_non_ascii_verify(dns_server: DNSServer, arc_pem: bytes) -> None:
    """Where dkimpy would drop our comment and write a non-ASCII value unquoted, ours keeps
    the comment and the ASCII form of the value, and the set verifies with both."""
    results = [
        MethodResult("spf", "pass", (("smtp.mailfrom", "jörg@münchen.example"),)),
        MethodResult("dmarc", "pass", (("header.from", "example.com"),), "p=reject dis=none"),
        MethodResult("arc", "none"),
    ]
    message = make_message()
    ours = seal_message(message, results, signer(arc_pem), T)
    aar = ours[2]
    assert b"dmarc=pass (p=reject dis=none) header.from=example.com" in aar
    assert b'smtp.mailfrom="j\\\\x{F6}rg@xn--mnchen-3ya.example"' in aar  # as our A-R has it
    assert aar.isascii()
    verified(b"".join(ours) + message, zone_for(dns_server, arc_pem))


def test_bare_line_ends_are_sealed_as_they_will_be_sent(
    dns_server: DNSServer, arc_pem: bytes
) -> None:
    """The transport sends every line end as CRLF (deliver/data.py): the set signs that."""
    message = make_message(body="one \nline\r two\t\t \n\n").replace(b"Subject", b"X: a\nSubject")
    ours = seal_message(message, clauses("none"), signer(arc_pem), T)
    sent = re.sub(rb"\r\n|\n|\r(?!\n)", b"\r\n", b"".join(ours) + message)
    verified(sent, zone_for(dns_server, arc_pem))


@pytest.mark.parametrize(
    ("message", "cv"),
    [
        (make_message(from_=""), "none"),  # RFC 6376 5.4: From must be signed
        (make_message(), "pass"),  # a chain that passed, with no sets on the message
        (make_message(), "fail"),
        (make_message(), "temperror"),  # no cv= for it
    ],
)
def test_no_set_where_dkimpy_makes_none(message: bytes, cv: str, arc_pem: bytes) -> None:
    assert seal_message(message, clauses(cv), signer(arc_pem), T) == []


def test_no_set_without_an_arc_result_on_a_chain_or_past_fifty(arc_pem: bytes) -> None:
    hop1 = first_hop(make_message())
    assert seal_message(hop1, [SPF], signer(arc_pem), T) == []  # cv=none on a chain: it ended
    fifty = hop1.replace(b"i=1;", b"i=50;")
    assert seal_message(fifty, clauses("pass"), signer(arc_pem), T) == []
    gap = hop1.replace(b"ARC-Seal: i=1;", b"ARC-Seal: i=7;")  # set 1 is two fields short
    assert seal_message(gap, clauses("pass"), signer(arc_pem), T) == []


def test_sealer_output_verifies_with_dkimpy(
    zone: DNSServer, settings: Settings, arc_pem: bytes
) -> None:
    sealer = ArcSealer(
        make_sync_resolver(settings), ArcKey(ARC_SELECTOR, HOSTNAME, arc_pem), HOSTNAME
    )
    message = make_message()
    sealed = b"".join(sealer.seal_blocking(message, clauses("none"))) + message
    cv, _, reason = dkim.arc_verify(sealed, dnsfunc=dnsfunc_for(zone))
    assert (cv, reason) == (dkim.CV_Pass, "success")
    assert sealer.seal_blocking(message, clauses("none"), T) == theirs(
        message, clauses("none"), arc_pem
    )
