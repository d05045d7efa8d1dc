"""The aiosmtpd hooks: decide at RCPT, forward at DATA (CONVENTIONS 1).

Each hook is short and delegates: ``resolve`` decides a recipient, ``MessagePolicy`` inspects
the message, ``deliver`` forwards it, ``outcome`` turns the targets' answers into the reply.
Exceptions become replies here and only here: a store error is ``451 4.3.0``, anything
unexpected is ``451 4.3.0`` too (never a 5xx the sender would act on). Logs carry counts and
reply codes only, never an address, subject or IP (DESIGN promise 2).
"""

from __future__ import annotations

import logging
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from forwarder import replies
from forwarder.deliver import Transport, forward
from forwarder.deliver.delivered import DeliveredMemory, fingerprint
from forwarder.deliver.outcome import Outcome, decide
from forwarder.rcpt.denylist import DenyChecks
from forwarder.rcpt.resolve import AliasResolver
from forwarder.rcpt.routecache import RoutingCache
from forwarder.rewrite.received import count_received, received_line
from forwarder.seams import Inbound, MessagePolicy
from forwarder.settings import Settings
from forwarder.smtp.errorlog import ErrorLogWriter, domain_of
from forwarder.smtp.transaction import Transaction
from forwarder.store.base import StoreError

log = logging.getLogger(__name__)


class RelayHandler:
    def __init__(
        self,
        settings: Settings,
        cache: RoutingCache,
        resolver: AliasResolver,
        policy: MessagePolicy,
        transport: Transport,
        memory: DeliveredMemory,
        errors: ErrorLogWriter,
        denylist: DenyChecks,
    ) -> None:
        self._settings = settings
        self._cache = cache
        self._resolver = resolver
        self._policy = policy
        self._transport = transport
        self._memory = memory
        self._errors = errors
        self._denylist = denylist

    # The abuse denylist (forwarder/rcpt/denylist.py) decides at HELO/EHLO and MAIL; logs name the
    # stage and the code, never the name or address.

    async def handle_HELO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str
    ) -> str:
        if await self._denylist.helo_denied(hostname):
            log.info("HELO answered %s: name on the denylist", replies.DENIED_CLIENT[:3])
            return replies.DENIED_CLIENT
        session.host_name = hostname
        return f"250 {server.hostname}"

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        if await self._denylist.helo_denied(hostname):
            log.info("EHLO answered %s: name on the denylist", replies.DENIED_CLIENT[:3])
            return [replies.DENIED_CLIENT]
        session.host_name = hostname
        # aiosmtpd reads commands one by one, so pipelined commands are safe (RFC 2920).
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if await self._denylist.sender_denied(address):
            log.info("MAIL answered %s: sender on the denylist", replies.DENIED_SENDER[:3])
            return replies.DENIED_SENDER
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
            resolution = await self._resolver.resolve(address)
        except StoreError:
            envelope.refused += 1
            log.warning("RCPT answered %s: store unavailable", replies.STORE_UNAVAILABLE[:3])
            return replies.STORE_UNAVAILABLE
        if resolution.accepted:
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
        log.info("DATA answered %s (%d targets)", reply[:3], len(envelope.targets))
        return reply

    async def handle_exception(self, error: Exception) -> str:
        log.error("unexpected %s in an SMTP session", type(error).__name__)
        return replies.LOCAL_ERROR

    async def refused(self, envelope: Transaction, reply: str) -> None:
        """A reply given at DATA for the whole transaction: one entry per alias."""
        for origin in dict.fromkeys(envelope.origins):
            await self._errors.record(
                domain_id=origin.domain_id, alias=origin.alias, reply=reply, sender=envelope.sender
            )

    async def _data(self, session: Session, envelope: Transaction) -> str:
        message = envelope.original_content or b""
        if count_received(message) > self._settings.max_received_headers:
            await self.refused(envelope, replies.MAIL_LOOP)  # RFC 5321 6.3
            return replies.MAIL_LOOP
        if not envelope.targets:  # only drop-mode aliases: accepted and discarded
            return replies.DELIVERED
        peer = session.peer
        verdict = await self._policy.inspect(
            Inbound(
                client_ip=str(peer[0]) if isinstance(peer, tuple) else "",
                helo=session.host_name or "",
                mail_from=envelope.sender,
                recipients=tuple(envelope.rcpt_tos),
                message=message,
            )
        )
        if verdict.reply is not None:
            await self.refused(envelope, verdict.reply)
            return verdict.reply
        fp = fingerprint(envelope.sender, message)
        pending = [t for t in envelope.targets if not self._memory.seen(fp, t)]
        if not pending:
            return replies.DELIVERED
        trace = received_line(
            self._settings.hostname, tls=session.ssl is not None, utf8=envelope.smtp_utf8
        )
        results = await forward(
            self._transport,
            verdict.envelope_sender,
            pending,
            trace + verdict.message,
            self._settings.forward_timeout,
        )
        outcome = decide(pending, results, already=len(envelope.targets) - len(pending))
        if outcome.deferred:
            for target in outcome.delivered:
                self._memory.remember(fp, target)
        await self._log_failures(envelope, outcome)
        return outcome.reply

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
