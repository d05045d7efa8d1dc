"""The aiosmtpd hooks: decide at RCPT, forward at DATA (CONVENTIONS 1).

Each hook is short and delegates: ``resolve`` decides a recipient, ``MessagePolicy`` inspects
the message, ``deliver`` forwards it, ``outcome`` turns the targets' answers into the reply.
Exceptions become replies here and only here: a store error is ``451 4.3.0``, anything
unexpected is ``451 4.3.0`` too (never a 5xx the sender would act on). Logs carry counts and
reply codes only, never an address, subject or IP, and a forward that succeeded logs nothing
at all: a line per delivery would be a timestamped record of each message (DESIGN promise 2).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from forwarder import replies
from forwarder.addresses import domain_of
from forwarder.checks.dnsbl import BlockLists
from forwarder.checks.rspamd import Rspamd
from forwarder.deliver import Transport, forward
from forwarder.deliver.delivered import DeliveredRecord, fingerprint
from forwarder.deliver.outcome import Outcome, decide
from forwarder.metrics import Metrics
from forwarder.rcpt.denylist import DenyChecks
from forwarder.rcpt.resolve import AliasResolver, Resolution
from forwarder.rcpt.routecache import RoutingCache
from forwarder.replies import Reply
from forwarder.rewrite.received import count_received, received_line
from forwarder.seams import Inbound, MessagePolicy, ReplyPolicy, Verdict
from forwarder.settings import Settings
from forwarder.smtp.errorlog import ErrorLogWriter
from forwarder.smtp.transaction import Transaction
from forwarder.store.base import SpamPolicy, StoreError

log = logging.getLogger(__name__)


class RelayHandler:
    def __init__(
        self,
        settings: Settings,
        cache: RoutingCache,
        resolver: AliasResolver,
        policy: MessagePolicy,
        transport: Transport,
        memory: DeliveredRecord,
        errors: ErrorLogWriter,
        denylist: DenyChecks,
        blocklists: BlockLists | None = None,
        spam: Rspamd | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._settings = settings
        self._metrics = metrics  # None: nothing counted
        self._cache = cache
        self._resolver = resolver
        self._policy = policy
        self._transport = transport
        self._memory = memory
        self._errors = errors
        self._denylist = denylist
        self._blocklists = blocklists
        self._spam = spam

    # The abuse denylist (forwarder/rcpt/denylist.py) decides at HELO/EHLO and MAIL; logs name the
    # stage and the code, never the name or address.

    async def handle_HELO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str
    ) -> str:
        if await self._denylist.helo_denied(hostname):
            log.info("HELO answered %d: name on the denylist", replies.DENIED_CLIENT.code)
            return replies.DENIED_CLIENT
        session.host_name = hostname
        return replies.hello(server.hostname)

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        if await self._denylist.helo_denied(hostname):
            log.info("EHLO answered %d: name on the denylist", replies.DENIED_CLIENT.code)
            return [replies.DENIED_CLIENT]
        session.host_name = hostname
        # An MX offers no submission: aiosmtpd lists AUTH (after STARTTLS), which only invites
        # password guessing; it is left out, and the command is refused (session.py).
        offered = [r for r in responses[:-1] if not r[4:].upper().startswith("AUTH")]
        # aiosmtpd reads commands one by one, so pipelined commands are safe (RFC 2920).
        return [*offered, "250-PIPELINING", responses[-1]]

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if await self._denylist.sender_denied(address):
            log.info("MAIL answered %d: sender on the denylist", replies.DENIED_SENDER.code)
            return replies.DENIED_SENDER
        if self._blocklists is not None:
            zone = await self._blocklists.domain_listed(session.host_name or "", domain_of(address))
            if zone is not None:
                log.info("MAIL answered 550: HELO name or sender domain on a DNS block list")
                return replies.blocklisted_sender(zone)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return replies.ACCEPTED_SENDER

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Transaction, address: str, options: Any
    ) -> str:
        # Refused recipients count too: a client probing names must not get unlimited
        # look-ups and error log rows out of one transaction (RFC 5321 4.5.3.1.10).
        if len(envelope.rcpt_tos) + envelope.refused >= self._settings.max_recipients:
            return replies.TOO_MANY_RECIPIENTS
        try:
            if not envelope.generation_checked:
                await self._cache.check_generation()
                envelope.generation_checked = True
            resolution = await self._resolver.resolve(address, envelope.sender)
        except StoreError:
            envelope.refused += 1
            log.warning("RCPT answered %d: store unavailable", replies.STORE_UNAVAILABLE.code)
            return replies.STORE_UNAVAILABLE
        if resolution.bounce and envelope.declared_size > self._settings.bounce_max_size:
            resolution = Resolution(replies.BOUNCE_TOO_BIG)  # by the SIZE declared (RFC 1870)
        if resolution.accepted:
            if not envelope.fits(resolution):
                return replies.SEPARATE_TRANSACTION  # not a refusal: the client retries it
            envelope.add(address, resolution)
            return resolution.reply
        envelope.refused += 1
        if resolution.domain_id:
            await self._errors.record(
                domain_id=resolution.domain_id,
                alias=resolution.alias,
                reply=resolution.reply,
                sender=envelope.sender,
            )
        return resolution.reply

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Transaction) -> str:
        reply = await self._data(session, envelope)
        if not reply.ok:  # successes log nothing (DESIGN promise 2)
            log.info("DATA answered %d (%d targets)", reply.code, len(envelope.targets))
        return reply

    async def handle_exception(self, error: Exception) -> str:
        log.error("unexpected %s in an SMTP session", type(error).__name__)
        return replies.LOCAL_ERROR

    async def refused(self, envelope: Transaction, reply: Reply) -> None:
        """A reply given at DATA for the whole transaction: one entry per alias."""
        for origin in dict.fromkeys(envelope.origins):
            await self._errors.record(
                domain_id=origin.domain_id, alias=origin.alias, reply=reply, sender=envelope.sender
            )

    async def _data(self, session: Session, envelope: Transaction) -> Reply:
        message = envelope.original_content or b""
        if envelope.bounce and len(message) > self._settings.bounce_max_size:
            await self.refused(envelope, replies.BOUNCE_TOO_BIG)  # the bytes, whatever SIZE said
            return replies.BOUNCE_TOO_BIG
        if count_received(message) > self._settings.max_received_headers:
            await self.refused(envelope, replies.MAIL_LOOP)  # RFC 5321 6.3
            return replies.MAIL_LOOP
        if not envelope.targets:  # only drop-mode aliases: accepted and discarded
            return replies.DELIVERED
        peer = session.peer
        inbound = Inbound(
            client_ip=str(peer[0]) if isinstance(peer, tuple) else "",
            helo=session.host_name or "",
            mail_from=envelope.sender,
            recipients=tuple(envelope.rcpt_tos),
            message=message,
            smtputf8=envelope.smtp_utf8,
            alias=envelope.alias_ref,
        )
        if envelope.route is None:
            verdict = await self._policy.inspect(inbound)
        elif isinstance(self._policy, ReplyPolicy):  # mail through a reverse address (issue 11)
            verdict = await self._policy.inspect_reply(inbound, envelope.route)
        else:
            verdict = Verdict(inbound.message, "", replies.REPLY_NOT_FROM_TARGET)
        if verdict.reply is not None:
            await self.refused(envelope, verdict.reply)
            return verdict.reply
        refusal, added = await self._spam_check(envelope, inbound)
        if refusal is not None:
            return refusal
        fp = fingerprint(envelope.sender, message)
        # verdict.message is the copy to forward; the message as received goes now rather
        # than be held with it while the targets answer (issue 8, memory).
        envelope.content = envelope.original_content = None
        del message, inbound
        pending = await self._memory.pending(fp, list(envelope.targets))
        if not pending:
            return replies.DELIVERED
        trace = received_line(
            self._settings.hostname, tls=session.ssl is not None, utf8=envelope.smtp_utf8
        )
        started = time.monotonic()
        results = await forward(
            self._transport,
            verdict.envelope_sender,
            pending,
            verdict.message,
            self._settings.forward_timeout,
            prefix=trace + added,  # sent ahead of the message, not joined to it (a copy)
        )
        outcome = decide(pending, results, already=len(envelope.targets) - len(pending))
        if self._metrics is not None:  # counters only: a success logs nothing (promise 2)
            self._metrics.forwarded(outcome.kind, time.monotonic() - started)
        if outcome.deferred:  # recorded first: the sooner, the fewer a crash can duplicate
            await self._memory.remember(fp, outcome.delivered)
        await self._log_failures(envelope, outcome)
        return outcome.reply

    async def _spam_check(
        self, envelope: Transaction, inbound: Inbound
    ) -> tuple[Reply | None, bytes]:
        """rspamd's refusal, or None and the header lines it adds (none when it is off)."""
        policy = envelope.spam or SpamPolicy()
        if self._spam is None or not policy.enabled:
            return None, b""
        spam = await self._spam.check(
            inbound.client_ip, inbound.helo, inbound.mail_from, inbound.recipients, inbound.message
        )
        spam = spam.with_threshold(policy.reject_score)
        if spam.reply is not None:
            await self.refused(envelope, spam.reply)
            return spam.reply, b""
        return None, spam.header()

    async def _log_failures(self, envelope: Transaction, outcome: Outcome) -> None:
        for target, result in outcome.failed.items():
            for origin in envelope.targets.get(target, []):
                await self._errors.record(
                    domain_id=origin.domain_id,
                    alias=origin.alias,
                    reply=result.reply,
                    target_domain=domain_of(target),
                    sender=envelope.sender,
                )
