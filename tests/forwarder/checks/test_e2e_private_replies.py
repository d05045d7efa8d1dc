"""Private replies (issue 11), through the real relay: with the alias's setting on, every
copy, even one that would pass DMARC as it is, gets the author's reverse address as From
(DKIM-signed as the alias's domain, ARC-sealed), and its Reply-To, To and Cc addresses become
reverse addresses, so a reply-all from the target reaches each correspondent From the alias
and shows nothing of the target's mailbox. Off, mail is forwarded as before."""

from __future__ import annotations

import dkim
import pytest

from forwarder import replies
from forwarder.checks.results import split_message
from forwarder.reverse import ReverseAddresses
from tests.forwarder.checks.conftest import (
    ARC_SELECTOR,
    SENDER,
    SENDER_SELECTOR,
    dnsfunc_for,
    public_record,
    sign,
)
from tests.forwarder.conftest import DOMAIN, World, make_message

pytestmark = pytest.mark.e2e

OWNER = "me@example.net"  # the alias's confirmed target (auth_world: alias hello)
CAROL = "carol@third.test"  # a second correspondent, in Cc
DESK = "desk@origin.test"  # where the author wants replies
HEADERS = (
    f'Reply-To: Help Desk <{DESK}>\r\nCc: Carol <{CAROL}>, "odd one"@third.test, other@{DOMAIN}\r\n'
)


@pytest.fixture
async def private_world(auth_world: World, arc_pem: bytes, sender_pem: bytes) -> World:
    # The alias's domain has its DKIM record in place; the owner's provider is example.net.
    auth_world.dns.txt(f"{ARC_SELECTOR}._domainkey.{DOMAIN}", public_record(arc_pem))
    auth_world.dns.txt(f"_dmarc.{DOMAIN}", "v=DMARC1; p=reject")
    auth_world.dns.txt("example.net", "v=spf1 ip4:127.0.0.1 -all")
    auth_world.dns.txt(f"{SENDER_SELECTOR}._domainkey.example.net", public_record(sender_pem))
    auth_world.dns.add("third.test.", "MX", "10 mx.example.net.")  # Carol's MX: the sink
    return auth_world


async def choose(world: World, alias: bool | None, domain: bool = False) -> str:
    """Set the alias's choice and the domain's default; the alias's id."""
    found = await world.store.aliases.get_by_local_part(world.domain_id, "hello")
    assert found is not None
    await world.store.aliases.set_private_replies(found.id, alias)
    await world.store.domains.set_private_replies(world.domain_id, domain)
    return found.id


def field(message: bytes, name: str) -> str:
    fields, _ = split_message(message)
    [found] = [f for f in fields if f.split(b":", 1)[0].lower() == name.lower().encode()]
    return found.split(b":", 1)[1].decode().replace("\r\n", "").strip()


def reverse(world: World, alias_id: str, correspondent: str) -> str:
    minted = ReverseAddresses.from_settings(world.settings).mint(
        alias_id, 0, "hello", DOMAIN, correspondent
    )
    assert minted is not None
    return minted


async def aligned_copy(world: World, sender_pem: bytes) -> bytes:
    """A DKIM-aligned message (it would pass DMARC as it is) with Reply-To and Cc, forwarded."""
    message = sign(make_message(extra=HEADERS), sender_pem, "origin.test")
    _, data = await world.transaction(SENDER, [f"hello@{DOMAIN}"], message)
    assert data == replies.DELIVERED
    [got] = world.sink.messages
    assert got.rcpt_tos == [OWNER]
    return got.data


async def test_aligned_author_is_rewritten_with_reverse_reply_to_and_cc(
    private_world: World, sender_pem: bytes
) -> None:
    alias_id = await choose(private_world, True)
    copy = await aligned_copy(private_world, sender_pem)
    author, desk, carol = (reverse(private_world, alias_id, a) for a in (SENDER, DESK, CAROL))
    assert field(copy, "From") == f'"Sender (sender at origin.test)" <{author}>'
    assert field(copy, "Reply-To") == f'"Help Desk (desk at origin.test)" <{desk}>'
    # Carol gets her own reverse address; the quoted local part cannot have one and is left
    # out (a reply-all would reach it directly); an address of ours stays.
    assert field(copy, "Cc") == f'"Carol (carol at third.test)" <{carol}>, other@{DOMAIN}'
    assert field(copy, "To") == f"someone@{DOMAIN}"
    # The owner still sees who it was for.
    assert field(copy, "X-Original-Cc").startswith(f"Carol <{CAROL}>")
    assert field(copy, "X-Original-Reply-To") == f"Help Desk <{DESK}>"
    assert field(copy, "X-Original-From") == f"Sender <{SENDER}>"
    dnsfunc = dnsfunc_for(private_world.dns)
    assert f"d={DOMAIN};".encode() in copy
    assert dkim.verify(copy, dnsfunc=dnsfunc)  # our signature, the first in the message
    cv, _, _ = dkim.arc_verify(copy, dnsfunc=dnsfunc)
    assert cv == dkim.CV_Pass


