"""The From domain DMARC judges (forwarder/checks/dmarc.py): the plain-value reader answers
exactly what the email parser answers wherever it answers, leaves every other value to the
parser, and a From that names no single author is still refused, by either path."""

from __future__ import annotations

import random

import pytest

from forwarder.checks.dmarc import (
    NoSingleAuthor,
    author_domain,
    parsed_author_domain,
    plain_author_domain,
)
from forwarder.checks.results import split_message


def _parsed(value: str) -> str | None:
    try:
        return parsed_author_domain(value)
    except NoSingleAuthor:
        return None


def _fields(*headers: str) -> list[bytes]:
    message = "".join(f"{h}\r\n" for h in headers) + "To: x@y.test\r\n\r\nbody\r\n"
    return split_message(message.encode())[0]


PLAIN = [
    "a@b",
    "sender@origin.test",
    "Sender <sender@origin.test>",
    "Alice Smith <Alice.Smith@Mail.Example.COM>",
    "<alice@example.com>",
    "Alice<alice@example.com>",
    "Alice \t <alice@example.com>",
    "Alice\tB <alice@example.com>",
    "a!#$%&'*+/?=^_`{|}~- <b!#$%&'*+/?=^_`{|}~-@x-y.example>",
    "bounce-123+tag@mail.sub.example.co.uk",
    "x@1.2.3.4",
    "x@123.example",
    "Caf <x@A-B.EXAMPLE>",
    "x@" + "a" * 63 + ".test",
    "x@" + ".".join(["a" * 49] * 5),  # 249 characters
    "x@xn.test",
    "x@ab-cd.test",
    "x@a--b.test",
]

FALLBACK = [
    "",
    "<>",
    '"Smith, Alice" <alice@example.com>',
    '"Alice" <alice@example.com>',
    "Alice Q. Smith <alice@example.com>",
    "alice@example.com (Alice)",
    "(Alice) alice@example.com",
    "Alice <alice@example.com> (comment)",
    "alice@example.com, mallory@spoofer.example",
    "Alice <alice@example.com>, Mallory <mallory@spoofer.example>",
    "alice@example.com mallory@spoofer.example",
    "undisclosed-recipients:;",
    "friends: alice@example.com;",
    "friends: alice@example.com, bob@example.net;",
    "Alice <alice@example.com",
    "Alice alice@example.com>",
    "<alice@example.com> Alice",
    "<<alice@example.com>>",
    "no-domain",
    "@example.com",
    "alice@",
    "alice@example.com.",
    "alice@.example.com",
    "alice@example..com",
    "alice@-example.com",
    "alice@example-.com",
    "alice@xn--bcher-kva.example",
    "alice@xn--invalid-.example",
    "alice@ab--cd.example",
    "alice@exa_mple.com",
    "alice@[127.0.0.1]",
    "alice@bücher.example",
    "jörg@example.com",
    "Jörg <jorg@example.com>",
    "=?utf-8?q?Alice?= <alice@example.com>",
    "=?utf-8?q?alice?=@example.com",
    "alice@=?utf-8?q?example?=.com",
    '"alice"@example.com',
    "alice smith@example.com",
    "alice\\@x@example.com",
    "alice@example.com\x00",
    "alice\r@example.com",
    "Alice\n<alice@example.com>",
    "Alice\u00a0<alice@example.com>",
    "<@relay.example:alice@example.com>",
    "x@" + "a" * 64 + ".test",
    "x@" + ".".join(["a" * 50] * 5),  # 254 characters
    "alice@example.com\ufffd",
]

REFUSED = [
    [],
    ["From: a@example.com", "From: b@example.com"],
    ["From: a@example.com", "from: a@example.com"],
    ["From: alice@example.com, mallory@spoofer.example"],
    ["From: Alice <alice@example.com>, Mallory <mallory@spoofer.example>"],
    ["From: undisclosed-recipients:;"],
    ["From: friends: alice@example.com, bob@example.net;"],
    ["From:"],
    ["From: "],
    ["From: <>"],
    ["From: no-domain"],
    ["From: alice@"],
    ["From: alice@-example.com"],
    ["From: alice@xn--invalid-.example"],
    ["From: x@" + ".".join(["a" * 50] * 5)],
    ["From: x@" + "a" * 64 + ".test"],
]


@pytest.mark.parametrize("value", PLAIN)
def test_a_plain_from_is_read_as_the_parser_reads_it(value: str) -> None:
    domain = plain_author_domain(value)
    assert domain is not None
    assert domain == parsed_author_domain(value)


@pytest.mark.parametrize("value", FALLBACK)
def test_any_other_from_is_left_to_the_parser(value: str) -> None:
    assert plain_author_domain(value) is None


@pytest.mark.parametrize("headers", REFUSED, ids=range(len(REFUSED)))
def test_a_from_without_one_author_is_refused(headers: list[str]) -> None:
    with pytest.raises(NoSingleAuthor):
        author_domain(_fields(*headers))


def test_author_domain_unfolds_and_takes_either_path() -> None:
    assert author_domain(_fields("From: Sender\r\n <Sender@Origin.TEST>  ")) == "origin.test"
    assert author_domain(_fields('From: "Smith, A." <a@Example.COM>')) == "example.com"
    assert author_domain(_fields("From: a@bücher.example")) == "xn--bcher-kva.example"


_ATEXT = "abcXYZ0189!#$%&'*+/=?^_`{|}~-"
_ODD = [
    ".", "@", "<", ">", " ", "\t", "(", ")", '"', "\\", "[", "]", ":", ",", ";", "=?", "?=",
    "=?utf-8?q?x?=", "ö", "\u00a0", "\x00", "..", "--", "xn--", "@[1.2.3.4]", "<>", "(c)",
    ", b@c.d", "g:", ";",
]  # fmt: skip


def _random_from(rng: random.Random) -> str:
    """A plain From value, then up to three random edits, each a character or a piece of
    address syntax put in, taken out or replaced anywhere."""

    def word(letters: str, most: int = 6) -> str:
        return "".join(rng.choice(letters) for _ in range(rng.randrange(1, most)))

    local = ".".join(word(_ATEXT) for _ in range(rng.randrange(1, 3)))
    domain = ".".join(word("abZ09-") for _ in range(rng.randrange(1, 4)))
    name = " ".join(word(_ATEXT) for _ in range(rng.randrange(0, 3)))
    value = rng.choice([f"{local}@{domain}", f"<{local}@{domain}>", f"{name} <{local}@{domain}>"])
    for _ in range(rng.randrange(0, 4)):
        at = rng.randrange(len(value) + 1)
        piece = rng.choice(_ODD) if rng.random() < 0.7 else rng.choice(_ATEXT)
        cut = rng.choice([0, 0, 1])
        if rng.random() < 0.8:
            value = value[:at] + piece + value[at + cut :]
        else:
            value = value[:at] + value[at + 1 :]
    return value


def test_random_from_values_agree_with_the_parser() -> None:
    rng = random.Random(14)
    read = 0
    for _ in range(20_000):
        value = _random_from(rng).strip()
        domain = plain_author_domain(value)
        if domain is not None:
            read += 1
            assert domain == _parsed(value), value
    assert read > 3_000  # the comparison is not vacuous
