"""DKIM verification (RFC 6376) of every signature on a message, with dkimpy.

Keys are read through our resolver (``TxtLookup``, a dkimpy ``dnsfunc``), and the whole
verification runs in a worker thread of the checks' executor: it is hash work plus blocking
look-ups, each bounded by the message's deadline. Keys are vetted and signatures checked by
OpenSSL (:mod:`forwarder.checks.verifier`). The number of signatures (with ARC sets) is capped
(``max_auth_signatures``) *before* any crypto or DNS, so a message cannot make the server do
unbounded work; the caller refuses such a message.

dkimpy raises ``DKIMException`` for input it recognises as bad and plain ``IndexError`` and
the like where it does not (a header section starting with whitespace, an ``i=`` shorter
than ``d=``): every exception from it is a verdict on the signature, never an escape.

dkimpy logs sender domains and selectors at ERROR; a private logger with every level off is
passed instead, because log lines must not name who sent what (DESIGN promise 2).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass

import dkim
import dns.exception
import dns.resolver

from forwarder.checks import dkim_fast
from forwarder.checks.results import MethodResult, field_name, field_value, split_message
from forwarder.checks.verifier import KeyCache, OpensslDKIM, parsed

_SIGNATURE = b"dkim-signature"
_FOLD = re.compile(rb"\r\n[ \t]")
_SPACES = re.compile(rb"\s+")


def quiet_logger(name: str) -> logging.Logger:
    """A logger that emits nothing, unregistered (no module-level state is touched)."""
    logger = logging.Logger(name, level=logging.CRITICAL + 1)
    logger.propagate = False
    return logger


class TxtLookup:
    """dkimpy's ``dnsfunc``: the joined strings of the first TXT record, or None.

    One instance per verification records what went wrong, so that a missing key
    (permerror) can be told apart from DNS trouble (temperror): dkimpy turns both into False.
    ``deadline`` (``time.monotonic()``) is the end of the message's time budget: no look-up
    waits beyond it, so a worker thread is free soon after the budget is spent.
    """

    def __init__(self, resolver: dns.resolver.Resolver, deadline: float | None = None) -> None:
        self._resolver = resolver
        self._deadline = deadline
        self.missing = False
        self.temperror = False

    def reset(self) -> None:
        self.missing = self.temperror = False

    def __call__(self, name: bytes, timeout: float = 5) -> bytes | None:
        lifetime = self._resolver.lifetime
        if self._deadline is not None:
            lifetime = min(lifetime, self._deadline - time.monotonic())
        try:
            if lifetime <= 0:
                raise dns.exception.Timeout
            text = name.decode("ascii").removesuffix(".")
            answer = self._resolver.resolve(text, "TXT", search=False, lifetime=lifetime)
        except (UnicodeDecodeError, dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            self.missing = True
            return None
        except dns.exception.DNSException as exc:  # timeout, SERVFAIL
            self.temperror = True
            raise dkim.DnsTimeoutError(type(exc).__name__) from None
        for rdata in answer:
            return b"".join(rdata.strings)
        self.missing = True
        return None


@dataclass(frozen=True, slots=True)
class DkimResult:
    result: str  # pass, fail, neutral, temperror, permerror (RFC 8601 section 2.7.1)
    domain: str  # d=, lower-case, for DMARC alignment
    selector: str
    b: str  # the first characters of b=, to tell signatures apart (RFC 6008)

    def method_result(self) -> MethodResult:
        props = (("header.d", self.domain), ("header.s", self.selector), ("header.b", self.b))
        return MethodResult("dkim", self.result, tuple((k, v) for k, v in props if v))


def count_signatures(fields: Iterable[bytes]) -> int:
    """How many DKIM-Signature fields a header section (``split_message``) has."""
    return sum(1 for f in fields if field_name(f) == _SIGNATURE)


class DkimVerifier:
    """``executor`` runs the blocking part (None: asyncio's default one); ``keys`` caches
    parsed public keys (shared with ARC validation); ``fast``: the common signature is
    verified by :mod:`forwarder.checks.dkim_fast` (the same result, less CPU), the rest by
    dkimpy; False: every one by dkimpy (the tests compare the two)."""

    def __init__(
        self,
        resolver: dns.resolver.Resolver,
        timeout: float,
        *,
        keys: KeyCache | None = None,
        executor: Executor | None = None,
        fast: bool = True,
    ) -> None:
        self._resolver = resolver
        self._timeout = timeout
        self._keys = keys if keys is not None else KeyCache()
        self._executor = executor
        self._fast = fast
        self._logger = quiet_logger("quietmail.dkim")

    async def verify(self, message: bytes, deadline: float | None = None) -> list[DkimResult]:
        """One result per DKIM-Signature, top to bottom; call ``count_signatures`` first."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.verify_blocking, message, deadline)

    def verify_blocking(self, message: bytes, deadline: float | None = None) -> list[DkimResult]:
        tags = _signature_tags(message)
        if not tags:
            return []
        try:
            headers, body = parsed(message)
        except Exception:  # the header section does not parse: no signature can be verified
            return [DkimResult("permerror", d, s, b) for d, s, b in tags]
        lookup = TxtLookup(self._resolver, deadline)
        checker: list[dkim.DKIM] = []  # made when dkimpy is needed, once

        def verify(index: int) -> bool:
            if self._fast:
                args = (headers, body, index, self._keys, lookup, self._timeout)
                if (valid := dkim_fast.verify(*args)) is not None:
                    return valid
            if not checker:
                options = {"logger": self._logger, "minkey": 1024, "timeout": self._timeout}
                checker.append(OpensslDKIM(message, self._keys, (headers, body), **options))
            return bool(checker[0].verify(index, dnsfunc=lookup))

        results = []
        for index, (d, s, b) in enumerate(tags):  # dkimpy numbers signatures top to bottom too
            lookup.reset()
            results.append(DkimResult(self._one(verify, index, lookup), d, s, b))
        return results

    @staticmethod
    def _one(verify: Callable[[int], bool], index: int, lookup: TxtLookup) -> str:
        try:
            valid = verify(index)
        except dkim.ValidationError:  # body hash mismatch, expired, ...
            return "temperror" if lookup.temperror else "fail"
        except Exception:  # malformed signature, unusable or refused key (KeyRefused)
            return "temperror" if lookup.temperror else "permerror"
        if valid:
            return "pass"
        if lookup.temperror:
            return "temperror"
        if lookup.missing:
            return "permerror"  # RFC 6376 section 6.1.2: no key for the signature
        return "fail"


def _signature_tags(message: bytes) -> list[tuple[str, str, str]]:
    """(d, s, first 8 characters of b) of each signature, blanks where it cannot be read."""
    fields, _ = split_message(message)
    tags = []
    for raw in fields:
        if field_name(raw) != _SIGNATURE:
            continue
        parsed = dkim_fast.parse_tags(_FOLD.sub(b" ", field_value(raw)))  # parse_tag_value's
        if parsed is None:
            tags.append(("", "", ""))
            continue
        b = _SPACES.sub(b"", parsed.get(b"b", b""))[:8]
        tags.append(
            (
                parsed.get(b"d", b"").decode("ascii", "replace").lower(),
                parsed.get(b"s", b"").decode("ascii", "replace"),
                b.decode("ascii", "replace"),
            )
        )
    return tags
