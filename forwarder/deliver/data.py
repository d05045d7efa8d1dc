"""Sending a message after DATA without copying it whole (issue 8, memory).

aiosmtplib's ``SMTP.data`` normalises line endings with one regular-expression pass over
the whole message, dot-stuffs it with another and appends the end mark: three new copies
of the message for every connection, and the first one built from a list of every line.
Here the message goes out in pieces of about 64 KiB, each cut after a CRLF and put
through aiosmtplib's own two steps (so the bytes on the wire are the same: CRLF line
endings, RFC 5321 2.3.8, and a dot doubled at the start of a line, 4.5.2), and written
with the transport's flow control, so at most a piece or two are copied at a time. Small
pieces (our header lines, a small message) are joined into one write with the end mark. Lines
are never folded: a long line (issue 8, interop) reaches the target byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import aiosmtplib
from aiosmtplib.protocol import PERIOD_REGEX, normalize_message_line_endings

PIECE = 64 * 1024


def pieces(message: bytes, size: int = PIECE) -> Iterator[bytes]:
    """``message`` in consecutive slices of at least ``size`` bytes, each ending with a
    CRLF (the last one: wherever the message ends), so each starts at a line start."""
    start = 0
    while start < len(message):
        cut = message.find(b"\r\n", start + size - 1)
        end = len(message) if cut < 0 else cut + 2
        yield message[start:end]
        start = end


def encoded(parts: Sequence[bytes], size: int = PIECE) -> Iterator[bytes]:
    """The DATA payload for ``parts`` (header lines in front, then the message), without
    the final ``.<CRLF>``; every part but the last must end with a CRLF."""
    for part in parts:
        for piece in pieces(part, size):
            yield wire_form(piece)


def wire_form(piece: bytes) -> bytes:
    """``piece`` as aiosmtplib's two steps make it (CRLF line endings and a final CRLF, then
    a dot doubled at a line start), each step skipped when it would change nothing: the
    common case, a message already in wire form, then costs three counts and two searches
    instead of two regular-expression rewrites (measured: 133 -> 12 us for 14 KB)."""
    crlf = piece.count(b"\r\n")
    if not (piece.endswith(b"\r\n") and piece.count(b"\r") == crlf == piece.count(b"\n")):
        piece = normalize_message_line_endings(piece)  # a bare CR or LF, or no final CRLF
    if piece.startswith(b".") or b"\n." in piece:
        piece = PERIOD_REGEX.sub(b"..", piece)
    return piece


def batched(payload: Iterator[bytes], size: int = PIECE) -> Iterator[bytes]:
    """The pieces of ``payload`` joined into writes of about ``size`` bytes (at most
    ``size`` plus one piece), the end mark ``.<CRLF>`` added to the last: a small message
    goes out in one write (one system call) instead of one per header block and piece."""
    held: list[bytes] = []
    length = 0
    for piece in payload:
        if held and length + len(piece) > size:
            yield b"".join(held)
            held, length = [], 0
        held.append(piece)
        length += len(piece)
    held.append(b".\r\n")
    yield b"".join(held)


async def send_data(client: aiosmtplib.SMTP, parts: Sequence[bytes]) -> aiosmtplib.SMTPResponse:
    """DATA, the message, ``.``: the final reply, or SMTPDataError for a refusal. Replies
    are awaited for the client's own timeout, as ``SMTP.data`` does."""
    response = await client.execute_command(b"DATA")
    if response.code != 354:
        raise aiosmtplib.SMTPDataError(response.code, response.message)
    return await send_payload(client, parts)


async def send_payload(client: aiosmtplib.SMTP, parts: Sequence[bytes]) -> aiosmtplib.SMTPResponse:
    """The message and ``.`` after a 354 reply to DATA: the final reply, or SMTPDataError."""
    protocol = client.protocol
    if protocol is None:
        raise aiosmtplib.SMTPServerDisconnected("Connection lost")
    for chunk in batched(encoded(parts)):
        protocol.write(chunk)
        await protocol._drain_helper()  # asyncio's flow control (StreamWriter.drain)
    response = await protocol.read_response(timeout=client.timeout)
    if response.code != 250:
        raise aiosmtplib.SMTPDataError(response.code, response.message)
    return response
