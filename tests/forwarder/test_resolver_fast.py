"""The sync resolver's short cut for cached answers (forwarder/resolver.py,
``_CachedResolver``) gives exactly what dnspython's own ``resolve`` gives, on the same
cache: the same answers, the same exceptions, the same hit and miss counts, and no answer
kept past its TTL."""

from __future__ import annotations

import time

import dns.exception
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import pytest

from forwarder.metrics import Metrics
from forwarder.resolver import dns_cache, make_sync_resolver, plain_key
from forwarder.settings import Settings
from tests.support.dns_server import DNSServer

NAMES_ASKED = ["Example.COM", "example.com.", "a", ".".join(["a" * 63] * 4)[:253], "*.example.com"]

QUESTIONS: list[tuple[str, str]] = [
    *((name, "TXT") for name in NAMES_ASKED),
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
    assert resolver.cache.fast_get("example.com", "TXT") is first
    # dnspython's miss looks up twice (the type, then a cached NXDOMAIN): two misses, as before
    assert _counts(metrics) == {"miss": 2, "hit": 2}


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


NAMES = [
    "example.com",
    "example.com.",
    "EXAMPLE.Com",
    "a",
    "a.",
    "_dmarc.example.com",
    "sel-1._domainkey.mail-example.co.uk",
    "4.3.2.1.in-addr.arpa",
    "x" * 63 + ".example",
    "x" * 64 + ".example",
    ".".join(["a" * 63] * 4)[:253],
    ".".join(["a" * 63] * 4)[:253] + ".",
    ".".join(["a" * 63] * 4),
    "a..b",
    ".a",
    ".",
    "",
    "-",
    "a b.example",
    "a\\.b.example",
    "a\\065.example",
    "bücher.example",
    "*.example.com",
    "a@b.example",
    "exa%mple.com",
]


def _parsed_key(name: str, rdtype: str) -> object:
    """What dnspython's _Resolution builds for resolve(name, rdtype, search=False)."""
    try:
        qname = dns.name.from_text(name, None)
    except dns.exception.DNSException as exc:
        return type(exc).__name__
    if not qname.is_absolute():
        qname = qname.concatenate(dns.name.root)
    return (qname, dns.rdatatype.RdataType.make(rdtype), dns.rdataclass.IN)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("rdtype", ["TXT", "A", "AAAA", "MX", "PTR", "SPF", "TLSA"])
def test_plain_key_is_the_parsers_key(name: str, rdtype: str) -> None:
    key = plain_key(name, rdtype)
    if key is None:
        return  # dnspython's own path answers: nothing to compare
    parsed = _parsed_key(name, rdtype)
    assert key == parsed
    assert isinstance(parsed, tuple)
    assert key[0].labels == parsed[0].labels  # the same bytes too


def test_plain_key_takes_the_common_names() -> None:
    assert plain_key("sel._domainkey.example.com", "TXT") is not None
    assert plain_key("example.com.", "MX") is not None
    for rdtype in ("ANY", "AXFR", "txt", "BOGUS", "TYPE16"):
        assert plain_key("example.com", rdtype) is None
    for name in ("a..b", "", ".", "bücher.example", "a\\.b", "x" * 64 + ".example"):
        assert plain_key(name, "TXT") is None
