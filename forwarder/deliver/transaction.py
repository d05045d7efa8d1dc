"""One mail transaction on an open outbound connection: MAIL, a RCPT per recipient, DATA
and the message, and each recipient's result.

When the host advertises PIPELINING (RFC 2920), MAIL, the RCPTs and DATA go out in one write
and their replies are read in order (replies.py); else they go one by one. Results are the
same either way: a refused RCPT gives that recipient its own result; when every RCPT is
refused no message is sent (a 354 to the pipelined DATA gets the lone ``.``, RFC 2920 3.1).
A connection is clean (may carry another transaction) only when the reply to the message
was read after a 250; anything else closes it (pool.py).

Plain addresses (ASCII dot-atom ``local@domain``, the common case) are put in angle brackets
here; aiosmtplib's ``quote_address`` (an ``email.utils.parseaddr`` round trip and a safety
check) quotes everything else: measured ~25 us per address.
"""

from __future__ import annotations

import re

import aiosmtplib
from aiosmtplib.email import quote_address

from forwarder.deliver.data import send_data, send_payload
from forwarder.deliver.replies import Replies
from forwarder.deliver.result import DeliveryResult, from_reply, permanent, temporary

SMTP_ERRORS = (aiosmtplib.SMTPException, OSError, TimeoutError)
Parts = tuple[bytes, ...]  # the lines we add in front, then the message (never joined)
Results = dict[str, DeliveryResult]

_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")  # what aiosmtplib's execute_command refuses
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")


class Stale(Exception):
    """A kept connection was found closed, or closing (421), at MAIL: nothing was sent."""


def quoted(address: str, encoding: str) -> bytes:
    """``<address>`` for a MAIL or RCPT command, as aiosmtplib's ``quote_address`` makes it;
    raises ValueError for an address that cannot be sent safely."""
    if _PLAIN.fullmatch(address):
        return b"<" + address.encode("ascii") + b">"
    line = quote_address(address).encode(encoding)
    if _CONTROL.search(line):  # CR, LF, NUL...: would end or split the command
        raise ValueError("Command arg contains a prohibited control character")
    return line


def failure_of(exc: BaseException, otherwise: DeliveryResult) -> DeliveryResult:
    """The one mapping of an outbound conversation's errors (issue 9, item 5): a reply the
    host sent (aiosmtplib's SMTPResponseException, RCPT refusals included) is that host's
    answer; anything else (refused, lost, timed out, garbled) is ``otherwise``."""
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return from_reply(exc.code, exc.message)
    return otherwise


async def transaction(
    client: aiosmtplib.SMTP, sender: str, recipients: list[str], message: Parts, kept: bool
) -> tuple[Results, bool]:
    """Each recipient's result, and whether the connection may carry another transaction
    (the DATA reply was read). Raises Stale for a ``kept`` connection that is no longer
    usable before anything was sent."""
    options: list[bytes] = []
    encoding = "ascii"
    if not (sender.isascii() and all(r.isascii() for r in recipients)):
        if not client.supports_extension("smtputf8"):  # RFC 6531 3.2
            failure = permanent("5.6.7", "target does not accept UTF-8 addresses")
            return dict.fromkeys(recipients, failure), True
        options.append(b"SMTPUTF8")
        encoding = "utf-8"
    if not all(part.isascii() for part in message) and client.supports_extension("8bitmime"):
        options.append(b"BODY=8BITMIME")
    results: Results = {}
    clean = False
    try:
        mail = b" ".join([b"MAIL FROM:" + quoted(sender, encoding), *options]) + b"\r\n"
        rcpts = [b"RCPT TO:" + quoted(r, encoding) + b"\r\n" for r in recipients]
        if client.supports_extension("pipelining"):
            clean = await _pipelined(client, mail, rcpts, recipients, message, kept, results)
        else:
            clean = await _stepwise(client, mail, rcpts, recipients, message, kept, results)
    except SMTP_ERRORS as exc:
        lost = temporary("4.4.2", "connection to the target's mail host was lost")
        result = failure_of(exc, lost)
        results.update({r: result for r in recipients if r not in results or results[r].ok})
    return results, clean


def _check_mail(client: aiosmtplib.SMTP, reply: aiosmtplib.SMTPResponse | None, kept: bool) -> None:
    """Raises Stale for a kept connection that is gone (no reply) or closing (421,
    RFC 5321 3.8), SMTPSenderRefused for another refusal."""
    if reply is not None and reply.code == 421:
        client.close()
    if kept and (reply is None or reply.code == 421):
        raise Stale
    if reply is None:
        raise aiosmtplib.SMTPServerDisconnected("Connection lost")
    if reply.code != 250:
        raise aiosmtplib.SMTPSenderRefused(reply.code, reply.message, "")


async def _command(client: aiosmtplib.SMTP, line: bytes) -> aiosmtplib.SMTPResponse:
    return await client.execute_command(line[:-2])  # execute_command adds the CRLF


async def _stepwise(
    client: aiosmtplib.SMTP,
    mail: bytes,
    rcpts: list[bytes],
    recipients: list[str],
    message: Parts,
    kept: bool,
    results: Results,
) -> bool:
    try:
        reply: aiosmtplib.SMTPResponse | None = await _command(client, mail)
    except SMTP_ERRORS:
        if not kept:
            raise
        reply = None
    _check_mail(client, reply, kept)
    accepted = []
    for recipient, line in zip(recipients, rcpts, strict=True):
        reply = await _command(client, line)
        if reply.code in (250, 251):
            accepted.append(recipient)
        else:
            results[recipient] = from_reply(reply.code, reply.message)
    if not accepted:
        return False
    response = await send_data(client, message)
    results.update(dict.fromkeys(accepted, from_reply(response.code, response.message)))
    return True


async def _pipelined(
    client: aiosmtplib.SMTP,
    mail: bytes,
    rcpts: list[bytes],
    recipients: list[str],
    message: Parts,
    kept: bool,
    results: Results,
) -> bool:
    got: list[aiosmtplib.SMTPResponse] = []
    try:
        with Replies.attached(client) as replies:
            client.protocol.write(b"".join([mail, *rcpts, b"DATA\r\n"]))  # type: ignore[union-attr]
            got.append(await replies.reply(client.timeout))
            _check_mail(client, got[0], kept)
            for _ in range(len(rcpts) + 1):
                got.append(await replies.reply(client.timeout))
    except SMTP_ERRORS as exc:
        if not isinstance(exc, aiosmtplib.SMTPResponseException):
            client.close()  # the replies are out of step: never used again
        if got or not kept:
            raise
        raise Stale from None
    accepted = []
    for recipient, reply in zip(recipients, got[1:-1], strict=True):
        if reply.code in (250, 251):
            accepted.append(recipient)
        else:
            results[recipient] = from_reply(reply.code, reply.message)
    data = got[-1]
    if data.code != 354:
        if accepted:
            raise aiosmtplib.SMTPDataError(data.code, data.message)
        return False
    if not accepted:  # RFC 2920 3.1: DATA taken with no recipient: an empty message ends it
        await _command(client, b".\r\n")
        return False
    response = await send_payload(client, message)
    results.update(dict.fromkeys(accepted, from_reply(response.code, response.message)))
    return True
