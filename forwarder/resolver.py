"""The one way quietmail makes a DNS resolver: dnspython's async resolver, pointed at
``QUIETMAIL_DNS_NAMESERVERS`` when set and at the system's otherwise.

The relay's resolvers (inbound checks: SPF, DKIM and ARC keys, DMARC; outbound: MX and
addresses) share one caching policy, :func:`dns_cache`: dnspython's bounded LRU cache, which
keeps each answer for its TTL and a negative answer (NXDOMAIN, no data) for the SOA minimum
(RFC 2308 section 5), or 300 s when the answer carries no SOA. Failures (timeouts, SERVFAIL)
are never cached, so a temperror is asked again on the sender's retry. Measured: the checks
ask ~5 questions per message, mostly the same ones for mail from the same sender.

Privacy: the cache holds domain names and their public records (SPF and DMARC policies, DKIM
keys, MX hosts) in memory, for their TTL, never on disk. That is public routing data about
domains, not a record of who wrote to whom: no address, subject or IP is a key or a value,
and nothing in it says which message caused a look-up (DESIGN promise 2). Resolvers made
without a cache (the web app's record checks, the CLI) ask afresh every time, because an
operator who has just published a record expects to see it.
"""

from __future__ import annotations

import re

import dns.asyncresolver
import dns.flags
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import dns.rrset
from prometheus_client import Counter

from forwarder.metrics import Metrics
from forwarder.settings import Settings

DNS_CACHE_ENTRIES = 2000  # answers; ~1-4 KiB each (a DKIM key is the largest): <= ~8 MiB


def dns_cache(
    entries: int = DNS_CACHE_ENTRIES, metrics: Metrics | None = None
) -> dns.resolver.LRUCache:
    """A TTL-honouring answer cache; thread-safe, so one can serve a sync resolver in
    worker threads and an async one on the event loop at the same time. With ``metrics``,
    each look-up counts as a hit or a miss (prometheus_client's counters are thread-safe)."""
    return _CountedCache(entries, metrics)


class _CountedCache(dns.resolver.LRUCache):
    """dnspython's LRU cache, counting hits and misses, plus :meth:`fast_get` for the sync
    resolver's cheap path (``_CachedResolver``)."""

    def __init__(self, entries: int, metrics: Metrics | None) -> None:
        super().__init__(entries)
        self._lookups = None if metrics is None else metrics.dns_cache
        # prometheus_client's labelled children, each looked up once, on its first count (as
        # before: a result never counted is not shown); the same counters, fewer look-ups.
        self._counters: dict[str, Counter] = {}

    def get(self, key: dns.resolver.CacheKey) -> dns.resolver.Answer | None:
        answer = super().get(key)
        self._count("miss" if answer is None else "hit")
        return answer

    def _count(self, result: str) -> None:
        if self._lookups is None:
            return
        counter = self._counters.get(result)
        if counter is None:
            counter = self._counters[result] = self._lookups.labels(result)
        counter.inc()

    def fast_get(self, name: str, rdtype: str) -> dns.resolver.Answer | None:
        """The cached answer with data for an absolute question (``search=False``, class
        IN) with a plain name and type, counted as a hit; None, counting nothing, for
        anything else (not cached, expired, no data, NXDOMAIN, any other name or type): the
        full ``resolve`` then decides, as it would have, and counts its own look-up.
        Nothing is kept beyond what the cache keeps."""
        key = plain_key(name, rdtype)
        if key is None:
            return None
        answer = super().get(key)
        if answer is None or answer.rrset is None:
            return None
        self._count("hit")
        return answer


def plain_key(name: str, rdtype: str) -> dns.resolver.CacheKey | None:
    """The cache key ``resolve(name, rdtype, search=False)`` looks up, built without
    dnspython's name parser, for a plain name and type only (None for the others): ASCII
    labels of 1-63 letters, digits, "-" and "_", at most 253 characters (255 octets on the
    wire); escapes, IDNA and anything odd are left to dnspython's parser."""
    qtype = _PLAIN_TYPES.get(rdtype)
    if qtype is None or len(name) > _MAX_NAME or not _PLAIN_NAME.fullmatch(name):
        return None
    labels = name.encode("ascii").split(b".")
    if labels[-1]:
        labels.append(b"")  # absolute, as resolve(search=False) makes it
    return (dns.name.Name(labels), qtype, dns.rdataclass.IN)


