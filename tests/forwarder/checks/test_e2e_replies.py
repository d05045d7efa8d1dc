"""Replies through the alias (issue 11), through the real relay: the owner (me@example.net,
whose provider's MX is the sink) writes to a reverse address; the correspondent
(sender@origin.test, MX the same sink) gets it From the alias, DKIM-signed, with nothing of
the owner's mailbox in it. Attacks on the reverse path each get their own test."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import dkim
import pytest
from publicsuffixlist import PublicSuffixList

from forwarder import replies
from forwarder.checks.policy import AuthPolicy
from forwarder.reverse import MAC_LENGTH, ReverseAddresses
from forwarder.rewrite.arc_key import ArcKey
from tests.forwarder.checks.conftest import (
    ARC_SELECTOR,
    SENDER,
    SENDER_SELECTOR,
    dnsfunc_for,
    public_record,
    sign,
)
from tests.forwarder.conftest import DOMAIN, HOSTNAME, World, run_transaction
from tests.support.mail_dkim import perl_verify

pytestmark = pytest.mark.e2e

OWNER = "me@example.net"  # the alias's confirmed target (auth_world: alias hello)


@pytest.fixture
async def reply_world(auth_world: World, sender_pem: bytes) -> World:
    # The owner's provider: SPF allows the loopback client, DKIM key for example.net.
    auth_world.dns.txt("example.net", "v=spf1 ip4:127.0.0.1 -all")
    auth_world.dns.txt(f"{SENDER_SELECTOR}._domainkey.example.net", public_record(sender_pem))
    return auth_world


async def alias_id(world: World) -> str:
    alias = await world.store.aliases.get_by_local_part(world.domain_id, "hello")
    assert alias is not None
    return alias.id


async def reverse_of(world: World, correspondent: str = SENDER, version: int = 0) -> str:
    keys = ReverseAddresses.from_settings(world.settings)
    address = keys.mint(await alias_id(world), version, "hello", DOMAIN, correspondent)
    assert address is not None
    return address


def owner_reply(to: str, author: str = OWNER) -> bytes:
    return (
        "Received: from laptop.example.net ([203.0.113.7]) by smtp.example.net with ESMTPSA\r\n"
        "X-Originating-IP: [203.0.113.7]\r\n"
        "Authentication-Results: smtp.example.net; auth=pass smtp.auth=me@example.net\r\n"
        f"From: Me Myself <{author}>\r\n"
        f"To: Sender <{to}>\r\n"
        f"Cc: {author}\r\n"
        f"Reply-To: {author}\r\n"
        "Subject: Re: hello\r\n"
        "Date: Tue, 01 Dec 2026 10:00:00 +0000\r\n"
        "Message-ID: <reply1@mail.example.net>\r\n"
        "In-Reply-To: <orig@origin.test>\r\n"
        "References: <orig@origin.test>\r\n"
        "User-Agent: Provider Webmail (smtp.example.net)\r\n"
        "\r\n"
        "Thanks!\r\n\r\n"
        f"On Monday, Sender <{to}> wrote:\r\n"
        f"> Hi, your address is {author}.\r\n"
    ).encode()


async def test_reply_reaches_the_correspondent_from_the_alias(
    reply_world: World, sender_pem: bytes
) -> None:
    to = await reverse_of(reply_world)
    message = sign(owner_reply(to), sender_pem, "example.net")
    answers, data = await reply_world.transaction(OWNER, [to], message)
    assert answers == [replies.ACCEPTED_RECIPIENT]
    assert data == replies.DELIVERED  # 250 only after the correspondent's MX took it
    [got] = reply_world.sink.messages
    assert got.rcpt_tos == [SENDER]
    assert got.mail_from.startswith("SRS0=") and got.mail_from.endswith(f"@{HOSTNAME}")
    assert SRS_reverse(reply_world, got.mail_from) == f"hello@{DOMAIN}"  # bounces: the alias
    assert f"From: hello@{DOMAIN}\r\n".encode() in got.data
    assert f"To: Sender <{SENDER}>\r\n".encode() in got.data
    assert b"In-Reply-To: <orig@origin.test>" in got.data
    assert b"References: <orig@origin.test>" in got.data
    assert f"wrote:\r\n> Hi, your address is hello@{DOMAIN}.".encode() in got.data
    assert f"On Monday, Sender <{SENDER}> wrote:".encode() in got.data
    # No byte of the owner's address, provider or IP anywhere in the message.
    for leak in (b"example.net", b"203.0.113.7", b"me@", b"Me Myself", b"r="):
        assert leak not in got.data.lower(), leak
    dnsfunc = dnsfunc_for(reply_world.dns)
    assert dkim.verify(got.data, dnsfunc=dnsfunc)
    assert f"d={HOSTNAME};".encode() in got.data  # no record at the alias's domain yet
    assert perl_verify(got.data, reply_world.dns) in ("pass", None)


def SRS_reverse(world: World, address: str) -> str | None:
    from forwarder.rewrite.srs import SRS

    return SRS.from_settings(world.settings).reverse(address)


async def test_reply_is_signed_as_the_alias_domain_once_its_record_is_in_place(
    reply_world: World, sender_pem: bytes, arc_pem: bytes
) -> None:
    # What the CNAME arc1._domainkey.aliases.test -> arc1._domainkey.<hostname> resolves to.
    reply_world.dns.txt(f"{ARC_SELECTOR}._domainkey.{DOMAIN}", public_record(arc_pem))
    to = await reverse_of(reply_world)
    message = sign(owner_reply(to), sender_pem, "example.net")
    _, data = await reply_world.transaction(OWNER, [to], message)
    assert data == replies.DELIVERED
    [got] = reply_world.sink.messages
    assert f"d={DOMAIN};".encode() in got.data
    assert dkim.verify(got.data, dnsfunc=dnsfunc_for(reply_world.dns))
    verdict = perl_verify(got.data, reply_world.dns)
    if verdict is None:
        pytest.skip("Perl Mail::DKIM is not installed (apt-get install libmail-dkim-perl)")
    assert verdict == "pass"


async def test_reply_carries_the_alias_display_name(reply_world: World) -> None:
    await reply_world.store.aliases.set_display_name(await alias_id(reply_world), "Hello Desk")
    to = await reverse_of(reply_world)
    _, data = await reply_world.transaction(OWNER, [to], owner_reply(to))
    assert data == replies.DELIVERED
    assert f"From: Hello Desk <hello@{DOMAIN}>\r\n".encode() in reply_world.sink.messages[0].data


async def test_spf_alone_authenticates_the_owner(reply_world: World) -> None:
    to = await reverse_of(reply_world)
    _, data = await reply_world.transaction(OWNER, [to], owner_reply(to))  # unsigned
    assert data == replies.DELIVERED


async def test_forged_reverse_address_is_refused_at_rcpt(reply_world: World) -> None:
    good = await reverse_of(reply_world)
    mac = good[2 : 2 + MAC_LENGTH]
    forged = good.replace(mac, "a" * MAC_LENGTH if mac != "a" * MAC_LENGTH else "b" * MAC_LENGTH)
    other_key = ReverseAddresses(b"attacker-secret").mint(
        await alias_id(reply_world), 0, "hello", DOMAIN, "victim@origin.test"
    )
    assert other_key is not None
    answers, data = await reply_world.transaction(OWNER, [forged, other_key], b"")
    assert answers == [replies.REJECT_UNKNOWN_ALIAS] * 2
    assert data == "" and reply_world.sink.messages == []


async def test_altered_reverse_address_is_refused_at_rcpt(reply_world: World) -> None:
    good = await reverse_of(reply_world)
    altered = good.replace("=sender=origin.test@", "=victim=origin.test@")
    assert altered != good
    answers, _ = await reply_world.transaction(OWNER, [altered], b"")
    assert answers == [replies.REJECT_UNKNOWN_ALIAS]
    assert reply_world.sink.messages == []


async def test_reply_from_someone_not_a_target_is_refused(reply_world: World) -> None:
    # origin.test's SPF passes for the loopback client: the stranger authenticates, but is
    # not a target of the alias, so it may not send as the alias.
    to = await reverse_of(reply_world)
    stranger = "stranger@origin.test"
    _, data = await reply_world.transaction(stranger, [to], owner_reply(to, author=stranger))
    assert data == replies.REPLY_NOT_FROM_TARGET
    assert reply_world.sink.messages == []


async def test_reply_whose_sender_fails_spf_and_dkim_is_refused(reply_world: World) -> None:
    # Someone who knows the owner's address forges it, from a host SPF does not allow.
    reply_world.dns.remove("example.net", "TXT")
    reply_world.dns.txt("example.net", "v=spf1 ip4:192.0.2.1 -all")
    to = await reverse_of(reply_world)
    _, data = await reply_world.transaction(OWNER, [to], owner_reply(to))
    assert data == replies.REPLY_NOT_FROM_TARGET
    assert reply_world.sink.messages == []


async def test_revoked_reverse_address_is_refused(reply_world: World) -> None:
    to = await reverse_of(reply_world)
    await reply_world.store.aliases.rotate_reply_key(await alias_id(reply_world))
    answers, _ = await reply_world.transaction(OWNER, [to], owner_reply(to))
    assert answers == [replies.REJECT_UNKNOWN_ALIAS]
    fresh = await reverse_of(reply_world, version=1)
    answers, data = await reply_world.transaction(OWNER, [fresh], owner_reply(fresh))
    assert (answers, data) == ([replies.ACCEPTED_RECIPIENT], replies.DELIVERED)


async def test_reverse_address_comes_alone_in_its_transaction(reply_world: World) -> None:
    to = await reverse_of(reply_world)
    answers, _ = await reply_world.transaction(OWNER, [f"hello@{DOMAIN}", to], owner_reply(to))
    assert answers == [replies.ACCEPTED_RECIPIENT, replies.SEPARATE_TRANSACTION]


async def test_reply_rate_limit_per_alias(
    reply_world: World, arc_pem: bytes, psl: PublicSuffixList
) -> None:
    assert reply_world.relay is not None
    await reply_world.relay.stop()
    reply_world.settings = reply_world.settings.replace(reply_rate_per_hour=2)
    key = ArcKey(ARC_SELECTOR, HOSTNAME, arc_pem)
    reply_world.extra["policy"] = AuthPolicy(reply_world.settings, key, psl=psl)
    await reply_world.start()
    sent = []
    for name in ("a", "b", "c"):
        to = await reverse_of(reply_world, f"{name}@origin.test")
        sent.append((await reply_world.transaction(OWNER, [to], owner_reply(to)))[1])
    assert sent == [replies.DELIVERED, replies.DELIVERED, replies.REPLY_RATE_LIMITED]


def count_rows(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


async def test_a_thousand_conversations_write_no_row(reply_world: World, tmp_path: Path) -> None:
    """1,000 correspondents, each with a reverse address the relay accepts at RCPT, and a
    reply delivered to 20 of them: not one row more in any table (meta's generation aside,
    which counts writes and is not a row)."""
    path = tmp_path / "quietmail.sqlite3"
    before = count_rows(path)
    client = await reply_world.client()
    try:
        for n in range(1000):
            to = await reverse_of(reply_world, f"person{n}@origin.test")
            message = owner_reply(to) if n % 50 == 0 else b""
            if message:
                _, data = await run_transaction(client, OWNER, [to], message)
                assert data == replies.DELIVERED
                continue
            assert (await client.execute_command(b"MAIL", f"FROM:<{OWNER}>".encode())).code == 250
            rcpt = await client.execute_command(b"RCPT", f"TO:<{to}>".encode())
            assert rcpt.code == 250
            assert (await client.execute_command(b"RSET")).code == 250
    finally:
        client.close()
    assert len(reply_world.sink.messages) == 20
    assert count_rows(path) == before


async def test_a_bounce_of_a_reply_goes_back_to_the_alias(
    reply_world: World, sender_pem: bytes
) -> None:
    """Issue 11: 'Bounces of it come back to the alias and are forwarded to the owner'. The
    reply leaves with an SRS address of the alias as envelope sender; the correspondent's
    server bounces to it (null sender), and quietmail passes the bounce to the alias's own
    address, whose MX is quietmail again (here the sink stands in for it), so it reaches the
    owner like any mail to the alias. Nothing of the owner's address is in either hop."""
    reply_world.dns.add(f"{DOMAIN}.", "MX", "10 mx.example.net.")  # the alias domain's MX
    to = await reverse_of(reply_world)
    message = sign(owner_reply(to), sender_pem, "example.net")
    _, data = await reply_world.transaction(OWNER, [to], message)
    assert data == replies.DELIVERED
    srs_address = reply_world.sink.messages[0].mail_from
    bounce = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.bounces.test>\r\n"  # no DMARC policy
        f"To: {srs_address}\r\nSubject: Undelivered Mail Returned to Sender\r\n\r\n"
        "The mailbox is full.\r\n"
    ).encode()
    answers, data = await reply_world.transaction("", [srs_address], bounce)
    assert answers == [replies.ACCEPTED_RECIPIENT] and data == replies.DELIVERED
    returned = reply_world.sink.messages[1]
    assert returned.rcpt_tos == [f"hello@{DOMAIN}"]  # the alias, which forwards to the owner
    assert returned.mail_from == "<>"  # a bounce stays a bounce: no loop of bounces
