"""The plain-path reader (forwarder/smtp/paths.py) against aiosmtpd's own parser: wherever
it answers, it answers exactly what aiosmtpd's ``SMTP._getaddr`` does, and it leaves every
form it does not know to that parser."""

from __future__ import annotations

import random

import pytest
from aiosmtpd.smtp import SMTP

from forwarder import replies
from forwarder.smtp.paths import plain_path
from tests.forwarder.conftest import DOMAIN, World, line


class _Session:
    """What ``SMTP._getaddr`` reads of its session: the local-part limit alone."""

    def __init__(self, local_part_limit: int = 0) -> None:
        self.local_part_limit = local_part_limit


def _aiosmtpd(arg: str, limit: int = 0) -> tuple[str | None, str | None]:
    result: tuple[str | None, str | None] = SMTP._getaddr(_Session(limit), arg)  # type: ignore[arg-type]
    return result


PLAIN = [
    "<a@b>",
    "<hello@example.org>",
    "<Hello.World@Example.ORG>",
    "<first.last+tag@sub.example.co.uk>",
    "<SRS0=HHH=TT=origin.test=sender@relay.test>",
    "<bounce-123-abc=def@mail.example>",
    "<!#$%&'*+/?=^_`{|}~-@x-y.z>",
    "<a@b> SIZE=1000",
    "<a@b> SIZE=1000 BODY=8BITMIME",
    "<a@b>  SIZE=1000",
    "<a@b>\tSIZE=1000",
    "<a@b> \t SMTPUTF8",
    "<a@b>SIZE=1000",
    "<a@b> ",
    "<a@b>\t",
    "<a@b>>",
    "<a@b> >",
    "<a@b><c@d>",
    "<a@b> <c@d>",
    "<a@b> \u00a0SIZE=1",  # str.lstrip takes the no-break space too, as the parser does
    "<a@b> \u2003x",
    "<a@b>\u00a0x",
    "<a@b> x(y)",
    "<a@b> x (y)",
    "<a@b>\r\n",
    "<a@b> \r\nSIZE=1",
    "<a@1.2.3.4>",
    "<a@-.-->",
    "<" + "l" * 64 + "@example.org>",
    "<" + "l" * 65 + "@example.org>",
    "<a?=b@example.org>",
]

FALLBACK = [
    "",
    "<>",
    "<> SIZE=1",
    "a@b",
    "a@b SIZE=1",
    " <a@b>",
    "<a@b",
    "<a@b SIZE=1",
    "<@relay.test:a@b>",
    "<@r1,@r2:a@b>",
    '<"a b"@example.org>',
    '<"a"@example.org>',
    "<a b@example.org>",
    "<a@b (comment)>",
    "<a@b> (comment) SIZE=1",
    "<a@b>(comment)",
    "<a@b> (unterminated",
    "<a(c)@b>",
    "<(c)a@b>",
    "<a@[127.0.0.1]>",
    "<a@[IPv6:::1]>",
    "<a@example.org.>",
    "<a@.example.org>",
    "<a@example..org>",
    "<.a@b>",
    "<a.@b>",
    "<a..b@b>",
    "<a@b@c>",
    "<a@>",
    "<@b>",
    "<a>",
    "<a@b_c.d>",
    "<a@b!c>",
    "<jörg@example.org>",
    "<a@münchen.test>",
    "<=?utf-8?q?a?=@b.test>",
    "<a@=?utf-8?q?b?=.test>",
    "<a.=?x?q?y?=@b>",
    "<a\\b@c>",
    "<a@b\\c>",
    "<a\x00@b>",
    "<a@b\x00>",
    "<a\t@b>",
    "< a@b>",
    "<a @b>",
    "<a@ b>",
]


@pytest.mark.parametrize("arg", PLAIN)
def test_a_plain_path_is_read_as_aiosmtpd_reads_it(arg: str) -> None:
    assert plain_path(arg) is not None
    assert plain_path(arg) == _aiosmtpd(arg)


@pytest.mark.parametrize("arg", FALLBACK)
def test_any_other_form_is_left_to_aiosmtpd(arg: str) -> None:
    assert plain_path(arg) is None


