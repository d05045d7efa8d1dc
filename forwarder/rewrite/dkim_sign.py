"""DKIM signatures for mail that leaves as an alias (issue 11): ``d=`` the alias's domain.

Mode: the domain owner publishes a CNAME, ``<arc_selector>._domainkey.<domain>`` →
``<arc_selector>._domainkey.<hostname>``, so the operator's one RSA-2048 key (the ARC key,
rewrite/arc_key.py, whose TXT record the operator already publishes) signs for every domain.
Why not a key per domain: no private key per domain to generate, seal, back up and delete,
nothing added to the store, and the operator can rotate the key without failing a signature:
owners publish the next selector's CNAME ahead (``arc_next_selector``, shown by the DNS
guide), the operator publishes the new key under it and then switches ``arc_selector``
(README, "Rotating the signing key"); SimpleLogin and addy.io chose CNAMEs too. The price:
a domain's signatures are only as independent as the operator's key, which already seals
every forwarded copy.

Before signing as the domain we look up its selector and compare the public key it
resolves to (through the CNAME) with ours; when it is not (yet) in place the message is
signed as our hostname instead, so it still carries a valid signature. The answer is kept
in memory for :data:`CHECK_TTL` seconds per domain name (names of served domains only).

The RSA step is OpenSSL's: dkimpy's pure-Python RSA took ~15 ms of GIL per signature and
cut forwarding with rewriting on to a fifth (tests/bench/bench_dmarc_safe.py). dkimpy has no
hook for the signing step, and swapping its module-level ``RSASSA_PKCS1_v1_5_sign`` would
change it for every thread and every other user in the process, so :class:`OpensslDkim`
overrides the one method that hashes the header fields and signs, ``gen_header``, keeping
dkimpy's canonicalisation, header selection and folding. RSASSA-PKCS1-v1_5 (RFC 8017 section
8.2) is deterministic, so the header is byte-identical to ``dkim.sign``'s
(tests/forwarder/rewrite/test_dkim_sign.py checks it, which catches a dkimpy upgrade that
changes ``gen_header``).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

import dkim
import dns.asyncresolver
import dns.exception
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from forwarder.expiring import ExpiringDict
from forwarder.resolver import lookup
from forwarder.rewrite.arc_key import ArcKey

CHECK_TTL = 600.0
# RFC 6376 section 5.4: From is signed twice (oversigned) so no second From can be added.
SIGNED_HEADERS = (
    b"from",
    b"from",
    b"to",
    b"cc",
    b"subject",
    b"date",
    b"message-id",
    b"in-reply-to",
    b"references",
    b"mime-version",
    b"content-type",
    b"content-transfer-encoding",
)


class OpensslDkim(dkim.DKIM):  # type: ignore[misc]
    """``dkim.DKIM`` whose RSA signature is made by OpenSSL with ``key`` (the PEM's key)."""

    def __init__(self, message: bytes, key: rsa.RSAPrivateKey, logger: logging.Logger) -> None:
        super().__init__(message, logger=logger, signature_algorithm=b"rsa-sha256", linesep=b"\r\n")
        self._rsa_key = key

    def gen_header(
        self,
        fields: list[tuple[bytes, bytes]],
        include_headers: Any,
        canon_policy: Any,
        header_name: bytes,
        pk: object,  # dkimpy's parsed key: unused, ``self._rsa_key`` signs
        standardize: bool = False,  # unused: dkim_sign never asks dkimpy for that form
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


def dkim_sign(
    message: bytes,
    selector: bytes,
    domain: bytes,
    private_pem: bytes,
    key: rsa.RSAPrivateKey,
    logger: logging.Logger | None = None,
) -> bytes:
    """What ``dkim.sign(message, selector, domain, private_pem, include_headers=SIGNED_HEADERS,
    linesep=b"\r\n")`` returns, signed by OpenSSL."""
    signer = OpensslDkim(message, key, logger or _quiet_logger())
    header: bytes = signer.sign(selector, domain, private_pem, include_headers=list(SIGNED_HEADERS))
    return header


def _quiet_logger() -> logging.Logger:
    """A logger that emits nothing, unregistered (as checks/dkim.py's quiet_logger)."""
    logger = logging.Logger("quietmail.dkim_sign", level=logging.CRITICAL + 1)
    logger.propagate = False
    return logger


class DomainSigner:
    """Sign as the alias's domain when its selector publishes our key, else as our host."""

    def __init__(
        self,
        key: ArcKey,
        resolver: dns.asyncresolver.Resolver,
        *,
        executor: Executor | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._key = key
        self._public = key.public_key_b64()
        self._resolver = resolver
        self._executor = executor
        self._in_place: ExpiringDict[str, bool | None] = ExpiringDict(
            CHECK_TTL, max_entries=10_000, clock=clock
        )
        self._rsa_key: rsa.RSAPrivateKey | None = None
        self._loading = threading.Lock()
        self._logger = _quiet_logger()

    async def record_in_place(self, domain: str) -> bool:
        """Whether ``<selector>._domainkey.<domain>`` resolves to our public key."""
        known = self._in_place.get(domain, None)
        if known is not None:
            return known
        name = f"{self._key.selector}._domainkey.{domain}"
        try:
            rrset = await lookup(self._resolver, name, "TXT")
        except dns.exception.DNSException:
            return False  # not cached: asked again with the next message
        texts = [b"".join(r.strings).decode("ascii", "replace") for r in rrset or ()]
        found = any(_public_key(t) == self._public for t in texts)
        self._in_place.put(domain, found)
        return found

    async def sign(self, message: bytes, domain: str) -> bytes:
        """``message`` with a DKIM-Signature on top, ``d=domain`` or ``d=<hostname>``."""
        signing = domain if await self.record_in_place(domain) else self._key.domain
        loop = asyncio.get_running_loop()
        header = await loop.run_in_executor(self._executor, self._sign, message, signing)
        return header + message

    def _sign(self, message: bytes, domain: str) -> bytes:
        return dkim_sign(
            message,
            self._key.selector.encode("ascii"),
            domain.encode("ascii"),
            self._key.private_pem,
            self._signing_key(),
            self._logger,
        )

    def _signing_key(self) -> rsa.RSAPrivateKey:
        with self._loading:  # loaded once, in the first signing thread (tens of ms)
            if self._rsa_key is None:
                key = serialization.load_pem_private_key(self._key.private_pem, password=None)
                if not isinstance(key, rsa.RSAPrivateKey):
                    raise TypeError("the signing key is not an RSA key")
                self._rsa_key = key
            return self._rsa_key


def _public_key(record: str) -> str:
    match = re.search(r"(?:^|;)\s*p=([^;]*)", record)
    return re.sub(r"\s+", "", match.group(1)) if match else ""
