"""DKIM verification of every signature, and the cap on how many are verified."""

from __future__ import annotations

import dkim
import pytest

from forwarder import replies
from forwarder.checks.dkim import DkimVerifier, count_signatures
from forwarder.checks.policy import AuthPolicy
from forwarder.checks.results import split_message
from forwarder.checks.verifier import _parsed
from forwarder.resolver import make_sync_resolver
from forwarder.settings import Settings
from tests.forwarder.checks.conftest import (
    SENDER_SELECTOR,
    inbound,
    make_message,
    our_results,
    public_record,
    sign,
)
from tests.support.dns_server import DNSServer


def verifier(settings: Settings) -> DkimVerifier:
    return DkimVerifier(make_sync_resolver(settings), settings.dns_timeout)


async def test_valid_signature_passes(
    zone: DNSServer, settings: Settings, sender_pem: bytes
) -> None:
    results = await verifier(settings).verify(sign(make_message(), sender_pem, "example.com"))
    assert [(r.result, r.domain, r.selector) for r in results] == [
        ("pass", "example.com", SENDER_SELECTOR)
    ]
    assert len(results[0].b) == 8


async def test_altered_body_fails(zone: DNSServer, settings: Settings, sender_pem: bytes) -> None:
    signed = sign(make_message(), sender_pem, "example.com")
    tampered = signed.replace(b"noon", b"midnight")
    [result] = await verifier(settings).verify(tampered)
    assert result.result == "fail"


async def test_missing_key_is_permerror(
    dns_server: DNSServer, settings: Settings, sender_pem: bytes
) -> None:
    [result] = await verifier(settings).verify(sign(make_message(), sender_pem, "example.com"))
    assert result.result == "permerror"


async def test_wrong_key_fails(
    dns_server: DNSServer, settings: Settings, sender_pem: bytes, arc_pem: bytes
) -> None:
    dns_server.txt(f"{SENDER_SELECTOR}._domainkey.example.com", public_record(arc_pem))
    [result] = await verifier(settings).verify(sign(make_message(), sender_pem, "example.com"))
    assert result.result == "fail"


async def test_dns_timeout_is_temperror(
    dns_server: DNSServer, settings: Settings, sender_pem: bytes
) -> None:
    dns_server.silent = True
    [result] = await verifier(settings).verify(sign(make_message(), sender_pem, "example.com"))
    assert result.result == "temperror"


async def test_every_signature_is_verified(
    zone: DNSServer, settings: Settings, sender_pem: bytes
) -> None:
    once = sign(make_message(), sender_pem, "example.com")
    twice = sign(once, sender_pem, "other.example")  # no key published for other.example
    results = await verifier(settings).verify(twice)
    assert [(r.domain, r.result) for r in results] == [
        ("other.example", "permerror"),
        ("example.com", "pass"),
    ]


async def test_unsigned_message_has_no_results(zone: DNSServer, settings: Settings) -> None:
    assert await verifier(settings).verify(make_message()) == []


async def test_too_many_signatures_refused_before_any_lookup(
    dns_server: DNSServer, settings: Settings, policy: AuthPolicy, sender_pem: bytes
) -> None:
    message = make_message()
    for _ in range(settings.max_auth_signatures + 1):
        message = sign(message, sender_pem, "example.com")
    assert count_signatures(split_message(message)[0]) == settings.max_auth_signatures + 1
    before = dns_server.queries
    verdict = await policy.inspect(inbound(message))
    assert verdict.reply == replies.TOO_MANY_AUTH_SIGNATURES
    assert dns_server.queries == before  # no key fetched, no crypto done


async def test_signatures_at_the_cap_are_accepted(
    zone: DNSServer, settings: Settings, policy: AuthPolicy, sender_pem: bytes
) -> None:
    message = make_message()
    for _ in range(settings.max_auth_signatures):
        message = sign(message, sender_pem, "example.com")
    verdict = await policy.inspect(inbound(message))
    assert verdict.reply is None
    assert our_results(verdict.message).count("dkim=pass") == settings.max_auth_signatures


async def test_ed25519_signature_passes(dns_server: DNSServer, settings: Settings) -> None:
    """RFC 8463 signatures verify (dkimpy's ed25519 extra), not only RSA ones."""
    import base64

    import dkim
    import nacl.signing

    key = nacl.signing.SigningKey.generate()
    public = base64.b64encode(bytes(key.verify_key)).decode()
    dns_server.txt("ed._domainkey.example.com", f"v=DKIM1; k=ed25519; p={public}")
    signed = (
        dkim.sign(
            make_message(),
            b"ed",
            b"example.com",
            base64.b64encode(bytes(key)),
            signature_algorithm=b"ed25519-sha256",
            include_headers=[b"from", b"subject"],
        )
        + make_message()
    )
    [result] = await verifier(settings).verify(signed)
    assert (result.result, result.selector) == ("pass", "ed")
    [tampered] = await verifier(settings).verify(signed.replace(b"noon", b"dusk"))
    assert tampered.result == "fail"


@pytest.mark.parametrize(
    "message",
    [
        make_message(),
        b"DKIM-Signature: v=1;\r\n\td=example.com;\r\n  s=x\r\n" + make_message(),
        b"From: a@example.com\r\nSubject: no body\r\n",
        b"From: a@example.com\r\nSubject: empty body\r\n\r\n",
        b"\r\nno header section\r\n",
        b"From: a@example.com\r\n\r\n\r\n\r\nblank lines first\r\n\r\n",
        b"From: a@example.com\nSubject: bare LF\n\nbody\n",  # dkimpy's own parse
        b"From: a@example.com\r\nX: bare\rCR\r\n\r\nbody\r\n",
        b"From: a@example.com\r\n folded first\r\nX:\r\n\r\nb",
    ],
)
def test_the_parse_given_to_dkimpy_is_its_own(message: bytes) -> None:
    """checks/verifier.py hands dkimpy the header fields split once (no split of the whole
    message into lines); dkimpy must see exactly what its own parse gives."""
    headers, body = dkim.rfc822_parse(message)
    assert _parsed(message) == ([(name, value) for name, value in headers], body)