async def test_reply_all_from_the_target_reaches_each_correspondent_from_the_alias(
    private_world: World, sender_pem: bytes
) -> None:
    await choose(private_world, True)
    copy = await aligned_copy(private_world, sender_pem)
    reply_to, cc = field(copy, "Reply-To"), field(copy, "Cc")
    to_desk = reply_to.rsplit("<", 1)[1].rstrip(">")
    to_carol = cc.split(",")[0].rsplit("<", 1)[1].rstrip(">")
    reply = sign(
        (
            f"From: Me Myself <{OWNER}>\r\nTo: {reply_to}\r\nCc: {cc}\r\n"
            "Subject: Re: hello\r\nDate: Tue, 01 Dec 2026 10:00:00 +0000\r\n"
            "Message-ID: <ra@mail.example.net>\r\n\r\nThanks, both.\r\n"
        ).encode(),
        sender_pem,
        "example.net",
    )
    # A reverse address comes alone in a transaction; the second gets the "try again" reply
    # every MTA answers with a transaction of its own.
    answers, data = await private_world.transaction(OWNER, [to_desk, to_carol], reply)
    assert answers == [replies.ACCEPTED_RECIPIENT, replies.SEPARATE_TRANSACTION]
    assert data == replies.DELIVERED
    answers, data = await private_world.transaction(OWNER, [to_carol], reply)
    assert (answers, data) == ([replies.ACCEPTED_RECIPIENT], replies.DELIVERED)
    sent = private_world.sink.messages[1:]
    assert [m.rcpt_tos for m in sent] == [[DESK], [CAROL]]
    for got in sent:
        assert f"From: hello@{DOMAIN}\r\n".encode() in got.data
        assert f"d={DOMAIN};".encode() in got.data
        assert dkim.verify(got.data, dnsfunc=dnsfunc_for(private_world.dns))
        assert CAROL.encode() in got.data and DESK.encode() in got.data
        for leak in (b"example.net", b"me@", b"Me Myself", b"r="):
            assert leak not in got.data.lower(), leak


async def test_domain_default_applies_until_the_alias_chooses(
    private_world: World, sender_pem: bytes
) -> None:
    alias_id = await choose(private_world, None, domain=True)
    copy = await aligned_copy(private_world, sender_pem)
    assert field(copy, "From").endswith(f"<{reverse(private_world, alias_id, SENDER)}>")


async def test_off_forwards_an_aligned_message_byte_for_byte(
    private_world: World, sender_pem: bytes
) -> None:
    await choose(private_world, False, domain=True)  # the alias's own choice wins
    message = sign(make_message(extra=HEADERS), sender_pem, "origin.test")
    copy = await aligned_copy(private_world, sender_pem)
    assert copy.endswith(message)
    assert b"X-Original" not in copy


async def test_off_rewrites_only_from_for_a_copy_that_would_fail_dmarc(
    private_world: World,
) -> None:
    """Off, an SPF-only author under p=reject still gets the DMARC-safe From, but Reply-To
    and Cc keep their addresses, as before private replies."""
    await choose(private_world, None)
    message = make_message(extra=HEADERS)
    _, data = await private_world.transaction(SENDER, [f"hello@{DOMAIN}"], message)
    assert data == replies.DELIVERED
    copy = private_world.sink.messages[0].data
    assert field(copy, "From").startswith('"Sender (sender at origin.test)" <r=')
    assert field(copy, "Reply-To") == f"Help Desk <{DESK}>"
    assert CAROL in field(copy, "Cc")
    assert b"X-Original-Cc" not in copy


async def test_another_alias_is_sent_in_a_transaction_of_its_own(
    private_world: World, sender_pem: bytes
) -> None:
    """One transaction makes one copy: an alias without private replies next to one with
    them gets the "separate transaction" reply, so each copy is rewritten for its own alias."""
    await private_world.alias("plain", ["other@example.net"])
    await choose(private_world, True)
    message = sign(make_message(extra=HEADERS), sender_pem, "origin.test")
    rcpts = [f"hello@{DOMAIN}", f"plain@{DOMAIN}"]
    answers, data = await private_world.transaction(SENDER, rcpts, message)
    assert answers == [replies.ACCEPTED_RECIPIENT, replies.SEPARATE_TRANSACTION]
    assert data == replies.DELIVERED
    answers, data = await private_world.transaction(SENDER, rcpts[::-1], message)
    assert answers == [replies.ACCEPTED_RECIPIENT, replies.SEPARATE_TRANSACTION]
    copies = {tuple(m.rcpt_tos): m.data for m in private_world.sink.messages}
    assert set(copies) == {(OWNER,), ("other@example.net",)}
    assert b"X-Original-Cc" in copies[(OWNER,)]
    assert copies[("other@example.net",)].endswith(message)  # plain: byte for byte
