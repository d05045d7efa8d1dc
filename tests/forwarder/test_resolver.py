"""The relay's DNS caching policy (forwarder/resolver.py), against the loopback DNS server:
answers are reused for their TTL and no longer, failures are never cached, one cache serves
a sync and an async resolver, and a resolver made without a cache asks every time."""

from __future__ import annotations

import asyncio
import time

import dns.exception
import dns.resolver
import pytest

from forwarder.resolver import dns_cache, make_async_resolver, make_sync_resolver
from forwarder.settings import Settings
from tests.support.dns_server import DNSServer

NAME = "_dmarc.example.com"


@pytest.fixture
def settings(dns_server: DNSServer) -> Settings:
    return Settings(dns_nameservers=(dns_server.address,), dns_timeout=0.5)


def txt(resolver: dns.resolver.Resolver, name: str = NAME) -> str:
    return b"".join(next(iter(resolver.resolve(name, "TXT"))).strings).decode()


def test_answer_is_reused_for_its_ttl_then_asked_again(
    dns_server: DNSServer, settings: Settings
) -> None:
    dns_server.add(NAME, "TXT", '"v=DMARC1; p=none"', ttl=1)
    resolver = make_sync_resolver(settings, dns_cache())
    assert txt(resolver) == "v=DMARC1; p=none"
    dns_server.remove(NAME)
    dns_server.add(NAME, "TXT", '"v=DMARC1; p=reject"', ttl=1)
    asked = dns_server.queries
    assert txt(resolver) == "v=DMARC1; p=none"  # within the TTL: from the cache
    assert dns_server.queries == asked
    time.sleep(1.1)  # the TTL runs out
    assert txt(resolver) == "v=DMARC1; p=reject"
    assert dns_server.queries == asked + 1


def test_failures_are_not_cached(dns_server: DNSServer, settings: Settings) -> None:
    dns_server.add(NAME, "TXT", '"v=DMARC1; p=reject"')
    resolver = make_sync_resolver(settings, dns_cache())
    dns_server.silent = True
    with pytest.raises(dns.exception.Timeout):
        txt(resolver)
    dns_server.silent = False
    assert txt(resolver) == "v=DMARC1; p=reject"  # the retry asks again and gets the answer


def test_missing_name_is_cached_as_missing(dns_server: DNSServer, settings: Settings) -> None:
    dns_server.add("other.example.com", "A", "192.0.2.1")
    resolver = make_sync_resolver(settings, dns_cache())
    with pytest.raises(dns.resolver.NXDOMAIN):
        txt(resolver)
    asked = dns_server.queries
    with pytest.raises(dns.resolver.NXDOMAIN):
        txt(resolver)
    assert dns_server.queries == asked  # RFC 2308: a negative answer is cached too


async def test_sync_and_async_resolvers_share_one_cache(
    dns_server: DNSServer, settings: Settings
) -> None:
    dns_server.add(NAME, "TXT", '"v=DMARC1; p=none"')
    cache = dns_cache()
    sync = make_sync_resolver(settings, cache)
    assert await asyncio.to_thread(txt, sync) == "v=DMARC1; p=none"
    asked = dns_server.queries
    answer = await make_async_resolver(settings, cache).resolve(NAME, "TXT")
    assert b"".join(next(iter(answer)).strings) == b"v=DMARC1; p=none"
    assert dns_server.queries == asked


def test_resolver_without_cache_asks_every_time(dns_server: DNSServer, settings: Settings) -> None:
    dns_server.add(NAME, "TXT", '"v=DMARC1; p=none"')
    resolver = make_sync_resolver(settings)
    assert txt(resolver) == "v=DMARC1; p=none"
    dns_server.remove(NAME)
    dns_server.add(NAME, "TXT", '"v=DMARC1; p=reject"')
    assert txt(resolver) == "v=DMARC1; p=reject"  # what the web app's record check needs
