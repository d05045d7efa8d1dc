"""The OpenSSL DKIM signer makes dkimpy's own header, byte for byte (rewrite/dkim_sign.py)."""

from __future__ import annotations

import time

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from forwarder.rewrite.arc_key import generate_private_pem
from forwarder.rewrite.dkim_sign import SIGNED_HEADERS, dkim_sign

MESSAGE = (
    b"From: shop@alias.example\r\nTo: bob@example.com\r\nSubject: hi\r\n"
    b"Date: Tue, 01 Dec 2026 10:00:00 +0000\r\nMessage-ID: <1@alias.example>\r\n\r\nHello.\r\n"
)


def test_same_header_as_dkimpy() -> None:
    pem = generate_private_pem(2048)
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    for _ in range(3):  # both carry t=now: retry if a second ticked over in between
        start = int(time.time())
        ours = dkim_sign(MESSAGE, b"sel", b"alias.example", pem, key)
        theirs = dkim.sign(
            MESSAGE,
            b"sel",
            b"alias.example",
            pem,
            include_headers=list(SIGNED_HEADERS),
            linesep=b"\r\n",
        )
        if int(time.time()) == start:
            break
    assert ours == theirs
    record = b"v=DKIM1; k=rsa; p=" + _public_b64(key)
    assert dkim.verify(ours + MESSAGE, dnsfunc=lambda name, timeout=5: record)


def _public_b64(key: rsa.RSAPrivateKey) -> bytes:
    import base64

    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der)
