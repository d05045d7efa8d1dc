"""Our ARC set (RFC 8617) made from what the checks already know, without dkimpy's signer.

Why: sealing through ``dkim.ARC.sign`` cost ~1.6 ms of CPU per message, of which the two
RSA-2048 signatures are ~0.55 ms (OpenSSL). The rest was dkimpy re-reading what we had in
hand: parsing the whole message again, parsing our own Authentication-Results back through
``authres`` to find the results and ``cv=``, parsing the PEM private key, and hashing through
its debugging wrapper (issue 14's profile). Here the caller (checks/arc.py) gives our results
as the clauses of our Authentication-Results and the chain status, the header fields split
once, and the loaded key; measured with every check on, the seal costs ~0.6 ms.

What is made, for instance ``i`` (one more than the highest instance on the message):

- ``ARC-Authentication-Results: i=<i>; <authserv-id>; <clause>; ...``: our results, each
  clause as in our Authentication-Results (ASCII form; comments kept, RFC 8617 section 4.1.1);
- ``ARC-Message-Signature``: ``a=rsa-sha256; c=relaxed/relaxed`` over the fields dkimpy's
  ``default_sign_headers`` picks (RFC 6376 section 5.4's list, those present, in message
  order, ``From`` signed once more so none can be added) and the relaxed body hash;
- ``ARC-Seal``: ``cv=`` from the chain's validation, over every earlier set in instance order
  then ours (RFC 8617 section 5.1.1), or over ours alone when the chain failed (``cv=fail``).

Like dkimpy, no set is made when the status does not fit the chain (``cv=none`` on a message
that has sets, anything but ``cv=none`` on one that has none, a chain past instance 50, or
no From to sign): the copy then goes without our seal. Folding and the ``b=`` placement
follow dkimpy (``dkim.fold``), so for results without comments the set is byte-identical to
``dkim.arc_sign``'s (tests/forwarder/rewrite/test_arc_seal.py checks that, and that the sets
verify with dkimpy and with Perl's Mail::DKIM).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import dkim
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from forwarder.canonical import body as canonical_body
from forwarder.canonical import relaxed_field

MAX_INSTANCE = 50  # RFC 8617 section 4.2.1
_ARC_NAMES = (b"arc-authentication-results", b"arc-message-signature", b"arc-seal")
# RFC 6376 section 5.4.1's list, as dkimpy signs it; From again so none can be added.
_SIGNED = frozenset(
    b"from sender reply-to subject date message-id to cc mime-version content-type "
    b"content-transfer-encoding content-id content-description resent-date resent-from "
    b"resent-sender resent-to resent-cc resent-message-id in-reply-to references list-id "
    b"list-help list-unsubscribe list-subscribe list-post list-owner list-archive".split()
)
_INSTANCE = re.compile(rb"[\s;]?i\s*=\s*(\d+)", re.IGNORECASE)
_ANY_LINE_END = re.compile(rb"\r\n|\n|\r(?!\n)")  # what the transport makes CRLF (deliver/data.py)
_PLACEHOLDER = b"0" * 60  # as dkimpy: b= folds onto lines of its own once filled in
_PAD = padding.PKCS1v15()
_SHA256 = utils.Prehashed(hashes.SHA256())

_Field = tuple[bytes, bytes]  # (name as written, raw value after the colon)


@dataclass(frozen=True, slots=True)
class SealingKey:
    """Who signs: ``d=domain s=selector`` with ``key``, results under ``authserv_id``."""

    key: rsa.RSAPrivateKey
    selector: bytes
    domain: bytes
    authserv_id: bytes


def as_sent(message: bytes) -> bytes:
    """``message`` with every line end CRLF, as the transport sends it (deliver/data.py): a
    bare CR or LF would otherwise be signed as it is and sent as CRLF."""
    if 2 * message.count(b"\r\n") == message.count(b"\r") + message.count(b"\n"):
        return message
    return _ANY_LINE_END.sub(b"\r\n", message)


def arc_set(
    fields: Sequence[bytes],
    body: bytes,
    clauses: Sequence[bytes],
    cv: bytes | None,
    signer: SealingKey,
    timestamp: int,
) -> list[bytes]:
    """The ARC set's three fields (ARC-Seal first, each CRLF-ended) for a message whose
    header fields (each with its CRLF) are ``fields`` and body ``body`` (CRLF line ends:
    :func:`as_sent`), carrying our results ``clauses`` (``spf=pass smtp.mailfrom=...``, ASCII)
    with chain status ``cv`` (``none``, ``pass`` or ``fail``; None for a result ``cv=`` cannot
    carry); ``[]`` when no set can be made (module docstring)."""
    parsed = [_parse(f) for f in fields]
    canonical = [relaxed_field(name, value) for name, value in parsed]
    sets = _earlier_sets(canonical)
    instance = max(sets, default=0) + 1
    if cv is None or instance > MAX_INSTANCE or (instance == 1) != (cv == b"none"):
        return []
    if cv == b"pass" and any(len(sets[i]) != 3 for i in range(1, instance)):
        return []  # cannot happen after a passing validation; never seal a gap
    results = signer.authserv_id + b"".join(b";\r\n " + c for c in clauses)
    aar = b"i=%d; " % instance + results + b"\r\n"
    tags = [(b"i", b"%d" % instance)]
    common = [(b"d", signer.domain), (b"s", signer.selector), (b"t", b"%d" % timestamp)]
    included = [name.lower() for name, _ in parsed if name.lower() in _SIGNED]
    included += [n for n in included if n == b"from"]
    if b"from" not in included:
        return []  # RFC 6376 section 5.4: From must be signed (dkimpy refuses too)
    body_hash = base64.b64encode(hashlib.sha256(canonical_body(body, relaxed=True)).digest())
    ams_tags = [*tags, (b"a", b"rsa-sha256"), (b"c", b"relaxed/relaxed"), *common]
    ams_tags += [(b"h", b" : ".join(included)), (b"bh", body_hash)]
    ams = _signed_field(
        b"ARC-Message-Signature", ams_tags, _select(canonical, included), signer.key
    )
    ours = [
        relaxed_field(b"ARC-Authentication-Results", aar),
        relaxed_field(b"ARC-Message-Signature", ams),
    ]
    chain: list[_Field] = []
    if cv == b"pass":
        chain = [sets[i][name] for i in range(1, instance) for name in _ARC_NAMES]
    as_tags = [*tags, (b"cv", cv), (b"a", b"rsa-sha256"), *common]
    seal = _signed_field(b"ARC-Seal", as_tags, chain + ours, signer.key)
    return [
        b"ARC-Seal: " + seal,
        b"ARC-Message-Signature: " + ams,
        b"ARC-Authentication-Results: " + aar,
    ]


def _earlier_sets(canonical: Iterable[_Field]) -> dict[int, dict[bytes, _Field]]:
    """The ARC fields on the message by instance (``i=``) and name, canonical; a field
    named twice in one instance leaves that instance short of three, so it is refused."""
    sets: dict[int, dict[bytes, _Field]] = {}
    seen: set[tuple[int, bytes]] = set()
    for name, value in canonical:
        if name in _ARC_NAMES and (match := _INSTANCE.search(value)) is not None:
            instance = int(match.group(1))
            found = sets.setdefault(instance, {})
            if (instance, name) in seen:
                found.pop(name, None)
            else:
                found[name] = (name, value)
            seen.add((instance, name))
    return sets


def _signed_field(
    name: bytes, tags: list[_Field], headers: list[_Field], key: rsa.RSAPrivateKey
) -> bytes:
    """The field's value (after ``Name:``), CRLF-ended, signed over ``headers`` (canonical)
    and itself with an empty ``b=`` (RFC 6376 section 3.7), folded as dkimpy folds it."""
    unsigned = dkim.fold(_join([*tags, (b"b", _PLACEHOLDER)]), namelen=len(name))
    unsigned = dkim.RE_BTAG.sub(b"\\1", unsigned)
    own_name, own_value = relaxed_field(name, b" " + unsigned)
    digest = hashlib.sha256()
    for header_name, value in headers:
        digest.update(header_name + b":" + value)
    digest.update(own_name + b":" + own_value.rstrip())
    signature = key.sign(digest.digest(), _PAD, _SHA256)
    signed: bytes = dkim.fold(
        _join([*tags, (b"b", base64.b64encode(signature))]) + b"\r\n", namelen=len(name)
    )
    return signed


def _join(tags: Iterable[_Field]) -> bytes:
    return b"; ".join(tag + b"=" + value for tag, value in tags)


def _select(canonical: Sequence[_Field], names: Iterable[bytes]) -> list[_Field]:
    """RFC 6376 section 5.4.2: each name takes the next instance of it from the bottom up;
    a name with none left is skipped."""
    chosen: list[_Field] = []
    last: dict[bytes, int] = {}
    for wanted in names:
        i = last.get(wanted, len(canonical))
        while i > 0:
            i -= 1
            if canonical[i][0] == wanted:
                chosen.append(canonical[i])
                break
        last[wanted] = i
    return chosen


def _parse(raw_field: bytes) -> _Field:
    name, _, value = raw_field.partition(b":")
    return name, value
