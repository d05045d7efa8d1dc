"""How long what was learnt from DNS for one delivery plan stays true (plan.py): the
earliest expiry of the answers it was built from, as the DNS cache keeps them.

dnspython gives each answer an ``expiration`` (``time.time()`` plus the smallest TTL in it;
for a negative answer, the SOA minimum: RFC 2308 5) and its cache keeps the answer until
then, also when the answer came from the cache (the expiration is the original one). A
NXDOMAIN is raised, not returned: its expiry is read back from the resolver's cache, where
dnspython has just put it (as a counted look-up, once per plan built). Anything whose expiry
is not known (a failed look-up, a resolver without a cache) makes the plan not kept at all.
"""

from __future__ import annotations

import math
import time

import dns.asyncresolver
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.resolver


class Expiry:
    def __init__(self) -> None:
        self.at = math.inf  # time.time() after which the plan may no longer be used

    def see(self, answer: dns.resolver.Answer) -> None:
        self.at = min(self.at, answer.expiration)

    def within(self, seconds: float) -> None:
        self.at = min(self.at, time.time() + seconds)

    def unknown(self) -> None:
        self.at = -math.inf

    def nxdomain(self, resolver: dns.asyncresolver.Resolver, name: str) -> None:
        """``name`` was just answered NXDOMAIN by ``resolver``: expire with that answer."""
        cache = resolver.cache
        key = (dns.name.from_text(name), dns.rdatatype.ANY, dns.rdataclass.IN)
        answer = cache.get(key) if cache is not None else None
        if answer is None:
            self.unknown()
        else:
            self.see(answer)
