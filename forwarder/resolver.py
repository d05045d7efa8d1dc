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

import dns.asyncresolver
import dns.flags
import dns.resolver
import dns.rrset

from forwarder.metrics import Metrics
from forwarder.settings import Settings

DNS_CACHE_ENTRIES = 2000  # answers; ~1-4 KiB each (a DKIM key is the largest): <= ~8 MiB


def dns_cache(
    entries: int = DNS_CACHE_ENTRIES, metrics: Metrics | None = None
) -> dns.resolver.LRUCache:
    """A TTL-honouring answer cache; thread-safe, so one can serve a sync resolver in
    worker threads and an async one on the event loop at the same time. With ``metrics``,
    each look-up counts as a hit or a miss (prometheus_client's counters are thread-safe)."""
    if metrics is None:
        return dns.resolver.LRUCache(entries)
    return _CountedCache(entries, metrics)


class _CountedCache(dns.resolver.LRUCache):
    def __init__(self, entries: int, metrics: Metrics) -> None:
        super().__init__(entries)
        self._lookups = metrics.dns_cache

    def get(self, key: dns.resolver.CacheKey) -> dns.resolver.Answer | None:
        answer = super().get(key)
        self._lookups.labels("miss" if answer is None else "hit").inc()
        return answer


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
    resolver = dns.resolver.Resolver(configure=not settings.dns_nameservers)
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
