"""MTA-STS (RFC 8461) for target domains: the ``_mta-sts`` TXT record, the policy fetched
over verified HTTPS from ``mta-sts.<domain>``, parsed strictly, and kept in memory.

Caching (RFC 8461 5.1): a policy is kept by domain, with its id, for its ``max_age``. Each
delivery asks for the TXT record (an answer the DNS cache keeps for its TTL); the policy is
fetched again only when the TXT id differs from the cached policy's, or the cached one has
expired. A cached policy outlives a missing TXT record and a failed fetch until it expires;
a domain with no usable record and no cached policy has no policy.

Privacy: the cache holds target *domain* names and their public policies, in memory, for at
most ``max_age`` (a year at the very most, RFC 8461 3.2) and at most ``MAX_ENTRIES`` of them.
Like the DNS cache (forwarder/resolver.py) that is public routing data: no address, no
sender, nothing saying which message caused the look-up; it is gone with the process.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.resolver

from forwarder.deliver import mx
from forwarder.deliver.expiry import Expiry
from forwarder.deliver.httpsget import FetchError, https_get

MAX_AGE_LIMIT = 31_557_600  # RFC 8461 3.2: one year
MAX_ENTRIES = 10_000
RETRY_AFTER = 300.0  # seconds before a failed fetch of the same policy id is tried again
POLICY_PATH = "/.well-known/mta-sts.txt"
MODES = ("enforce", "testing", "none")
_ID = re.compile(r"[A-Za-z0-9]{1,32}")
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_MX_PATTERN = re.compile(rf"(\*\.)?{_LABEL}(\.{_LABEL})+")


class PolicyError(ValueError):
    """A policy text that does not follow RFC 8461 3.2; it is treated as no policy."""


@dataclass(frozen=True, slots=True)
class Policy:
    id: str
    mode: str  # enforce | testing | none
    mx: tuple[str, ...]
    max_age: int

    def allows(self, host: str) -> bool:
        """Whether ``host`` matches one of the policy's mx patterns (RFC 8461 4.1)."""
        return any(mx_matches(pattern, host) for pattern in self.mx)


def mx_matches(pattern: str, host: str) -> bool:
    """RFC 8461 4.1: a literal name, or ``*.`` standing for exactly one leftmost label."""
    host = host.rstrip(".").lower()
    if pattern.startswith("*."):
        label, dot, rest = host.partition(".")
        return bool(label) and bool(dot) and rest == pattern[2:]
    return host == pattern


def txt_id(texts: list[str]) -> str | None:
    """The id of the one ``v=STSv1`` record, or None (RFC 8461 3.1: records not starting
    with it are ignored; none, several, or a malformed one mean no policy)."""
    records = [t for t in texts if re.match(r"v=STSv1\s*(;|$)", t)]
    if len(records) != 1:
        return None
    fields: dict[str, str] = {}
    for item in records[0].split(";"):
        key, sep, value = item.strip().partition("=")
        if sep:
            fields.setdefault(key.strip(), value.strip())
    found = fields.get("id", "")
    return found if _ID.fullmatch(found) else None


def parse_policy(text: str, policy_id: str) -> Policy:
    """RFC 8461 3.2, strictly: version STSv1, a known mode, max_age 0..31557600, and at
    least one valid mx pattern unless the mode is ``none``. Unknown keys are extensions
    and ignored; a repeated key other than mx is an error. Raises PolicyError."""
    values: dict[str, str] = {}
    patterns: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            raise PolicyError("policy line without a key")
        if key == "mx":
            if not _MX_PATTERN.fullmatch(value.lower()):
                raise PolicyError("bad mx pattern")
            patterns.append(value.lower())
        elif key in values:
            raise PolicyError(f"{key} given twice")
        else:
            values[key] = value
    if values.get("version") != "STSv1":
        raise PolicyError("version is not STSv1")
    mode = values.get("mode", "")
    if mode not in MODES:
        raise PolicyError("unknown mode")
    max_age = values.get("max_age", "")
    if not (max_age.isdigit() and len(max_age) <= 10 and int(max_age) <= MAX_AGE_LIMIT):
        raise PolicyError("bad max_age")
    if mode != "none" and not patterns:
        raise PolicyError("no mx pattern")
    return Policy(policy_id, mode, tuple(patterns), int(max_age))


