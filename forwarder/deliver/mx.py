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

from forwarder.deliver.result import DeliveryResult, permanent, temporary
from forwarder.resolver import lookup, parse_mx
from forwarder.settings import HostPort


@dataclass(frozen=True, slots=True)
class Host:
    name: str  # for TLS SNI and logs of counts only
    addresses: tuple[str, ...]
    secure: bool = False  # the MX answer naming it carried the AD bit (DANE, RFC 7672 2.2.1)


class RouteError(Exception):
    """No host can be tried; ``result`` says whether that is temporary or permanent."""

    def __init__(self, result: DeliveryResult) -> None:
        super().__init__(result.reply)
        self.result = result


async def _query(resolver: dns.asyncresolver.Resolver, name: str, rdtype: str) -> list[str]:
    """Records of one type; [] for no such record. Raises dns exceptions for the rest."""
    rrset = await lookup(resolver, name, rdtype)
    return [] if rrset is None else [r.to_text() for r in rrset]


async def addresses(resolver: dns.asyncresolver.Resolver, name: str) -> tuple[str, ...]:
    try:
        ipaddress.ip_address(name)
        return (name,)
    except ValueError:
        pass
    found: list[str] = []
    for rdtype in ("A", "AAAA"):
        try:
            found += await _query(resolver, name, rdtype)
        except dns.resolver.NXDOMAIN:
            return ()
    return tuple(found)


async def smarthost(resolver: dns.asyncresolver.Resolver, relay: HostPort) -> list[Host]:
    try:
        found = await addresses(resolver, relay.host)
    except dns.exception.DNSException:
        raise RouteError(temporary("4.4.3", "smarthost name did not resolve")) from None
    if not found:
        raise RouteError(temporary("4.4.4", "smarthost name has no address"))
    return [Host(relay.host, found)]


async def mail_hosts(resolver: dns.asyncresolver.Resolver, domain: str) -> list[Host]:
    """The hosts to try for ``domain``, best first. Raises RouteError."""
    try:
        records, secure = await _mx_records(resolver, domain)
    except dns.resolver.NXDOMAIN:
        raise RouteError(permanent("5.1.2", "target domain does not exist")) from None
    except dns.exception.DNSException:
        raise RouteError(temporary("4.4.3", "DNS lookup of the target domain failed")) from None
    if records is None:  # no MX: the domain itself is the implicit MX (RFC 5321 5.1)
        names = [domain]
    elif any(name == "." for _, name in records):  # RFC 7505 3: a null MX
        raise RouteError(permanent("5.1.10", "target domain accepts no mail (null MX)"))
    else:
        names = [name for _, name in records]
    return await _resolve_hosts(resolver, names, secure)


async def _mx_records(
    resolver: dns.asyncresolver.Resolver, domain: str
) -> tuple[list[tuple[int, str]] | None, bool]:
    """The MX records (None: there are none), and whether the answer was authenticated."""
    answer = await resolver.resolve(domain, "MX", search=False, raise_on_no_answer=False)
    secure = bool(answer.response.flags & dns.flags.AD)
    if answer.rrset is None:
        return None, secure
    records = [parse_mx(r.to_text()) for r in answer.rrset]
    # Same preference: randomise (RFC 5321 5.1), then stable sort by preference.
    random.shuffle(records)
    records.sort(key=lambda record: record[0])
    return records, secure


async def _resolve_hosts(
    resolver: dns.asyncresolver.Resolver, names: list[str], secure: bool
) -> list[Host]:
    hosts: list[Host] = []
    trouble = False
    for name in names:
        try:
            found = await addresses(resolver, name)
        except dns.exception.DNSException:
            trouble = True
            continue
        if found:
            hosts.append(Host(name, found, secure))
    if hosts:
        return hosts
    if trouble:
        raise RouteError(temporary("4.4.3", "DNS lookup of the target's mail host failed"))
    raise RouteError(permanent("5.1.2", "target domain has no mail host with an address"))
