"""Authentication-Results: our header on top, forged ones claiming our authserv-id removed."""

from __future__ import annotations

import random

import dkim
import pytest

from forwarder.checks.policy import AuthPolicy
from forwarder.checks.results import (
    MethodResult,
    _cleaned_pvalue,
    _comment_text,
    authserv_id,
    build_header,
    pvalue,
    split_message,
    without_forged_results,
)
from forwarder.seams import Inbound
from tests.forwarder.checks.conftest import (
    HOSTNAME,
    dnsfunc_for,
    inbound,
    make_message,
    our_results,
)
from tests.support.dns_server import DNSServer

FORGED = (
    f"Authentication-Results: {HOSTNAME};\r\n\tspf=pass smtp.mailfrom=ceo@example.com;\r\n"
    "\tdkim=pass header.d=example.com; dmarc=pass header.from=example.com\r\n"
)


async def test_forged_results_claiming_our_id_are_removed(
    zone: DNSServer, policy: AuthPolicy
) -> None:
    # The attacker's mail fails SPF; its forged header says everything passed.
    message = make_message(extra=FORGED)
    attack = Inbound("198.51.100.66", "x.example", "ceo@example.com", ("b@alias.example",), message)
    verdict = await policy.inspect(attack)
    results = our_results(verdict.message)  # asserts exactly one header with our id
    assert results.startswith(f"{HOSTNAME}; spf=fail smtp.mailfrom=ceo@example.com; dkim=none")
    assert b"dkim=pass header.d=example.com" not in verdict.message


async def test_forged_variants_are_all_removed(zone: DNSServer, policy: AuthPolicy) -> None:
    variants = (
        f"authentication-results: {HOSTNAME.upper()}; dkim=pass\r\n"
        f"Authentication-Results:(comment) {HOSTNAME}.; dkim=pass\r\n"
        f"Authentication-Results:\r\n {HOSTNAME} 1; dkim=pass\r\n"
    )
    verdict = await policy.inspect(inbound(make_message(extra=variants)))
    our_results(verdict.message)
    assert verdict.message.count(b"dkim=pass\r\n") == 0


async def test_results_of_other_servers_are_kept(zone: DNSServer, policy: AuthPolicy) -> None:
    other = "Authentication-Results: mx.upstream.example; spf=pass smtp.mailfrom=a@b.example\r\n"
    verdict = await policy.inspect(inbound(make_message(extra=other)))
    assert other.encode() in verdict.message


def test_removal_keeps_every_other_byte() -> None:
    message = make_message(extra=FORGED + "X-Folded: a\r\n\tb\r\n")
    fields, rest = split_message(message)  # as policy.py removes them
    kept = without_forged_results(fields, HOSTNAME)
    assert len(fields) - len(kept) == 1
    assert b"".join(kept) + rest == message.replace(FORGED.encode(), b"")
    assert without_forged_results(kept, HOSTNAME) == kept


def test_split_message_round_trips() -> None:
    message = make_message(extra="X-Folded: one\r\n  two\r\n")
    fields, rest = split_message(message)
    assert b"".join(fields) + rest == message
    assert b"X-Folded: one\r\n  two\r\n" in fields


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b" example.net; none", "example.net"),
        (b" (c) Example.NET. 1; spf=pass", "example.net"),
        (b"\r\n example.net;", "example.net"),
        (b" ;", ""),
    ],
)
def test_authserv_id(value: bytes, expected: str) -> None:
    assert authserv_id(value) == expected


def test_values_cannot_inject_header_lines() -> None:
    evil = "a@b.example\r\nAuthentication-Results: " + HOSTNAME + "; dmarc=pass"
    header = build_header(HOSTNAME, [MethodResult("spf", "fail", (("smtp.mailfrom", evil),))])
    assert header.count(b"\r\n") == 2  # the fold after our id, and the end
    assert pvalue("x y") == '"x y"'
    assert pvalue("a@b.example") == "a@b.example"


def test_header_shape() -> None:
    header = build_header(HOSTNAME, [MethodResult("spf", "pass", (("smtp.mailfrom", "a@b.c"),))])
    expected = f"Authentication-Results: {HOSTNAME};\r\n\tspf=pass smtp.mailfrom=a@b.c\r\n"
    assert header == expected.encode()


