"""The message a correspondent receives through a reverse address (rewrite/outbound.py)."""

from __future__ import annotations

from forwarder.rewrite.outbound import rewrite_reply

ALIAS = "shop@alias.example"
BOB = "r=aaaaaaaaaaaa=shop=bob=example.com@alias.example"
CAROL = "r=bbbbbbbbbbbb=shop=carol=example.org@alias.example"
FORGED = "r=cccccccccccc=shop=eve=example.org@alias.example"
KNOWN = {BOB: "bob@example.com", CAROL: "carol@example.org"}


def rewrite(message: str) -> bytes:
    return rewrite_reply(
        message.encode(),
        alias_address=ALIAS,
        unreverse=lambda a: KNOWN.get(a.lower()),
        hide=["me@mail.example"],
    )


def test_to_and_cc_reverse_addresses_become_correspondents() -> None:
    out = rewrite(
        f"From: me@mail.example\r\nTo: Bob <{BOB}>\r\nCc: {CAROL}, me@mail.example, "
        f"{FORGED}\r\nSubject: hi\r\n\r\nbody\r\n"
    )
    assert out.startswith(f"From: {ALIAS}\r\n".encode())
    assert b"To: Bob <bob@example.com>\r\n" in out
    assert f"Cc: carol@example.org, {FORGED}\r\n".encode() in out  # a bad MAC stays as it is
    assert b"me@mail.example" not in out


def test_message_id_at_the_alias_domain_is_kept_others_replaced() -> None:
    kept = rewrite("From: me@mail.example\r\nMessage-ID: <x1@alias.example>\r\n\r\nb\r\n")
    assert b"Message-ID: <x1@alias.example>\r\n" in kept
    replaced = rewrite("From: me@mail.example\r\nMessage-ID: <x1@mail.example>\r\n\r\nb\r\n")
    assert b"mail.example" not in replaced
    assert replaced.count(b"Message-ID: <") == 1 and b"@alias.example>" in replaced


def test_folded_provider_headers_are_dropped_whole() -> None:
    out = rewrite(
        "Received: from a\r\n\tby mail.example\r\nX-Originating-IP: [198.51.100.9]\r\n"
        "From: me@mail.example\r\nSubject: s\r\n\r\nquote: <" + BOB.upper() + ">\r\n"
    )
    assert b"198.51.100.9" not in out and b"mail.example" not in out
    assert out.endswith(b"quote: <bob@example.com>\r\n")
