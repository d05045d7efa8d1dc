"""dkimpy's DKIM and ARC verification, with the public key vetted and the signature checked by
OpenSSL (``cryptography``) instead of dkimpy's pure-Python RSA (issue 8, "High").

Why: dkimpy verifies RSA with Python's ``pow(s, e, n)``, which holds the GIL for as long as
it runs. A key record costs its publisher nothing, so a sender could publish a 16384-bit
modulus with a 16384-bit exponent and freeze the whole process (relay and web app) for 10 s
per signature. Here a key is refused *before* any arithmetic unless it is one a legitimate
signer uses (RFC 8301 section 3.2: 1024 to 4096 bits; e = 65537, or 3 as some old keys
have) or Ed25519 (RFC 8463); a refused key makes that signature a permerror (RFC 6376
section 6.1.2: key data not suitable for the algorithm). The check itself is OpenSSL's: well
under a millisecond for the keys that remain.

How: as :mod:`forwarder.rewrite.dkim_sign` does for signing, a mixin overrides the one
``DomainSigner`` method that fetches the key and checks the signature (``verify_sig`` and
what it calls, ``verify_sig_process``), keeping dkimpy's parsing, canonicalisation, header
selection and body hash. Both ``DKIM.verify`` and ``ARC.verify_instance`` go through it.
Swapping dkimpy's module-level RSA function instead would change it for every thread and
every other user in the process.

Parsed keys are cached by the text of their DNS record (:class:`KeyCache`), so a key is
parsed once while its record stays in the DNS cache (its TTL, forwarder/resolver.py) and a
changed record is a new entry. The cache holds public keys only, in memory: no name, address
or message is a key or a value (DESIGN promise 2).
"""

from __future__ import annotations

import base64
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dkim
import dkim.util
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa, utils

from forwarder.checks import CheckError
from forwarder.checks.results import split_message, well_formed

MIN_RSA_BITS = 1024  # RFC 8301 section 3.2: smaller keys MUST NOT be considered valid
MAX_RSA_BITS = 4096  # RFC 8301 section 3.2: verifiers MUST be able to validate up to 4096
RSA_EXPONENTS = frozenset({3, 65537})  # what real DKIM keys use; others cost CPU, not safety
_KEY_CACHE_ENTRIES = 1000
_HASHES: dict[bytes, Callable[[], hashes.HashAlgorithm]] = {
    b"rsa-sha256": hashes.SHA256,
    b"rsa-sha1": hashes.SHA1,  # dkimpy still verifies it (RFC 8301 would not); kept as is
}
_Key = rsa.RSAPublicKey | ed25519.Ed25519PublicKey


class KeyRefused(CheckError):
    """The key record cannot be used for this signature: the signature is a permerror.

    Deliberately not a ``dkim.DKIMException``: dkimpy would turn that into "invalid" and
    carry on, where DKIM wants a permerror and ARC a failed chain (both callers catch it)."""


@dataclass(frozen=True, slots=True)
class PublicKey:
    kind: bytes  # b"rsa" or b"ed25519" (the record's k=)
    key: _Key


def parse_record(record: bytes) -> PublicKey:
    """The usable key of a DKIM key record (RFC 6376 section 3.6.1), or ``KeyRefused``."""
    try:
        tags = dkim.util.parse_tag_value(record)
    except dkim.util.InvalidTagValueList:
        raise KeyRefused("key record does not parse") from None
    if tags.get(b"v", b"DKIM1") != b"DKIM1":
        raise KeyRefused("bad version")
    services = tags.get(b"s", b"*").split(b":")
    if not {b"*", b"email"} & {s.strip() for s in services}:
        raise KeyRefused("key not for email")  # RFC 6376 3.6.1: s= lists the services
    kind = tags.get(b"k", b"rsa")
    try:
        data = base64.b64decode(re.sub(rb"\s+", b"", tags.get(b"p", b"")), validate=True)
    except ValueError:
        raise KeyRefused("p= is not base64") from None
    if not data:
        raise KeyRefused("no key (revoked)")  # RFC 6376 3.6.1: empty p= means revoked
    if kind == b"ed25519":
        return PublicKey(kind, _ed25519(data))
    if kind == b"rsa":
        return PublicKey(kind, _rsa(data))
    raise KeyRefused("unknown key type")


def _ed25519(data: bytes) -> ed25519.Ed25519PublicKey:
    try:
        return ed25519.Ed25519PublicKey.from_public_bytes(data)  # RFC 8463 section 4.2
    except ValueError:
        raise KeyRefused("bad Ed25519 key") from None


def _rsa(data: bytes) -> rsa.RSAPublicKey:
    try:  # SubjectPublicKeyInfo, as published; bare RSAPublicKey as dkimpy also reads
        key: Any = serialization.load_der_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        try:
            key = serialization.load_der_public_key(_spki(data))
        except (ValueError, UnsupportedAlgorithm):
            raise KeyRefused("bad RSA key") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise KeyRefused("not an RSA key")
    # Vetted before any arithmetic: the size and exponent bound the cost of pow(s, e, n).
    if not MIN_RSA_BITS <= key.key_size <= MAX_RSA_BITS:
        raise KeyRefused("RSA key size out of range")
    if key.public_numbers().e not in RSA_EXPONENTS:
        raise KeyRefused("RSA public exponent not accepted")
    return key


def _spki(rsa_public_key: bytes) -> bytes:
    """A PKCS#1 RSAPublicKey wrapped as SubjectPublicKeyInfo (RFC 5280 4.1, RFC 8017 A.1)."""
    bits = b"\x00" + rsa_public_key
    inner = b"\x30\x0d\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01\x05\x00"  # rsaEncryption
    body = inner + b"\x03" + _der_length(len(bits)) + bits
    return b"\x30" + _der_length(len(body)) + body


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