_PLAIN_NAME = re.compile(r"(?:[A-Za-z0-9_-]{1,63}\.)*[A-Za-z0-9_-]{1,63}\.?")
_MAX_NAME = 253
_PLAIN_TYPES = {
    name: dns.rdatatype.RdataType.make(name)
    for name in ("A", "AAAA", "MX", "TXT", "SPF", "PTR", "CNAME", "NS", "TLSA")
}


class _CachedResolver(dns.resolver.Resolver):
    """The sync resolver, answering a repeated question from the cache without building
    dnspython's ``_Resolution`` or parsing the name with its parser (measured: 16.6 us per
    cached look-up before, ~7 us after; SPF and DKIM ask several per message). Only the
    plain case takes the short cut: a plain text name and type, ``search=False``, class
    IN; everything else, and every miss, is dnspython's own ``resolve``, with its deadline,
    NXDOMAIN and no-data handling untouched."""

    def resolve(
        self,
        qname: dns.name.Name | str,
        rdtype: dns.rdatatype.RdataType | str = dns.rdatatype.A,
        rdclass: dns.rdataclass.RdataClass | str = dns.rdataclass.IN,
        tcp: bool = False,
        source: str | None = None,
        raise_on_no_answer: bool = True,
        source_port: int = 0,
        lifetime: float | None = None,
        search: bool | None = None,
    ) -> dns.resolver.Answer:
        cache = self.cache
        if (
            search is False
            and isinstance(cache, _CountedCache)
            and type(qname) is str
            and type(rdtype) is str
            and rdclass == dns.rdataclass.IN
        ):
            answer = cache.fast_get(qname, rdtype)
            if answer is not None:
                return answer
        return super().resolve(
            qname, rdtype, rdclass, tcp, source, raise_on_no_answer, source_port, lifetime, search
        )


def _configure(
    resolver: dns.resolver.BaseResolver, settings: Settings, cache: dns.resolver.CacheBase | None
) -> None:
    if settings.dns_nameservers:
        resolver.nameservers = [ns.host for ns in settings.dns_nameservers]
        # dnspython keeps one port for all nameservers; tests and operators use one port.
        resolver.port = settings.dns_nameservers[0].port
    resolver.lifetime = settings.dns_timeout
    resolver.timeout = min(settings.dns_timeout, 2.0)
    resolver.cache = cache
    if settings.dnssec_trusted:  # RFC 6840 5.7: a validating resolver sets AD when asked
        resolver.flags = dns.flags.RD | dns.flags.AD


def make_async_resolver(
    settings: Settings, cache: dns.resolver.CacheBase | None = None
) -> dns.asyncresolver.Resolver:
    resolver = dns.asyncresolver.Resolver(configure=not settings.dns_nameservers)
    _configure(resolver, settings, cache)
    return resolver


def make_sync_resolver(
    settings: Settings, cache: dns.resolver.CacheBase | None = None
) -> dns.resolver.Resolver:
    """For libraries that only do blocking look-ups (pyspf, dkimpy); call them in a thread."""
    resolver = _CachedResolver(configure=not settings.dns_nameservers)
    _configure(resolver, settings, cache)
    return resolver


async def lookup(
    resolver: dns.asyncresolver.Resolver, name: str, rdtype: str
) -> dns.rrset.RRset | None:
    """The records of one type at ``name`` (absolute: no search list), None when the name
    has none. No data is an answer, not an error: asking without the exception is cheaper,
    and it is the common case (most mail hosts have no AAAA; measured in tests/bench).
    NXDOMAIN, timeouts and SERVFAIL raise dnspython's exceptions. The domain owner's DNS
    page looks up through this; delivery's MX routing asks the same way, keeping each
    answer's expiry (forwarder/deliver/expiry.py)."""
    answer = await resolver.resolve(name, rdtype, search=False, raise_on_no_answer=False)
    return answer.rrset


def parse_mx(text: str) -> tuple[int, str]:
    """An MX record's text, ``10 mx.example.net.``, as (preference, host name without the
    final dot, lower case); the null MX of RFC 7505, ``0 .``, has the host name ``.``."""
    preference, _, exchange = text.partition(" ")
    return int(preference), exchange.strip().rstrip(".").lower() or "."