# ------------------------------------------------------------------ non-ASCII values (issue 8)
# Before: every non-ASCII character was dropped: jörg@sender.test became "jrg@sender.test".


def test_utf8_values_are_kept_under_smtputf8() -> None:
    assert pvalue("jörg@sender.test", utf8=True) == "jörg@sender.test"  # RFC 6532 3.2 atext
    assert pvalue("jörg x@münchen.test", utf8=True) == '"jörg x@münchen.test"'
    header = build_header(
        HOSTNAME, [MethodResult("spf", "pass", (("smtp.mailfrom", "jörg@sender.test"),))], utf8=True
    )
    assert "smtp.mailfrom=jörg@sender.test" in header.decode("utf-8")


def test_non_ascii_is_encoded_without_smtputf8() -> None:
    # The domain as its A-label, the local part in RFC 6533's \x{HHHH} form, quoted.
    assert pvalue("jörg@münchen.test") == '"j\\\\x{F6}rg@xn--mnchen-3ya.test"'
    assert pvalue("jörg@sender.test") == '"j\\\\x{F6}rg@sender.test"'
    assert pvalue("mx.münchen.test") == "mx.xn--mnchen-3ya.test"
    assert pvalue("mx.münchen.test\u2028x") == "mx.xn--mnchen-3ya.testx"  # U+2028 dropped
    header = build_header(
        HOSTNAME, [MethodResult("spf", "pass", (("smtp.mailfrom", "jörg@sender.test"),))]
    )
    assert header.isascii()
    assert b'smtp.mailfrom="j\\\\x{F6}rg@sender.test"' in header


@pytest.mark.parametrize("smtputf8", [True, False])
async def test_policy_keeps_a_non_ascii_sender(
    zone: DNSServer, policy: AuthPolicy, smtputf8: bool
) -> None:
    message = make_message()
    sent = Inbound("192.0.2.10", "mx.example.com", "jörg@example.com", ("b@x",), message, smtputf8)
    verdict = await policy.inspect(sent)
    assert verdict.reply is None
    if smtputf8:
        assert "smtp.mailfrom=jörg@example.com" in our_results(verdict.message)
    else:
        assert 'smtp.mailfrom="j\\\\x{F6}rg@example.com"' in our_results(verdict.message)
    # The ARC set carries the results, ASCII-encoded either way (authres reads only ASCII;
    # it also writes quoted values without their quotes), and verifies at the destination.
    aar = verdict.message.split(b"ARC-Authentication-Results: ", 1)[1].split(b"\r\nARC-")[0]
    assert b"smtp.mailfrom=" in aar and b"x{F6}rg@example.com" in aar
    cv, _, reason = dkim.arc_verify(verdict.message, dnsfunc=dnsfunc_for(zone))
    assert (cv, reason) == (dkim.CV_Pass, "success")


def _old_comment_text(text: str) -> str:
    """_comment_text as it was before its shortcut (issue 14), the reference."""
    return "".join(c for c in text if c.isprintable() and c.isascii() and c not in "()\\")


def test_the_token_shortcuts_give_what_the_cleaning_gives() -> None:
    """pvalue and the comment text skip the per-character cleaning for a plain value; on
    plain, odd and hostile values alike they answer what the cleaning answers."""
    rng = random.Random(14)
    pieces = [
        "a", "Z", "0", ".", "@", "-", "=", ":", "/", " ", "\t", "\r\n", "\x00", "\x7f", "(",
        ")", "\\", '"', ";", ",", "ü", "\u2028", "\x85", "jörg@münchen.test", "a@origin.test",
    ]  # fmt: skip
    values = ["", "origin.test", "a@origin.test", "p=reject dis=none", "x\r\nInjected: 1"]
    values += ["".join(rng.choice(pieces) for _ in range(rng.randrange(1, 8))) for _ in range(5000)]
    for value in values:
        for utf8 in (False, True):
            assert pvalue(value, utf8) == _cleaned_pvalue(value, utf8), (value, utf8)
        assert _comment_text(value) == _old_comment_text(value), value
