"""aiosmtpd's SMTP protocol, adjusted where the relay needs more than its defaults.

- aiosmtpd's own reply texts for size, long lines and idle time are replaced by the named
  replies of :mod:`forwarder.replies` (one place, :data:`_TRANSLATE`);
- connections beyond ``max_connections_per_ip`` get ``421 4.7.0`` and are closed;
- a client whose IP is on the abuse denylist (:mod:`forwarder.rcpt.denylist`) is greeted with
  ``554 5.7.1`` instead of 220, then only QUIT is served, everything else gets ``503``
  (RFC 5321 3.1), until it quits, idles out or has sent ``_DENIED_COMMANDS`` commands;
- source routes (``RCPT TO:<@a,@b:user@c>``) are refused, not silently stripped as aiosmtpd
  would (RFC 5321 4.1.1.3 lets a server refuse them);
- DATA reserves bytes in the global in-flight budget first (``452 4.3.1`` when spent, RFC
  5321 4.5.3.1.10's "insufficient system storage"), and the transaction may not send more
  than its reservation; it is released when the DATA reply has been sent.

aiosmtpd already ends DATA only on ``<CRLF>.<CRLF>``: it reads lines up to CRLF, so a bare
``\\n.\\n`` or ``\\r.\\n`` stays inside the message (no SMTP smuggling, see
tests/forwarder/smtp/test_smtp_smuggling.py), and aiosmtplib normalises line endings and
dot-stuffs again on the way out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiosmtpd.smtp import SMTP
from aiosmtpd.testing.statuscodes import SMTP_STATUS_CODES as _AIOSMTPD

from forwarder import replies
from forwarder.rcpt.resolve import has_source_route
from forwarder.smtp.admission import Admission
from forwarder.smtp.transaction import Transaction

log = logging.getLogger(__name__)

# aiosmtpd's texts by their key in its own table (aiosmtpd.testing.statuscodes, shipped with
# it): tests/forwarder/smtp/test_session.py checks each text is still what aiosmtpd sends.
_TRANSLATE = {
    _AIOSMTPD.S552_EXCEED_SIZE.to_str(): replies.MESSAGE_TOO_BIG,
    _AIOSMTPD.S552_DATA_TOO_MUCH.to_str(): replies.MESSAGE_TOO_BIG,
    _AIOSMTPD.S500_DATALINE_TOO_LONG.to_str(): replies.LINE_TOO_LONG,
    _AIOSMTPD.S500_CMD_TOO_LONG.to_str(): replies.LINE_TOO_LONG,
}
_DATA_REFUSALS = (replies.MESSAGE_TOO_BIG, replies.LINE_TOO_LONG)
_DENIED_COMMANDS = 10  # commands a denied client may send before it is closed


class RelaySMTP(SMTP):
    def __init__(
        self,
        admission: Admission,
        handler: Any,
        on_refused: Callable[[Transaction, str], Awaitable[None]],
        **kwargs: Any,
    ) -> None:
        super().__init__(handler, **kwargs)
        self._admission = admission
        self._on_refused = on_refused  # a refusal sent by this class, for the error log
        self._ip = ""
        self._admitted = False
        self._counted = False
        self._in_data = False
        self.last_reply = ""

    # ------------------------------------------------------------ replies

    async def push(self, status: str) -> None:  # type: ignore[override]
        status = _TRANSLATE.get(status, status)
        self.last_reply = status
        await super().push(status)

    def _create_envelope(self) -> Transaction:
        return Transaction()

    # ------------------------------------------------------------ connections

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        first = not self._counted
        super().connection_made(transport)
        if first:  # not the second call STARTTLS makes
            self._counted = True
            peer = transport.get_extra_info("peername")
            self._ip = str(peer[0]) if isinstance(peer, tuple) else ""
            self._admitted = self._admission.limiter.acquire(self._ip)
            self._admission.connections.add(self)

    def connection_lost(self, error: Exception | None) -> None:
        if self._admitted:
            self._admitted = False
            self._admission.limiter.release(self._ip)
        self._admission.forget(self)
        super().connection_lost(error)

    async def _handle_client(self) -> None:
        if not self._admitted:
            await self.push(replies.TOO_MANY_CONNECTIONS)
            self.close_with(None)
            return
        if await self._admission.denylist.client_denied(self._ip):
            log.info("connection answered %s: client on the denylist", replies.DENIED_CLIENT[:3])
            await self._refuse_client()
            return
        await super()._handle_client()

    async def _refuse_client(self) -> None:
        await self.push(replies.DENIED_CLIENT)
        for _ in range(_DENIED_COMMANDS):
            try:
                line = await self._reader.readuntil()
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                break
            if line.strip().upper() == b"QUIT":
                await self.push(replies.GOODBYE)
                break
            await self.push(replies.DENIED_CLIENT_ONLY_QUIT)
        self.close_with(None)

    def _timeout_cb(self) -> None:
        self.close_with(replies.IDLE_TIMEOUT)  # RFC 5321 4.5.3.2: 421 before closing

    def close_with(self, reply: str | None) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if reply is not None:
            transport.write(reply.encode("ascii") + b"\r\n")  # type: ignore[attr-defined]
        transport.close()

    @property
    def idle(self) -> bool:
        """No transaction open: nothing is lost if the connection closes now."""
        return not self._in_data and (self.envelope is None or self.envelope.mail_from is None)

    # ------------------------------------------------------------ commands

    async def smtp_MAIL(self, arg: str | None) -> None:
        if self._admission.stopping:
            await self.push(replies.SHUTTING_DOWN)
            self.close_with(None)
            return
        if self._admission.budget.exhausted:
            await self.push(replies.INSUFFICIENT_STORAGE)
            return
        await super().smtp_MAIL(arg)

    async def smtp_RCPT(self, arg: str | None) -> None:
        route = arg[3:] if arg and arg[:3].upper() == "TO:" else ""
        if route and has_source_route(route) and self.envelope and self.envelope.mail_from:
            await self.push(replies.REJECT_SOURCE_ROUTE)
            return
        await super().smtp_RCPT(arg)

    async def smtp_DATA(self, arg: str | None) -> None:
        envelope = self.envelope
        ready = (
            isinstance(envelope, Transaction)
            and bool(envelope.rcpt_tos)
            and not arg
            and self.session is not None
            and bool(self.session.host_name)
        )
        if not ready or not isinstance(envelope, Transaction):
            await super().smtp_DATA(arg)
            return
        size = self._admission.reservation(envelope.mail_options)
        if not self._admission.budget.try_reserve(size):
            await self.push(replies.INSUFFICIENT_STORAGE)
            return
        limit, self.data_size_limit = self.data_size_limit, size
        self._in_data = True
        # aiosmtpd's idle timer is only reset by commands; the transfer and the forward that
        # follows get the idle time plus the forward budget, so the timer never cuts a
        # forward short (that would lose which targets already accepted).
        settings = self._admission.settings
        self._reset_timeout(settings.idle_timeout + settings.forward_timeout)
        try:
            await super().smtp_DATA(arg)
        finally:
            self.data_size_limit = limit
            self._in_data = False
            self._admission.budget.release(size)
            if self.transport is not None:
                self._reset_timeout()
        if self.last_reply in _DATA_REFUSALS:
            await self._on_refused(envelope, self.last_reply)
