"""SPF (RFC 7208) with pyspf, its DNS look-ups going to our resolver, in a worker thread.

pyspf is synchronous and asks DNS through the module-level function ``spf.DNSLookup``; it has
no per-query hook. Assigning ``spf.DNSLookup`` would change it for every thread checking SPF
at the same moment (and for any other pyspf user in the process), so instead ``_Query``
subclasses ``spf.query`` and overrides ``query.dns`` - the one method that calls
``DNSLookup`` - keeping pyspf's caching, per-lookup timeout, overall query time (RFC 7208
section 4.6.4) and void-lookup limit (section 4.6.4), with the resolver held per instance.
dnspython follows CNAME chains itself, so pyspf's CNAME bookkeeping has nothing to do here.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import dns.exception
import dns.resolver
import spf

from forwarder.auth.results import MethodResult

RESULTS = ("pass", "fail", "softfail", "neutral", "none", "temperror", "permerror")
_Answer = list[tuple[tuple[str, str], Any]]


@dataclass(frozen=True, slots=True)
class SpfResult:
    result: str  # one of RESULTS
    identity: str  # "mailfrom", or "helo" for the null sender (RFC 7208 section 2.4)
    domain: str  # the domain SPF authenticated (or failed to), for DMARC alignment
    sender: str  # the checked MAIL FROM, or the HELO name

    def method_result(self) -> MethodResult:
        prop = "smtp.mailfrom" if self.identity == "mailfrom" else "smtp.helo"
        return MethodResult("spf", self.result, ((prop, self.sender),))


def _lookup(resolver: dns.resolver.Resolver, name: str, qtype: str, timeout: float) -> _Answer:
    """One DNS question in pyspf's answer shape (that of ``spf.DNSLookup_dnspython``)."""
    try:
        lifetime = min(timeout, resolver.lifetime)  # our dns_timeout caps each look-up
        answer = resolver.resolve(name, qtype, lifetime=lifetime, search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except dns.exception.DNSException as exc:  # timeout, SERVFAIL, ... : RFC 7208 2.6.6
        raise spf.TempError(f"DNS {type(exc).__name__}") from None
    values: _Answer = []
    for rdata in answer:
        if qtype in ("A", "AAAA"):
            values.append(((name, qtype), rdata.address))
        elif qtype == "MX":
            values.append(((name, qtype), (rdata.preference, rdata.exchange)))
        elif qtype == "PTR":
            values.append(((name, qtype), rdata.target.to_text(True)))
        elif qtype in ("TXT", "SPF"):
            values.append(((name, qtype), rdata.strings))
    return values


class _Query(spf.query):  # type: ignore[misc]
    def __init__(self, resolver: dns.resolver.Resolver, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._resolver = resolver

    def dns(
        self,
        name: str,
        qtype: str,
        cnames: dict[str, str] | None = None,
        ignore_void: bool = False,
    ) -> list[Any]:
        name = str(name).removesuffix(".").lower()
        if not name:
            raise spf.PermError("empty domain name")
        if not all(0 < len(label) < 64 for label in name.split(".")):
            return []  # not a valid DNS name: no data, as pyspf does
        cached: list[Any] | None = self.cache.get((name, qtype))
        if cached:
            return cached
        if self.querytime < 0:
            raise spf.TempError("DNS Error: exceeded max query lookup time")
        timeout = self.querytime if 0 < self.querytime < self.timeout else self.timeout
        started = time.monotonic()
        result = [value for _, value in _lookup(self._resolver, name, qtype, timeout)]
        if self.querytime > 0:
            self.querytime -= time.monotonic() - started
        if result:
            self.cache[(name, qtype)] = result
        elif not ignore_void:
            self.void_lookups += 1
            if self.void_lookups > spf.MAX_VOID_LOOKUPS:
                raise spf.PermError(f"Void lookup limit of {spf.MAX_VOID_LOOKUPS} exceeded")
        return result


class SpfChecker:
    """``await checker.check(ip, helo, mail_from)`` → :class:`SpfResult`; ``executor`` runs
    pyspf (None: asyncio's default one)."""

    def __init__(
        self,
        resolver: dns.resolver.Resolver,
        receiver: str,
        query_time: float,
        executor: Executor | None = None,
    ) -> None:
        self._resolver = resolver
        self._receiver = receiver
        self._query_time = query_time  # RFC 7208 section 4.6.4: at least 20 s recommended
        self._executor = executor

    async def check(
        self, client_ip: str, helo: str, mail_from: str, deadline: float | None = None
    ) -> SpfResult:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, self.check_blocking, client_ip, helo, mail_from, deadline
        )

    def check_blocking(
        self, client_ip: str, helo: str, mail_from: str, deadline: float | None = None
    ) -> SpfResult:
        """``deadline`` (``time.monotonic()``): the message's time budget ends there, and so
        does the SPF evaluation, whichever limit comes first."""
        identity = "mailfrom" if mail_from else "helo"
        sender = mail_from or helo
        domain = mail_from.rpartition("@")[2] if mail_from else helo
        query_time = self._query_time
        if deadline is not None:
            query_time = max(0.001, min(query_time, deadline - time.monotonic()))
        try:
            query = _Query(
                self._resolver,
                i=client_ip,
                s=mail_from,
                h=helo,
                receiver=self._receiver,
                timeout=query_time,
                querytime=query_time,
            )
            result = str(query.check()[0])
        except spf.PermError:  # e.g. a client address pyspf cannot parse
            result = "permerror"
        except spf.TempError:
            result = "temperror"
        if result not in RESULTS:  # pyspf's pre-RFC names, should they ever appear
            result = {"error": "temperror", "unknown": "permerror"}.get(result, "permerror")
        return SpfResult(result, identity, domain.lower().rstrip("."), sender)
