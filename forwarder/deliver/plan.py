"""Delivery plans: where a target domain's mail goes (its MX hosts with their addresses, or
the smarthost) and its MTA-STS policy, kept in memory while every DNS answer they were
built from is still fresh, so a message to a domain seen seconds ago asks DNS nothing.

Measured (tests/bench/bench_stacks): even answered from the DNS cache, the look-ups of one
delivery (MX, A, AAAA, the ``_mta-sts`` TXT record) cost dnspython ~8% of the relay's CPU
per message. A plan expires with the earliest of those answers (expiry.py: each answer's own
TTL, a negative answer's SOA minimum) and never outlives the MTA-STS policy it holds (RFC
8461 5.1, its ``max_age``: mtasts.py); a plan built while a look-up or a policy fetch failed
is not kept. Hosts of equal MX preference are shuffled afresh for each delivery (RFC 5321
5.1), as before. What TLS each host needs (DANE's TLSA records) is still decided per
delivery (tlspolicy.py), as are its counters.

Privacy: a plan holds a target *domain* name and its public routing data (host names,
addresses, the MTA-STS policy), in memory, for at most the TTL of the DNS answers it
repeats, and at most ``MAX_PLANS`` of them: the same knowledge the DNS cache
(forwarder/resolver.py) holds for as long, no address or sender, nothing saying which
message caused it; gone with the process. A resolver without a cache (asking afresh each
time) gets no plans kept either.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import dns.asyncresolver

from forwarder.deliver import mx
from forwarder.deliver.expiry import Expiry
from forwarder.deliver.mtasts import Policy
from forwarder.deliver.tlspolicy import TlsPolicy
from forwarder.settings import Settings

MAX_PLANS = 1000  # domains; a plan is a few hundred bytes
_SMARTHOST = ""  # the key of the smarthost's plan: never a domain


@dataclass(frozen=True, slots=True)
class Plan:
    route: tuple[tuple[int, mx.Host], ...]  # hosts with their MX preference
    port: int
    policy: Policy | None


class Planner:
    def __init__(
        self,
        settings: Settings,
        resolver: dns.asyncresolver.Resolver,
        policy: TlsPolicy,
        *,
        entries: int = MAX_PLANS,
        clock: Callable[[], float] = time.time,  # the clock of dnspython's expirations
    ) -> None:
        self._settings = settings
        self._resolver = resolver
        self._policy = policy
        self._entries = entries if resolver.cache is not None else 0
        self._clock = clock
        self._plans: dict[str, tuple[float, Plan]] = {}
        self.built = 0  # plans made (for tests and measuring)

    async def hosts(self, domain: str) -> tuple[list[mx.Host], int, Policy | None]:
        """The hosts to try for ``domain`` best first, the port, the domain's MTA-STS
        policy. Raises mx.RouteError (never kept: asked again for the next message)."""
        key = _SMARTHOST if self._settings.outbound_smarthost is not None else domain
        kept = self._plans.get(key)
        if kept is not None and kept[0] > self._clock():
            plan = kept[1]
        else:
            expiry = Expiry()
            plan = await self._make(domain, expiry)
            self._keep(key, plan, expiry.at)
        return mx.order(list(plan.route)), plan.port, plan.policy

    async def _make(self, domain: str, expiry: Expiry) -> Plan:
        self.built += 1
        relay = self._settings.outbound_smarthost
        if relay is not None:
            hosts = await mx.smarthost(self._resolver, relay, expiry)
            return Plan(tuple((0, host) for host in hosts), relay.port, None)
        route = await mx.route(self._resolver, domain, expiry)
        policy = await self._policy.domain_policy(domain, expiry)
        return Plan(tuple(route), self._settings.outbound_port, policy)

    def _keep(self, key: str, plan: Plan, until: float) -> None:
        now = self._clock()
        self._plans.pop(key, None)
        if until <= now or self._entries <= 0:
            return
        self._plans[key] = (until, plan)
        if len(self._plans) > self._entries:
            for name in [k for k, (at, _) in self._plans.items() if at <= now]:
                del self._plans[name]
        while len(self._plans) > self._entries:  # oldest first: dicts keep insertion order
            del self._plans[next(iter(self._plans))]
