"""What TLS each outbound host needs (issue 12, DESIGN promise 8): the floor
(``QUIETMAIL_OUTBOUND_TLS``), DANE (RFC 7672) and MTA-STS (RFC 8461), decided per target
domain and MX host before a connection is opened.

Order, as in Postfix: authenticated TLSA records of the MX host (DANE) win; otherwise the
domain's MTA-STS policy; otherwise the floor. Under ``enforce`` an MX host the policy does
not list is not used; under ``testing`` it is, and the would-be failure is counted. With
the ``opportunistic`` floor nothing is looked up (the behaviour before issue 12).

A smarthost is not the target's MX host, so a target's MTA-STS or DANE cannot judge it:
it gets the floor (``required``: verified against the smarthost's name).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import dns.asyncresolver
import dns.exception

from forwarder.deliver import dane
from forwarder.deliver.expiry import Expiry
from forwarder.deliver.mtasts import MtaSts, Policy
from forwarder.deliver.mx import Host
from forwarder.deliver.result import DeliveryResult, temporary

# RFC 3463 / RFC 5248: X.7.4 "security features not supported", X.7.5 "cryptographic failure"
NO_STARTTLS = temporary("4.7.4", "target's mail host does not offer the TLS its domain requires")
TLS_FAILED = temporary("4.7.5", "target's mail host failed the TLS its domain requires")
MX_NOT_IN_POLICY = temporary("4.7.5", "mail host not allowed by the target's MTA-STS policy")
TLSA_LOOKUP_FAILED = temporary("4.4.3", "DNS lookup of the mail host's TLSA records failed")


class Need(enum.Enum):
    NONE = "opportunistic"  # STARTTLS when offered, certificate not checked
    ENCRYPT = "encrypt"  # TLS required, not authenticated (only unusable TLSA records)
    VERIFIED = "verified"  # chain to a trusted CA and the MX host name (MTA-STS, required)
    DANE = "dane"  # the chain matches the host's TLSA records


@dataclass(frozen=True, slots=True)
class HostTls:
    need: Need
    tlsa: tuple[dane.Tlsa, ...] = ()
    names: tuple[str, ...] = ()  # reference identifiers for a DANE-TA name check
    report_only: bool = False  # MTA-STS testing: a failure is counted, delivery goes on


OPPORTUNISTIC = HostTls(Need.NONE)


class Refused(Exception):
    """This host may not be used for this target; ``result`` says why (always 4xx)."""

    def __init__(self, result: DeliveryResult) -> None:
        super().__init__(result.reply)
        self.result = result


@dataclass
class TlsCounters:
    """Plain counters, no labels naming a host, domain or address (DESIGN promise 2)."""

    delivered: dict[str, int] = field(default_factory=dict)  # cleartext, tls, verified, dane
    policy_refusals: int = 0  # a host or target refused for the TLS its domain requires
    testing_failures: int = 0  # MTA-STS testing: would have been refused under enforce

    def count_delivery(self, mode: str) -> None:
        self.delivered[mode] = self.delivered.get(mode, 0) + 1


class TlsPolicy:
    def __init__(
        self,
        floor: str,
        dnssec_trusted: bool,
        port: int,
        resolver: dns.asyncresolver.Resolver,
        sts: MtaSts,
        counters: TlsCounters,
    ) -> None:
        self._floor = floor
        self._dnssec = dnssec_trusted and floor != "opportunistic"
        self._port = port
        self._resolver = resolver
        self._sts = sts
        self.counters = counters

    async def domain_policy(self, domain: str, expiry: Expiry | None = None) -> Policy | None:
        if self._floor == "opportunistic":
            return None
        return await self._sts.policy(domain, expiry)

    def smarthost(self) -> HostTls:
        return HostTls(Need.VERIFIED) if self._floor == "required" else OPPORTUNISTIC

    async def host(self, domain: str, policy: Policy | None, host: Host) -> HostTls:
        """What ``host`` needs when delivering for ``domain``. Raises Refused."""
        if self._dnssec and host.secure:  # RFC 7672 2.2.1: only below a secure MX answer
            try:
                records = await dane.lookup(self._resolver, f"_{self._port}._tcp.{host.name}")
            except dns.exception.DNSException:
                raise self._refuse(TLSA_LOOKUP_FAILED) from None
            if records:
                usable = tuple(r for r in records if r.usable)
                if not usable:  # RFC 7672 2.2: TLS stays mandatory, just not authenticated
                    return HostTls(Need.ENCRYPT)
                return HostTls(Need.DANE, usable, (host.name, domain))
        if policy is not None and policy.mode != "none":
            allowed = policy.allows(host.name)
            if policy.mode == "enforce":
                if not allowed:
                    raise self._refuse(MX_NOT_IN_POLICY)
                return HostTls(Need.VERIFIED)
            if not allowed:  # testing: counted, and the host is used as if there were none
                self.counters.testing_failures += 1
                return self._floor_need()
            return HostTls(Need.VERIFIED, report_only=self._floor != "required")
        return self._floor_need()

    def _floor_need(self) -> HostTls:
        return HostTls(Need.VERIFIED) if self._floor == "required" else OPPORTUNISTIC

    def _refuse(self, result: DeliveryResult) -> Refused:
        self.counters.policy_refusals += 1
        return Refused(result)
