"""DNS block lists (RFC 5782) on the real relay, answered by the loopback DNS server: a
listed client IP is refused at connection, a listed HELO name or sender domain at MAIL; a
list that is silent or answers an error code refuses nothing; the query names are RFC 5782's."""

from __future__ import annotations

import asyncio
import logging

import pytest

from forwarder import replies
from forwarder.checks.dnsbl import domain_query_name, ip_query_name
from forwarder.settings import ConfigError, ListZone, load_settings
from tests.forwarder.conftest import DOMAIN, World, make_message
from tests.forwarder.test_denylist import RawClient, relay_logs

LISTED_IP = "127.0.0.2"  # the client binds this loopback address; 2.0.0.127.zen.test lists it


async def connect_from(source: str, port: int) -> RawClient:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    return RawClient(reader, writer)


def test_query_names_follow_rfc_5782() -> None:
    assert ip_query_name("192.0.2.99", "bl.test") == "99.2.0.192.bl.test"
    # RFC 5782 section 2.4's own example.
    assert ip_query_name("2001:db8:1:2:3:4:567:89ab", "ugly.example.com") == (
        "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ugly.example.com"
    )
    assert ip_query_name("::ffff:192.0.2.1", "bl.test") == "1.2.0.192.bl.test"
    assert ip_query_name("not-an-ip", "bl.test") is None
    assert domain_query_name("Spam.Example.", "dbl.test") == "spam.example.dbl.test"
    assert domain_query_name("[192.0.2.1]", "dbl.test") is None
    assert domain_query_name("192.0.2.1", "dbl.test") is None
    assert domain_query_name("localhost", "dbl.test") is None


def test_zone_codes_are_parsed_and_errors_never_count() -> None:
    settings = load_settings(
        environ={"QUIETMAIL_DNSBL_ZONES": "zen.test=127.0.0.2..127.0.0.11;127.0.0.20, bl.test"}
    )
    zen, plain = settings.dnsbl_zones
    assert zen.zone == "zen.test" and zen.lists("127.0.0.4") and zen.lists("127.0.0.20")
    assert not zen.lists("127.0.0.12")
    assert plain.lists("127.0.0.2") and plain.lists("127.0.1.2")
    # 127.0.0.1 is never a listing; 127.255.255.x are list operators' error answers.
    assert not plain.lists("127.0.0.1") and not plain.lists("127.255.255.254")
    with pytest.raises(ConfigError, match="QUIETMAIL_DNSBL_ZONES"):
        load_settings(environ={"QUIETMAIL_DNSBL_ZONES": "zen.test=127.0.0.9..127.0.0.2"})
    with pytest.raises(ConfigError, match="QUIETMAIL_DNSBL_ZONES"):
        load_settings(environ={"QUIETMAIL_DNSBL_ZONES": "zen.test=banana"})


async def test_listed_client_is_refused_at_connection(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    world.dns.add("2.0.0.127.zen.test.", "A", "127.0.0.2")
    await world.start(dnsbl_zones=(ListZone("zen.test"),))
    client = await connect_from(LISTED_IP, world.port)
    try:
        greeting = await client.reply()
        assert greeting == replies.blocklisted_client("zen.test")
        assert greeting.startswith("554 5.7.1")
        # Nothing else is served: only QUIT.
        assert await client.send("EHLO client.test") == replies.DENIED_CLIENT_ONLY_QUIT
        assert await client.send("QUIT") == replies.GOODBYE
    finally:
        client.close()
    assert not any(LISTED_IP in line for line in relay_logs(caplog))


async def test_unlisted_client_is_served(world: World) -> None:
    world.dns.add("2.0.0.127.zen.test.", "A", "127.0.0.2")
    await world.alias("shop", ["alice@example.net"])
    await world.start(dnsbl_zones=(ListZone("zen.test"),))
    # 127.0.0.1 is not listed.
    _, reply = await world.transaction("s@origin.test", [f"shop@{DOMAIN}"], make_message())
    assert reply == replies.DELIVERED


@pytest.mark.parametrize("answer", ["127.255.255.254", "127.0.0.1", "10.0.0.2"])
async def test_error_or_foreign_answers_refuse_nothing(world: World, answer: str) -> None:
    world.dns.add("2.0.0.127.zen.test.", "A", answer)
    await world.start(dnsbl_zones=(ListZone("zen.test"),))
    client = await connect_from(LISTED_IP, world.port)
    try:
        assert (await client.reply()).startswith("220")
    finally:
        client.close()


async def test_a_list_that_does_not_answer_refuses_nothing(world: World) -> None:
    world.dns.add("2.0.0.127.zen.test.", "A", "127.0.0.2")
    world.dns.silent = True
    await world.start(dnsbl_zones=(ListZone("zen.test"),), dnsbl_timeout=0.5)
    client = await connect_from(LISTED_IP, world.port)
    try:
        assert (await client.reply()).startswith("220")
    finally:
        client.close()


async def test_codes_outside_the_zones_list_refuse_nothing(world: World) -> None:
    world.dns.add("2.0.0.127.zen.test.", "A", "127.0.0.2")
    await world.start(dnsbl_zones=(ListZone("zen.test", ((0x7F00000A, 0x7F00000B),)),))
    client = await connect_from(LISTED_IP, world.port)
    try:
        assert (await client.reply()).startswith("220")
    finally:
        client.close()


@pytest.mark.parametrize(
    ("helo", "sender"),
    [("spammer.test", "someone@origin.test"), ("client.test", "someone@spammer.test")],
)
async def test_listed_helo_name_or_sender_domain_is_refused_at_mail(
    world: World, helo: str, sender: str
) -> None:
    world.dns.add("spammer.test.dbl.test.", "A", "127.0.1.2")
    await world.start(dnsbl_domain_zones=(ListZone("dbl.test"),))
    client = await RawClient.connect(world.port)
    try:
        assert (await client.reply()).startswith("220")
        assert (await client.send(f"EHLO {helo}")).startswith("250")
        assert await client.send(f"MAIL FROM:<{sender}>") == replies.blocklisted_sender("dbl.test")
        # The clean sender from a clean HELO name is accepted on the same connection.
        if helo == "client.test":
            assert await client.send("MAIL FROM:<someone@origin.test>") == (replies.ACCEPTED_SENDER)
    finally:
        client.close()


async def test_answers_are_kept_in_memory_for_minutes_at_most(world: World) -> None:
    """The reversed client IP is in the cached question: a day-long TTL must not make the
    cache a day-long record of who connected."""
    import time

    from forwarder.checks.dnsbl import MAX_CACHE_SECONDS, BlockLists

    world.dns.add("2.0.0.127.zen.test.", "A", "127.0.0.2", ttl=86400)
    lists = BlockLists(world.settings.replace(dnsbl_zones=(ListZone("zen.test"),)))
    assert await lists.client_listed(LISTED_IP) == "zen.test"
    assert await lists.client_listed(LISTED_IP) == "zen.test"
    assert world.dns.queries == 1  # the second answer came from the cache
    cache = lists._resolver.cache
    assert cache is not None
    expirations = [node.value.expiration for node in cache.data.values()]
    assert expirations and max(expirations) <= time.time() + MAX_CACHE_SECONDS
