"""OpenSSL-signed ARC sets are byte-identical to dkimpy's own (RSASSA-PKCS1-v1_5 is
deterministic), for a first seal, an extended chain and a failed chain; and they verify."""

from __future__ import annotations

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from forwarder.checks.arc import ArcSealer
from forwarder.checks.dkim import quiet_logger
from forwarder.resolver import make_sync_resolver
from forwarder.rewrite.arc_key import ArcKey, generate_private_pem
from forwarder.rewrite.arc_signer import arc_sign
from forwarder.settings import Settings
from tests.forwarder.checks.conftest import ARC_SELECTOR, HOSTNAME, dnsfunc_for, make_message
from tests.support.dns_server import DNSServer

T = 1_790_000_000
FIRST = "first.example.org"


def results(cv: str, host: str = HOSTNAME) -> bytes:
    return (
        f"Authentication-Results: {host};\r\n\tspf=pass smtp.mailfrom=alice@example.com;\r\n"
        f"\tdkim=none;\r\n\tarc={cv}\r\n"
    ).encode()


def rsa_key(pem: bytes) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def both(message: bytes, pem: bytes, host: str = HOSTNAME) -> tuple[list[bytes], list[bytes]]:
    """(dkimpy's ARC set, ours) for the same message, key and timestamp."""
    args = (message, ARC_SELECTOR.encode(), host.encode(), pem)
    theirs: list[bytes] = dkim.arc_sign(*args, host.encode(), timestamp=T)
    ours = arc_sign(*args, rsa_key(pem), host.encode(), quiet_logger("t"), timestamp=T)
    return theirs, ours


@pytest.mark.parametrize("bits", [1024, 2048])
def test_first_seal_is_byte_identical_to_dkimpy(bits: int) -> None:
    pem = generate_private_pem(bits)
    theirs, ours = both(results("none") + make_message(), pem)
    assert len(ours) == 3 and ours[0].startswith(b"ARC-Seal: i=1; cv=none")
    assert ours == theirs


def test_extended_and_failed_chains_are_byte_identical(arc_pem: bytes) -> None:
    first_pem = generate_private_pem(1024)
    hop1_in = results("none", FIRST) + make_message()
    hop1 = b"".join(dkim.arc_sign(hop1_in, b"s", FIRST.encode(), first_pem, FIRST.encode())) + (
        hop1_in
    )
    for cv in ("pass", "fail"):
        theirs, ours = both(results(cv) + hop1, arc_pem)
        assert ours[0].startswith(f"ARC-Seal: i=2; cv={cv}".encode())
        assert ours == theirs


def test_no_results_header_means_no_seal(arc_pem: bytes) -> None:
    theirs, ours = both(make_message(), arc_pem)
    assert ours == theirs == []


def test_sealer_output_verifies_with_dkimpy(
    zone: DNSServer, settings: Settings, arc_pem: bytes
) -> None:
    sealer = ArcSealer(
        make_sync_resolver(settings), ArcKey(ARC_SELECTOR, HOSTNAME, arc_pem), HOSTNAME
    )
    message = results("none") + make_message()
    sealed = b"".join(sealer.seal_blocking(message)) + message
    cv, _, reason = dkim.arc_verify(sealed, dnsfunc=dnsfunc_for(zone))
    assert (cv, reason) == (dkim.CV_Pass, "success")
    assert sealer.seal_blocking(message, timestamp=T) == both(message, arc_pem)[0]
