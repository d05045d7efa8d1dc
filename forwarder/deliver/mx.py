"""Where mail for a target domain goes: MX records in preference order, the implicit MX
(A/AAAA of the domain itself) when there is none (RFC 5321 5.1), null MX as a permanent
failure (RFC 7505), or the configured smarthost instead of all of that.

Host names are resolved here, through our own resolver (``QUIETMAIL_DNS_NAMESERVERS``), so
the outbound side never falls back on the system resolver.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.flags
import dns.name
import dns.rdatatype
import dns.resolver

from forwarder.deliver.expiry import Expiry
from forwarder.deliver.result import DeliveryFailed, permanent, temporary
from forwarder.resolver import parse_mx
from forwarder.settings import HostPort


@dataclass(frozen=True, slots=True)
class Host:
    name: str  # for TLS SNI and logs of counts only
    addresses: tuple[str, ...]
    secure: bool = False  # the MX answer naming it carried the AD bit (DANE, RFC 7672 2.2.1)


class RouteError(DeliveryFailed):
    """No host can be tried; ``result`` says whether that is temporary or permanent."""


async def _query(
    resolver: dns.asyncresolver.Resolver, name: str, rdtype: str, expiry: Expiry | None = None
) -> list[str]:
    """Records of one type; [] for no such record. Raises dns exceptions for the rest."""
    answer = await resolver.resolve(name, rdtype, search=False, raise_on_no_answer=False)
    if expiry is not None:
        expiry.see(answer)
    return [] if answer.rrset is None else [r.to_text() for r in answer.rrset]


async def addresses(
    resolver: dns.asyncresolver.Resolver, name: str, expiry: Expiry | None = None
) -> tuple[str, ...]:
    try:
        ipaddress.ip_address(name)
        return (name,)
    except ValueError:
        pass
    found: list[str] = []
    for rdtype in ("A", "AAAA"):
        try:
            found += await _query(resolver, name, rdtype, expiry)
        except dns.resolver.NXDOMAIN:
            if expiry is not None:
                expiry.nxdomain(resolver, name)
            return ()
    return tuple(found)


async def smarthost(
    resolver: dns.asyncresolver.Resolver, relay: HostPort, expiry: Expiry | None = None
) -> list[Host]:
    try:
        found = await addresses(resolver, relay.host, expiry)
    except dns.exception.DNSException:
        raise RouteError(temporary("4.4.3", "smarthost name did not resolve")) from None
    if not found:
        raise RouteError(temporary("4.4.4", "smarthost name has no address"))
    return [Host(relay.host, found)]


# A route: the hosts to try with their MX preference, lowest first, not yet shuffled.
Route = list[tuple[int, Host]]


def order(route: Route) -> list[Host]:
    """The hosts of ``route`` best first, those of the same preference in random order
    (RFC 5321 5.1), afresh for each delivery."""
    shuffled = list(route)
    random.shuffle(shuffled)
    shuffled.sort(key=lambda entry: entry[0])  # stable: random within one preference
    return [host for _, host in shuffled]


async def route(
    resolver: dns.asyncresolver.Resolver, domain: str, expiry: Expiry | None = None
) -> Route:
    """The hosts for ``domain`` with their preferences; ``expiry`` learns when the answers
    used run out. Raises RouteError."""
    try:
        records, secure = await _mx_records(resolver, domain, expiry)
    except dns.resolver.NXDOMAIN:
        raise RouteError(permanent("5.1.2", "target domain does not exist")) from None
    except dns.exception.DNSException:
        raise RouteError(temporary("4.4.3", "DNS lookup of the target domain failed")) from None
    if records is None:  # no MX: the domain itself is the implicit MX (RFC 5321 5.1)
        records = [(0, domain)]
    elif any(name == "." for _, name in records):  # RFC 7505 3: a null MX
        raise RouteError(permanent("5.1.10", "target domain accepts no mail (null MX)"))
    return await _resolve_hosts(resolver, records, secure, expiry)


async def _mx_records(
    resolver: dns.asyncresolver.Resolver, domain: str, expiry: Expiry | None
) -> tuple[list[tuple[int, str]] | None, bool]:
    """The MX records (None: there are none), and whether the answer was authenticated."""
    answer = await resolver.resolve(domain, "MX", search=False, raise_on_no_answer=False)
    if expiry is not None:
        expiry.see(answer)
    secure = bool(answer.response.flags & dns.flags.AD)
    if answer.rrset is None:
        return None, secure
    return [parse_mx(r.to_text()) for r in answer.rrset], secure


async def _resolve_hosts(
    resolver: dns.asyncresolver.Resolver,
    records: list[tuple[int, str]],
    secure: bool,
    expiry: Expiry | None,
) -> Route:
    hosts: Route = []
    trouble = False
    for preference, name in records:
        try:
            found = await addresses(resolver, name, expiry)
        except dns.exception.DNSException:
            trouble = True
            if expiry is not None:  # a host missing for a moment: never kept that way
                expiry.unknown()
            continue
        if found:
            hosts.append((preference, Host(name, found, secure)))
    if hosts:
        return hosts
    if trouble:
        raise RouteError(temporary("4.4.3", "DNS lookup of the target's mail host failed"))
    raise RouteError(permanent("5.1.2", "target domain has no mail host with an address"))
