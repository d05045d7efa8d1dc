"""Mail sent through a reverse address: who may send it, and what leaves (issue 11).

RCPT already checked the address's MAC against the alias's current key (rcpt/resolve.py).
At the end of DATA, in order:

1. the header section parses and has one From with one address, else ``550 5.6.0`` /
   ``550 5.7.1`` as for forwarded mail;
2. the envelope sender or the From address is a confirmed target of the alias, else
   ``550 5.7.1`` (:data:`replies.REPLY_NOT_FROM_TARGET`): nobody else writes as the alias;
3. that sender authenticates: SPF passes for the envelope sender's domain (when it is the
   target), or a valid DKIM signature's ``d=`` is the From domain or a parent of it (when
   From is the target). No DMARC policy is asked of the owner's mailbox provider. SPF or
   DKIM temperror without a pass → ``451 4.4.3``; otherwise ``550 5.7.1``;
4. at most ``reply_rate_per_hour`` messages an hour through one alias → ``451 4.7.1``;
5. the message is rewritten (rewrite/outbound.py), DKIM-signed (rewrite/dkim_sign.py) and
   leaves with an SRS envelope sender for the alias's address, so a bounce comes back to the
   alias and is forwarded to its owner.

Nothing is stored: the rate counter is in memory, keyed by alias id and hour.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from email.utils import getaddresses

from forwarder import replies
from forwarder.checks.dkim import DkimResult, DkimVerifier, count_signatures
from forwarder.checks.dmarc import NoSingleAuthor, author_domain
from forwarder.checks.results import field_name, field_value, split_message, well_formed
from forwarder.checks.spf import SpfChecker, SpfResult
from forwarder.expiring import ExpiringDict
from forwarder.replies import Reply
from forwarder.reverse import ReverseAddresses, parse, split_hosted
from forwarder.rewrite.dkim_sign import DomainSigner
from forwarder.rewrite.outbound import rewrite_reply
from forwarder.rewrite.srs import SRS
from forwarder.seams import Inbound, ReverseRoute, Verdict
from forwarder.settings import Settings

_HOUR = 3600.0


class ReplyGate:
    def __init__(
        self,
        settings: Settings,
        spf: SpfChecker,
        dkim: DkimVerifier,
        signer: DomainSigner,
        srs: SRS,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._spf = spf
        self._dkim = dkim
        self._signer = signer
        self._srs = srs
        self._reverse = ReverseAddresses.from_settings(settings)
        self._clock = clock
        self._sent: ExpiringDict[tuple[str, int], int] = ExpiringDict(
            _HOUR, max_entries=100_000, clock=clock
        )

    async def inspect(self, inbound: Inbound, route: ReverseRoute, deadline: float) -> Verdict:
        fields, _ = split_message(inbound.message)
        if not well_formed(fields):
            return _refuse(inbound, replies.MALFORMED_HEADER)
        if count_signatures(fields) > self._settings.max_auth_signatures:
            return _refuse(inbound, replies.TOO_MANY_AUTH_SIGNATURES)
        try:
            from_domain = author_domain(fields)
        except NoSingleAuthor:
            return _refuse(inbound, replies.BAD_FROM_HEADER)
        author = _from_address(fields)
        senders = set(route.senders)
        envelope_ok = inbound.mail_from.lower() in senders
        from_ok = author in senders
        if not envelope_ok and not from_ok:
            return _refuse(inbound, replies.REPLY_NOT_FROM_TARGET)
        spf, dkim = await asyncio.gather(
            self._spf.check(inbound.client_ip, inbound.helo, inbound.mail_from, deadline),
            self._dkim.verify(inbound.message, deadline),
        )
        if not ((envelope_ok and _spf_pass(spf)) or (from_ok and _dkim_aligned(from_domain, dkim))):
            temporary = spf.result == "temperror" or any(d.result == "temperror" for d in dkim)
            return _refuse(
                inbound, replies.AUTH_TEMPERROR if temporary else replies.REPLY_NOT_FROM_TARGET
            )
        if not self._count(route.alias_id):
            return _refuse(inbound, replies.REPLY_RATE_LIMITED)
        return await self._outgoing(inbound, route, author)

    async def _outgoing(self, inbound: Inbound, route: ReverseRoute, author: str) -> Verdict:
        alias_address = f"{route.alias}@{route.domain}"
        hide = sorted({*route.senders, inbound.mail_from.lower(), author} - {""})
        message = rewrite_reply(
            inbound.message,
            alias_address=alias_address,
            unreverse=lambda address: self._unreverse(route, address),
            hide=hide,
            display_name=route.display_name,
        )
        message = await self._signer.sign(message, route.domain)
        return Verdict(message=message, envelope_sender=self._srs.forward(alias_address))

    def _unreverse(self, route: ReverseRoute, address: str) -> str | None:
        """The correspondent a reverse address of this alias stands for (MAC checked)."""
        local, _, domain = address.rpartition("@")
        hosted = split_hosted(local) if domain.lower() == self._settings.hostname else None
        if hosted is not None and hosted[0] == route.domain:
            local = hosted[1]
        elif domain.lower() != route.domain:
            return None
        for candidate in parse(local):
            if candidate.alias == route.alias and self._reverse.verify(
                route.alias_id, route.key_version, candidate
            ):
                return candidate.correspondent
        return None

    def _count(self, alias_id: str) -> bool:
        """Count one message for the alias in this hour; False past the limit."""
        key = (alias_id, int(self._clock() // _HOUR))
        sent = self._sent.get(key, 0)
        if sent >= self._settings.reply_rate_per_hour:
            return False
        self._sent.put(key, sent + 1)
        return True


def _refuse(inbound: Inbound, reply: Reply) -> Verdict:
    return Verdict(message=inbound.message, envelope_sender=inbound.mail_from, reply=reply)


def _from_address(fields: Sequence[bytes]) -> str:
    for f in fields:
        if field_name(f) == b"from":
            value = field_value(f).decode("utf-8", "replace").replace("\r\n", "")
            found = getaddresses([value])
            return found[0][1].lower() if found else ""
    return ""


def _spf_pass(spf: SpfResult) -> bool:
    return spf.result == "pass" and spf.identity == "mailfrom"


def _dkim_aligned(from_domain: str, dkim: Sequence[DkimResult]) -> bool:
    return any(
        d.result == "pass" and (from_domain == d.domain or from_domain.endswith("." + d.domain))
        for d in dkim
    )
