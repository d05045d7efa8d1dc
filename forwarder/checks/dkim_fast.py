"""DKIM verification of the common signature without dkimpy's Python around the check.

Why: after the RSA check moved to OpenSSL (:mod:`forwarder.checks.verifier`), most of a
verification's CPU was dkimpy re-reading the message: its tag parser and field validation
(regular expressions compiled by name on every call), canonicalising every header field
where a few are signed, its hashing wrapper, and three regular-expression passes over the body
where a search shows none would change anything (issue 14's profile). As the ARC seal does
(forwarder/rewrite/arc_seal.py), this does the same steps directly with ``hashlib``.

Only the plain common case is handled here: ``v=1``, ``a=rsa-sha256`` or ``ed25519-sha256``,
``c=`` simple or relaxed, ``h=`` naming ``from``, base64 ``b=`` and ``bh=``, ``t=``/``x=``
that dkimpy's ``validate_signature_fields`` accepts, and no tag beyond RFC 6376's usual ones
(no ``l=``). :func:`verify` returns None for anything else *before* any look-up, and the
caller then asks dkimpy, so every result is the one dkimpy (with our key handling) gives:
tests/forwarder/checks/test_dkim_fast.py compares the two on many messages.

What the steps mirror, in order (dkimpy 1.1 ``DKIM.verify`` and our ``verify_sig``): the key
look-up (a timeout or no record is False, the caller's ``TxtLookup`` tells which), the key
vetted and cached by :class:`KeyCache` (``KeyRefused`` raised), the key type against ``a=``,
the body hash (``dkim.ValidationError`` on a mismatch), the header hash over the fields ``h=``
selects (RFC 6376 section 5.4.2, bottom up, ``From`` once more), then OpenSSL's check.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Callable, Sequence

import dkim
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, utils

from forwarder import canonical
from forwarder.checks.verifier import KeyCache, KeyRefused

_Header = tuple[bytes, bytes]
_TAGS = frozenset((b"v", b"a", b"b", b"bh", b"c", b"d", b"h", b"i", b"s", b"t", b"x", b"q"))
_MANDATORY = (b"v", b"a", b"b", b"bh", b"d", b"h", b"s")
_ALGORITHMS = frozenset((b"rsa-sha256", b"ed25519-sha256"))
_CANON = {
    b"simple": (False, False),
    b"simple/simple": (False, False),
    b"simple/relaxed": (False, True),
    b"relaxed": (True, False),
    b"relaxed/simple": (True, False),
    b"relaxed/relaxed": (True, True),
}  # c= value: (relaxed header, relaxed body), as dkimpy's CanonicalizationPolicy reads it
_SLOP = 36000  # dkimpy's leeway on t= and x= (10 hours)
_BASE64 = re.compile(rb"[\s0-9A-Za-z+/]+[\s=]*$")  # dkimpy's test for b= (and here bh=)
_SPACE = re.compile(rb"\s+")
_DIGITS = re.compile(rb"[0-9]{1,18}")  # what \d+$ accepts, short enough for int()
_D_SPECIALS = re.compile(rb"[\(\)<>\[\]:;@\\,]")
_H_SPLIT = re.compile(rb"\s*:\s*")
# dkimpy's RE_BTAG, rewritten: its folding-whitespace groups match what \s* matches, and one
# class run backed off to a base64 character is what its repeated group takes, without the
# backtracking that made it cost ~30 us on a signature (test_dkim_fast.py compares the two).
_B_TAG = re.compile(rb"([;\s]b\s*=)(?:[\sa-zA-Z0-9+/=]*[a-zA-Z0-9+/=])?(?:\r?\n\Z)?")
_PAD = padding.PKCS1v15()
_SHA256 = utils.Prehashed(hashes.SHA256())


def verify(
    headers: Sequence[_Header],
    body: bytes,
    index: int,
    keys: KeyCache,
    dnsfunc: Callable[..., bytes | None],
    timeout: float,
) -> bool | None:
    """What ``OpensslDKIM(...).verify(index, dnsfunc)`` would give for the message parsed as
    ``headers`` and ``body`` (``verifier.parsed``): True, False or one of its exceptions;
    None, before any look-up, when the signature is not the common case (module docstring)."""
    signatures = [h for h in headers if h[0].lower() == b"dkim-signature"]
    if index >= len(signatures):
        return None
    sig = _common_tags(signatures[index][1])
    if sig is None:
        return None
    included = [x.lower() for x in _H_SPLIT.split(sig[b"h"])]
    if b"from" not in included:
        return None
    relaxed_header, relaxed_body = _CANON[sig.get(b"c", b"simple")]
    try:
        signature = base64.b64decode(_SPACE.sub(b"", sig[b"b"]))
        body_hash = base64.b64decode(_SPACE.sub(b"", sig[b"bh"]))
    except ValueError:
        return None
    record = _record(sig, dnsfunc, timeout)
    if not record:
        return False
    key = keys.get(record)
    ed = sig[b"a"] == b"ed25519-sha256"
    if (key.kind == b"ed25519") != ed:
        raise KeyRefused("key type does not match a=")  # RFC 6376 section 6.1.2
    if hashlib.sha256(canonical.body(body, relaxed_body)).digest() != body_hash:
        raise dkim.ValidationError("body hash mismatch")
    included += [b"from"]  # as dkimpy: one more From than signed, so none can be added
    digest = _header_hash(headers, included, signatures[index], relaxed_header)
    try:
        if isinstance(key.key, ed25519.Ed25519PublicKey):
            key.key.verify(signature, digest)  # RFC 8463 section 3: over the SHA-256
        else:
            key.key.verify(signature, digest, _PAD, _SHA256)
    except InvalidSignature:
        return False
    return True


def _record(
    sig: dict[bytes, bytes], dnsfunc: Callable[..., bytes | None], timeout: float
) -> bytes | None:
    try:
        return dnsfunc(sig[b"s"] + b"._domainkey." + sig[b"d"] + b".", timeout=timeout)
    except dkim.DnsTimeoutError:
        return None  # as dkimpy: the caller's lookup object says it was a temperror


def _common_tags(value: bytes) -> dict[bytes, bytes] | None:
    """The tags of a DKIM-Signature value (raw, folded, as dkimpy parses it) when they are the
    common case and pass dkimpy's ``validate_signature_fields``; None otherwise."""
    sig = parse_tags(value)
    if sig is None or not sig.keys() <= _TAGS or not all(t in sig for t in _MANDATORY):
        return None
    if sig[b"v"] != b"1" or sig[b"a"] not in _ALGORITHMS or sig.get(b"c", b"simple") not in _CANON:
        return None
    for tag in (b"b", b"bh"):
        if _BASE64.match(sig[tag]) is None or len(_SPACE.sub(b"", sig[tag])) % 4:
            return None
    domain = sig[b"d"]
    if (
        not domain.isascii()
        or _D_SPECIALS.search(domain)
        or sig.get(b"q", b"dns/txt") != b"dns/txt"
    ):
        return None
    if b"i" in sig:
        identity = sig[b"i"]
        if len(identity) <= len(domain) or not identity.lower().endswith(domain.lower()):
            return None
        if identity[-len(domain) - 1] not in (64, 46):  # "@" or "."
            return None
    return sig if _times_valid(sig) else None