@dataclass(frozen=True, slots=True)
class _Cached:
    policy: Policy
    expires: float


class MtaSts:
    """The policies of target domains; ``fetches`` counts HTTPS fetches (for measuring)."""

    def __init__(
        self,
        resolver: dns.asyncresolver.Resolver,
        port: int,
        context: Callable[[], Awaitable[ssl.SSLContext]],
        *,
        clock: Callable[[], float] = time.monotonic,
        entries: int = MAX_ENTRIES,
    ) -> None:
        self._resolver = resolver
        self._port = port
        self._context = context  # the verifying context: system CAs plus outbound_ca_file
        self._clock = clock
        self._entries = entries
        self._cache: dict[str, _Cached] = {}
        self._inflight: dict[str, asyncio.Task[Policy | None]] = {}
        self._failed: dict[str, tuple[str, float]] = {}  # domain: (policy id, retry at)
        self.fetches = 0

    async def policy(self, domain: str, expiry: Expiry | None = None) -> Policy | None:
        """The domain's policy in force now, or None. Never raises for a DNS or HTTPS
        problem: those leave the cached policy (if unexpired) in force. ``expiry`` learns
        how long the answer holds: the TXT record's TTL and the policy's ``max_age``; a
        failed look-up or fetch is never to be kept (plan.py)."""
        expiry = expiry if expiry is not None else Expiry()
        domain = domain.rstrip(".").lower()
        cached = self._cache.get(domain)
        now = self._clock()
        live = cached.policy if cached is not None and cached.expires > now else None
        if cached is not None and live is not None:
            expiry.within(cached.expires - now)
        try:
            policy_id = await self._txt_id(domain, expiry)
        except dns.exception.DNSException:
            expiry.unknown()
            return live
        if policy_id is None or (live is not None and live.id == policy_id):
            return live
        expiry.unknown()  # a fetch is due: whatever it gives is asked for again next time
        failed = self._failed.get(domain)
        if failed is not None and failed[0] == policy_id and failed[1] > self._clock():
            return live  # this id failed moments ago: no fetch per message while it is down
        task = self._inflight.get(domain)
        if task is None:  # one fetch per domain at a time, whatever the concurrency
            task = asyncio.ensure_future(self._refresh(domain, policy_id))
            self._inflight[domain] = task
            task.add_done_callback(lambda _: self._inflight.pop(domain, None))
        fetched = await asyncio.shield(task)
        return fetched if fetched is not None else live

    async def _txt_id(self, domain: str, expiry: Expiry) -> str | None:
        name = f"_mta-sts.{domain}"
        try:
            answer = await self._resolver.resolve(
                name, "TXT", search=False, raise_on_no_answer=False
            )
        except dns.resolver.NXDOMAIN:
            expiry.nxdomain(self._resolver, name)
            return None
        expiry.see(answer)
        if answer.rrset is None:
            return None
        texts = [b"".join(r.strings).decode("utf-8", "replace") for r in answer.rrset]
        return txt_id(texts)

    async def _refresh(self, domain: str, policy_id: str) -> Policy | None:
        host = f"mta-sts.{domain}"
        self.fetches += 1
        try:
            found = await mx.addresses(self._resolver, host)
            body = await https_get(found, host, self._port, POLICY_PATH, await self._context())
            policy = parse_policy(body.decode("utf-8"), policy_id)
        except (dns.exception.DNSException, FetchError, PolicyError, UnicodeDecodeError):
            if len(self._failed) >= self._entries:
                self._failed.clear()
            self._failed[domain] = (policy_id, self._clock() + RETRY_AFTER)
            return None
        self._failed.pop(domain, None)
        self._store(domain, policy)
        return policy

    def _store(self, domain: str, policy: Policy) -> None:
        now = self._clock()
        self._cache.pop(domain, None)
        self._cache[domain] = _Cached(policy, now + policy.max_age)
        if len(self._cache) > self._entries:
            for name in [n for n, c in self._cache.items() if c.expires <= now]:
                del self._cache[name]
        while len(self._cache) > self._entries:  # oldest first: dicts keep insertion order
            del self._cache[next(iter(self._cache))]
