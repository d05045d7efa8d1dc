"""The fast DKIM path (checks/dkim_fast.py) gives exactly what dkimpy gives: the same result
list for every message, signed many ways, mutated on purpose and at random."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import random
import re
import time
from collections.abc import Iterator

import dkim
import nacl.signing
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from forwarder.checks import dkim_fast
from forwarder.checks.dkim import DkimVerifier, TxtLookup
from forwarder.checks.results import field_name, field_value, split_message
from forwarder.checks.verifier import KeyCache, parsed
from forwarder.resolver import dns_cache, make_sync_resolver
from forwarder.settings import Settings
from tests.forwarder.checks.conftest import SENDER_SELECTOR, public_record
from tests.support.dns_server import DNSServer

ED_KEY = nacl.signing.SigningKey(b"\x07" * 32)
CANONS = [(h, b) for h in (b"simple", b"relaxed") for b in (b"simple", b"relaxed")]
HEADS = [
    b"From: Alice <alice@example.com>\r\nTo: bob@alias.example\r\nSubject: lunch\r\n",
    b"From: Alice\r\n <alice@example.com>\r\nTo: bob@alias.example,\r\n\tcarol@alias.example\r\n"
    b"Subject:   a  folded\r\n \t subject\t \r\nDate: Sat, 21 Nov 2026 10:00:00 +0000\r\n",
    b"Received: from a\r\nReceived: from b\r\nFROM:alice@example.com\r\nsubject:x\r\nTo: b\r\n",
    b"From: alice@example.com\r\nX-Tabs:\t\ttabbed  \t value \r\nSubject: s\r\n",
]
BODIES = [
    b"Hello Bob,\r\n\r\nsee you at noon.\r\n",
    b"",
    b"\r\n",
    b"\r\n\r\n\r\n",
    b"trailing  \r\nspace\t\r\n\r\n\r\n",
    b"no final line end",
    b"tabs\tand   runs  of spaces \t \r\n  leading\r\n",
]
INCLUDES: list[list[bytes] | None] = [
    None,
    [b"from", b"subject"],
    [b"from", b"from", b"subject", b"to", b"to"],  # oversigned
    [b"from", b"subject", b"x-missing", b"x-tabs"],  # names a header that is not there
]


@pytest.fixture
def keys_zone(dns_server: DNSServer, sender_pem: bytes) -> DNSServer:
    public = base64.b64encode(bytes(ED_KEY.verify_key)).decode()
    dns_server.txt(f"{SENDER_SELECTOR}._domainkey.example.com", public_record(sender_pem))
    dns_server.txt("ed._domainkey.example.com", f"v=DKIM1; k=ed25519; p={public}")
    dns_server.txt("refused._domainkey.example.com", "v=DKIM1; k=rsa; p=notbase64!!")
    dns_server.txt("empty._domainkey.example.com", "")
    dns_server.txt("other._domainkey.example.com", "v=DKIM1; k=dsa; p=AAAA")
    return dns_server


def signed(
    message: bytes, pem: bytes, canon: tuple[bytes, bytes], include: list[bytes] | None
) -> bytes:
    signature: bytes = dkim.sign(message, SENDER_SELECTOR.encode(), b"example.com", pem,
                                 canonicalize=canon, include_headers=include)  # fmt: skip
    return signature + message


def ed_signed(message: bytes, canon: tuple[bytes, bytes]) -> bytes:
    private = base64.b64encode(bytes(ED_KEY))
    signature: bytes = dkim.sign(message, b"ed", b"example.com", private, canonicalize=canon,
                                 signature_algorithm=b"ed25519-sha256")  # fmt: skip
    return signature + message


def hand_signed(
    message: bytes, pem: bytes, tags: bytes, canon: bytes = b"relaxed/relaxed"
) -> bytes:
    """A valid signature with ``tags`` (t=, x=, i=, ...) that dkimpy's signer cannot add."""
    key = serialization.load_pem_private_key(pem, None)
    assert isinstance(key, rsa.RSAPrivateKey)
    policy = dkim.CanonicalizationPolicy.from_c_value(canon.replace(b"/x", b""))
    headers, body = dkim.rfc822_parse(message)
    bh = base64.b64encode(hashlib.sha256(policy.canonicalize_body(body)).digest())
    value = (b" v=1; a=rsa-sha256; c=" + canon + b"; d=example.com; s=" + SENDER_SELECTOR.encode()
             + b"; " + tags + b"h=from:subject; bh=" + bh + b"; b=")  # fmt: skip
    h = dkim.HashThrough(hashlib.sha256())
    included = [b"from", b"subject", b"from"]
    canonical = policy.canonicalize_headers(headers)
    dkim.hash_headers(h, policy, canonical, included, (b"DKIM-Signature", value), {})
    b = base64.b64encode(key.sign(h.digest(), padding.PKCS1v15(), hashes.SHA256()))
    return b"DKIM-Signature:" + value + b + b"\r\n" + message