def test_the_local_part_limit_is_left_to_aiosmtpd() -> None:
    arg = "<" + "l" * 65 + "@example.org>"
    assert plain_path(arg, 65) == _aiosmtpd(arg, 65) == ("l" * 65 + "@example.org", "")
    assert plain_path(arg, 64) is None
    assert _aiosmtpd(arg, 64) == (None, None)  # refused: 553 in the session


_ATEXT = "abcXYZ0189!#$%&'*+/=?^_`{|}~-"
_ODD = [
    ".", "@", "<", ">", " ", "\t", "(", ")", '"', "\\", "[", "]", ":", ",", ";", "=?", "?=",
    "=?utf-8?q?x?=", "ö", "\u00a0", "\r\n", "\x00", "..", "@[1.2.3.4]", "<>", "(c)",
]  # fmt: skip


def _random_path(rng: random.Random) -> str:
    """A plain path with parameters, then up to three random edits, each a character or a
    piece of address syntax put in, taken out or replaced anywhere."""

    def word(letters: str) -> str:
        return "".join(rng.choice(letters) for _ in range(rng.randrange(1, 6)))

    local = ".".join(word(_ATEXT) for _ in range(rng.randrange(1, 3)))
    domain = ".".join(word("abz09-") for _ in range(rng.randrange(1, 4)))
    rest = rng.choice(["", " SIZE=100", "  SIZE=1 BODY=8BITMIME", "\tX", " ", "SMTPUTF8"])
    arg = f"<{local}@{domain}>{rest}"
    for _ in range(rng.randrange(0, 4)):
        at = rng.randrange(len(arg) + 1)
        piece = rng.choice(_ODD) if rng.random() < 0.7 else rng.choice(_ATEXT)
        cut = rng.choice([0, 0, 1])
        arg = arg[:at] + piece + arg[at + cut :] if rng.random() < 0.8 else arg[:at] + arg[at + 1 :]
    return arg


def test_random_paths_agree_with_aiosmtpd() -> None:
    rng = random.Random(14)
    read = 0
    for _ in range(20_000):
        arg = _random_path(rng)
        found = plain_path(arg)
        if found is not None:
            read += 1
            assert found == _aiosmtpd(arg), arg
    assert read > 5_000  # the comparison is not vacuous


async def _rcpt(world: World, mail: bytes, rcpt: bytes) -> tuple[str, str]:
    client = await world.client()
    try:
        mail_reply = line(await client.execute_command(b"MAIL", mail))
        return mail_reply, line(await client.execute_command(b"RCPT", rcpt))
    finally:
        client.close()


async def test_the_relay_reads_both_forms_as_aiosmtpd_would(world: World) -> None:
    """Through the real relay: plain paths, parameters after them, and forms only aiosmtpd's
    parser reads, each answered as aiosmtpd's own reading of it would be."""
    await world.alias("hello", ["me@example.net"])
    await world.start()
    plain, params = b"FROM:<s@origin.test>", b"FROM:<s@origin.test> BODY=8BITMIME"
    cases = [
        (plain, f"TO:<Hello@{DOMAIN}>", replies.ACCEPTED_RECIPIENT),
        (params, f"TO:<hello@{DOMAIN}>", replies.ACCEPTED_RECIPIENT),
        (plain, f'TO:<"hello"@{DOMAIN}>', replies.ACCEPTED_RECIPIENT),  # parser: unquoted
        (plain, f"TO:<hello@{DOMAIN}> (a comment)", replies.ACCEPTED_RECIPIENT),
        (plain, f"TO:<nobody@{DOMAIN}>", replies.REJECT_UNKNOWN_ALIAS),
        (plain, f"TO:<@relay.test:hello@{DOMAIN}>", replies.REJECT_SOURCE_ROUTE),
        (plain, f"TO:<hello@{DOMAIN}> FOO=bar", "555 RCPT TO parameters not recognized"),
    ]
    for mail, rcpt, expected in cases:
        mail_reply, rcpt_reply = await _rcpt(world, mail, rcpt.encode())
        assert mail_reply.startswith("250"), mail_reply
        assert rcpt_reply.startswith(expected), (rcpt, rcpt_reply)
    too_big = b"FROM:<s@origin.test> SIZE=999999999999"
    assert (await _rcpt(world, too_big, b"TO:<x@y>"))[0] == replies.MESSAGE_TOO_BIG
