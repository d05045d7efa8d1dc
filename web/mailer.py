"""How the web app sends its own mail (verification, reset and confirmation links).

Three implementations of one small protocol:

- :class:`OutboundMailer` hands the message to a :data:`SendMail` function it is given: the
  composition root (``forwarder/cli/runtime.py``) gives it the relay's outbound path
  (:func:`forwarder.deliver.system.send_system_mail`). The web app never imports the relay
  (issue 9; an import-linter contract in pyproject.toml says so).
- :class:`ConsoleMailer` is for local mode with no outbound path: it prints the message
  (which carries the link) to the server's console, where the person running
  ``quietmail serve`` on their own machine reads it. Nothing is written to a file.
- :class:`OutboxMailer` keeps messages in a list; tests read the links from it.

The rule (:func:`mailer_for`): local mode means ``hostname == "localhost"`` and no
``outbound_smarthost``; then the console mailer is used, otherwise the outbound one.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Protocol, TextIO

from forwarder.settings import Settings


class MailError(Exception):
    """The message could not be handed over; the page says so and the user can retry."""


# Deliver one message (CRLF line endings, headers included) to one address now; raises on
# any failure.
SendMail = Callable[[str, bytes], Awaitable[None]]


class Mailer(Protocol):
    async def send(self, to: str, subject: str, body: str) -> None:
        """Send a plain-text message; raises MailError when it cannot."""


def build_message(settings: Settings, to: str, subject: str, body: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"quietmail <no-reply@{settings.hostname}>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain=settings.hostname)
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834 section 5
    msg.set_content(body)
    return msg


class OutboundMailer:
    def __init__(self, settings: Settings, send: SendMail | None) -> None:
        self._settings = settings
        self._send = send  # None: built without an outbound path, every send fails

    async def send(self, to: str, subject: str, body: str) -> None:
        message = build_message(self._settings, to, subject, body).as_bytes()
        try:
            if self._send is None:
                raise RuntimeError("no outbound path was given to the web app")
            await self._send(to, message)
        except Exception as exc:  # any delivery failure becomes one error the page can show
            raise MailError("the message could not be sent; try again later") from exc


class ConsoleMailer:
    """Local mode only: the operator is the user, and the console is theirs."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    async def send(self, to: str, subject: str, body: str) -> None:
        stream = self._stream or sys.stdout
        print(f"\n--- quietmail (local mode, no outbound mail) to {to}: {subject}", file=stream)
        print(body, file=stream)
        print("---", file=stream, flush=True)


@dataclass(frozen=True)
class SentMail:
    to: str
    subject: str
    body: str


@dataclass
class OutboxMailer:
    """Keeps what it is given, in memory; for tests and for the browser test."""

    sent: list[SentMail] = field(default_factory=list)

    async def send(self, to: str, subject: str, body: str) -> None:
        self.sent.append(SentMail(to, subject, body))

    def last_to(self, to: str) -> SentMail:
        for mail in reversed(self.sent):
            if mail.to == to:
                return mail
        raise LookupError(f"nothing was sent to {to}")


def is_local_mode(settings: Settings) -> bool:
    return settings.outbound_smarthost is None and settings.hostname == "localhost"


def mailer_for(settings: Settings, send: SendMail | None = None) -> Mailer:
    return ConsoleMailer() if is_local_mode(settings) else OutboundMailer(settings, send)