def corpus(pem: bytes) -> Iterator[bytes]:
    for head in HEADS:
        for body in BODIES:
            message = head + b"\r\n" + body
            for canon in CANONS:
                for include in INCLUDES:
                    yield signed(message, pem, canon, include)
                yield ed_signed(message, canon)
    message = HEADS[0] + b"\r\n" + BODIES[0]
    now = int(time.time())
    for tags in (
        b"t=%d; x=%d; " % (now, now + 3600),  # valid until later
        b"t=%d; x=%d; " % (now - 90000, now - 86400),  # expired
        b"t=%d; " % (now + 86400),  # signed in the future
        b"t=%d; x=%d; " % (now, now - 60),  # x= before t= (within dkimpy's slop)
        b"t=0; x=%d; " % now,
        b"t=1%s; " % (b"0" * 30),  # too long for the fast path
        b"x=12a; ",
        b"i=alice@example.com; ",
        b"i=@mail.example.com; ",
        b"i=@badexample.com; ",
        b"i=example.com; ",
        b"q=dns/txt; ",
        b"q=dns; ",
        b"l=5; ",
        b"z=From:x; ",
        b"v=1; ",  # duplicate tag
    ):
        for c in (b"relaxed/relaxed", b"simple/simple", b"relaxed", b"simple", b"relaxed/x"):
            yield hand_signed(message, pem, tags, c)
    yield dkim.sign(message, b"s1", b"example.com", pem, length=True) + message


def mutations(message: bytes) -> Iterator[bytes]:
    yield message
    yield message.replace(b"Subject: lunch", b"Subject: dinner")
    yield message.replace(b"noon", b"n00n")
    yield b"X-Added: above\r\n" + message
    yield b"From: mallory@example.com\r\n" + message
    yield re.sub(
        rb"(\bb=\s*)(\S)",
        lambda m: m.group(1) + (b"A" if m.group(2) != b"A" else b"B"),
        message,
        count=1,
    )
    yield re.sub(
        rb"(\bbh=\s*)(\S)",
        lambda m: m.group(1) + (b"A" if m.group(2) != b"A" else b"B"),
        message,
        count=1,
    )
    yield message.replace(b"d=example.com", b"d=example.org", 1)
    for selector in (b"missing", b"refused", b"empty", b"other", b"ed", SENDER_SELECTOR.encode()):
        yield re.sub(rb"\bs=[a-z0-9]+", b"s=" + selector, message, count=1)
    yield message.replace(b"a=rsa-sha256", b"a=rsa-sha1", 1)
    yield message.replace(b"a=ed25519-sha256", b"a=rsa-sha256", 1)
    yield message.replace(b"v=1", b"v=2", 1)
    yield message.replace(b"c=relaxed", b"c=Relaxed", 1)
    yield message.replace(b"h=from", b"h=subject", 1)
    yield message.replace(b"h=", b"h=From : ", 1)
    yield message.replace(b"; b=", b"; b= \r\n\t", 1)
    yield message.replace(b"; b=", b";b=", 1)


CHUNKS = [b" ", b"\t", b"\r\n", b"\r\n ", b"\n", b"\r", b";", b"=", b":", b"a", b"A", b"b=", b"==",
          b"x=1;", b"\xff", b"+", b"/", b"", b"t=9", b"From: x\r\n"]  # fmt: skip


def random_mutation(rng: random.Random, message: bytes) -> bytes:
    for _ in range(rng.randint(1, 3)):
        at = rng.randrange(len(message) + 1)
        cut = rng.choice((0, 0, 1, 2))
        message = message[:at] + rng.choice(CHUNKS) + message[at + cut :]
    return message


def reference_tags(message: bytes) -> list[tuple[str, str, str]]:
    """(d, s, b) of each signature as _signature_tags read them with dkimpy's tag parser."""
    tags = []
    for raw in split_message(message)[0]:
        if field_name(raw) == b"dkim-signature":
            try:
                t = dkim.util.parse_tag_value(re.sub(rb"\r\n[ \t]", b" ", field_value(raw)))
            except dkim.util.InvalidTagValueList:
                tags.append(("", "", ""))
                continue
            d, s = t.get(b"d", b"").lower(), t.get(b"s", b"")
            b = re.sub(rb"\s+", b"", t.get(b"b", b""))[:8]
            text = [v.decode("ascii", "replace") for v in (d, s, b)]
            tags.append((text[0], text[1], text[2]))
    return tags


def verifiers(settings: Settings) -> tuple[DkimVerifier, DkimVerifier]:
    resolver = make_sync_resolver(settings, dns_cache())
    keys = KeyCache()
    old = DkimVerifier(resolver, settings.dns_timeout, keys=keys, fast=False)
    return old, DkimVerifier(resolver, settings.dns_timeout, keys=keys)


