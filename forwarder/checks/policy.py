"""The relay's real ``MessagePolicy``: inbound checks, then the outbound rewriting.

In order, for each message at the end of DATA (issue 4):

1. a header section that does not parse (RFC 5322 section 2.2: a line that is neither a
   field nor a continuation) → ``550 5.6.0``: no check could read it;
2. more DKIM signatures and ARC sets together than ``max_auth_signatures`` → ``550 5.7.1``,
   before any DNS or crypto (issue 8: each costs a key look-up and signature checks, ARC
   validation grows with the square of the sets);
3. no From header, several, or several addresses → ``550 5.7.1`` (DMARC cannot judge it);
4. forged ``Authentication-Results`` claiming our hostname are removed (RFC 8601 section 5);
5. SPF, DKIM, incoming ARC chain and the DMARC record lookup run concurrently;
6. SPF temperror, DMARC record temperror or a temperror while validating the incoming ARC
   chain (a seal over it would say ``cv=fail`` for good) → ``451 4.4.3`` so the sender
   retries; a DMARC fail whose disposition is reject → ``550 5.7.1``, or ``451`` when a
   DKIM temperror might have made it pass; quarantine is forwarded, marked in the results
   header;
7. a copy that would fail DMARC where it lands (no valid DKIM signature aligned with From,
   and the author's domain publishes ``p=quarantine`` or ``p=reject``) gets its From
   rewritten to the author's reverse address at the alias's domain and a DKIM signature as
   that domain (rewrite/author.py, issue 11); so does every copy for an alias with "private
   replies" on, whose Reply-To, To and Cc become reverse addresses too; any other copy keeps
   its bytes;
8. our ``Authentication-Results`` goes on top, then a new ARC set over it (RFC 8617), and the
   envelope sender is SRS-rewritten (the null sender stays null); the SRS address takes
   bounces only when the sender authenticated (SPF pass for MAIL FROM, or a valid DKIM
   signature of its domain), so nobody can mint a bounce path to a forged sender (issue 8).

Steps 5 to 7 share one time budget, ``checks_timeout``; past it the sender gets ``451 4.4.3``
and retries. The blocking parts (pyspf, dkimpy, sealing) run on a small thread pool of the
policy's own (``checks_threads``), apart from asyncio's default one where passwords are
hashed, and every DNS look-up in them ends at the budget's deadline, so a message with slow
selectors holds a thread no longer than its budget and neither pool can starve the other
(issue 8). :meth:`AuthPolicy.aclose` shuts the pool down (the relay calls it when it stops).

Nothing is logged about the message: the relay logs the reply code it gives.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from publicsuffixlist import PublicSuffixList

from forwarder import replies
from forwarder.addresses import domain_of
from forwarder.checks.arc import ArcSealer, count_arc_sets
from forwarder.checks.dkim import DkimResult, DkimVerifier, count_signatures
from forwarder.checks.dmarc import (
    DmarcEvaluator,
    DmarcOutcome,
    DmarcTempError,
    NoSingleAuthor,
    author_domain,
)
from forwarder.checks.dmarccache import RecordCache
from forwarder.checks.reply import ReplyGate
from forwarder.checks.results import (
    MethodResult,
    build_header,
    prepend_fields,
    split_message,
    well_formed,
    without_forged_results,
)
from forwarder.checks.spf import SpfChecker, SpfResult
from forwarder.checks.verifier import KeyCache
from forwarder.dmarcrecord import DmarcRecord
from forwarder.metrics import Metrics
from forwarder.replies import Reply
from forwarder.resolver import dns_cache, make_async_resolver, make_sync_resolver
from forwarder.reverse import ReverseAddresses
from forwarder.rewrite.arc_key import ArcKey
from forwarder.rewrite.author import rewrite_author
from forwarder.rewrite.dkim_sign import DomainSigner
from forwarder.rewrite.srs import SRS
from forwarder.seams import AliasRef, Inbound, ReverseRoute, Verdict
from forwarder.settings import Settings

_Found = tuple[DmarcRecord | None, bool]


class AuthPolicy:
    """``AuthPolicy(settings, arc_key)``; ``rng`` decides DMARC ``pct`` sampling (tests pass
    a constant), ``psl`` lets callers share one parsed Public Suffix List."""

    def __init__(
        self,
        settings: Settings,
        arc_key: ArcKey,
        *,
        rng: Callable[[], float] | None = None,
        psl: PublicSuffixList | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        # One cache for the checks' sync and async look-ups (resolver.py), hits counted.
        cache = dns_cache(metrics=metrics)
        sync_resolver = make_sync_resolver(settings, cache)
        self._settings = settings
        self._authserv_id = settings.hostname
        # Threads start on first use; aclose() ends them.
        self._executor = ThreadPoolExecutor(
            settings.checks_threads, thread_name_prefix="quietmail-checks"
        )
        keys = KeyCache()  # parsed DKIM and ARC public keys, by record (verifier.py)
        # RFC 7208 section 4.6.4: the whole SPF evaluation gets a bounded time of its own.
        self._spf = SpfChecker(
            sync_resolver, settings.hostname, 4 * settings.dns_timeout, self._executor
        )
        self._dkim = DkimVerifier(
            sync_resolver, settings.dns_timeout, keys=keys, executor=self._executor
        )
        self._arc = ArcSealer(
            sync_resolver, arc_key, settings.hostname, keys=keys, executor=self._executor
        )
        self._dmarc = DmarcEvaluator(
            make_async_resolver(settings),  # its answers are kept by RecordCache instead
            psl if psl is not None else PublicSuffixList(),
            rng if rng is not None else random.Random().random,
            RecordCache(metrics=metrics),
        )
        self._srs = SRS.from_settings(settings)
        signer = DomainSigner(
            arc_key, make_async_resolver(settings, cache), executor=self._executor
        )
        self._reply = ReplyGate(settings, self._spf, self._dkim, signer, self._srs)
        self._signer = signer
        self._reverse = ReverseAddresses.from_settings(settings)

    async def inspect(self, inbound: Inbound) -> Verdict:
        fields, rest = split_message(inbound.message)  # the one split of the header section
        if not well_formed(fields):
            return self._refuse(inbound, replies.MALFORMED_HEADER)
        arc_sets = count_arc_sets(fields)
        if count_signatures(fields) + arc_sets > self._settings.max_auth_signatures:
            return self._refuse(inbound, replies.TOO_MANY_AUTH_SIGNATURES)
        try:
            from_domain = author_domain(fields)
        except NoSingleAuthor:
            return self._refuse(inbound, replies.BAD_FROM_HEADER)
        kept = without_forged_results(fields, self._authserv_id)
        # The message is copied only when a forged header goes (issue 8: each copy of a
        # 50 MiB message is 50 MiB more, held for as long as the checks take).
        message = inbound.message if len(kept) == len(fields) else b"".join(kept) + rest
        del rest
        budget = self._settings.checks_timeout
        try:
            async with asyncio.timeout(budget):
                deadline = time.monotonic() + budget
                return await self._check(inbound, message, from_domain, arc_sets, deadline)
        except TimeoutError:
            return self._refuse(inbound, replies.CHECKS_TIMEOUT)

    async def inspect_reply(self, inbound: Inbound, route: ReverseRoute) -> Verdict:
        """Mail to a reverse address (checks/reply.py), within the same time budget."""
        budget = self._settings.checks_timeout
        try:
            async with asyncio.timeout(budget):
                return await self._reply.inspect(inbound, route, time.monotonic() + budget)
        except TimeoutError:
            return self._refuse(inbound, replies.CHECKS_TIMEOUT)

    async def _check(
        self, inbound: Inbound, message: bytes, from_domain: str, arc_sets: int, deadline: float
    ) -> Verdict:
        spf, dkim, arc, found = await asyncio.gather(
            self._spf.check(inbound.client_ip, inbound.helo, inbound.mail_from, deadline),
            self._dkim.verify(message, deadline),
            self._arc.validate(message, deadline) if arc_sets else _no_chain(),
            self._find_record(from_domain),
        )
        if found is None or "temperror" in (spf.result, arc.result):
            return self._refuse(inbound, replies.AUTH_TEMPERROR)
        dmarc = self._dmarc.evaluate(from_domain, found, spf, dkim)
        if dmarc.disposition == "reject":
            temporary = any(d.result == "temperror" for d in dkim)
            return self._refuse(
                inbound, replies.AUTH_TEMPERROR if temporary else replies.DMARC_REJECT
            )
        alias = inbound.alias
        if alias is not None and (
            alias.private or self._fails_downstream(from_domain, found, dkim)
        ):
            message = await self._rewrite_author(message, alias)
        clauses = _clauses(spf, dkim, dmarc, arc)
        header = build_header(self._authserv_id, clauses, utf8=inbound.smtputf8)
        # The ARC-Authentication-Results carries the ASCII form of the clauses; the UTF-8
        # header can go on an SMTPUTF8 copy beside it, since the ARC set does not sign
        # Authentication-Results (RFC 8617 section 4.1.2).
        seal = await self._arc.seal(message, clauses)
        message = prepend_fields(message, [*seal, header])
        bounces = sender_authenticated(inbound.mail_from, spf, dkim)
        sender = self._srs.forward(inbound.mail_from, bounces=bounces)
        return Verdict(message=message, envelope_sender=sender)

    def _fails_downstream(
        self, from_domain: str, found: _Found, dkim: Sequence[DkimResult]
    ) -> bool:
        """Whether the copy, as it is, would fail DMARC with effect at the destination: SPF
        there judges our SRS address, so only an aligned DKIM signature can pass it."""
        record, at_org = found
        if record is None:
            return False
        policy = record.sp if at_org and record.sp else record.p
        if policy not in ("quarantine", "reject"):
            return False
        return not any(
            d.result == "pass" and self._dmarc.aligned(d.domain, from_domain, record.adkim)
            for d in dkim
        )

    async def _rewrite_author(self, message: bytes, alias: AliasRef) -> bytes:
        fields, rest = split_message(message)
        # Without the domain's DKIM record the copy is signed as our hostname, so the From
        # is at our hostname too: DMARC aligns there (issue 11).
        in_place = await self._signer.record_in_place(alias.domain)
        host = None if in_place else self._settings.hostname
        rewritten = b"".join(rewrite_author(fields, alias, self._reverse, host)) + rest
        return await self._signer.sign(rewritten, alias.domain)

    async def aclose(self) -> None:
        """Stop the checks' threads. A check still running ends by its own deadline; the
        threads are not waited for, so the event loop does not block here."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _find_record(self, from_domain: str) -> _Found | None:
        try:
            return await self._dmarc.find_record(from_domain)
        except DmarcTempError:
            return None

    @staticmethod
    def _refuse(inbound: Inbound, reply: Reply) -> Verdict:
        return Verdict(message=inbound.message, envelope_sender=inbound.mail_from, reply=reply)


async def _no_chain() -> MethodResult:
    """``arc=none`` for a message without ARC fields, as dkimpy would say, without a job on
    the checks' threads."""
    return MethodResult("arc", "none")


def _clauses(
    spf: SpfResult, dkim: Sequence[DkimResult], dmarc: DmarcOutcome, arc: MethodResult
) -> list[MethodResult]:
    dkim_clauses = [d.method_result() for d in dkim] or [MethodResult("dkim", "none")]
    return [spf.method_result(), *dkim_clauses, dmarc.method_result(), arc]


def sender_authenticated(mail_from: str, spf: SpfResult, dkim: Sequence[DkimResult]) -> bool:
    """Whether the envelope sender's domain vouched for this message: SPF passed for MAIL
    FROM, or a valid DKIM signature's d= is that domain or a parent of it. Only then may a
    bounce of the forwarded copy go back to it through our SRS address (rewrite/srs.py)."""
    domain = domain_of(mail_from)
    if not domain:
        return False
    if spf.result == "pass" and spf.identity == "mailfrom":
        return True
    return any(
        d.result == "pass" and (domain == d.domain or domain.endswith("." + d.domain)) for d in dkim
    )
