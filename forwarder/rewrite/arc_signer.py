"""dkimpy's ARC sealing with the RSA signature computed by OpenSSL (``cryptography``).

Why: dkimpy signs with pure-Python big-integer RSA (``dkim.crypto.rsa_decrypt``). A 2048-bit
signature costs ~10 ms of CPU that holds the GIL, and every forwarded copy needs two (the
ARC-Message-Signature and the ARC-Seal): measured, that was ~70% of the relay's CPU time with
every check on (tests/bench). OpenSSL makes the same signature in ~0.3 ms.

How: dkimpy has no hook for the signing step, and swapping its module-level
``RSASSA_PKCS1_v1_5_sign`` would change it for every thread and every other user in the
process. So :class:`OpensslArc` subclasses ``dkim.ARC`` and overrides one method,
``gen_header`` - the one that hashes the header fields and signs - keeping dkimpy's own
canonicalisation, header selection, folding and ``b=`` handling (``hash_headers``, ``fold``,
``RE_BTAG``), and everything ``ARC.sign`` decides (instance, ``cv=``, the AAR). Only the
RSASSA-PKCS1-v1_5 step over the SHA-256 digest is OpenSSL's.

RSASSA-PKCS1-v1_5 (RFC 8017 section 8.2) is deterministic, so the headers are byte-identical
to dkimpy's for the same key, message and timestamp; tests/forwarder/rewrite/test_arc_signer.py
checks exactly that, so a dkimpy upgrade that changes ``gen_header`` is caught.
"""

from __future__ import annotations

import base64
import logging
from typing import Any

import dkim
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

_ALGORITHM = b"rsa-sha256"  # RFC 8617 section 4.1.3 (via RFC 6376): the only one we sign with


class OpensslArc(dkim.ARC):  # type: ignore[misc]
    """``dkim.ARC`` whose signatures are made by ``key`` (the same key as the PEM passed to
    :meth:`sign`, which dkimpy still parses and checks)."""

    def __init__(self, message: bytes, key: rsa.RSAPrivateKey, logger: logging.Logger) -> None:
        super().__init__(message, logger=logger, signature_algorithm=_ALGORITHM, linesep=b"\r\n")
        self._rsa_key = key

    def gen_header(
        self,
        fields: list[tuple[bytes, bytes]],
        include_headers: Any,
        canon_policy: Any,
        header_name: bytes,
        pk: object,  # dkimpy's parsed key: unused, ``self._rsa_key`` signs
        standardize: bool = False,  # unused: arc_sign never asks dkimpy for that form
    ) -> bytes:
        # dkimpy 1.1's DomainSigner.gen_header for rsa-sha256 without ``standardize``, with
        # OpenSSL signing.
        header_value = b"; ".join(b"=".join(x) for x in fields)
        header_value = dkim.fold(header_value, namelen=len(header_name), linesep=b"\r\n")
        header_value = dkim.RE_BTAG.sub(b"\\1", header_value)
        hasher = dkim.HashThrough(self.hasher(), self.debug_content)
        headers = canon_policy.canonicalize_headers(self.headers)
        self.signed_headers = dkim.hash_headers(
            hasher,
            canon_policy,
            headers,
            include_headers,
            (header_name, b" " + header_value),
            dict(fields),
        )
        signature = self._rsa_key.sign(
            hasher.digest(), padding.PKCS1v15(), utils.Prehashed(hashes.SHA256())
        )
        index = next(i for i, (name, _) in enumerate(fields) if name == b"b")
        fields[index] = (b"b", base64.b64encode(signature))
        header_value = b"; ".join(b"=".join(x) for x in fields) + self.linesep
        header_value = dkim.fold(header_value, namelen=len(header_name), linesep=self.linesep)
        result: bytes = header_value
        return result


def arc_sign(
    message: bytes,
    selector: bytes,
    domain: bytes,
    private_pem: bytes,
    key: rsa.RSAPrivateKey,
    srv_id: bytes,
    logger: logging.Logger,
    timestamp: int | None = None,
) -> list[bytes]:
    """What ``dkim.arc_sign(message, selector, domain, private_pem, srv_id, logger=logger,
    timestamp=timestamp)`` returns, signed by ``key`` (the key ``private_pem`` holds)."""
    signer = OpensslArc(message, key, logger)
    headers: list[bytes] = signer.sign(
        selector,
        domain,
        private_pem,
        srv_id,
        include_headers=signer.default_sign_headers(),
        timestamp=timestamp,
    )
    return headers
