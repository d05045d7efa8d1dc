"""A real aiosmtpd server standing in for the targets' mail hosts, on the test's event loop.

It records what it accepted, in memory, and can be told to answer per recipient (or for
everyone) with 250, a 4xx, a 5xx, or never answer at all (``HANG``: the reply to RCPT never
comes, so the client times out); ``answer_mail`` refuses MAIL. ``tls_context`` makes it offer
STARTTLS, ``pipelining`` PIPELINING (RFC 2920).

    sink = SmtpSink()
    await sink.start()            # 127.0.0.1, free port: sink.port
    sink.answer("a@x.net", "451 4.2.0 mailbox busy")
    ...
    sink.messages                 # [Received(mail_from, rcpt_tos, data, tls)]
    await sink.stop()
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

HANG = "hang"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    tls: bool


@dataclass
class _Rules:
    per_recipient: dict[str, str] = field(default_factory=dict)
    everyone: str | None = None
    at_data: str | None = None
    at_mail: str | None = None


def ehlo(session: Session, hostname: str, responses: list[str], pipelining: bool) -> list[str]:
    """An EHLO hook's answer: aiosmtpd's own, with PIPELINING offered (RFC 2920) when asked."""
    session.host_name = hostname  # what aiosmtpd does itself without the hook
    if pipelining:
        responses.insert(len(responses) - 1, "250-PIPELINING")
    return responses


class _SinkHandler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        return ehlo(session, hostname, responses, self.sink.pipelining)

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if self.sink.rules.at_mail is not None:
            return self.sink.rules.at_mail
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        rule = self.sink.rules.per_recipient.get(address.lower(), self.sink.rules.everyone)
        if rule == HANG:
            await asyncio.sleep(3600)
        if rule is not None and not rule.startswith("2"):
            return rule
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.sink.rules.at_data is not None:
            return self.sink.rules.at_data
        self.sink.count += 1
        if not self.sink.record:
            return "250 2.0.0 queued"
        self.sink.messages.append(
            Received(
                mail_from=envelope.mail_from or "",
                rcpt_tos=list(envelope.rcpt_tos),
                data=bytes(envelope.original_content or b""),
                tls=session.ssl is not None,
            )
        )
        return "250 2.0.0 queued"


class _LongLineSMTP(SMTP):
    """Takes lines up to 1 MiB, as real mail hosts (Postfix) do; aiosmtpd's own limit is
    RFC 5321's 1000 bytes."""

    line_length_limit = 1024 * 1024


class SmtpSink:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        tls_context: ssl.SSLContext | None = None,
        *,
        record: bool = True,
        pipelining: bool = False,
    ) -> None:
        self.record = record  # False: count messages only (benchmarks)
        self.pipelining = pipelining  # advertise PIPELINING (aiosmtpd reads commands in turn)
        self.count = 0
        self.host = host
        self.requested_port = port
        self.tls_context = tls_context
        self.rules = _Rules()
        self.messages: list[Received] = []
        self._server: asyncio.Server | None = None
        self._sessions: list[SMTP] = []

    def answer(self, recipient: str, reply: str) -> None:
        """Answer RCPT for ``recipient`` with ``reply`` ('250 ...', '451 ...', '550 ...', HANG)."""
        self.rules.per_recipient[recipient.lower()] = reply

    def answer_everyone(self, reply: str | None) -> None:
        self.rules.everyone = reply

    def answer_mail(self, reply: str | None) -> None:
        self.rules.at_mail = reply

    def answer_data(self, reply: str | None) -> None:
        self.rules.at_data = reply

    def reset(self) -> None:
        self.rules = _Rules()

    def copies_for(self, recipient: str) -> int:
        return sum(recipient.lower() in (r.lower() for r in m.rcpt_tos) for m in self.messages)

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> SmtpSink:
        loop = asyncio.get_running_loop()
        handler = _SinkHandler(self)

        def factory() -> SMTP:
            protocol = _LongLineSMTP(
                handler,
                enable_SMTPUTF8=True,
                hostname="sink.test",
                tls_context=self.tls_context,
                data_size_limit=None,
                loop=loop,
            )
            self._sessions.append(protocol)
            return protocol

        self._server = await loop.create_server(factory, self.host, self.requested_port)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for session in self._sessions:
            if session.transport is not None:
                session.transport.close()
        self._sessions.clear()
