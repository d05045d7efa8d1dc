"""Messages and key records that make DKIM and ARC verification expensive (issue 8, "High").

Shared by tests/forwarder/auth/test_check_exhaustion.py and tests/bench/bench_check_exhaustion.py.
The attacker signs with an ordinary key (so body hashes match and the verifier gets as far as
the RSA step) and publishes a different public key at the selector: a huge modulus with a
huge public exponent. Such a key needs no private half, so it costs the attacker nothing to
make; a pure-Python verifier spends seconds on ``pow(s, e, n)`` with it.
"""

from __future__ import annotations

import base64
import secrets
import time

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from forwarder.checks.arc import seal_message
from forwarder.checks.results import MethodResult
from forwarder.rewrite.arc_seal import SealingKey


def rsa_record(bits: int, exponent: int) -> str:
    """A DKIM key record (RFC 6376 section 3.6.1) for a random ``bits``-bit modulus."""
    modulus = secrets.randbits(bits) | (1 << (bits - 1)) | 1
    key = rsa.RSAPublicNumbers(exponent, modulus).public_key()
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode('ascii')}"


def huge_exponent(bits: int) -> int:
    """An odd exponent of ``bits`` bits: each extra bit is one more modular squaring."""
    return secrets.randbits(bits) | (1 << (bits - 1)) | 1


def dkim_signed(message: bytes, pem: bytes, domain: str, selectors: list[str]) -> bytes:
    """``message`` with one DKIM signature per selector, all made with ``pem``."""
    for selector in selectors:
        header: bytes = dkim.sign(message, selector.encode(), domain.encode(), pem)
        message = header + message
    return message


def arc_chain(message: bytes, sets: int, pem: bytes, domain: str, selector: str) -> bytes:
    """``message`` sealed ``sets`` times, as ``sets`` forwarders in a row would (RFC 8617),
    each seal made with ``pem`` as ``d=domain s=selector`` (``{hop}`` in ``selector`` becomes
    the hop's number, so that each set needs a key look-up of its own)."""
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    for hop in range(sets):
        srv = f"hop{hop}.{domain}"
        results = [MethodResult("arc", "none" if hop == 0 else "pass")]
        sel = selector.format(hop=hop).encode()
        signer = SealingKey(key, sel, domain.encode(), srv.encode())
        headers = seal_message(message, results, signer, int(time.time()))
        assert headers, f"no seal for hop {hop}"
        message = b"".join(headers) + message
    return message


def unsigned_arc_sets(message: bytes, sets: int, domain: str, selector: str) -> bytes:
    """``message`` under ``sets`` well-formed ARC sets whose signatures are random: past the
    50 dkimpy will seal (RFC 8617 section 4.2.1), and a verifier without a cap still fetches
    a key and checks two signatures per set, re-reading every ARC field each time."""
    fields = []
    for i in range(sets, 0, -1):
        b = base64.b64encode(secrets.token_bytes(128)).decode()
        bh = base64.b64encode(secrets.token_bytes(32)).decode()
        cv = "none" if i == 1 else "pass"
        fields += [
            f"ARC-Seal: i={i}; a=rsa-sha256; cv={cv}; d={domain}; s={selector}; t=1; b={b}\r\n",
            f"ARC-Message-Signature: i={i}; a=rsa-sha256; c=relaxed/relaxed; d={domain};"
            f" s={selector}; t=1; h=from:to:subject; bh={bh}; b={b}\r\n",
            f"ARC-Authentication-Results: i={i}; hop{i}.{domain}; spf=pass\r\n",
        ]
    return "".join(fields).encode() + message
