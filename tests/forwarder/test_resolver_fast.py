"""The sync resolver's short cut for cached answers (forwarder/resolver.py,
``_CachedResolver``) gives exactly what dnspython's own ``resolve`` gives, on the same
cache: the same answers, the same exceptions, the same hit and miss counts, and no answer
kept past its TTL."""

from __future__ import annotations

import time

import dns.exception
import dns.resolver
import pytest

from forwarder.metrics import Metrics
from forwarder.resolver import dns_cache, make_sync_resolver
from forwarder.settings import Settings
from tests.support.dns_server import DNSServer

QUESTIONS = [
    ("example.com", "TXT"),
    ("example.com", "A"),  # no data: NoAnswer
    ("EXAMPLE.com.", "TXT"),  # case and final dot: the same cache entry
    ("sel._domainkey.example.com", "TXT"),
    ("mx.example.com", "MX"),
    ("alias.example.com", "TXT"),  # a CNAME, chased
    ("missing.example.com", "TXT"),  # NXDOMAIN
    ("a..b", "TXT"),  # empty label
    ("", "TXT"),
    (".", "TXT"),
    ("x" * 64 + ".example.com", "TXT"),  # label too long
    ("bücher.example.com", "TXT"),  # IDNA
    ("example.com", "ANY"),  # a metaquery: refused
    ("example.com", "BOGUS"),
    ("example.com", "txt"),
    ("exa mple.com", "TXT"),
]


def _outcome(resolver: dns.resolver.Resolver, name: str, rdtype: str) -> object:
    try:
        answer = resolver.resolve(name, rdtype, search=False, lifetime=0.5)
    except Exception as exc:  # the comparison is the point: any exception, by its type
        return type(exc).__name__
    return (answer.qname, answer.rdtype, answer.rrset, answer.canonical_name)


def _counts(metrics: Metrics) -> dict[str, float]:
    return {
        sample.labels["result"]: sample.value
        for family in metrics.registry.collect()
        for sample in family.samples
        if sample.name == "quietmail_dns_cache_lookups_total"
    }


@pytest.fixture
def settings(dns_server: DNSServer) -> Settings:
    dns_server.add("example.com", "TXT", '"v=spf1 -all"')
    dns_server.add("sel._domainkey.example.com", "TXT", '"v=DKIM1; p=AAAA"')
    dns_server.add("mx.example.com", "MX", "10 in.example.net.")
    dns_server.add("alias.example.com", "CNAME", "example.com.")
    dns_server.add("bücher.example.com".encode("idna").decode(), "TXT", '"idna"')
    return Settings(dns_nameservers=(dns_server.address,), dns_timeout=0.5)


def test_short_cut_gives_what_dnspython_gives(settings: Settings) -> None:
    fast_metrics, slow_metrics = Metrics(), Metrics()
    fast = make_sync_resolver(settings, dns_cache(metrics=fast_metrics))
    slow = dns.resolver.Resolver(configure=False)
    slow.nameservers = fast.nameservers
    slow.port = fast.port
    slow.cache = dns_cache(metrics=slow_metrics)
    assert type(fast) is not dns.resolver.Resolver  # the short cut is in use
    for _ in range(3):  # first asked, then from the cache
        for name, rdtype in QUESTIONS:
            assert _outcome(fast, name, rdtype) == _outcome(slow, name, rdtype), (name, rdtype)
    assert _counts(fast_metrics) == _counts(slow_metrics)
    assert _counts(fast_metrics)["hit"] > 0


def test_short_cut_returns_the_cached_answer_and_counts_a_hit(
    dns_server: DNSServer, settings: Settings
) -> None:
    metrics = Metrics()
    resolver = make_sync_resolver(settings, dns_cache(metrics=metrics))
    first = resolver.resolve("example.com", "TXT", search=False)
    asked = dns_server.queries
    assert resolver.resolve("example.com", "TXT", search=False) is first
    assert dns_server.queries == asked
    # dnspython's miss looks up twice (the type, then a cached NXDOMAIN): two misses, as before
    assert _counts(metrics) == {"miss": 2, "hit": 1}


def test_short_cut_keeps_no_answer_past_its_ttl(dns_server: DNSServer, settings: Settings) -> None:
    dns_server.add("short.example.com", "TXT", '"one"', ttl=1)
    resolver = make_sync_resolver(settings, dns_cache())
    assert resolver.resolve("short.example.com", "TXT", search=False).rrset is not None
    dns_server.remove("short.example.com")
    dns_server.add("short.example.com", "TXT", '"two"', ttl=1)
    answer = resolver.resolve("short.example.com", "TXT", search=False)
    assert [r.strings for r in answer] == [(b"one",)]
    time.sleep(1.1)
    answer = resolver.resolve("short.example.com", "TXT", search=False)
    assert [r.strings for r in answer] == [(b"two",)]


def test_short_cut_caches_no_failure(dns_server: DNSServer, settings: Settings) -> None:
    resolver = make_sync_resolver(settings, dns_cache())
    dns_server.silent = True
    for _ in range(2):
        with pytest.raises(dns.exception.Timeout):
            resolver.resolve("example.com", "TXT", search=False, lifetime=0.3)
    dns_server.silent = False
    assert resolver.resolve("example.com", "TXT", search=False).rrset is not None


def test_names_remembered_are_bounded(settings: Settings) -> None:
    cache = dns_cache(entries=4)
    resolver = make_sync_resolver(settings, cache)
    for i in range(10):
        with pytest.raises(dns.resolver.NXDOMAIN):
            resolver.resolve(f"n{i}.missing.example.com", "TXT", search=False)
    assert len(cache._keys) <= 4  # type: ignore[attr-defined]
