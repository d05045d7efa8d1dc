"""aiosmtpd's SMTP protocol, adjusted where the relay needs more than its defaults.

- aiosmtpd's own reply texts for size, long lines and idle time are replaced by the named
  replies of :mod:`forwarder.replies` (one place, :data:`_TRANSLATE`);
- connections beyond ``max_connections_per_ip``, or beyond ``max_connections`` in all, get
  ``421 4.7.0`` and are closed;
- every RCPT refused with a 5xx counts against ``max_refused_per_connection`` for the whole
  connection (RSET and a new MAIL do not start it again) and against the client's
  ``max_refused_per_ip`` window (:mod:`forwarder.smtp.refusals`); at either limit the client gets
  ``421 4.7.0`` and the connection is closed, and while its window is spent a client's new
  connections get the same ``421`` at once (issue 8: probing aliases and SRS addresses);
- a client whose IP is on the abuse denylist (:mod:`forwarder.rcpt.denylist`) or on one of the
  operator's DNS block lists (:mod:`forwarder.checks.dnsbl`) is greeted with ``554 5.7.1``
  instead of 220, then only QUIT is served, everything else gets ``503``
  (RFC 5321 3.1), until it quits, idles out or has sent ``_DENIED_COMMANDS`` commands;
- AUTH is neither advertised (see the handler's EHLO) nor served: an MX has no submission,
  so the command gets ``502 5.5.1`` (RFC 5321 4.2.4), before TLS and after;
- source routes (``RCPT TO:<@a,@b:user@c>``) are refused, not silently stripped as aiosmtpd
  would (RFC 5321 4.1.1.3 lets a server refuse them);
- DATA is read by :mod:`forwarder.smtp.data` instead of aiosmtpd's line loop (issue 8): in
  chunks, with lines up to ``max_line_length``, holding bytes of the in-flight budget as
  they arrive (``held_per_byte`` for each byte received, see admission.py), in all and per
  client (``452 4.3.1`` when spent, RFC 5321 4.5.3.1.10's "insufficient system storage");
  a client that sends nothing for ``data_chunk_timeout`` gets ``421`` and is closed. The
  bytes are given back when the DATA reply has been sent;
- replies are written whole (issue 8, nmap): the lines of a multi-line reply are held until
  its last line, and a reply to a pipelined command (RFC 2920) waits for the replies to the
  commands already read behind it, so a group's replies leave in one write.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiosmtpd.smtp import SMTP
from aiosmtpd.testing.statuscodes import SMTP_STATUS_CODES as _AIOSMTPD

from forwarder import metrics, replies
from forwarder.rcpt.resolve import has_source_route
from forwarder.replies import Reply
from forwarder.smtp.admission import Admission
from forwarder.smtp.data import DataInterrupted, has_buffered_line, read_message
from forwarder.smtp.limits import Holding, client_key
from forwarder.smtp.paths import plain_path
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
_DENIED_COMMANDS = 10  # commands a denied client may send before it is closed
# Replies that may wait for the next one: nothing closes or switches the connection after
# them (not 220 before TLS, 221/421 before a close, 354/334 the client waits for, or 502,
# which aiosmtpd also gives right before closing on too many unknown commands).
_MAY_WAIT = frozenset((250, 251, 252, 450, 451, 452, 500, 501, 503, 550, 551, 552, 553, 554, 555))
_HELD_LINES = 100  # a client that pipelines without end still gets its replies


class RelaySMTP(SMTP):
    def __init__(
        self,
        admission: Admission,
        handler: Any,
        on_refused: Callable[[Transaction, Reply], Awaitable[None]],
        **kwargs: Any,
    ) -> None:
        super().__init__(handler, **kwargs)
        self._admission = admission
        self._on_refused = on_refused  # a refusal sent by this class, for the error log
        self._ip = self._client = self._refusals_id = ""  # IP, its client key, refusals id
        self._admitted = self._counted = self._in_data = False
        self._refusal = ""  # the 421 for a connection over a limit
        self._refused = 0  # RCPTs refused on this connection, across transactions
        self._out: list[bytes] = []  # reply lines not yet written
        self.last_reply = Reply(0, "", "")  # none yet

    # ------------------------------------------------------------ replies

    async def push(self, status: str) -> None:  # type: ignore[override]
        status = _TRANSLATE.get(status, status)
        self.last_reply = replies.parse(status)  # aiosmtpd's own lines come in as str
        self._out.append(status.encode("utf-8" if self.enable_SMTPUTF8 else "ascii") + b"\r\n")
        if status[3:4] == "-":  # more lines of this reply follow (RFC 5321 4.2.1)
            return
        waiting = len(self._out) < _HELD_LINES and has_buffered_line(self._reader)
        if waiting and self.last_reply.code in _MAY_WAIT:
            return  # the next command is already here: its reply goes out with this one
        self._flush()
        await self._writer.drain()

    def _flush(self) -> None:
        if self._out and self.transport is not None and not self.transport.is_closing():
            self._writer.write(b"".join(self._out))
        self._out.clear()

    def _create_envelope(self) -> Transaction:
        return Transaction()

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        found = plain_path(arg, self.local_part_limit)  # <local@domain>: paths.py
        return found if found is not None else super()._getaddr(arg)

    # ------------------------------------------------------------ connections

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        first = not self._counted
        super().connection_made(transport)
        if first:  # not the second call STARTTLS makes
            self._counted = True
            peer = transport.get_extra_info("peername")
            self._ip = str(peer[0]) if isinstance(peer, tuple) else ""
            self._client = client_key(self._ip)  # once: each MAIL, RCPT and DATA asks
            self._refusals_id = self._admission.refusals.client_id(self._ip)
            refusal = self._admission.limiter.acquire(self._ip)
            self._admitted, self._refusal = refusal is None, refusal or ""
            self._admission.connections.add(self)

    def connection_lost(self, error: Exception | None) -> None:
        if self._admitted:
            self._admitted = False
            self._admission.limiter.release(self._ip)
        self._admission.forget(self)
        super().connection_lost(error)

    async def _handle_client(self) -> None:
        if not self._admitted:
            self._admission.refused(metrics.REFUSED_LIMIT)
            await self.push(self._refusal)
            self.close_with(None)
            return
        for window, reply, reason in (
            (self._admission.refusals, replies.TOO_MANY_REFUSALS, metrics.REFUSED_REFUSALS),
            (self._admission.spam, replies.TOO_MUCH_SPAM, metrics.REFUSED_SPAM),
        ):
            if window.blocked(self._ip):
                self._admission.refused(reason)
                await self.push(reply)
                self.close_with(None)
                return
        if await self._admission.denylist.client_denied(self._ip):
            log.info("connection answered %d: client on the denylist", replies.DENIED_CLIENT.code)
            self._admission.refused(metrics.REFUSED_DENYLIST)
            await self._refuse_client(replies.DENIED_CLIENT)
            return
        blocklists = self._admission.blocklists
        zone = await blocklists.client_listed(self._ip) if blocklists else None
        if zone is not None:
            log.info("connection answered 554: client on a DNS block list")
            self._admission.refused(metrics.REFUSED_DNSBL)
            await self._refuse_client(replies.blocklisted_client(zone))
            return
        self._admission.accepted()
        await super()._handle_client()

    async def _refuse_client(self, reply: Reply) -> None:
        await self.push(reply)
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

    def close_with(self, reply: Reply | None) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if reply is not None:
            self._out.append(reply.encode("ascii") + b"\r\n")
        self._flush()
        transport.close()

    @property
    def idle(self) -> bool:
        """No transaction open: nothing is lost if the connection closes now."""
        return not self._in_data and (self.envelope is None or self.envelope.mail_from is None)

    # ------------------------------------------------------------ commands

    async def smtp_AUTH(self, arg: str) -> None:
        await self.push(replies.AUTH_NOT_OFFERED)

    async def smtp_MAIL(self, arg: str | None) -> None:
        if self._admission.stopping:
            await self.push(replies.SHUTTING_DOWN)
            self.close_with(None)
            return
        if self._admission.budget.exhausted_for(self._client):
            await self.push(replies.INSUFFICIENT_STORAGE)
            return
        await super().smtp_MAIL(arg)

    async def smtp_RCPT(self, arg: str | None) -> None:
        if self.transport is None or self.transport.is_closing():
            return  # cut off: RCPTs pipelined behind the 421 get no answer and no look-up
        if self._admission.refusals.blocked_id(self._refusals_id):  # spent on another connection
            await self._cut_off()
            return
        route = arg[3:] if arg and arg[:3].upper() == "TO:" else ""
        if route and has_source_route(route) and self.envelope and self.envelope.mail_from:
            await self.push(replies.REJECT_SOURCE_ROUTE)
        else:
            await super().smtp_RCPT(arg)
        self._admission.replied(metrics.STAGE_RCPT, self.last_reply)
        if self.last_reply.permanent:
            await self._count_refusal()

    async def _count_refusal(self) -> None:
        """Only 5xx refusals count: a 4xx (store down, too many recipients in one
        transaction) answers no question about a name and is not the client's doing."""
        self._refused += 1
        client_spent = self._admission.refusals.add_id(self._refusals_id)
        if client_spent or self._refused >= self._admission.settings.max_refused_per_connection:
            code = replies.TOO_MANY_REFUSALS.code
            log.info("RCPT answered %d: too many refused recipients", code)
            await self._cut_off()

    async def _cut_off(self) -> None:
        await self.push(replies.TOO_MANY_REFUSALS)
        if self.transport is not None:
            self.transport.close()

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
            await super().smtp_DATA(arg)  # its refusals: 503 (no HELO/RCPT), 501
            self._admission.replied(metrics.STAGE_DATA, self.last_reply)
            return
        if self._admission.budget.exhausted_for(self._client):
            await self.push(replies.INSUFFICIENT_STORAGE)
            self._admission.replied(metrics.STAGE_DATA, replies.INSUFFICIENT_STORAGE)
            return
        holding = Holding(self._admission.budget, self._client)
        self._in_data = True
        # aiosmtpd's idle timer is only reset by commands; the transfer and the forward that
        # follows get the idle time plus the forward budget, so the timer never cuts a
        # forward short (that would lose which targets already accepted). A stalled
        # transfer is cut sooner, by data_chunk_timeout.
        settings = self._admission.settings
        self._reset_timeout(settings.idle_timeout + settings.forward_timeout)
        try:
            await self._receive(envelope, holding)
        finally:
            self._in_data = False
            holding.release()
            if self.transport is not None:
                self._reset_timeout()

    async def _receive(self, envelope: Transaction, holding: Holding) -> None:
        await self.push(replies.START_MAIL_INPUT)
        try:
            limits = self._admission.data_limits
            refusal, message = await read_message(self._reader, limits, holding)
        except DataInterrupted as exc:
            if exc.reply is not None:
                log.info("DATA answered %d: the client stopped sending", exc.reply.code)
                self._admission.replied(metrics.STAGE_DATA, exc.reply)
            holding.release()
            self.close_with(exc.reply)
            return
        if refusal is not None:
            self._set_post_data_state()  # type: ignore[no-untyped-call]
            await self.push(refusal)
            self._admission.replied(metrics.STAGE_DATA, refusal)
            await self._on_refused(envelope, refusal)
            return
        envelope.content = envelope.original_content = message
        del message  # the envelope holds the one copy; it goes with _set_post_data_state
        try:
            status = await self._call_handler_hook("DATA")
        finally:
            self._set_post_data_state()  # type: ignore[no-untyped-call]
        await self.push(status)
        self._admission.replied(metrics.STAGE_DATA, status)
        if status == replies.SPAM_REJECTED:
            self._admission.spam.add(self._ip)  # counted; refused at its next connection
