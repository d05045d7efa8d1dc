"""rewrite/author.py: the header fields of a copy under private replies (issue 11)."""

from __future__ import annotations

from forwarder.reverse import ReverseAddresses
from forwarder.rewrite.author import rewrite_author
from forwarder.seams import AliasRef

KEYS = ReverseAddresses(b"k")
PRIVATE = AliasRef("id", "shop", "alias.example", 0, private=True)
HOST = "mx.quietmail.test"


def fields(*lines: str) -> list[bytes]:
    return [f"{line}\r\n".encode() for line in lines]


def rev(address: str, host: str | None = None) -> str:
    minted = KEYS.mint("id", 0, "shop", "alias.example", address, host=host)
    assert minted is not None
    return minted


def test_to_cc_and_reply_to_become_reverse_addresses() -> None:
    out = rewrite_author(
        fields(
            "From: Ann <ann@a.example>",
            "To: shop@alias.example, Bob <bob@b.example>",
            'Cc: carol@c.example,\r\n "x y"@d.example',
            "Reply-To: desk@a.example",
            "Subject: hi",
        ),
        PRIVATE,
        KEYS,
    )
    text = b"".join(out).decode()
    assert f'To: shop@alias.example, "Bob (bob at b.example)" <{rev("bob@b.example")}>\r\n' in text
    assert f'Cc: "carol at c.example" <{rev("carol@c.example")}>\r\n' in text
    assert f'Reply-To: "desk at a.example" <{rev("desk@a.example")}>\r\n' in text
    assert 'X-Original-Cc: carol@c.example,\r\n "x y"@d.example\r\n' in text
    assert "X-Original-Reply-To: desk@a.example\r\n" in text
    assert "Subject: hi\r\n" in text
    # Nothing of the correspondents' own addresses is left where a reply would go.
    for line in text.split("\r\n"):
        if line.startswith(("To:", "Cc:", "Reply-To:", "From:")):
            assert "@b.example" not in line and "@c.example" not in line, line


def test_unmintable_author_gets_no_direct_reply_to_under_private_replies() -> None:
    out = b"".join(rewrite_author(fields('From: "a b"@a.example', "Subject: s"), PRIVATE, KEYS))
    assert b'From: "\\"a b\\" at a.example" <shop@alias.example>\r\n' in out
    assert b"Reply-To" not in out


def test_a_cc_that_empties_is_left_out() -> None:
    out = b"".join(
        rewrite_author(fields("From: a@a.example", 'Cc: "x y"@d.example'), PRIVATE, KEYS)
    )
    assert b"\r\nCc:" not in out and out.startswith(b"From:")
    assert b'X-Original-Cc: "x y"@d.example\r\n' in out


def test_at_our_hostname_the_reverse_addresses_are_there_too() -> None:
    out = b"".join(
        rewrite_author(
            fields("From: a@a.example", f"Cc: bob@b.example, srs@{HOST}"), PRIVATE, KEYS, HOST
        )
    ).decode()
    assert f'Cc: "bob at b.example" <{rev("bob@b.example", HOST)}>, srs@{HOST}\r\n' in out


def test_without_private_replies_cc_and_reply_to_stay() -> None:
    plain = AliasRef("id", "shop", "alias.example", 0)
    out = b"".join(rewrite_author(fields("From: a@a.example", "Cc: bob@b.example"), plain, KEYS))
    assert out.endswith(b"Cc: bob@b.example\r\n")
    assert b"X-Original-Cc" not in out