class KeyCache:
    """Parsed keys by record text, least recently used dropped first; thread-safe."""

    def __init__(self, entries: int = _KEY_CACHE_ENTRIES) -> None:
        self._entries = entries
        self._keys: OrderedDict[bytes, PublicKey | KeyRefused] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, record: bytes) -> PublicKey:
        with self._lock:
            found = self._keys.get(record)
            if found is not None:
                self._keys.move_to_end(record)
        if found is None:
            try:
                found = parse_record(record)
            except KeyRefused as refused:
                found = refused
            with self._lock:
                self._keys[record] = found
                while len(self._keys) > self._entries:
                    self._keys.popitem(last=False)
        if isinstance(found, KeyRefused):
            raise KeyRefused(*found.args)
        return found


class _OpensslVerify:
    """Mixin for ``dkim.DKIM`` / ``dkim.ARC``: ``verify_sig`` with vetted keys and OpenSSL."""

    keys: KeyCache
    # set by dkimpy's DomainSigner
    headers: list[tuple[bytes, bytes]]
    body: bytes
    timeout: float
    debug_content: bool
    signed_headers: Any

    def verify_sig(
        self,
        sig: dict[bytes, bytes],
        include_headers: list[bytes],
        sig_header: tuple[bytes, bytes],
        dnsfunc: Callable[..., bytes | None],
    ) -> bool:
        name = sig[b"s"] + b"._domainkey." + sig[b"d"] + b"."
        try:
            record = dnsfunc(name, timeout=self.timeout)
        except dkim.DnsTimeoutError:
            return False  # as dkimpy: the caller's lookup object says it was a temperror
        if not record:
            return False  # no key: the lookup object says so (RFC 6376 6.1.2 permerror)
        key = self.keys.get(record)
        algorithm = sig[b"a"]
        if (key.kind == b"ed25519") != (algorithm == b"ed25519-sha256"):
            raise KeyRefused("key type does not match a=")  # RFC 6376 section 6.1.2
        digest = self._header_digest(sig, include_headers, sig_header)
        signature = base64.b64decode(re.sub(rb"\s+", b"", sig[b"b"]))
        try:
            if isinstance(key.key, ed25519.Ed25519PublicKey):
                key.key.verify(signature, digest)  # RFC 8463 section 3: over the SHA-256
            else:
                prehashed = utils.Prehashed(_HASHES[algorithm]())
                key.key.verify(signature, digest, padding.PKCS1v15(), prehashed)
        except InvalidSignature:
            return False
        return True

    def _header_digest(
        self, sig: dict[bytes, bytes], include_headers: list[bytes], sig_header: tuple[bytes, bytes]
    ) -> bytes:
        """dkimpy 1.1's ``verify_sig_process`` up to the signature check: the body hash
        (``ValidationError`` on a mismatch) and the hash of the signed header fields."""
        try:
            policy = dkim.CanonicalizationPolicy.from_c_value(sig.get(b"c", b"simple/simple"))
        except dkim.InvalidCanonicalizationPolicyError as e:
            raise dkim.MessageFormatError(f"invalid c= value: {e.args[0]}") from None
        hasher = dkim.HASH_ALGORITHMS[sig[b"a"]]
        if b"bh" in sig:
            body = policy.canonicalize_body(self.body)
            if b"l" in sig:
                body = body[: int(sig[b"l"])]
            try:
                expected = base64.b64decode(re.sub(rb"\s+", b"", sig[b"bh"]))
            except ValueError as e:
                raise dkim.MessageFormatError(str(e)) from None
            if hasher(body).digest() != expected:
                raise dkim.ValidationError("body hash mismatch")
        if b"from" in include_headers:  # dkimpy: extra From fields are signed too (#644046)
            include_headers.append(b"from")
        h = dkim.HashThrough(hasher(), self.debug_content)
        headers = policy.canonicalize_headers(self.headers)
        self.signed_headers = dkim.hash_headers(
            h, policy, headers, include_headers, sig_header, sig
        )
        digest: bytes = h.digest()
        return digest


class OpensslDKIM(_OpensslVerify, dkim.DKIM):  # type: ignore[misc]
    """``parsed``: what :func:`parsed` gave for ``message``, when the caller has it."""

    def __init__(
        self,
        message: bytes,
        keys: KeyCache,
        parsed: tuple[list[tuple[bytes, bytes]], bytes] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(None, **kwargs)
        self.headers, self.body = parsed if parsed is not None else _parsed(message)
        self.keys = keys


class OpensslARC(_OpensslVerify, dkim.ARC):  # type: ignore[misc]
    def __init__(self, message: bytes, keys: KeyCache, **kwargs: Any) -> None:
        super().__init__(None, **kwargs)
        self.headers, self.body = _parsed(message)
        self.keys = keys


def parsed(message: bytes) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """The header fields ``[(name, value), ...]`` and body as dkimpy reads them."""
    return _parsed(message)


def _parsed(message: bytes) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """What dkimpy's ``rfc822_parse`` gives, ``([(name, value), ...], body)``, without its
    split of the whole message into lines (a tenth of a verification's CPU) when every line
    ends with CRLF and every field is well formed; otherwise dkimpy's own parse."""
    fields, rest = split_message(message)
    crlf_only = 2 * message.count(b"\r\n") == message.count(b"\r") + message.count(b"\n")
    if not (crlf_only and well_formed(fields)):
        headers, body = dkim.rfc822_parse(message)
        return [(name, value) for name, value in headers], body
    return [(name, value) for name, _, value in (f.partition(b":") for f in fields)], rest[2:]
