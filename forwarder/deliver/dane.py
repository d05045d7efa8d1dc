"""DANE for SMTP (RFC 7672): authenticated TLSA records of an MX host, and whether the
certificate chain a host presented matches them.

Only answers carrying the AD bit count, and only when the operator says the resolvers'
AD bit can be trusted (``QUIETMAIL_DNSSEC_TRUSTED``); anything else is "no TLSA records"
and DANE does not apply (RFC 7672 2.2). Usable records: DANE-TA(2) and DANE-EE(3), selectors
Cert(0)/SPKI(1), matching types Full(0)/SHA2-256(1)/SHA2-512(2). PKIX-TA(0) and PKIX-EE(1)
are "unusable" (RFC 7672 3.1.3), like any unknown parameter.

- DANE-EE: the leaf certificate (or its key) matches; no name and no expiry checks
  (RFC 7672 3.1.1).
- DANE-TA: a certificate the host sent above its leaf matches, each certificate from the
  leaf up to it is signed by the next and in its validity period, and the leaf names the MX
  host or the target domain (RFC 7672 3.1.2, 3.2.3). A trust anchor published only as a key
  and not sent in the chain is not supported (the host's chain must carry it).
"""

from __future__ import annotations

import datetime
import hashlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import dns.asyncresolver
import dns.flags
import dns.resolver
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

DANE_TA, DANE_EE = 2, 3


@dataclass(frozen=True, slots=True)
class Tlsa:
    usage: int
    selector: int
    mtype: int
    data: bytes

    @property
    def usable(self) -> bool:
        return self.usage in (DANE_TA, DANE_EE) and self.selector in (0, 1) and self.mtype < 3


async def lookup(resolver: dns.asyncresolver.Resolver, name: str) -> tuple[Tlsa, ...] | None:
    """The authenticated TLSA records at ``name``; None when there are none or the answer
    is not authenticated. Raises dns.exception.DNSException when the look-up fails, which
    makes the host unusable for a secure MX (RFC 7672 2.2)."""
    try:
        answer = await resolver.resolve(name, "TLSA", search=False, raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        return None
    if answer.rrset is None or not answer.response.flags & dns.flags.AD:
        return None
    return tuple(Tlsa(r.usage, r.selector, r.mtype, bytes(r.cert)) for r in answer.rrset)


def _digest(cert: x509.Certificate, selector: int, mtype: int) -> bytes:
    if selector == 0:
        data = cert.public_bytes(serialization.Encoding.DER)
    else:
        data = cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    if mtype == 1:
        return hashlib.sha256(data).digest()
    if mtype == 2:
        return hashlib.sha512(data).digest()
    return data


def _matches(record: Tlsa, cert: x509.Certificate) -> bool:
    return record.usable and _digest(cert, record.selector, record.mtype) == record.data


def matches(records: Sequence[Tlsa], chain: Sequence[bytes], names: Sequence[str]) -> bool:
    """Whether ``chain`` (DER, leaf first, as the host sent it) satisfies ``records``."""
    try:
        certs = [x509.load_der_x509_certificate(der) for der in chain]
    except ValueError:
        return False
    if not certs:
        return False
    if any(r.usage == DANE_EE and _matches(r, certs[0]) for r in records):
        return True
    anchors = [r for r in records if r.usage == DANE_TA]
    return bool(anchors) and names_match(certs[0], names) and _anchored(certs, anchors)


def _anchored(certs: list[x509.Certificate], anchors: list[Tlsa]) -> bool:
    now = datetime.datetime.now(datetime.UTC)
    for below, cert in itertools.pairwise(certs):
        if not below.not_valid_before_utc <= now <= below.not_valid_after_utc:
            return False
        try:
            below.verify_directly_issued_by(cert)
        except (ValueError, TypeError, InvalidSignature):
            return False
        if any(_matches(r, cert) for r in anchors):
            return cert.not_valid_before_utc <= now <= cert.not_valid_after_utc
    return False


def names_match(cert: x509.Certificate, names: Sequence[str]) -> bool:
    """The DNS names of the subjectAltName (RFC 6125; a ``*`` only as the whole leftmost
    label) against the reference identifiers (RFC 7672 3.2.3)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return False
    presented = [n.lower().rstrip(".") for n in san.value.get_values_for_type(x509.DNSName)]
    wanted = [n.lower().rstrip(".") for n in names]
    for pattern in presented:
        for name in wanted:
            if pattern == name:
                return True
            if pattern.startswith("*.") and name.partition(".")[2] == pattern[2:]:
                return True
    return False
