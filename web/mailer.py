"""How the web app sends its own mail (verification, reset and confirmation links).

Three implementations of one small protocol:

- :class:`OutboundMailer` hands the message to a :data:`SendMail` function it is given: the
  composition root (``forwarder/cli/runtime.py``) gives it the relay's outbound path
  (:func:`forwarder.deliver.system.send_system_mail`). The web app never imports the relay
  (issue 9; an import-linter contract in pyproject.toml says so).
- :class:`ConsoleMailer` is for local mode: it prints the message (which carries the link) to
  the server's console, where the person running
  ``quietmail serve`` on their own machine reads it. Nothing is written to a file.
- :class:`OutboxMailer` keeps messages in a list; tests read the links from it.

:class:`MailQueue` sends the sign-up and reset messages after the answer has gone, so no
answer waits for the mail (issue 8, Medium 6: a reset for an existing account took 8.0 ms
against 3.1 ms for an unknown address, because only the first sent mail).

The rule (:func:`mailer_for`): the console mailer in local mode (the ``local_mode`` setting,
the one definition: forwarder/localmode.py), the outbound one otherwise.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Protocol, TextIO

from forwarder.clock import utc_now
from forwarder.settings import Settings

log = logging.getLogger(__name__)

MAX_PENDING = 256  # messages waiting to be sent; a flood past this is dropped, not queued


class MailError(Exception):
    """The message could not be handed over; the page says so and the user can retry.
    ``code`` says why in a form fit for a log line: SMTP codes or an error's class name,
    never an address or a server's text."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


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
    msg["Date"] = format_datetime(utc_now())
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834 section 5
    msg.set_content(body)
    return msg


class OutboundMailer:
    def __init__(self, settings: Settings, send: SendMail | None) -> None:
        self._settings = settings
        self._send = send  # None: built without an outbound path, every send fails

    @property
    def ready(self) -> bool:
        """False when built without an outbound path: every message would fail."""
        return self._send is not None

    async def send(self, to: str, subject: str, body: str) -> None:
        message = build_message(self._settings, to, subject, body).as_bytes()
        try:
            if self._send is None:
                raise RuntimeError("no outbound path was given to the web app")
            await self._send(to, message)
        except Exception as exc:  # any delivery failure becomes one error the page can show
            # Logged here, the one place every sent-now and queued message passes (issue 13):
            # WARNING with the code only, never the address (DESIGN promise 4).
            log.warning("system mail not sent: %s", _code(exc))
            raise MailError("the message could not be sent; try again later", _code(exc)) from exc


def _code(exc: Exception) -> str:
    result = getattr(exc, "result", None)  # deliver.SystemMailError carries the answer
    if result is not None:
        return f"{result.code} {result.enhanced}".strip()
    return type(exc).__name__


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


class MailQueue:
    """Sends messages in tasks it keeps, so a page can answer before the mail has gone.

    A failure is logged at WARNING with its code only (no address: DESIGN promise 4 keeps
    addresses out of logs), by OutboundMailer or here; the person asks again. :meth:`drain`
    is awaited when the app shuts down, so a message whose page said "on its way" is not
    lost to a restart.
    """

    def __init__(self, mailer: Mailer, *, max_pending: int = MAX_PENDING) -> None:
        self.mailer = mailer
        self._max_pending = max_pending
        self._pending: set[asyncio.Task[None]] = set()
        self._last_failed = not getattr(mailer, "ready", True)

    @property
    def failing(self) -> bool:
        """Whether the last message the queue sent failed (or no path to send exists): the
        server's state, the same for every account, so a page may say it (issue 13) without
        telling whether an address has an account."""
        return self._last_failed

    def send_later(self, to: str, subject: str, body: str) -> None:
        if len(self._pending) >= self._max_pending:
            log.warning("system mail not sent: %d messages are waiting already", len(self._pending))
            return
        task = asyncio.create_task(self._send(to, subject, body))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _send(self, to: str, subject: str, body: str) -> None:
        self._last_failed = True
        try:
            await self.mailer.send(to, subject, body)
        except MailError:
            return  # OutboundMailer.send logged it
        except Exception as exc:  # a task's error would otherwise only reach asyncio's log
            log.warning("system mail not sent: %s", type(exc).__name__)
            return
        self._last_failed = False

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def drain(self, grace: float | None = None) -> None:
        """Wait for every message being sent; past ``grace`` seconds the rest are cancelled."""
        while self._pending:
            _, waiting = await asyncio.wait(set(self._pending), timeout=grace)
            if waiting:
                for task in waiting:
                    task.cancel()
                await asyncio.wait(waiting)
                log.warning("system mail not sent: %d cancelled at shutdown", len(waiting))
                return


def mailer_for(settings: Settings, send: SendMail | None = None) -> Mailer:
    return ConsoleMailer() if settings.local_mode else OutboundMailer(settings, send)