def _times_valid(sig: dict[bytes, bytes]) -> bool:
    """t= and x= as dkimpy accepts them; a value it refuses goes to dkimpy, which says so."""
    signed = expires = None
    for tag in (b"t", b"x"):
        if tag in sig:
            if _DIGITS.fullmatch(sig[tag]) is None:
                return False
            if tag == b"t":
                signed = int(sig[tag])
            else:
                expires = int(sig[tag])
    now = int(time.time())
    if signed is not None and signed > now + _SLOP:
        return False
    too_late = expires is not None and expires < now - _SLOP
    return not (too_late or (expires is not None and signed and expires < signed))


def parse_tags(value: bytes) -> dict[bytes, bytes] | None:
    """dkimpy's ``parse_tag_value``, None where it raises."""
    tags: dict[bytes, bytes] = {}
    specs = value.strip().split(b";")
    if not specs[-1]:
        specs.pop()
    for spec in specs:
        key, eq, tag_value = spec.partition(b"=")
        key = key.strip()
        if not eq or not key[:1].isalpha() or key in tags:
            return None
        tags[key] = tag_value.strip()
    return tags


def _header_hash(
    headers: Sequence[_Header], included: list[bytes], signature: _Header, relaxed: bool
) -> bytes:
    """dkimpy's ``hash_headers``: the fields ``included`` selects, then the signature field
    with ``b=`` emptied and no line end, canonicalised and hashed."""
    names = [(n.lower().rstrip() if relaxed else n.lower()) for n, _ in headers]
    digest = hashlib.sha256()
    last: dict[bytes, int] = {}
    for wanted in included:  # RFC 6376 section 5.4.2: each takes the next one up
        i = last.get(wanted, len(headers))
        while i > 0:
            i -= 1
            if names[i] == wanted:
                digest.update(b"%s:%s" % _canonical(headers[i], relaxed))
                break
        last[wanted] = i
    own = (signature[0], _B_TAG.sub(b"\\1", signature[1]))
    name, value = _canonical(own, relaxed)
    digest.update(name + b":" + value.rstrip())
    return digest.digest()


def _canonical(header: _Header, relaxed: bool) -> _Header:
    return canonical.relaxed_field(*header) if relaxed else header
