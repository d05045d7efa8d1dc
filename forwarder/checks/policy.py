"""The relay's real ``MessagePolicy``: inbound checks, then the outbound rewriting.

In order, for each message at the end of DATA (issue 4):

1. a header section that does not parse (RFC 5322 section 2.2: a line that is neither a
   field nor a continuation) → ``550 5.6.0``: no check could read it;
2. more DKIM signatures than ``dkim_max_signatures`` → ``550 5.7.1``, before any crypto;
3. no From header, several, or several addresses → ``550 5.7.1`` (DMARC cannot judge it);
4. forged ``Authentication-Results`` claiming our hostname are removed (RFC 8601 section 5);
5. SPF, DKIM, incoming ARC chain and the DMARC record lookup run concurrently;
6. SPF temperror, DMARC record temperror or a temperror while validating the incoming ARC
   chain (a seal over it would say ``cv=fail`` for good) → ``451 4.4.3`` so the sender
   retries; a DMARC fail whose disposition is reject → ``550 5.7.1``, or ``451`` when a
   DKIM temperror might have made it pass; quarantine is forwarded, marked in the results
   header;
7. our ``Authentication-Results`` goes on top, then a new ARC set over it (RFC 8617), and the
   envelope sender is SRS-rewritten (the null sender stays null).

Nothing is logged about the message: the relay logs the reply code it gives.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence

from publicsuffixlist import PublicSuffixList

from forwarder import replies
from forwarder.checks.arc import ArcSealer
from forwarder.checks.dkim import DkimResult, DkimVerifier, count_signatures
from forwarder.checks.dmarc import (
    DmarcEvaluator,
    DmarcOutcome,
    DmarcTempError,
    NoSingleAuthor,
    author_domain,
)
from forwarder.checks.results import (
    MethodResult,
    build_header,
    prepend_fields,
    split_message,
    well_formed,
    without_forged_results,
)
from forwarder.checks.spf import SpfChecker, SpfResult
from forwarder.dmarcrecord import DmarcRecord
from forwarder.resolver import dns_cache, make_async_resolver, make_sync_resolver
from forwarder.rewrite.arc_key import ArcKey
from forwarder.rewrite.srs import SRS
from forwarder.seams import Inbound, Verdict
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
    ) -> None:
        cache = dns_cache()  # one for the checks' sync and async look-ups (resolver.py)
        sync_resolver = make_sync_resolver(settings, cache)
        self._settings = settings
        self._authserv_id = settings.hostname
        # RFC 7208 section 4.6.4: the whole SPF evaluation gets a bounded time of its own.
        self._spf = SpfChecker(sync_resolver, settings.hostname, 4 * settings.dns_timeout)
        self._dkim = DkimVerifier(sync_resolver, settings.dns_timeout)
        self._arc = ArcSealer(sync_resolver, arc_key, settings.hostname)
        self._dmarc = DmarcEvaluator(
            make_async_resolver(settings, cache),
            psl if psl is not None else PublicSuffixList(),
            rng if rng is not None else random.Random().random,
        )
        self._srs = SRS.from_settings(settings)

    async def inspect(self, inbound: Inbound) -> Verdict:
        fields, rest = split_message(inbound.message)  # the one split of the header section
        if not well_formed(fields):
            return self._refuse(inbound, replies.MALFORMED_HEADER)
        if count_signatures(fields) > self._settings.dkim_max_signatures:
            return self._refuse(inbound, replies.TOO_MANY_DKIM_SIGNATURES)
        try:
            from_domain = author_domain(fields)
        except NoSingleAuthor:
            return self._refuse(inbound, replies.BAD_FROM_HEADER)
        message = b"".join(without_forged_results(fields, self._authserv_id)) + rest
        spf, dkim, arc, found = await asyncio.gather(
            self._spf.check(inbound.client_ip, inbound.helo, inbound.mail_from),
            self._dkim.verify(message),
            self._arc.validate(message),
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
        header = build_header(self._authserv_id, _clauses(spf, dkim, dmarc, arc))
        message = prepend_fields(message, [header])
        message = prepend_fields(message, await self._arc.seal(message))
        return Verdict(message=message, envelope_sender=self._srs.forward(inbound.mail_from))

    async def _find_record(self, from_domain: str) -> _Found | None:
        try:
            return await self._dmarc.find_record(from_domain)
        except DmarcTempError:
            return None

    @staticmethod
    def _refuse(inbound: Inbound, reply: str) -> Verdict:
        return Verdict(message=inbound.message, envelope_sender=inbound.mail_from, reply=reply)


def _clauses(
    spf: SpfResult, dkim: Sequence[DkimResult], dmarc: DmarcOutcome, arc: MethodResult
) -> list[MethodResult]:
    dkim_clauses = [d.method_result() for d in dkim] or [MethodResult("dkim", "none")]
    return [spf.method_result(), *dkim_clauses, dmarc.method_result(), arc]
