"""DNS block lists (DNSxL, RFC 5782): is the client IP, its HELO name or the sender's domain
listed by one of the zones the operator chose?

An IP list is asked ``<reversed IP>.<zone> A``: the four octets of an IPv4 address in reverse
order, or the 32 nibbles of an IPv6 address in reverse order (RFC 5782 section 2.1 and 2.4).
A domain list is asked ``<domain>.<zone> A`` (section 2.3). An answer counts as "listed" when
one of its addresses is among the zone's codes: the ones the operator configured
(``zen.spamhaus.org=127.0.0.2..127.0.0.11``), or by default any of ``127.0.0.2`` to
``127.255.254.255`` (section 5: 127.0.0.2 is the standard listing and 127.0.0.1 is never
one; list operators answer errors such as "query refused from a public resolver" in
``127.255.255.0/24``, which must never refuse mail).

A list that does not answer in time, or answers with an error, refuses nothing: block lists
are advice, and their outage must not become ours. The zones are asked concurrently.

Privacy: look-ups go through quietmail's own resolver with a small in-memory cache whose
entries live at most :data:`MAX_CACHE_SECONDS` (the reversed IP is in the question name, so a
long cache would be a record of who connected); nothing is written anywhere, and no log line
names the IP, the name or the zone's answer.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time

import dns.asyncresolver
import dns.exception
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.resolver

from forwarder.resolver import make_async_resolver
from forwarder.settings import ListZone, Settings

log = logging.getLogger(__name__)

MAX_CACHE_SECONDS = 300
_CACHE_ENTRIES = 5000
CacheKey = tuple[dns.name.Name, dns.rdatatype.RdataType, dns.rdataclass.RdataClass]


class _ShortCache(dns.resolver.LRUCache):
    """dnspython's LRU cache, with no entry kept longer than MAX_CACHE_SECONDS."""

    def put(self, key: CacheKey, value: dns.resolver.Answer) -> None:
        value.expiration = min(value.expiration, time.time() + MAX_CACHE_SECONDS)
        super().put(key, value)


def ip_query_name(ip: str, zone: str) -> str | None:
    """The question for ``ip`` in ``zone``, or None for something that is not an IP address.
    IPv4-mapped IPv6 addresses (``::ffff:192.0.2.1``) are asked as the IPv4 address."""
    try:
        address = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if isinstance(address, ipaddress.IPv4Address):
        labels = reversed(str(address).split("."))
    else:
        labels = reversed(address.exploded.replace(":", ""))
    return ".".join(labels) + "." + zone


def domain_query_name(domain: str, zone: str) -> str | None:
    """The question for ``domain`` in a domain list, or None when it cannot be one (an
    address literal, an empty or over-long name)."""
    name = domain.strip().rstrip(".").lower()
    if not name or name.startswith("[") or "." not in name:
        return None
    try:
        ipaddress.ip_address(name)
        return None  # a bare IP given as HELO name is not a domain
    except ValueError:
        pass
    try:
        name = dns.name.from_text(name).to_text(omit_final_dot=True)
        return dns.name.from_text(f"{name}.{zone}").to_text(omit_final_dot=True)
    except (dns.exception.DNSException, UnicodeError):
        return None


class BlockLists:
    """``BlockLists(settings)``: the operator's IP lists and domain lists, asked through
    quietmail's resolver within ``settings.dnsbl_timeout``."""

    def __init__(
        self, settings: Settings, resolver: dns.asyncresolver.Resolver | None = None
    ) -> None:
        self._ip_zones = settings.dnsbl_zones
        self._domain_zones = settings.dnsbl_domain_zones
        if resolver is None:
            timed = settings.replace(dns_timeout=settings.dnsbl_timeout)
            resolver = make_async_resolver(timed, _ShortCache(_CACHE_ENTRIES))
        self._resolver = resolver

    @property
    def enabled(self) -> bool:
        return bool(self._ip_zones or self._domain_zones)

    async def client_listed(self, ip: str) -> str | None:
        """The first IP list (in configured order) that lists ``ip``, else None."""
        names = [(zone, ip_query_name(ip, zone.zone)) for zone in self._ip_zones]
        return await self._first_listed(names)

    async def domain_listed(self, *domains: str) -> str | None:
        """The first domain list that lists one of ``domains``, else None."""
        names = [
            (zone, domain_query_name(domain, zone.zone))
            for domain in dict.fromkeys(d for d in domains if d)
            for zone in self._domain_zones
        ]
        return await self._first_listed(names)

    async def _first_listed(self, names: list[tuple[ListZone, str | None]]) -> str | None:
        asked = [(zone, name) for zone, name in names if name is not None]
        if not asked:
            return None
        answers = await asyncio.gather(*(self._addresses(name) for _, name in asked))
        for (zone, _), addresses in zip(asked, answers, strict=True):
            if any(zone.lists(address) for address in addresses):
                return zone.zone
        return None

    async def _addresses(self, name: str) -> list[str]:
        try:
            answer = await self._resolver.resolve(name, "A", raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            return []
        except dns.exception.DNSException as exc:
            # A list that times out or fails refuses nothing (logged without the name).
            log.debug("DNS block list did not answer: %s", type(exc).__name__)
            return []
        return [rdata.to_text() for rdata in answer.rrset or ()]