def fast_handled(message: bytes, lookup: TxtLookup) -> int:
    """How many of the message's signatures the fast path decided (not left to dkimpy)."""
    headers, body = parsed(message)
    handled = 0
    for index in range(sum(1 for name, _ in headers if name.lower() == b"dkim-signature")):
        try:
            handled += dkim_fast.verify(headers, body, index, KeyCache(), lookup, 1.0) is not None
        except Exception:
            handled += 1
    return handled


def test_fast_path_gives_dkimpys_results(
    keys_zone: DNSServer, settings: Settings, sender_pem: bytes
) -> None:
    old, new = verifiers(settings)
    lookup = TxtLookup(make_sync_resolver(settings, dns_cache()))
    seen: dict[str, int] = {}
    handled = checked = 0
    for base in corpus(sender_pem):
        for message in mutations(base):
            expected = old.verify_blocking(message)
            assert new.verify_blocking(message) == expected, message
            for r in expected:
                seen[r.result] = seen.get(r.result, 0) + 1
            handled += fast_handled(message, lookup)
            checked += len(expected)
    assert {"pass", "fail", "permerror"} <= seen.keys(), seen
    assert seen["pass"] > 300 and handled > checked * 0.7, (seen, handled, checked)


def test_fast_path_gives_dkimpys_results_on_random_mutations(
    keys_zone: DNSServer, settings: Settings, sender_pem: bytes
) -> None:
    old, new = verifiers(settings)
    rng = random.Random(14)
    bases = list(corpus(sender_pem))
    seen: dict[str, int] = {}
    for _ in range(600):
        message = random_mutation(rng, rng.choice(bases))
        if rng.random() < 0.2:  # signed after the change: passes unless it broke the parse
            with contextlib.suppress(Exception):  # dkimpy's signer refuses what it cannot parse
                message = signed(message, sender_pem, rng.choice(CANONS), rng.choice(INCLUDES))
        expected = old.verify_blocking(message)
        assert new.verify_blocking(message) == expected, message
        assert [(r.domain, r.selector, r.b) for r in expected] == reference_tags(message)
        for r in expected:
            seen[r.result] = seen.get(r.result, 0) + 1
    assert {"pass", "fail", "permerror"} <= seen.keys(), seen


def test_two_signatures_one_missing_key(
    keys_zone: DNSServer, settings: Settings, sender_pem: bytes
) -> None:
    message = HEADS[1] + b"\r\n" + BODIES[4]
    twice = dkim.sign(signed(message, sender_pem, CANONS[3], None), b"s1", b"other.example",
                      sender_pem) + signed(message, sender_pem, CANONS[3], None)  # fmt: skip
    old, new = verifiers(settings)
    assert [r.result for r in new.verify_blocking(twice)] == ["permerror", "pass"]
    assert new.verify_blocking(twice) == old.verify_blocking(twice)


def test_dns_timeout_is_the_same_temperror(
    keys_zone: DNSServer, settings: Settings, sender_pem: bytes
) -> None:
    keys_zone.silent = True
    message = signed(HEADS[0] + b"\r\n" + BODIES[0], sender_pem, CANONS[0], None)
    old, new = verifiers(settings)
    assert [r.result for r in new.verify_blocking(message)] == ["temperror"]
    assert new.verify_blocking(message) == old.verify_blocking(message)


B_TAG_ALPHABET = [b"b", b"=", b";", b" ", b"\r\n", b"\n", b"\r", b"\t", b"A", b"h", b"+", b"x",
                  b"\r\n ", b"/"]  # fmt: skip


def test_b_tag_removal_is_dkimpys() -> None:
    rng = random.Random(6376)
    for _ in range(100000):
        value = b"".join(rng.choice(B_TAG_ALPHABET) for _ in range(rng.randint(0, 16)))
        assert dkim_fast._B_TAG.sub(b"\\1", value) == dkim.RE_BTAG.sub(b"\\1", value), value


def test_tag_parse_is_dkimpys() -> None:
    rng = random.Random(8463)
    alphabet = [b"a", b"b", b"1", b"_", b"=", b";", b" ", b"\r\n ", b"\t", b"\xe9", b"Z"]
    for _ in range(50000):
        value = b"".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14)))
        try:
            expected: dict[bytes, bytes] | None = dkim.util.parse_tag_value(value)
        except dkim.util.InvalidTagValueList:
            expected = None
        assert dkim_fast.parse_tags(value) == expected, value


def test_fast_path_decides_the_common_signatures(
    keys_zone: DNSServer, settings: Settings, sender_pem: bytes
) -> None:
    """RSA and Ed25519, every c=, folded and oversigned: decided here, and passing."""
    lookup = TxtLookup(make_sync_resolver(settings, dns_cache()))
    _, new = verifiers(settings)
    for canon in CANONS:
        for head in HEADS:
            message = head + b"\r\n" + BODIES[6]
            for sig in (signed(message, sender_pem, canon, INCLUDES[2]), ed_signed(message, canon)):
                assert fast_handled(sig, lookup) == 1
                assert [r.result for r in new.verify_blocking(sig)] == ["pass"]
